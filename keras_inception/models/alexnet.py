"""AlexNet and ZFNet: five convs with LRN and overlapping max pooling, three dense layers.

References:
    Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional Neural
    Networks", NIPS 2012.
    Zeiler, Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014
    (arXiv:1311.2901).
"""

import functools

import keras

from keras_inception.models import common
from keras_inception.models.tables import LRN, Conv, Pool, build_trunk
from keras_inception.registry import register_model
from keras_inception.validation import check_bool, check_choice

# Layer names are the authors' Caffe names. `groups=2` marks the layers that the paper split
# across two GPUs: conv2, conv4 and conv5 see only their own tower's half of the maps, conv3
# sees both (paper, figure 2).
ALEXNET_STEMS = {
    "imagenet": (  # 227x227 (the paper says 224; 227 makes the arithmetic work)
        ("conv1", Conv(96, 11, 4, "valid")),  # 55x55x96
        ("norm1", LRN()),
        ("pool1", Pool("max", 3, 2, "valid")),  # 27x27x96, overlapping: 3x3 windows, stride 2
    ),
    # For 32x32 images, where an 11x11/4 conv would leave 2x2 after the first pool.
    "small": (
        ("conv1", Conv(96, 5)),  # 32x32x96
        ("norm1", LRN()),
        ("pool1", Pool("max", 3, 2, "valid")),  # 15x15x96
    ),
}
ALEXNET_TRUNK = (
    ("conv2", Conv(256, 5, groups=2)),  # 27x27x256
    ("norm2", LRN()),
    ("pool2", Pool("max", 3, 2, "valid")),  # 13x13x256
    ("conv3", Conv(384, 3)),  # 13x13x384
    ("conv4", Conv(384, 3, groups=2)),  # 13x13x384
    ("conv5", Conv(256, 3, groups=2)),  # 13x13x256
    ("pool5", Pool("max", 3, 2, "valid")),  # 6x6x256
)

# torchvision's AlexNet: the one-tower form of Krizhevsky's "One weird trick" (arXiv:1404.5997),
# not the paper's net: 64-192-384-256-256 maps, no LRN, padded convs.
ALEXNET_TORCHVISION_STEMS = {
    "imagenet": (  # 224x224
        ("conv1", Conv(64, 11, 4, padding=2)),  # 55x55x64
        ("pool1", Pool("max", 3, 2, "valid")),  # 27x27x64
    ),
    "small": (("conv1", Conv(64, 5)), ("pool1", Pool("max", 3, 2, "valid"))),  # as the paper form's
}
ALEXNET_TORCHVISION = (
    ("conv2", Conv(192, 5)),  # 27x27x192
    ("pool2", Pool("max", 3, 2, "valid")),  # 13x13x192
    ("conv3", Conv(384, 3)),  # 13x13x384
    ("conv4", Conv(256, 3)),  # 13x13x256
    ("conv5", Conv(256, 3)),  # 13x13x256
    ("pool5", Pool("max", 3, 2, "valid")),  # 6x6x256
)
VARIANTS = ("paper", "torchvision")

# ZFNet is AlexNet with a smaller, denser first layer (7x7/2 rather than 11x11/4, which the
# paper's visualisations showed left dead and aliased filters), a strided conv2, and dense
# connections throughout (one GPU). Normalisation follows the pooling (paper, figure 3).
ZFNET_STEMS = {
    "imagenet": (  # 224x224
        ("conv1", Conv(96, 7, 2, padding=1)),  # 110x110x96
        ("pool1", Pool("max", 3, 2, "same")),  # 55x55x96
        ("norm1", LRN()),
        ("conv2", Conv(256, 5, 2, "valid")),  # 26x26x256
        ("pool2", Pool("max", 3, 2, "same")),  # 13x13x256
        ("norm2", LRN()),
    ),
    "small": (
        ("conv1", Conv(96, 3)),  # 32x32x96
        ("pool1", Pool("max", 3, 2, "same")),  # 16x16x96
        ("norm1", LRN()),
        ("conv2", Conv(256, 5)),  # 16x16x256
        ("pool2", Pool("max", 3, 2, "same")),  # 8x8x256
        ("norm2", LRN()),
    ),
}


