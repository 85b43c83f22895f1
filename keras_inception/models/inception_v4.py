"""Inception v4 and Inception-ResNet v1 and v2.

Reference:
    Szegedy, Ioffe, Vanhoucke, Alemi, "Inception-v4, Inception-ResNet and the Impact of
    Residual Connections on Learning", AAAI 2017 (arXiv:1602.07261).

Each net is one table: its stem, then its modules in order. Module and endpoint names are
TF-slim's in lower case (`mixed_6a`, `block17_20`), which keras.applications also uses.
Convs have no bias and their batch norm no scale (TF-slim's convention); the Inception-ResNet
blocks' linear 1x1 convs have a bias and no batch norm.
"""

import functools
import re

import keras

from keras_inception.layers import BN_EPSILON
from keras_inception.models import common
from keras_inception.models.inception_v3 import (
    INCEPTION_CONV,
    STEMS as INCEPTION_V3_STEMS,
    small_stem,
)
from keras_inception.models.tables import Conv, Mixed, Pool, Residual, Split, build_trunk
from keras_inception.registry import register_model
from keras_inception.validation import UsageError, check_bool, check_choice, check_number

VALID = "valid"


def _repeat(prefix, element, count, first=1):
    return tuple((f"{prefix}{index}", element) for index in range(first, first + count))


def reduction_a(k, l, m, n):
    """Figure 7: 35x35 -> 17x17. The filter counts k, l, m, n differ per net (Table 1)."""
    return Mixed((
        (Conv(n, 3, 2, VALID),),
        (Conv(k, 1), Conv(l, 3), Conv(m, 3, 2, VALID)),
        (Pool("max", 3, 2, VALID),),
    ))


# ---------------------------------------------------------------------------------------------
# Inception v4 (figure 9)

V4_STEM = (  # figure 3: 299 -> 35
    ("conv_1a", Conv(32, 3, 2, VALID)),  # 149x149x32
    ("conv_2a", Conv(32, 3, padding=VALID)),  # 147x147x32
    ("conv_2b", Conv(64, 3)),  # 147x147x64
    ("mixed_3a", Mixed(((Pool("max", 3, 2, VALID),), (Conv(96, 3, 2, VALID),)))),  # 73x73x160
    ("mixed_4a", Mixed((
        (Conv(64, 1), Conv(96, 3, padding=VALID)),
        (Conv(64, 1), Conv(64, (7, 1)), Conv(64, (1, 7)), Conv(96, 3, padding=VALID)),
    ))),  # 71x71x192
    ("mixed_5a", Mixed(((Conv(192, 3, 2, VALID),), (Pool("max", 3, 2, VALID),)))),  # 35x35x384
)

V4_INCEPTION_A = Mixed((  # figure 4, 35x35x384
    (Conv(96, 1),),
    (Conv(64, 1), Conv(96, 3)),
    (Conv(64, 1), Conv(96, 3), Conv(96, 3)),
    (Pool("avg", 3), Conv(96, 1)),
))
V4_INCEPTION_B = Mixed((  # figure 5, 17x17x1024
    (Conv(384, 1),),
    (Conv(192, 1), Conv(224, (1, 7)), Conv(256, (7, 1))),
    (Conv(192, 1), Conv(192, (1, 7)), Conv(224, (7, 1)), Conv(224, (1, 7)), Conv(256, (7, 1))),
    (Pool("avg", 3), Conv(128, 1)),
))
V4_REDUCTION_B = Mixed((  # figure 8: 17x17x1024 -> 8x8x1536
    (Conv(192, 1), Conv(192, 3, 2, VALID)),
    (Conv(256, 1), Conv(256, (1, 7)), Conv(320, (7, 1)), Conv(320, 3, 2, VALID)),
    (Pool("max", 3, 2, VALID),),
))
V4_INCEPTION_C = Mixed((  # figure 6, 8x8x1536
    (Conv(256, 1),),
    (Conv(384, 1), Split((Conv(256, (1, 3)), Conv(256, (3, 1))))),
    (Conv(384, 1), Conv(448, (1, 3)), Conv(512, (3, 1)),
     Split((Conv(256, (1, 3)), Conv(256, (3, 1))))),
    (Pool("avg", 3), Conv(256, 1)),
))
INCEPTION_V4 = (
    tuple((f"mixed_5{letter}", V4_INCEPTION_A) for letter in "bcde")  # 35x35x384
    + (("mixed_6a", reduction_a(192, 224, 256, 384)),)  # 17x17x1024
    + tuple((f"mixed_6{letter}", V4_INCEPTION_B) for letter in "bcdefgh")  # 17x17x1024
    + (("mixed_7a", V4_REDUCTION_B),)  # 8x8x1536
    + tuple((f"mixed_7{letter}", V4_INCEPTION_C) for letter in "bcd")  # 8x8x1536
)



