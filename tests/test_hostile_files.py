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
