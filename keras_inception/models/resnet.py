"""ResNet 18, 34, 50, 101 and 152: basic and bottleneck residual blocks.

Reference:
    He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016
    (arXiv:1512.03385).
"""

import functools
import math
from typing import NamedTuple

import keras
from keras import layers

from keras_inception.layers import BN_EPSILON, conv_block
from keras_inception.models import common
from keras_inception.models.tables import Conv, Pool, build_sequence
from keras_inception.registry import register_model
from keras_inception.validation import check_bool, check_choice, check_number


class ResNetSpec(NamedTuple):
    block: str  # "basic" (two 3x3 convs) or "bottleneck" (1x1, 3x3, 1x1 at 4x the width)
    layers: tuple  # blocks in conv2_x ... conv5_x


# The paper's Table 1.
RESNET_DEPTHS = {
    18: ResNetSpec("basic", (2, 2, 2, 2)),
    34: ResNetSpec("basic", (3, 4, 6, 3)),
    50: ResNetSpec("bottleneck", (3, 4, 6, 3)),
    101: ResNetSpec("bottleneck", (3, 4, 23, 3)),
    152: ResNetSpec("bottleneck", (3, 8, 36, 3)),
}
STAGE_WIDTHS = (64, 128, 256, 512)  # conv2_x ... conv5_x
BOTTLENECK_EXPANSION = 4

STEMS = {
    "imagenet": (  # 224 -> 56 at conv2_x
        ("conv1", Conv(64, 7, 2)),  # 112x112x64
        ("pool1", Pool("max", 3, 2)),  # 56x56x64
    ),
    # The usual CIFAR form (32 -> 32 at conv2_x, 4x4 at conv5_x).
    "small": (("conv1", Conv(64, 3)),),
}
DEFAULT_INPUT_SHAPES = {"imagenet": (224, 224, 3), "small": (32, 32, 3)}


def _endpoints(depth):
    layers_per_stage = RESNET_DEPTHS[depth].layers
    return ("conv1_relu",) + tuple(
        f"conv{stage}_block{count}_out" for stage, count in enumerate(layers_per_stage, start=2)
    )


def residual_block(x, width, *, name, kind, strides, stride_on_3x3, conv):
    """One residual block; layer names follow keras.applications (`conv3_block1_1_conv`)."""
    out_channels = width * (BOTTLENECK_EXPANSION if kind == "bottleneck" else 1)
    shortcut = x
    if strides != 1 or x.shape[-1] != out_channels:
        # Projection shortcut where the shape changes (the paper's option B).
        shortcut = conv(x, out_channels, 1, strides=strides, activation=None, name=f"{name}_0")
    if kind == "basic":
        y = conv(x, width, 3, strides=strides, name=f"{name}_1")
        y = conv(y, width, 3, activation=None, name=f"{name}_2")
    else:
        # The paper strides the first 1x1; torchvision ("ResNet v1.5") strides the 3x3,
        # which sees every input position and is about 0.5% more accurate.
        y = conv(x, width, 1, strides=1 if stride_on_3x3 else strides, name=f"{name}_1")
        y = conv(y, width, 3, strides=strides if stride_on_3x3 else 1, name=f"{name}_2")
        y = conv(y, out_channels, 1, activation=None, name=f"{name}_3")
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def resnet(
    *,
    depth=50,
    include_top=True,
    weights=None,
    input_shape=None,
    input_tensor=None,
    pooling=None,
    num_classes=1000,
    classifier_activation="softmax",
    name=None,
    stem="imagenet",
    stride_on_3x3=False,
    width_multiplier=1.0,
    bn_epsilon=BN_EPSILON,
    symmetric_padding=False,
):
    """Builds a ResNet: batch norm after every conv, bias-free convs, He initialisation.

    Reference:
        He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016.

    Args:
        depth: 18, 34 (basic blocks), 50, 101 or 152 (bottleneck blocks).
        include_top, weights, input_shape, input_tensor, pooling, num_classes, classifier_activation:
            the keras.applications keywords; the default input is 224x224x3 (32x32x3 with
            the small stem).
        name: model name; defaults to `resnet{depth}`.
        stem: "imagenet" (7x7/2 conv, 3x3/2 max-pool) or "small" (one 3x3 conv, no pool).
        stride_on_3x3: stride the bottleneck's 3x3 conv rather than its first 1x1
            (torchvision's "v1.5"); the parameter count is the same.
        width_multiplier: scales every width.
        bn_epsilon: batch norm's epsilon; PyTorch checkpoints need 1e-5, keras.applications'
            1.001e-5.
        symmetric_padding: the strided 7x7 conv, 3x3 convs and max pool pad equally on every
            side, as PyTorch and keras.applications do (see `layers.conv_block`).

    Returns:
        A single-output `keras.Model`; its trainable parameters equal torchvision's.
    """
    check_choice("depth", depth, tuple(RESNET_DEPTHS))
    common.check_arguments(
        include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, weights=weights,
        width_multiplier=width_multiplier,
    )
    check_choice("stem", stem, tuple(STEMS))
    check_bool("stride_on_3x3", stride_on_3x3)
    check_bool("symmetric_padding", symmetric_padding)
    check_number("bn_epsilon", bn_epsilon, "in (0, 1)")
    # The stem's strides, then conv3_x, conv4_x and conv5_x each halve the map.
    min_size = math.prod(element.strides for _, element in STEMS[stem]) * 2 ** 3
    input_shape = common.resolve_input_shape(
        common.shape_of(input_shape, input_tensor), default=DEFAULT_INPUT_SHAPES[stem], min_size=min_size,
        include_top=include_top, reason=f"ResNet with the {stem!r} stem downsamples by {min_size}",
    )
    spec = RESNET_DEPTHS[depth]
    scale = common.width_scaler(width_multiplier)
    block_options = {"batch_norm": True, "kernel_initializer": "he_normal", "bn_epsilon": bn_epsilon,
                    "symmetric_padding": symmetric_padding}
    conv = functools.partial(conv_block, **block_options)

    inputs, x = common.model_input(input_shape, input_tensor)
    _, x = build_sequence(x, STEMS[stem], block_options=block_options, scale=scale)
    for stage, (width, count) in enumerate(zip(STAGE_WIDTHS, spec.layers), start=2):
        for index in range(1, count + 1):
            # The first block of conv3_x, conv4_x and conv5_x halves the map.
            strides = 2 if index == 1 and stage > 2 else 1
            x = residual_block(
                x, scale(width), name=f"conv{stage}_block{index}", kind=spec.block,
                strides=strides, stride_on_3x3=stride_on_3x3, conv=conv,
            )
    x = common.global_pool_top(
        x, include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation,
    )
    return common.load_weights(keras.Model(inputs, x, name=name or f"resnet{depth}"), weights)


for _depth in RESNET_DEPTHS:
    register_model(f"resnet{_depth}", functools.partial(resnet, depth=_depth),
                   endpoints=_endpoints(_depth))
