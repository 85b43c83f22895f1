"""Files from others and a machine that fails: crafted checkpoints, size claims and images,
made here, tiny, by the tests. Each section is a class of docs/reliability.md's table."""

import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

from keras_inception import pretrained
from keras_inception.pretrained import torch_files

torch = pytest.importorskip("torch")  # the reference every crafted .pth is held to


# 1. The .pth reader without torch checks the file's numbers before it makes an array.

class _StorageName:
    def __init__(self, key):
        self.key = key


class _Tensor:
    """Pickles as torch pickles a tensor: `_rebuild_tensor_v2(storage, offset, size, stride, ...)`."""

    def __init__(self, key, offset, size, stride):
        self.arguments = (_StorageName(key), offset, tuple(size), tuple(stride))

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, (*self.arguments, False, collections.OrderedDict())


def write_pth(path, tensors, storages, *, legacy=False, counts=None):
    """A `.pth` in torch's zip or legacy layout, with any numbers: `tensors` {name: (storage key,
    offset, size, stride)}, `storages` {key: float32 values}, `counts` the element counts the
    pickle declares (default: the values' lengths)."""
    counts = {key: len(values) for key, values in storages.items()} | (counts or {})

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _StorageName):
                return ("storage", torch.FloatStorage, obj.key, "cpu", counts.get(obj.key, 0)) + (None,) * legacy
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(collections.OrderedDict((name, _Tensor(*spec)) for name, spec in tensors.items()))
    data = {key: np.asarray(values, "<f4").tobytes() for key, values in storages.items()}
    if legacy:
        with open(path, "wb") as file:
            for record in (torch_files.LEGACY_MAGIC, torch_files.LEGACY_PROTOCOL, {"little_endian": True}):
                pickle.dump(record, file, protocol=2)
            file.write(buffer.getvalue())
            pickle.dump(list(storages), file, protocol=2)
            for key, values in storages.items():
                file.write(struct.pack("<q", len(values)) + data[key])
        return path
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        archive.writestr("archive/byteorder", "little")
        for key in storages:
            archive.writestr(f"archive/data/{key}", data[key])
        archive.writestr("archive/version", "3\n")
    return path


def read_both(path):
    """(torch's outcome, ours): each a {name: list} or the error's type, torch's through
    read_with_torch."""
    outcomes = []
    for use_torch in (True, False):
        try:
            outcomes.append({name: array.tolist() for name, array in
                             torch_files.read_pth(str(path), use_torch=use_torch).items()})
        except ValueError as error:
            assert "\n" not in str(error) and f"Received: checkpoint={str(path)!r}" in str(error)
            outcomes.append(ValueError)
    return outcomes


SIX = np.arange(6, dtype=np.float32)
WELL_FORMED = {
    "offset": ({"w": ("0", 1, (2, 2), (2, 1))}, {"0": SIX}),
    "transposed": ({"w": ("0", 0, (3, 2), (1, 3))}, {"0": SIX}),
    "repeated (stride 0)": ({"w": ("0", 0, (4, 3), (0, 1))}, {"0": SIX[:3]}),
    "empty, offset past the end": ({"w": ("0", 100, (0, 3), (3, 1))}, {"0": SIX}),
    "scalar at the last element": ({"w": ("0", 5, (), ())}, {"0": SIX}),
    "two tensors, one storage": ({"a": ("0", 0, (3,), (1,)), "b": ("0", 3, (3,), (1,))}, {"0": SIX}),
}


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("case", WELL_FORMED)
def test_the_torch_free_reader_agrees_with_torch_on_well_formed_files(tmp_path, case, legacy):
    with_torch, without = read_both(write_pth(tmp_path / "model.pth", *WELL_FORMED[case], legacy=legacy))
    assert with_torch == without and isinstance(without, dict)


HOSTILE = {
    # A view past the storage's end would read the process's memory as weights.
    "past the end": ({"w": ("0", 2, (2, 3), (3, 1))}, {"0": SIX}, None),
    "scalar past the end": ({"w": ("0", 6, (), ())}, {"0": SIX}, None),
    "huge strides": ({"w": ("0", 0, (2, 2), (2**40, 1))}, {"0": SIX}, None),
    "4 TiB claimed": ({"w": ("0", 0, (2**20, 2**20), (2**20, 1))}, {"0": SIX}, None),
    "negative stride": ({"w": ("0", 5, (3,), (-1,))}, {"0": SIX}, None),
    "negative offset": ({"w": ("0", -4, (3,), (1,))}, {"0": SIX}, None),
    "a size that is no number": ({"w": ("0", 0, ("3",), (1,))}, {"0": SIX}, None),
    "a storage the file lacks": ({"w": ("9", 0, (3,), (1,))}, {"0": SIX}, None),
    "more elements declared than held": ({"w": ("0", 0, (8,), (1,))}, {"0": SIX}, {"0": 8}),
}


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("case", HOSTILE)
def test_the_torch_free_reader_refuses_what_torch_refuses(tmp_path, case, legacy):
    tensors, storages, counts = HOSTILE[case]
    path = write_pth(tmp_path / "model.pth", tensors, storages, legacy=legacy, counts=counts)
    assert read_both(path) == [ValueError, ValueError]


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
@pytest.mark.parametrize("cut", [1, 100])
def test_a_short_file_is_refused_by_both_readers(tmp_path, legacy, cut):
    path = tmp_path / "model.pth"
    state = {"conv.weight": torch.arange(64, dtype=torch.float32).reshape(4, 4, 2, 2),
             "conv.bias": torch.arange(4, dtype=torch.float32)}
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    whole = path.read_bytes()
    assert [outcome if outcome is ValueError else sorted(outcome) for outcome in read_both(path)] == \
        [["conv.bias", "conv.weight"]] * 2
    path.write_bytes(whole[:-cut])
    assert read_both(path) == [ValueError, ValueError]
    with pytest.raises(ValueError, match=r"Received: checkpoint="):
        pretrained.convert("resnet18", str(path), str(tmp_path / "out.keras"))
    assert sorted(os.listdir(tmp_path)) == ["model.pth"]


