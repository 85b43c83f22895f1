"""PyTorch `.pth` state dicts as NumPy arrays, with or without torch, and never by running the
file's code.

With torch installed, `torch.load(weights_only=True)` reads the file: its unpickler builds only
tensors and containers. Without torch, `RestrictedUnpickler` does the same for both of torch's
formats, the zip archive (PyTorch 1.6 and later) and the older "legacy" stream. A pickle names
the functions it wants called; this one resolves only the names that rebuild tensors and their
containers, and refuses any other name before anything runs. Written by hand because no
maintained library reads a `.pth` without torch.
"""

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

# torch's storage classes by the NumPy type of their elements.
STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
    "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
# The legacy format's first record (torch/serialization.py's MAGIC_NUMBER) and protocol.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


class RefusedPickle(ValueError):
    """The file asked for a Python name that does not rebuild tensors."""


class _Storage:
    """A storage as the pickle refers to it: its element type, and its bytes once known."""

    def __init__(self, dtype, key, count):
        self.dtype, self.key, self.count, self.array = dtype, key, count, None


def _rebuild_tensor(storage, offset, size, stride):
    """torch._utils._rebuild_tensor_v2 for NumPy: a strided view into the storage, copied."""
    array = storage.array
    itemsize = array.dtype.itemsize
    if not size:
        return np.array(array[offset])
    view = np.lib.stride_tricks.as_strided(array[offset:], shape=tuple(size),
                                           strides=tuple(step * itemsize for step in stride))
    return view.copy()


def _rebuild_parameter(tensor, *_):
    return tensor


class _DeferredTensor:
    """A tensor of the legacy format, whose storage bytes come after the object pickle."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def resolve(self):
        return _rebuild_tensor(self.storage, self.offset, self.size, self.stride)


def _storage_class(name):
    return ("storage", name)


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only `collections.OrderedDict`, torch's tensor-rebuild functions and its storage
    classes; any other global is refused with `RefusedPickle`."""

    def __init__(self, file, path, storage_bytes=None):
        super().__init__(file)
        self.path = path
        self.storage_bytes = storage_bytes  # key -> bytes (zip format); None: legacy, deferred
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
                and isinstance(pid[1], tuple) and pid[1][0] == "storage"):
            raise RefusedPickle(f"{self.path} holds a reference that is no tensor storage ({pid!r:.80}). "
                                f"Received: checkpoint={self.path!r}")
        dtype, key, count = STORAGE_DTYPES[pid[1][1]], str(pid[2]), int(pid[4])
        if key not in self.storages:
            storage = _Storage(dtype, key, count)
            if self.storage_bytes is not None:
                storage.array = np.frombuffer(self.storage_bytes(key), dtype=np.dtype(dtype).newbyteorder("<"))
            self.storages[key] = storage
        return self.storages[key]

    def _rebuild(self, storage, offset, size, stride, *_):
        if storage.array is None:
            return _DeferredTensor(storage, offset, size, stride)
        return _rebuild_tensor(storage, offset, size, stride)


def _check_state_dict(path, state):
    if not isinstance(state, dict) or not all(isinstance(value, np.ndarray) for value in state.values()):
        raise ValueError(f"{path} holds no state dict of tensors (a {type(state).__name__}). "
                         f"Received: checkpoint={path!r}")
    return dict(state)


def read_without_torch(path):
    """{name: array} of a `.pth` state dict, in either format, with `RestrictedUnpickler`."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [name for name in names if name.endswith("/data.pkl") or name == "data.pkl"]
            if len(pickles) != 1:
                raise ValueError(f"{path} is a zip archive but not a PyTorch checkpoint (no data.pkl). "
                                 f"Received: checkpoint={path!r}")
            prefix = pickles[0][: -len("data.pkl")]
            unpickler = RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), path,
                                            storage_bytes=lambda key: archive.read(f"{prefix}data/{key}"))
            return _check_state_dict(path, unpickler.load())
    return _read_legacy(path)


def _read_legacy(path):
    with open(path, "rb") as file:
        header = RestrictedUnpickler(file, path)
        try:
            magic = header.load()
        except RefusedPickle:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError):
            magic = None  # an unreadable start: no checkpoint
        if magic != LEGACY_MAGIC:
            raise ValueError(f"{path} is not a PyTorch checkpoint (neither a zip archive nor the legacy "
                             f"format). Received: checkpoint={path!r}")
        if RestrictedUnpickler(file, path).load() != LEGACY_PROTOCOL:
            raise ValueError(f"{path}: unknown legacy PyTorch protocol. Received: checkpoint={path!r}")
        RestrictedUnpickler(file, path).load()  # sys_info: byte order and type sizes
        body = RestrictedUnpickler(file, path)
        state = body.load()
        keys = RestrictedUnpickler(file, path).load()
        for key in keys:
            storage = body.storages[str(key)]
            (count,) = struct.unpack("<q", file.read(8))
            data = file.read(count * np.dtype(storage.dtype).itemsize)
            storage.array = np.frombuffer(data, dtype=np.dtype(storage.dtype).newbyteorder("<"))
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
    except (RuntimeError, EOFError) as error:
        raise ValueError(f"{path} is not a PyTorch checkpoint ({str(error).strip().splitlines()[0]}). "
                         f"Received: checkpoint={path!r}") from None
    if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ValueError(f"{path} holds no state dict of tensors (a {type(state).__name__}). "
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
