"""keras.applications' ImageNet `.h5` files (the legacy weights format they are published in) in
our nets: InceptionV3, InceptionResNetV2, VGG16, VGG19, ResNet50, ResNet101 and ResNet152.

The VGGs and ResNets name their layers as ours do. InceptionV3 and InceptionResNetV2 leave
most of theirs to Keras's automatic names (`conv2d_17`, `batch_normalization_17`), which number
the layers in the order the code creates them; our tables list the convs in that same order, so
the n-th conv of the table takes the n-th automatic name in the file (a file written in a
process that had built other nets first starts past `conv2d`). The ResNets and VGGs were converted from Caffe:
they take BGR images from 0 to 255 less the ImageNet mean, and the ResNets' convs have biases
(folded into their batch norms).
"""

import os
import re

import numpy as np

from keras_inception.models.inception_v3 import INCEPTION_V3
from keras_inception.models.inception_v3 import STEMS as INCEPTION_V3_STEMS
from keras_inception.models.inception_v4 import NETS as INCEPTION_V4_NETS
from keras_inception.models.tables import conv_places
from keras_inception.pretrained.torch_files import MAX_TENSOR_ELEMENTS
from keras_inception.pretrained.torchvision import CAFFE, INCEPTION, Conversion
from keras_inception.validation import UsageError



def read_h5(path):
    """{"layer.weight": array} of a Keras legacy `.h5` weights file (`layer_names` and each layer's
    `weight_names` attributes, as Keras 2 wrote them and keras.applications publishes them)."""
    import h5py

    state, file_size = {}, os.path.getsize(path)
    with h5py.File(path, "r") as file:
        root = file["model_weights"] if "model_weights" in file else file
        if "layer_names" not in root.attrs:
            raise UsageError(f"{path} is an HDF5 file without Keras's layer_names: not a keras.applications "
                             f"weights file. Received: checkpoint={path!r}")
        for layer in root.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else str(layer)
            group = root[layer]
            for weight in group.attrs.get("weight_names", []):
                weight = weight.decode() if isinstance(weight, bytes) else str(weight)
                base = weight.split("/")[-1].split(":")[0]
                state[f"{layer}.{base}"] = _read_dataset(path, group, weight, file_size)
    return state


def _read_dataset(path, group, name, file_size):
    """One weight, once its declared size fits the file: an uncompressed dataset holds every
    byte it declares, and none may claim more elements than any net here needs."""
    import h5py

    link = group.get(name, getlink=True)
    dataset = group.get(name) if isinstance(link, h5py.HardLink) else None
    if not isinstance(dataset, h5py.Dataset) or dataset.dtype.kind not in "fiub":
        raise UsageError(f"{path}: {group.name}/{name} is no numeric array in this file "
                         f"(a {type(link).__name__}). Received: checkpoint={path!r}")
    compressed = bool(dataset.id.get_create_plist().get_nfilters())
    if dataset.size > MAX_TENSOR_ELEMENTS or (not compressed and dataset.nbytes > file_size):
        raise UsageError(f"{path}: {group.name}/{name} claims shape {dataset.shape} ({dataset.nbytes:,} bytes) in a "
                         f"file of {file_size:,} bytes. Received: checkpoint={path!r}")
    return np.asarray(dataset)


def _same_names(names, state=None, top="predictions"):
    """Our layer names are keras.applications' (VGG, ResNet), the classifier aside."""
    return {name: (top if name == "main" else name) for name in names}


def vgg_map(names, state=None):
    return {name: (name[: -len("_conv")] if re.fullmatch(r"block\d_conv\d_conv", name) else
                   "predictions" if name == "main" else name) for name in names}


def automatic_names(state, base):
    """The layers of `state` that Keras named automatically after `base`, in creation order."""
    numbers = {int(match.group(1) or 0) for key in state
               if (match := re.fullmatch(rf"{base}(?:_(\d+))?\.\w+", key))}
    return [base if number == 0 else f"{base}_{number}" for number in sorted(numbers)]


def creation_order_map(sequence, state, named=()):
    """{our layer: theirs} for a net whose convs keras.applications names automatically in
    creation order; `named` convs (their names are ours) and up-projections (`block35_1_conv`)
    keep names."""
    convs, norms = automatic_names(state, "conv2d"), automatic_names(state, "batch_normalization")
    mapping, index = {"main": "predictions"}, 0
    for place in conv_places(sequence):
        name = place.name
        if place.position == "up":
            mapping[f"{name}_conv"] = f"{place.block}_conv"
        elif name in named:
            mapping.update({f"{name}_conv": name, f"{name}_bn": f"{name}_bn"})
        elif index < min(len(convs), len(norms)):
            mapping.update({f"{name}_conv": convs[index], f"{name}_bn": norms[index]})
            index += 1
    return mapping


RESNET = {"symmetric_padding": True, "bn_epsilon": 1.001e-5}
CONVERSIONS = {
    "InceptionV3": Conversion(
        "inception_v3", {"aux_heads": False}, INCEPTION,
        lambda names, state: creation_order_map(INCEPTION_V3_STEMS["imagenet"] + INCEPTION_V3, state),
        source_size=299, head=("predictions.*",), layout="keras"),
    "InceptionResNetV2": Conversion(
        "inception_resnet_v2", {}, INCEPTION,
        lambda names, state: creation_order_map(INCEPTION_V4_NETS["inception_resnet_v2"]["imagenet"]
                                                + INCEPTION_V4_NETS["inception_resnet_v2"]["body"], state,
                                                named=("conv_7b",)),
        source_size=299, head=("predictions.*",), layout="keras"),
    "VGG16": Conversion("vgg16", {}, CAFFE, vgg_map, head=("fc1.*", "fc2.*", "predictions.*"), layout="keras",
                        bgr=True),
    "VGG19": Conversion("vgg19", {}, CAFFE, vgg_map, head=("fc1.*", "fc2.*", "predictions.*"), layout="keras",
                        bgr=True),
    **{f"ResNet{depth}": Conversion(f"resnet{depth}", RESNET, CAFFE, _same_names, head=("predictions.*",),
                                    layout="keras", bgr=True) for depth in (50, 101, 152)},
}
# What a keras.applications file's layer names say about the net (the ResNets' deepest block).
ARCHITECTURE_KEYS = {"conv5_block3_3_conv.kernel": None, "block5_conv4.kernel": "VGG19", "block5_conv3.kernel": "VGG16",
                     "block8_10_conv.kernel": "InceptionResNetV2"}
INCEPTION_V3_CONVS = 94


def architecture_of(state):
    """(the keras.applications net a state holds, or None, and the key that shows it)."""
    for key, net in ARCHITECTURE_KEYS.items():
        if key in state:
            if net is None:  # a ResNet: its depth from the blocks of conv4_x
                blocks = {match.group(1) for k in state if (match := re.match(r"conv4_block(\d+)_", k))}
                net = {6: "ResNet50", 23: "ResNet101", 36: "ResNet152"}.get(len(blocks))
            return net, key
    convs = automatic_names(state, "conv2d")
    if len(convs) == INCEPTION_V3_CONVS:
        return "InceptionV3", f"{convs[-1]}.kernel"
    return None, next(iter(state), None)