def _zfnet_trunk(conv3, conv4, conv5):
    return (
        ("conv3", Conv(conv3, 3)),  # 13x13
        ("conv4", Conv(conv4, 3)),
        ("conv5", Conv(conv5, 3)),
        ("pool5", Pool("max", 3, 2, "valid")),  # 6x6
    )


ZFNET_TRUNKS = {
    "default": _zfnet_trunk(384, 384, 256),
    # The paper's best single model widens layers 3-5 (Table 2, "Layers 3,4,5: 512,1024,512").
    "wide": _zfnet_trunk(512, 1024, 512),
}
DEFAULT_INPUT_SHAPES = {"alexnet": (227, 227, 3), "alexnet_torchvision": (224, 224, 3), "zfnet": (224, 224, 3)}
ENDPOINTS = ("pool1", "pool2", "conv3_relu", "conv4_relu", "pool5")


def _build(sequence, *, scale, net, stem, default_input_shape, include_top, weights, input_shape,
           input_tensor, pooling, num_classes, classifier_activation, name, width_multiplier, fc_units,
           dropout_rate):
    """What AlexNet and ZFNet share once their layer table is chosen: the checks, the trunk,
    and the fc6-fc7 top."""
    common.check_arguments(
        include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, weights=weights,
        width_multiplier=width_multiplier,
    )
    common.check_dense_top(fc_units, dropout_rate)
    inputs, _, x = build_trunk(
        sequence, input_shape=input_shape, input_tensor=input_tensor,
        default_input_shape=default_input_shape if stem == "imagenet" else (32, 32, 3),
        include_top=include_top, block_options={}, scale=scale,
        net=f"{net} with the {stem!r} stem",
    )
    x = common.flatten_top(
        x, include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, units=[scale(units) for units in fc_units],
        names=[f"fc{index}" for index in range(6, 6 + len(fc_units))], dropout_rate=dropout_rate,
    )
    return common.load_weights(keras.Model(inputs, x, name=name), weights)


def alexnet(
    *,
    include_top=True,
    weights=None,
    input_shape=None,
    input_tensor=None,
    pooling=None,
    num_classes=1000,
    classifier_activation="softmax",
    name="alexnet",
    stem="imagenet",
    two_towers=True,
    width_multiplier=1.0,
    fc_units=(4096, 4096),
    dropout_rate=0.5,
    variant="paper",
):
    """Builds AlexNet as in the paper, or torchvision's one-tower form.

    Reference:
        Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional
        Neural Networks", NIPS 2012.

    Args:
        include_top, weights, input_shape, input_tensor, pooling, num_classes, classifier_activation, name:
            the keras.applications keywords; the default input is 227x227x3 (32x32x3 with
            the small stem).
        stem: "imagenet" (11x11/4 conv1) or "small" (5x5/1 conv1, for 32x32 images).
        two_towers: keep the paper's two-GPU split as grouped convolutions (groups=2 on
            conv2, conv4 and conv5): 60,965,224 parameters; False merges the towers:
            62,378,344.
        width_multiplier: scales every conv and hidden dense width (kept even with towers).
        fc_units: widths of the hidden dense layers fc6 and fc7.
        dropout_rate: dropout after fc6 and fc7 (0.5).
        variant: "paper", or "torchvision": the one-tower net of torchvision's checkpoint
            (`ALEXNET_TORCHVISION`, 224x224, 61,100,840 parameters), without LRN or towers.

    Returns:
        A single-output `keras.Model`.
    """
    check_choice("stem", stem, tuple(ALEXNET_STEMS))
    check_bool("two_towers", two_towers)
    check_choice("variant", variant, VARIANTS)
    if variant == "torchvision":
        return _build(
            ALEXNET_TORCHVISION_STEMS[stem] + ALEXNET_TORCHVISION, scale=common.width_scaler(width_multiplier),
            net="torchvision's AlexNet",
            stem=stem, default_input_shape=DEFAULT_INPUT_SHAPES["alexnet_torchvision"], include_top=include_top,
            weights=weights, input_shape=input_shape, input_tensor=input_tensor, pooling=pooling,
            num_classes=num_classes, classifier_activation=classifier_activation, name=name,
            width_multiplier=width_multiplier, fc_units=fc_units, dropout_rate=dropout_rate,
        )
    sequence = ALEXNET_STEMS[stem] + ALEXNET_TRUNK
    if two_towers:
        # Each tower holds half of every layer's maps, so widths stay even.
        scale = lambda width: 2 * common.scale_width(width / 2, width_multiplier)  # noqa: E731
    else:
        sequence = tuple((n, e._replace(groups=1) if isinstance(e, Conv) else e) for n, e in sequence)
        scale = common.width_scaler(width_multiplier)
    return _build(
        sequence, scale=scale, net="AlexNet", stem=stem,
        default_input_shape=DEFAULT_INPUT_SHAPES["alexnet"], include_top=include_top,
        weights=weights, input_shape=input_shape, input_tensor=input_tensor, pooling=pooling,
        num_classes=num_classes,
        classifier_activation=classifier_activation, name=name,
        width_multiplier=width_multiplier, fc_units=fc_units, dropout_rate=dropout_rate,
    )


