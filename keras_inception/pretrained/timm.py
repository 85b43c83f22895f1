"""timm's hub checkpoints (a folder with `model.safetensors` and `config.json`) in our nets.

timm's ResNets and Inception v3 keep torchvision's key names, so their conversions are
torchvision's with the normalization that `config.json` gives; its VGGs store the first two
fully connected layers as convs (`pre_logits.fc1`, `pre_logits.fc2`) and the classifier as
`head.fc`. Its Inception v4 (`features.0` ... `features.21`) and Inception-ResNet v2
(`conv2d_1a`, `mixed_5b`, `repeat.0` ...) name their modules by place; their branches follow our
tables' order, so each conv's name comes from its place in the table.
"""

import functools
import re

from keras_inception.models.inception_v4 import NETS, tf_slim_release
from keras_inception.models.tables import conv_places
from keras_inception.pretrained import torchvision
from keras_inception.pretrained.torchvision import INCEPTION, Conversion, Preprocessing

VGG_CLASSIFIER = ("pre_logits.fc1", "pre_logits.fc2", "head.fc")


def _branch(place):
    """timm's name of a branch's conv: `branch1` alone, `branch1.2` in a Sequential."""
    return f"branch{place.branch}" if place.branch_length == 1 else f"branch{place.branch}.{place.position}"


# Inception-ResNet v2's modules, ours -> timm's.
IR_V2_STEM = {"conv_1a": "conv2d_1a", "conv_2a": "conv2d_2a", "conv_2b": "conv2d_2b", "conv_3b": "conv2d_3b",
              "conv_4a": "conv2d_4a", "conv_7b": "conv2d_7b"}
IR_V2_REPEATS = {"block35": "repeat", "block17": "repeat_1", "block8": "repeat_2"}


def _ir_v2_module(block):
    if block == "block8_10":
        return "block8"  # the last block, without its ReLU, stands apart
    match = re.fullmatch(r"(block35|block17|block8)_(\d+)", block)
    return f"{IR_V2_REPEATS[match.group(1)]}.{int(match.group(2)) - 1}" if match else block


def inception_resnet_v2_map(names, state=None):
    mapping = {"main": "classif"}
    net = NETS["inception_resnet_v2"]
    for place in conv_places(net["imagenet"] + net["body"]):
        if place.block in IR_V2_STEM:
            theirs = IR_V2_STEM[place.block]
        elif place.position == "up":
            mapping[f"{place.name}_conv"] = f"{_ir_v2_module(place.block)}.conv2d"
            continue
        else:
            theirs = f"{_ir_v2_module(place.block)}.{_branch(place)}"
        mapping.update({f"{place.name}_conv": f"{theirs}.conv", f"{place.name}_bn": f"{theirs}.bn"})
    return mapping


# Inception v4's InceptionC modules name their convs after the split (`branch1_1a`), and its two
# stem modules with one conv call it `conv`.
V4_SINGLE_CONV = ("mixed_3a", "mixed_5a")


def inception_v4_map(names, state=None):
    mapping = {"main": "last_linear"}
    sequence = tf_slim_release(NETS["inception_v4"]["imagenet"] + NETS["inception_v4"]["body"])
    places = {block: index for index, (block, _) in enumerate(sequence)}
    for place in conv_places(sequence):
        prefix = f"features.{places[place.block]}"
        if place.branch is None:
            theirs = prefix
        elif place.block in V4_SINGLE_CONV:
            theirs = f"{prefix}.conv"
        elif place.block.startswith("mixed_7") and place.block != "mixed_7a" and place.branch in (1, 2):
            theirs = f"{prefix}.branch{place.branch}_{place.position}{place.fork}"
        else:
            theirs = f"{prefix}.{_branch(place)}"
        mapping.update({f"{place.name}_conv": f"{theirs}.conv", f"{place.name}_bn": f"{theirs}.bn"})
    return mapping


INCEPTION_V4_FAMILY = {
    "inception_v4": Conversion("inception_v4", {"bn_scale": True, "tf_slim_order": True}, INCEPTION,
                               inception_v4_map, source_size=299, head=("last_linear.*",)),
    "inception_resnet_v2": Conversion("inception_resnet_v2", {"bn_scale": True}, INCEPTION, inception_resnet_v2_map,
                                      source_size=299, head=("classif.*",)),
}


def conversion(architecture, config, state):
    """The `Conversion` of timm's `architecture` ("resnet50", "vgg16_bn", "inception_v3",
    "inception_v4"), normalized as its `config.json` says; None for one we do not convert."""
    base = torchvision.CONVERSIONS.get(architecture) or INCEPTION_V4_FAMILY.get(architecture)
    if base is None or architecture in ("googlenet", "alexnet"):  # timm has neither
        return None
    pretrained = config.get("pretrained_cfg", config)
    preprocessing = Preprocessing(tuple(pretrained.get("mean", base.preprocessing.mean)),
                                  tuple(pretrained.get("std", base.preprocessing.std)))
    changes = {"preprocessing": preprocessing}
    if architecture.startswith("vgg"):
        changes.update(layer_map=functools.partial(torchvision.vgg_map, classifier=VGG_CLASSIFIER), flattened_from=None,
                       head=("pre_logits.*", "head.*"))
    if architecture == "inception_v3":
        # tf_in1k, a TF-slim port, has no auxiliary head; tv_in1k has torchvision's trained one.
        changes["build"] = {**base.build, "aux_heads": "AuxLogits.fc.weight" in state}
    input_size = pretrained.get("input_size")
    if input_size:
        changes["source_size"] = int(input_size[-1])
    return Conversion(**{**base._asdict(), **changes})