def _transposed(conv):
    height, width = conv.kernel
    return conv._replace(kernel=(width, height))


def tf_slim_release(sequence):
    """Inception v4 as TF-slim released it (and timm ported it): the factorized convs of
    mixed_4a's second branch and of the B and C modules' third branches turned the other way
    (a 7x1 where the paper's figures 3, 5 and 6 have a 1x7, and back), widths unchanged."""
    turned = []
    for name, element in sequence:
        branch = 1 if name == "mixed_4a" else 2 if re.fullmatch(r"mixed_(6[b-h]|7[b-d])", name) else None
        if branch is not None:
            ops = tuple(_transposed(op) if isinstance(op, Conv) and isinstance(op.kernel, tuple) else op
                        for op in element.branches[branch])
            branches = list(element.branches)
            branches[branch] = ops
            element = element._replace(branches=tuple(branches))
        turned.append((name, element))
    return tuple(turned)


# ---------------------------------------------------------------------------------------------
# Inception-ResNet v1 (figure 15 with the v1 blocks): every block adds its branches back to
# its input through a linear 1x1 conv, scaled by 0.17, 0.1 and 0.2 as in TF-slim.

IR_V1_STEM = (  # figure 14: 299 -> 35
    ("conv_1a", Conv(32, 3, 2, VALID)),  # 149x149x32
    ("conv_2a", Conv(32, 3, padding=VALID)),  # 147x147x32
    ("conv_2b", Conv(64, 3)),  # 147x147x64
    ("pool_3a", Pool("max", 3, 2, VALID)),  # 73x73x64
    ("conv_3b", Conv(80, 1)),  # 73x73x80
    ("conv_4a", Conv(192, 3, padding=VALID)),  # 71x71x192
    ("conv_4b", Conv(256, 3, 2, VALID)),  # 35x35x256
)
IR_V1 = (
    _repeat("block35_", Residual((  # figure 10, 35x35x256
        (Conv(32, 1),),
        (Conv(32, 1), Conv(32, 3)),
        (Conv(32, 1), Conv(32, 3), Conv(32, 3)),
    ), scale=0.17), 5)
    + (("mixed_6a", reduction_a(192, 192, 256, 384)),)  # 17x17x896
    + _repeat("block17_", Residual((  # figure 11
        (Conv(128, 1),),
        (Conv(128, 1), Conv(128, (1, 7)), Conv(128, (7, 1))),
    ), scale=0.1), 10)
    + (("mixed_7a", Mixed((  # figure 12: 17x17x896 -> 8x8x1792
        (Conv(256, 1), Conv(384, 3, 2, VALID)),
        (Conv(256, 1), Conv(256, 3, 2, VALID)),
        (Conv(256, 1), Conv(256, 3), Conv(256, 3, 2, VALID)),
        (Pool("max", 3, 2, VALID),),
    ))),)
    + _repeat("block8_", Residual((  # figure 13, 8x8x1792
        (Conv(192, 1),),
        (Conv(192, 1), Conv(192, (1, 3)), Conv(192, (3, 1))),
    ), scale=0.2), 5)
)

# ---------------------------------------------------------------------------------------------
# Inception-ResNet v2 as released (TF-slim, keras.applications): Inception v3's stem and a
# mixed_5b module, then 10, 20 and 10 residual blocks. The paper's figures for v2 do not
# add up (a 1x1 of 1154 channels added to a 1152-channel input, 2048 to 2144), so every
# implementation, and the released 80.4% checkpoint, uses this form.

IR_V2_BLOCK35 = Residual((
    (Conv(32, 1),),
    (Conv(32, 1), Conv(32, 3)),
    (Conv(32, 1), Conv(48, 3), Conv(64, 3)),
), scale=0.17)
IR_V2_BLOCK17 = Residual((
    (Conv(192, 1),),
    (Conv(128, 1), Conv(160, (1, 7)), Conv(192, (7, 1))),
), scale=0.1)
IR_V2_BLOCK8 = Residual((
    (Conv(192, 1),),
    (Conv(192, 1), Conv(224, (1, 3)), Conv(256, (3, 1))),
), scale=0.2)
IR_V2 = (
    (("mixed_5b", Mixed((  # 35x35x320
        (Conv(96, 1),),
        (Conv(48, 1), Conv(64, 5)),
        (Conv(64, 1), Conv(96, 3), Conv(96, 3)),
        (Pool("avg", 3), Conv(64, 1)),
    ))),)
    + _repeat("block35_", IR_V2_BLOCK35, 10)  # 35x35x320
    + (("mixed_6a", reduction_a(256, 256, 384, 384)),)  # 17x17x1088
    + _repeat("block17_", IR_V2_BLOCK17, 20)  # 17x17x1088
    + (("mixed_7a", Mixed((  # 8x8x2080
        (Conv(256, 1), Conv(384, 3, 2, VALID)),
        (Conv(256, 1), Conv(288, 3, 2, VALID)),
        (Conv(256, 1), Conv(288, 3), Conv(320, 3, 2, VALID)),
        (Pool("max", 3, 2, VALID),),
    ))),)
    + _repeat("block8_", IR_V2_BLOCK8, 9)  # 8x8x2080
    # The last block is added unscaled and without the ReLU, before the final 1x1 conv.
    + (("block8_10", IR_V2_BLOCK8._replace(scale=1.0, activation=False)),)
    + (("conv_7b", Conv(1536, 1)),)  # 8x8x1536
)