def zfnet(
    *,
    include_top=True,
    weights=None,
    input_shape=None,
    input_tensor=None,
    pooling=None,
    num_classes=1000,
    classifier_activation="softmax",
    name=None,
    config="default",
    stem="imagenet",
    width_multiplier=1.0,
    fc_units=(4096, 4096),
    dropout_rate=0.5,
):
    """Builds ZFNet.

    Reference:
        Zeiler, Fergus, "Visualizing and Understanding Convolutional Networks", ECCV 2014.

    Args:
        include_top, weights, input_shape, input_tensor, pooling, num_classes, classifier_activation, name:
            the keras.applications keywords; the default input is 224x224x3 (32x32x3 with
            the small stem); `name` defaults to "zfnet" or "zfnet_wide".
        config: "default" (conv3-5: 384, 384, 256) or "wide" (512, 1024, 512).
        stem: "imagenet" (7x7/2 conv1, 5x5/2 conv2) or "small" (stride 1, for 32x32).
        width_multiplier: scales every conv and hidden dense width.
        fc_units: widths of the hidden dense layers fc6 and fc7.
        dropout_rate: dropout after fc6 and fc7 (0.5).

    Returns:
        A single-output `keras.Model`.
    """
    check_choice("config", config, tuple(ZFNET_TRUNKS))
    check_choice("stem", stem, tuple(ZFNET_STEMS))
    return _build(
        ZFNET_STEMS[stem] + ZFNET_TRUNKS[config], scale=common.width_scaler(width_multiplier),
        net="ZFNet", stem=stem, default_input_shape=DEFAULT_INPUT_SHAPES["zfnet"],
        include_top=include_top, weights=weights, input_shape=input_shape, input_tensor=input_tensor,
        pooling=pooling,
        num_classes=num_classes, classifier_activation=classifier_activation,
        name=name or ("zfnet" if config == "default" else f"zfnet_{config}"),
        width_multiplier=width_multiplier, fc_units=fc_units, dropout_rate=dropout_rate,
    )


register_model("alexnet", alexnet, endpoints=ENDPOINTS)
register_model("alexnet_torchvision", functools.partial(alexnet, variant="torchvision", two_towers=False,
                                                        name="alexnet_torchvision"), endpoints=ENDPOINTS)
register_model("zfnet", zfnet, endpoints=ENDPOINTS)
register_model("zfnet_wide", functools.partial(zfnet, config="wide"), endpoints=ENDPOINTS)
