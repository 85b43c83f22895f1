"""PyTorch `.pth` state dicts as NumPy arrays, with or without torch, and never by running the
file's code.

With torch installed, `torch.load(weights_only=True)` reads the file: its unpickler builds only
tensors and containers. Without torch, `RestrictedUnpickler` does the same for both of torch's
formats, the zip archive (PyTorch 1.6 and later) and the older "legacy" stream. A pickle names
the functions it wants called; this one resolves only the names that rebuild tensors and their
containers, and refuses any other name before anything runs. Written by hand because no
maintained library reads a `.pth` without torch.

Every number the file declares (a storage's element count, a tensor's offset, sizes and
strides, a storage's name) is checked against the bytes the file holds before any array is
made, as torch checks them: a file that claims more than it has is refused, never read past.
"""

import collections
import io
import math
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np

from keras_inception.validation import UsageError

# torch's storage classes by the NumPy type of their elements.
STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
# The legacy format's first record (torch/serialization.py's MAGIC_NUMBER) and protocol.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
# A tensor may repeat its storage's elements (a stride of 0) but not past this many: well above
# the largest weight of any net here (VGG's first fully connected layer, 25088 x 4096).
MAX_TENSOR_ELEMENTS = 2**28
# What a malformed file can raise inside the unpickler, zipfile or struct: each becomes one line.
MALFORMED = (pickle.UnpicklingError, EOFError, struct.error, TypeError, KeyError, IndexError, AttributeError,
             OverflowError, RecursionError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError)


class RefusedPickle(UsageError):
    """The file asked for a Python name that does not rebuild tensors."""


class MalformedCheckpoint(UsageError):
    """The file's numbers do not fit the bytes it holds."""


class _Storage:
    """A storage as the pickle refers to it: its element type and count, and its bytes once known."""

    def __init__(self, dtype, key, count):
        self.dtype, self.key, self.count, self.array = dtype, key, count, None