def test_a_compressed_or_missing_record_is_named(tmp_path):
    good = write_pth(tmp_path / "good.pth", {"w": ("0", 0, (6,), (1,))}, {"0": SIX})
    deflated = tmp_path / "deflated.pth"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(deflated, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info), compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match=r"'archive/\w+' is compressed, as torch never writes a record"):
        torch_files.read_pth(str(deflated), use_torch=False)
    missing = write_pth(tmp_path / "missing.pth", {"w": ("7", 0, (6,), (1,))}, {"0": SIX})
    with pytest.raises(ValueError, match=r"the archive lacks 'archive/data/7', which its data\.pkl names"):
        torch_files.read_pth(str(missing), use_torch=False)


# 2. Size claims are checked against the file, and an image's pixels against a limit, before
# anything is allocated.

def test_an_h5_that_claims_4_tib_is_refused_before_reading(tmp_path):
    import h5py

    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = [b"predictions"]
        group = file.create_group("predictions")
        group.attrs["weight_names"] = [b"predictions/kernel:0"]
        group.create_dataset("predictions/kernel:0", shape=(2**20, 2**20), dtype="f4")  # never written
    assert path.stat().st_size < 10_000
    with pytest.raises(ValueError, match=r"predictions/predictions/kernel:0 claims shape \(1048576, 1048576\) "
                                         r"\(4,398,046,511,104 bytes\) in a file of [\d,]+ bytes\. "
                                         r"Received: checkpoint="):
        pretrained.read_checkpoint(str(path))


def _write_safetensors(path, dtype, shape=(2,)):
    """A safetensors file of one tensor `w` of two bytes."""
    import json

    header = json.dumps({"w": {"dtype": dtype, "shape": list(shape), "data_offsets": [0, 2]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\x00\x01")
    return str(path)


@pytest.mark.parametrize("dtype, shape", [("F8_E4M3", (2,)), ("F8_E5M2", (2,)), ("BF16", (1,))])
def test_a_safetensors_dtype_numpy_lacks_is_named(tmp_path, dtype, shape):
    path = _write_safetensors(tmp_path / "model.safetensors", dtype, shape)
    with pytest.raises(ValueError, match=rf"tensor 'w' is of dtype {dtype}, which NumPy cannot hold .*"
                                         rf"Received: checkpoint="):
        pretrained.read_checkpoint(path)


def test_a_safetensors_file_numpy_holds_still_reads(tmp_path):
    checkpoint = pretrained.read_checkpoint(_write_safetensors(tmp_path / "model.safetensors", "U8"))
    assert checkpoint.state["w"].tolist() == [0, 1]


def png_header(path, width, height):
    """A PNG whose header declares width x height RGB pixels, with one tiny compressed row: a
    decompression bomb's shape, without its payload."""
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return str(path)


def write_png(path, size=8):
    from PIL import Image

    Image.fromarray(np.full((size, size, 3), 200, np.uint8)).save(path, format="PNG")
    return path


def test_predict_refuses_an_image_over_the_pixel_limit_before_decoding(tmp_path):
    from keras_inception.evaluation.predict import predict_files, read_image

    bomb = png_header(tmp_path / "bomb.png", 20000, 20000)
    with pytest.raises(ValueError, match=r"bomb\.png declares 20000 x 20000 pixels, above the limit of 89,478,485 "
                                         r".*--max_image_pixels\)\. Received: image="):
        predict_files("model.keras", [bomb])
    image = str(write_png(tmp_path / "small.png", size=100))
    with pytest.raises(ValueError, match=r"declares 100 x 100 pixels, above the limit of 9,999 "):
        predict_files("model.keras", [image], max_image_pixels=9_999)
    assert read_image(image, max_pixels=10_000).shape == (100, 100, 3)


# 3. Image folders with things that are not image files: skipped and named, never read.

def test_a_folder_skips_and_names_pipes_devices_huge_and_undecodable_names(tmp_path):
    import threading

    from keras_inception import data

    root = tmp_path / "images"
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for index in range(3):
            write_png(root / name / f"{index}.png")
    os.mkfifo(root / "cat" / "pipe.png")
    os.symlink("/dev/zero", root / "cat" / "zero.jpg")
    png_header(root / "dog" / "bomb.png", 20000, 20000)
    os.link(root / "dog" / "0.png", os.fsencode(root / "dog") + b"/\xff.png")  # a name that is not UTF-8
    # Were the pipe opened, this would unblock it after a minute and let the test fail, not hang.
    unblock = threading.Timer(60, lambda: open(root / "cat" / "pipe.png", "wb").close())
    unblock.daemon = True
    unblock.start()
    with pytest.warns(UserWarning) as warned:
        source = data.from_folder(str(root))
    unblock.cancel()
    assert sorted(os.path.basename(path) for path in source.skipped) == ["\\udcff.png", "bomb.png", "pipe.png",
                                                                         "zero.jpg"]
    assert source.sizes["train"] == 6
    assert len([image for image, _ in source.splits["train"]]) == 6
    messages = " ".join(str(warning.message) for warning in warned)
    for reason in ("pipe.png (is a named pipe, not a regular file)",
                   "zero.jpg (is a character device, not a regular file)",
                   "\\udcff.png (its name is not UTF-8)", "bomb.png"):
        assert reason in messages
