"""torchvision's ImageNet checkpoints in our nets: which net and build options give the same
function, and which of its tensors each of our layers takes.

Each `Conversion` names our registered net, the builder arguments that make it torchvision's
(batch-norm epsilon, symmetric padding, ceil-mode and count-the-padding pools, the ResNet
stride), the preprocessing its weights expect, and a function from our layer names to
torchvision's state-dict prefixes.
"""

import re
from typing import NamedTuple

# torchvision's `weights.transforms()` normalization.
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)


class Preprocessing(NamedTuple):
    """What a checkpoint's net expects of an RGB image in [0, 1]: (x - mean) / std."""

    mean: tuple
    std: tuple


TORCH = Preprocessing(TORCH_MEAN, TORCH_STD)
# [-1, 1]: TF-slim's ports, which torchvision's GoogLeNet and Inception v3 reach from the torch
# normalization through `transform_input=True`.
INCEPTION = Preprocessing((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
# keras.applications.imagenet_utils.preprocess_input(mode="caffe"): BGR, 0-255, less the mean
# (the mean given here in RGB order, as the channels are reversed after it).
CAFFE = Preprocessing(tuple(value / 255 for value in (123.68, 116.779, 103.939)), (1 / 255,) * 3)


class Conversion(NamedTuple):
    model: str  # our registered net
    build: dict  # builder arguments that make it the source's net
    preprocessing: Preprocessing
    layer_map: object  # function (our layer names, the source's state) -> {our layer: source prefix}
    ignore: tuple = ("*num_batches_tracked",)
    flattened_from: dict = None  # {our Dense: (C, H, W) the source flattened}
    source_size: int = 224  # the input size the publisher evaluates at
    head: tuple = ("fc.*",)  # the source's classifier tensors, unused with include_top=False
    layout: str = "torch"  # the tensors' names and layouts (`assign.NAMES`)
    bgr: bool = False  # the source's net takes BGR: its first conv's input channels are reversed


def resnet_map(names, state=None):
    mapping = {"conv1_conv": "conv1", "conv1_bn": "bn1", "main": "fc"}
    for name in names:
        match = re.fullmatch(r"conv(\d)_block(\d+)_(\d)_(conv|bn)", name)
        if not match:
            continue
        stage, block, index, kind = match.groups()
        prefix = f"layer{int(stage) - 1}.{int(block) - 1}"
        if index == "0":
            mapping[name] = f"{prefix}.downsample.{0 if kind == 'conv' else 1}"
        else:
            mapping[name] = f"{prefix}.{kind}{index}"
    return mapping


# Our GoogLeNet module's branch names -> torchvision's Inception module (index 0 of branch4 is
# its pool).
GOOGLENET_BRANCHES = {"1x1": "branch1", "3x3_reduce": "branch2.0", "3x3": "branch2.1",
                      "5x5_reduce": "branch3.0", "5x5": "branch3.1", "pool_proj": "branch4.1"}


def googlenet_map(names, state=None):
    mapping = {"main": "fc"}
    for index in (1, 2, 3):
        mapping.update({f"stem_conv{index}_conv": f"conv{index}.conv", f"stem_conv{index}_bn": f"conv{index}.bn"})
    for name in names:
        match = re.fullmatch(r"inception_(\d[a-e])_(\w+?)_(conv|bn)", name)
        if match:
            block, branch, kind = match.groups()
            mapping[name] = f"inception{block}.{GOOGLENET_BRANCHES[branch]}.{kind}"
    return mapping


# Our Inception v3 conv names (block type, conv key) -> torchvision's module names.
INCEPTION_V3_STEM = {"conv_1a": "Conv2d_1a_3x3", "conv_2a": "Conv2d_2a_3x3", "conv_2b": "Conv2d_2b_3x3",
                     "conv_3b": "Conv2d_3b_1x1", "conv_4a": "Conv2d_4a_3x3"}
INCEPTION_V3_MODULES = {
    "A": {"b0_0_1x1": "branch1x1", "b1_0_1x1": "branch5x5_1", "b1_1_5x5": "branch5x5_2",
          "b2_0_1x1": "branch3x3dbl_1", "b2_1_3x3": "branch3x3dbl_2", "b2_2_3x3": "branch3x3dbl_3",
          "b3_1_1x1": "branch_pool"},
    "B": {"b0_0_3x3": "branch3x3", "b1_0_1x1": "branch3x3dbl_1", "b1_1_3x3": "branch3x3dbl_2",
          "b1_2_3x3": "branch3x3dbl_3"},
    "C": {"b0_0_1x1": "branch1x1", "b1_0_1x1": "branch7x7_1", "b1_1_1x7": "branch7x7_2", "b1_2_7x1": "branch7x7_3",
          "b2_0_1x1": "branch7x7dbl_1", "b2_1_7x1": "branch7x7dbl_2", "b2_2_1x7": "branch7x7dbl_3",
          "b2_3_7x1": "branch7x7dbl_4", "b2_4_1x7": "branch7x7dbl_5", "b3_1_1x1": "branch_pool"},
    "D": {"b0_0_1x1": "branch3x3_1", "b0_1_3x3": "branch3x3_2", "b1_0_1x1": "branch7x7x3_1",
          "b1_1_1x7": "branch7x7x3_2", "b1_2_7x1": "branch7x7x3_3", "b1_3_3x3": "branch7x7x3_4"},
    "E": {"b0_0_1x1": "branch1x1", "b1_0_1x1": "branch3x3_1", "b1_1a_1x3": "branch3x3_2a",
          "b1_1b_3x1": "branch3x3_2b", "b2_0_1x1": "branch3x3dbl_1", "b2_1_3x3": "branch3x3dbl_2",
          "b2_2a_1x3": "branch3x3dbl_3a", "b2_2b_3x1": "branch3x3dbl_3b", "b3_1_1x1": "branch_pool"},
}
INCEPTION_V3_BLOCKS = {"mixed_5b": "A", "mixed_5c": "A", "mixed_5d": "A", "mixed_6a": "B", "mixed_6b": "C",
                       "mixed_6c": "C", "mixed_6d": "C", "mixed_6e": "C", "mixed_7a": "D", "mixed_7b": "E",
                       "mixed_7c": "E"}


def inception_v3_map(names, state=None):
    mapping = {"main": "fc", "aux_1x1_conv": "AuxLogits.conv0.conv", "aux_1x1_bn": "AuxLogits.conv0.bn",
               "aux_fc_conv": "AuxLogits.conv1.conv", "aux_fc_bn": "AuxLogits.conv1.bn", "aux": "AuxLogits.fc"}
    for ours, theirs in INCEPTION_V3_STEM.items():
        mapping.update({f"{ours}_conv": f"{theirs}.conv", f"{ours}_bn": f"{theirs}.bn"})
    for name in names:
        match = re.fullmatch(r"(mixed_\d[a-e])_(\w+)_(conv|bn)", name)
        if match:
            block, key, kind = match.groups()
            torch_block = "Mixed_" + block.split("_")[1]
            mapping[name] = f"{torch_block}.{INCEPTION_V3_MODULES[INCEPTION_V3_BLOCKS[block]][key]}.{kind}"
    return mapping


def vgg_map(names, state=None, *, classifier=("classifier.0", "classifier.3", "classifier.6")):
    """torchvision's `features.{i}` count every module: conv, [batch norm,] ReLU, and each pool."""
    convs = sorted((name for name in names if re.fullmatch(r"block\d_conv\d_conv", name)),
                   key=lambda name: (int(name[5]), int(name[11])))
    batch_norm = any(name.endswith("_bn") for name in names)
    mapping, index, block = {}, 0, 1
    for name in convs:
        if int(name[5]) != block:  # a pool ended the block before
            block, index = int(name[5]), index + 1
        mapping[name] = f"features.{index}"
        if batch_norm:
            mapping[name[: -len("_conv")] + "_bn"] = f"features.{index + 1}"
        index += 3 if batch_norm else 2
    mapping.update(dict(zip(("fc1", "fc2", "main"), classifier)))
    return mapping


ALEXNET = {"conv1_conv": "features.0", "conv2_conv": "features.3", "conv3_conv": "features.6",
           "conv4_conv": "features.8", "conv5_conv": "features.10", "fc6": "classifier.1", "fc7": "classifier.4",
           "main": "classifier.6"}
RESNET = {"stride_on_3x3": True, "bn_epsilon": 1e-5, "symmetric_padding": True}
CONVERSIONS = {
    "alexnet": Conversion("alexnet_torchvision", {}, TORCH, lambda names, state=None: ALEXNET,
                          flattened_from={"fc6": (256, 6, 6)}, head=("classifier.*",)),
    "googlenet": Conversion("googlenet_torchvision", {"symmetric_padding": True, "ceil_mode": True,
                                                      "pool4_size": 2, "aux_heads": False},
                            INCEPTION, googlenet_map,
                            # torchvision saves the auxiliary heads untrained (its docs say so).
                            ignore=("*num_batches_tracked", "aux1.*", "aux2.*")),
    "inception_v3": Conversion("inception_v3", {"bn_scale": True, "count_include_pad": True, "aux_heads": True},
                               INCEPTION, inception_v3_map, source_size=299, head=("fc.*", "AuxLogits.*")),
    **{f"resnet{depth}": Conversion(f"resnet{depth}", RESNET, TORCH, resnet_map) for depth in (18, 34, 50, 101, 152)},
    **{f"vgg{depth}{suffix}": Conversion(f"vgg{depth}", {"batch_norm": bool(suffix), "bn_epsilon": 1e-5},
                                         TORCH, vgg_map, flattened_from={"fc1": (512, 7, 7)},
                                         head=("classifier.*",))
       for depth in (11, 13, 16, 19) for suffix in ("", "_bn")},
}