def _is_index(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _rebuild_tensor(path, storage, offset, size, stride):
    """torch._utils._rebuild_tensor_v2 for NumPy: a strided view into the storage, copied, once
    the view is known to lie inside it (torch's checkInBoundsForStorage)."""
    if not isinstance(storage, _Storage):
        _malformed(path, f"a tensor's storage is a {type(storage).__name__}, not a storage")
    if storage.array is None:
        _malformed(path, f"storage {storage.key!r} has no data in the file")
    size = tuple(size) if isinstance(size, (tuple, list)) else None
    stride = tuple(stride) if isinstance(stride, (tuple, list)) else None
    if (size is None or stride is None or len(size) != len(stride) or not _is_index(offset)
            or not all(map(_is_index, size + stride))):
        _malformed(path, f"a tensor of storage {storage.key!r} has offset {offset!r}, size {size!r} and "
                         f"stride {stride!r}; each must be whole numbers from 0, one stride per dimension")
    elements = math.prod(size)
    if elements > MAX_TENSOR_ELEMENTS or max(size, default=0) > MAX_TENSOR_ELEMENTS:
        _malformed(path, f"a tensor of storage {storage.key!r} claims {elements:,} elements "
                         f"(size {size}), more than the {MAX_TENSOR_ELEMENTS:,} read")
    if elements == 0:
        return np.empty(size, dtype=storage.array.dtype)
    last = offset + sum((length - 1) * step for length, step in zip(size, stride))
    if last >= storage.count:
        _malformed(path, f"a tensor of storage {storage.key!r} (offset {offset}, size {size}, stride {stride}) "
                         f"reaches element {last}, past the storage's {storage.count}")
    itemsize = storage.array.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(storage.array[offset:], shape=size,
                                           strides=tuple(step * itemsize for step in stride), writeable=False)
    return view.copy()


def _malformed(path, message):
    raise MalformedCheckpoint(f"{path} is a damaged PyTorch checkpoint: {message}. Received: checkpoint={path!r}")


def _rebuild_parameter(tensor, *_):
    return tensor


class _DeferredTensor:
    """A tensor of the legacy format, whose storage bytes come after the object pickle."""

    def __init__(self, path, storage, offset, size, stride):
        self.arguments = (path, storage, offset, size, stride)

    def resolve(self):
        return _rebuild_tensor(*self.arguments)


def _storage_class(name):
    return ("storage", name)


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only `collections.OrderedDict`, torch's tensor-rebuild functions and its storage
    classes; any other global is refused with `RefusedPickle`."""

    def __init__(self, file, path, storage_bytes=None, byteorder="<"):
        super().__init__(file)
        self.path = path
        self.storage_bytes = storage_bytes  # key -> bytes (zip format); None: legacy, deferred
        self.byteorder = byteorder
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return self._rebuild
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and name in STORAGE_DTYPES:
            return _storage_class(name)
        raise RefusedPickle(f"{self.path} asks to run {module}.{name}, which does not rebuild tensors; "
                            f"refusing the file before any of its code runs. Received: checkpoint={self.path!r}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], tuple) and len(pid[1]) == 2 and pid[1][0] == "storage"
                and pid[1][1] in STORAGE_DTYPES and isinstance(pid[2], (str, int)) and _is_index(pid[4])):
            raise RefusedPickle(f"{self.path} holds a reference that is no tensor storage ({pid!r:.80}). "
                                f"Received: checkpoint={self.path!r}")
        if len(pid) > 5 and pid[5] is not None:
            _malformed(self.path, f"storage {pid[2]!r} is a view into another (PyTorch before 1.0), which is not read")
        dtype, key, count = np.dtype(STORAGE_DTYPES[pid[1][1]]), str(pid[2]), pid[4]
        storage = self.storages.get(key)
        if storage is None:
            storage = self.storages[key] = _Storage(dtype, key, count)
            if self.storage_bytes is not None:
                storage.array = _as_array(self.path, storage, self.storage_bytes(key), self.byteorder)
        elif (storage.dtype, storage.count) != (dtype, count):
            _malformed(self.path, f"storage {key!r} is named twice, as {storage.count} {storage.dtype} and "
                                  f"{count} {dtype}")
        return storage

    def _rebuild(self, storage, offset, size, stride, *_):
        if self.storage_bytes is None:
            return _DeferredTensor(self.path, storage, offset, size, stride)
        return _rebuild_tensor(self.path, storage, offset, size, stride)


def _as_array(path, storage, data, byteorder="<"):
    """A storage's bytes as its elements, once their length is the one the pickle declared."""
    expected = storage.count * storage.dtype.itemsize
    if len(data) != expected:
        _malformed(path, f"storage {storage.key!r} holds {len(data):,} bytes, not the {expected:,} of its "
                         f"{storage.count:,} {storage.dtype} elements")
    return np.frombuffer(data, dtype=storage.dtype.newbyteorder(byteorder))


def _check_state_dict(path, state):
    if not isinstance(state, dict) or not all(isinstance(value, np.ndarray) for value in state.values()):
        raise UsageError(f"{path} holds no state dict of tensors (a {type(state).__name__}). "
                         f"Received: checkpoint={path!r}")
    return dict(state)


def read_without_torch(path):
    """{name: array} of a `.pth` state dict, in either format, with `RestrictedUnpickler`."""
    try:
        if zipfile.is_zipfile(path):
            return _read_zip(path)
        return _read_legacy(path)
    except MALFORMED as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MalformedCheckpoint(f"{path} is not a readable PyTorch checkpoint ({detail:.200}). "
                                  f"Received: checkpoint={path!r}") from None


def _read_member(path, archive, name):
    """A record's bytes. torch writes its records uncompressed, so their length is bounded by
    the file's; a compressed one could claim any size."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        _malformed(path, f"the archive lacks {name!r}, which its data.pkl names")
    if info.compress_type != zipfile.ZIP_STORED:
        _malformed(path, f"{name!r} is compressed, as torch never writes a record")
    return archive.read(info)


def _read_zip(path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [name for name in names if name.endswith("/data.pkl") or name == "data.pkl"]
        if len(pickles) != 1:
            raise UsageError(f"{path} is a zip archive but not a PyTorch checkpoint (no data.pkl). "
                             f"Received: checkpoint={path!r}")
        prefix = pickles[0][: -len("data.pkl")]
        byteorder = ">" if f"{prefix}byteorder" in names and _read_member(
            path, archive, f"{prefix}byteorder").strip() == b"big" else "<"
        unpickler = RestrictedUnpickler(io.BytesIO(_read_member(path, archive, pickles[0])), path,
                                        storage_bytes=lambda key: _read_member(path, archive, f"{prefix}data/{key}"),
                                        byteorder=byteorder)
        state = unpickler.load()
    return _check_state_dict(path, state)


def _read_legacy(path):
    file_size = os.path.getsize(path)
    with open(path, "rb") as file:
        header = RestrictedUnpickler(file, path)
        try:
            magic = header.load()
        except RefusedPickle:
            raise
        except (*MALFORMED, ValueError):
            magic = None  # an unreadable start: no checkpoint
        if magic != LEGACY_MAGIC:
            raise UsageError(f"{path} is not a PyTorch checkpoint (neither a zip archive nor the legacy "
                             f"format). Received: checkpoint={path!r}")
        if RestrictedUnpickler(file, path).load() != LEGACY_PROTOCOL:
            raise UsageError(f"{path}: unknown legacy PyTorch protocol. Received: checkpoint={path!r}")
        RestrictedUnpickler(file, path).load()  # sys_info: byte order and type sizes
        body = RestrictedUnpickler(file, path)
        state = body.load()
        keys = RestrictedUnpickler(file, path).load()
        if not isinstance(keys, list):
            _malformed(path, f"its list of storages is a {type(keys).__name__}")
        for key in keys:
            storage = body.storages.get(str(key))
            if storage is None:
                _malformed(path, f"it gives data for storage {key!r}, which no tensor names")
            (count,) = struct.unpack("<q", file.read(8))
            if count != storage.count:
                _malformed(path, f"storage {storage.key!r} has {count:,} elements in the file, not the "
                                 f"{storage.count:,} its tensors were saved with")
            left = file_size - file.tell()
            if count * storage.dtype.itemsize > left:
                _malformed(path, f"storage {storage.key!r} needs {count * storage.dtype.itemsize:,} bytes and the "
                                 f"file ends {left:,} bytes on (cut short)")
            storage.array = _as_array(path, storage, file.read(count * storage.dtype.itemsize))
    if isinstance(state, dict):
        state = {name: value.resolve() if isinstance(value, _DeferredTensor) else value
                 for name, value in state.items()}
    return _check_state_dict(path, state)


def read_with_torch(path):
    """{name: array} of a `.pth` state dict through `torch.load(weights_only=True)`."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise RefusedPickle(f"{path} is refused by torch.load(weights_only=True): "
                            f"{str(error).strip().splitlines()[0]} Received: checkpoint={path!r}") from None
    except Exception as error:  # torch's own checks of a damaged file raise several types
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"{path} is not a readable PyTorch checkpoint ({detail:.200}). "
                         f"Received: checkpoint={path!r}") from None
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise UsageError(f"{path} holds no state dict of tensors (a {type(state).__name__}). "
                         f"Received: checkpoint={path!r}")
    return {name: value.detach().cpu().numpy() for name, value in state.items()}


def read_pth(path, *, use_torch=None):
    """{name: array} of a `.pth` file; `use_torch` None: torch when it is installed."""
    if use_torch is None:
        try:
            import torch  # noqa: F401
            use_torch = True
        except ImportError:
            use_torch = False
    return read_with_torch(path) if use_torch else read_without_torch(path)
