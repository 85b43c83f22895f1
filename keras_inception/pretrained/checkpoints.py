"""Reading a checkpoint file as {name: NumPy array}, knowing its source from the file, and
saying which net it holds.

- timm: a hub folder (`model.safetensors` and `config.json`) or the `.safetensors` file itself,
  read with safetensors' NumPy API (no torch needed);
- torchvision: a `.pth` state dict (see `torch_files`);
- keras: keras.applications' `.h5` weights, read with h5py (see `keras_applications`).
"""

import json
import os
import re
import zipfile
from typing import NamedTuple

import numpy as np

from keras_inception.extras import require
from keras_inception.pretrained import torch_files
from keras_inception.validation import UsageError

SOURCES = ("torchvision", "timm", "keras")
SAFETENSORS = "model.safetensors"
TIMM_CONFIG = "config.json"


class Checkpoint(NamedTuple):
    path: str
    source: str  # one of SOURCES
    state: dict  # {name: array}
    config: dict  # timm's config.json; {} for others


def _fail(path, message):
    raise UsageError(f"{message}. Received: checkpoint={path!r}")


def source_of(path):
    """The source a checkpoint file comes from, recognised from the file."""
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, SAFETENSORS)):
            return "timm"
        _fail(path, f"{path} is a folder without {SAFETENSORS} (a timm hub folder holds it beside {TIMM_CONFIG})")
    if not os.path.isfile(path):
        _fail(path, "The checkpoint file does not exist")
    if path.endswith(".safetensors"):
        return "timm"
    if path.lower().endswith((".h5", ".hdf5")):
        return "keras"
    with open(path, "rb") as file:
        start = file.read(16)
    if zipfile.is_zipfile(path) or start[:2] == b"\x80\x02":  # torch's zip format, or its legacy pickle
        config = os.path.join(os.path.dirname(path), TIMM_CONFIG)
        return "timm" if path.endswith(".bin") and os.path.isfile(config) else "torchvision"
    _fail(path, f"{path} is no checkpoint this package reads (a torchvision .pth, a timm folder or "
                f".safetensors file, or a keras.applications .h5)")


def read_checkpoint(path, source=None):
    """The `Checkpoint` at `path`; `source` (one of SOURCES) must agree with the file when given."""
    path = os.fspath(os.path.expanduser(path))
    if source is not None and source not in SOURCES:
        raise UsageError(f"`source` must be one of {', '.join(map(repr, SOURCES))}. Received: source={source!r}")
    found = source_of(path)
    if source is not None and source != found and not (source == "torchvision" and found == "timm"):
        _fail(path, f"{path} looks like a {found} checkpoint, not a {source} one")
    source = source or found
    if found == "keras":
        return Checkpoint(path, source, _read_h5(path), {})
    config = {}
    if found == "timm":
        folder = path if os.path.isdir(path) else os.path.dirname(path)
        config_path = os.path.join(folder, TIMM_CONFIG)
        if os.path.isfile(config_path):
            with open(config_path) as file:
                try:
                    config = json.load(file)
                except json.JSONDecodeError as error:
                    _fail(path, f"{config_path} is not valid JSON ({error})")
        weights = os.path.join(path, SAFETENSORS) if os.path.isdir(path) else path
        state = _read_safetensors(weights) if weights.endswith(".safetensors") else torch_files.read_pth(weights)
    else:
        state = torch_files.read_pth(path)
    return Checkpoint(path, source, state, config)


def _read_h5(path):
    from keras_inception.pretrained.keras_applications import read_h5

    try:
        return read_h5(path)
    except OSError as error:  # h5py's error for a file that is no HDF5
        _fail(path, f"{path} is not a readable HDF5 file ({str(error).splitlines()[0]})")
    except KeyError as error:
        _fail(path, f"{path} lacks a group its layer_names list ({error})")


# safetensors' dtypes that NumPy holds; its 8-bit floats and bfloat16 have no NumPy type.
NUMPY_SAFETENSORS_DTYPES = ("F64", "F32", "F16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL")


def _read_safetensors(path):
    safetensors = require("safetensors", "pretrained")
    SafetensorError, safe_open = safetensors.SafetensorError, safetensors.safe_open
    load_file = require("safetensors.numpy", "pretrained").load_file

    try:
        with safe_open(path, framework="numpy") as file:  # the header only: names, dtypes, offsets
            dtypes = {name: file.get_slice(name).get_dtype() for name in file.keys()}
        unheld = {name: dtype for name, dtype in dtypes.items() if dtype not in NUMPY_SAFETENSORS_DTYPES}
        if not unheld:
            return load_file(path)
    except (SafetensorError, OSError, ValueError) as error:
        _fail(path, f"{path} is not a readable safetensors file ({str(error).splitlines()[0]})")
    name, dtype = next(iter(unheld.items()))
    _fail(path, f"{path}: tensor {name!r} is of dtype {dtype}, which NumPy cannot hold "
                f"(it holds {', '.join(NUMPY_SAFETENSORS_DTYPES)})")


# What a state dict's keys say about the net it holds.
RESNET_DEPTHS = {("basic", (2, 2, 2, 2)): 18, ("basic", (3, 4, 6, 3)): 34, ("bottleneck", (3, 4, 6, 3)): 50,
                 ("bottleneck", (3, 4, 23, 3)): 101, ("bottleneck", (3, 8, 36, 3)): 152}
VGG_CONVS = {8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}


def architecture_of(state):
    """(the net a state dict holds, e.g. "resnet50", or None, and the key that shows it)."""
    keys = set(state)
    if "inception3a.branch1.conv.weight" in keys:
        return "googlenet", "inception3a.branch1.conv.weight"
    if "Mixed_5b.branch1x1.conv.weight" in keys:
        return "inception_v3", "Mixed_5b.branch1x1.conv.weight"
    if "features.21.branch3.1.conv.weight" in keys:
        return "inception_v4", "features.21.branch3.1.conv.weight"
    if "repeat_2.0.conv2d.weight" in keys:
        return "inception_resnet_v2", "repeat_2.0.conv2d.weight"
    if "layer1.0.conv1.weight" in keys:
        blocks = tuple(len({key.split(".")[1] for key in keys if key.startswith(f"layer{stage}.")})
                       for stage in (1, 2, 3, 4))
        kind = "bottleneck" if "layer1.0.conv3.weight" in keys else "basic"
        depth = RESNET_DEPTHS.get((kind, blocks))
        last = f"layer4.{blocks[3] - 1}.conv{3 if kind == 'bottleneck' else 2}.weight"
        return (f"resnet{depth}" if depth else None), last
    convs = sorted((key for key in keys if re.fullmatch(r"features\.\d+\.weight", key) and np.ndim(state[key]) == 4),
                   key=lambda key: int(key.split(".")[1]))
    if convs:
        if np.shape(state[convs[0]])[2:] == (11, 11):
            return "alexnet", convs[0]
        name = VGG_CONVS.get(len(convs))
        if name and any(key.endswith("running_mean") for key in keys):
            name += "_bn"
        return name, convs[-1]
    return None, next(iter(keys), None)


def describe(state):
    """"a resnet50 (layer4.2.conv3.weight (2048, 512, 1, 1))": what a checkpoint looks like."""
    architecture, key = architecture_of(state)
    shown = f"{key} {tuple(np.shape(state[key]))}" if key else "no tensors"
    return f"{'a ' + architecture if architecture else 'an unknown net'} ({shown})"