NETS = {
    "inception_v4": {"imagenet": V4_STEM, "small": small_stem(384), "body": INCEPTION_V4},
    "inception_resnet_v1": {"imagenet": IR_V1_STEM, "small": small_stem(256), "body": IR_V1},
    "inception_resnet_v2": {**INCEPTION_V3_STEMS, "body": IR_V2},
}
STEM_NAMES = ("imagenet", "small")


def _endpoints(net):
    """Every module of the body, in order (a plain conv's output is its ReLU)."""
    return tuple(f"{name}_relu" if isinstance(element, Conv) else name
                 for name, element in NETS[net]["body"])


def _inception_v4_family(
    *,
    net,
    include_top=True,
    weights=None,
    input_shape=None,
    input_tensor=None,
    pooling=None,
    num_classes=1000,
    classifier_activation="softmax",
    name=None,
    stem="imagenet",
    width_multiplier=1.0,
    dropout_rate=0.2,
    bn_scale=False,
    bn_epsilon=BN_EPSILON,
    tf_slim_order=False,
):
    """Builds Inception v4, Inception-ResNet v1 or Inception-ResNet v2.

    Reference:
        Szegedy, Ioffe, Vanhoucke, Alemi, "Inception-v4, Inception-ResNet and the Impact of
        Residual Connections on Learning", AAAI 2017.

    Args:
        include_top, weights, input_shape, input_tensor, pooling, num_classes, classifier_activation:
            the keras.applications keywords; the default input is 299x299x3 (32x32x3 with
            the small stem).
        name: model name; defaults to the registered name.
        stem: "imagenet" (the paper's, 299 -> 35) or "small" (stride-1 convs, no pools).
        width_multiplier: scales every width.
        dropout_rate: dropout before the classifier (the paper's keep probability 0.8).
        bn_scale: batch norm learns a scale (gamma), as timm's ports do.
        bn_epsilon: batch norm's epsilon.
        tf_slim_order: Inception v4's factorized convs turned as TF-slim's released checkpoint
            has them (`tf_slim_release`), for its weights.

    Returns:
        A single-output `keras.Model` (the paper trains these without auxiliary heads).
    """
    common.check_arguments(
        include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, weights=weights,
        width_multiplier=width_multiplier,
    )
    check_choice("stem", stem, STEM_NAMES)
    check_number("dropout_rate", dropout_rate, "in [0, 1)")
    check_bool("bn_scale", bn_scale)
    check_number("bn_epsilon", bn_epsilon, "in (0, 1)")
    check_bool("tf_slim_order", tf_slim_order)
    sequence = NETS[net][stem] + NETS[net]["body"]
    if tf_slim_order:
        if net != "inception_v4":
            raise UsageError(f"`tf_slim_order` applies to Inception v4. Received: tf_slim_order=True for {net}")
        sequence = tf_slim_release(sequence)
    inputs, _, x = build_trunk(
        sequence, input_shape=input_shape, input_tensor=input_tensor,
        default_input_shape=(299, 299, 3) if stem == "imagenet" else (32, 32, 3),
        include_top=include_top, block_options={**INCEPTION_CONV, "bn_scale": bn_scale, "bn_epsilon": bn_epsilon},
        scale=common.width_scaler(width_multiplier), net=f"{net} with the {stem!r} stem",
    )
    x = common.global_pool_top(
        x, include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, dropout_rate=dropout_rate,
    )
    return common.load_weights(keras.Model(inputs, x, name=name or net), weights)


def _builder(net, title):
    builder = functools.partial(_inception_v4_family, net=net)
    builder.__doc__ = f"Builds {title}. " + _inception_v4_family.__doc__.split("\n", 1)[1]
    return builder


inception_v4 = _builder("inception_v4", "Inception v4")
inception_resnet_v1 = _builder("inception_resnet_v1", "Inception-ResNet v1")
inception_resnet_v2 = _builder(
    "inception_resnet_v2", "Inception-ResNet v2 (as released; equals keras.applications')"
)
for _net, _builder in (("inception_v4", inception_v4), ("inception_resnet_v1", inception_resnet_v1),
                       ("inception_resnet_v2", inception_resnet_v2)):
    register_model(_net, _builder, endpoints=_endpoints(_net))
