"""Inception v2 as BN-Inception: GoogLeNet with batch norm, each 5x5 as two 3x3, and strided
modules in place of the pools between stages.

Reference:
    Ioffe, Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing
    Internal Covariate Shift", ICML 2015 (arXiv:1502.03167), figure 5.
"""

from typing import NamedTuple

import keras

from keras_inception.models import common
from keras_inception.models.tables import Conv, Mixed, Pool, build_trunk
from keras_inception.registry import register_model
from keras_inception.validation import check_choice, check_number


class BNInceptionWidths(NamedTuple):
    """One row of figure 5. A stride-2 module has no 1x1 branch and passes its pool through."""

    ch1x1: int  # 0: no 1x1 branch
    ch3x3_reduce: int
    ch3x3: int
    double_3x3_reduce: int
    double_3x3: int  # two stacked 3x3 convs, where GoogLeNet had one 5x5
    pool: str  # "avg" or "max"
    pool_proj: int  # 0: the pooled input is passed through unprojected
    strides: int = 1


INCEPTION_V2_WIDTHS = {
    "3a": BNInceptionWidths(64, 64, 64, 64, 96, "avg", 32),  # 28x28x256
    "3b": BNInceptionWidths(64, 64, 96, 64, 96, "avg", 64),  # 28x28x320
    "3c": BNInceptionWidths(0, 128, 160, 64, 96, "max", 0, strides=2),  # 14x14x576
    "4a": BNInceptionWidths(224, 64, 96, 96, 128, "avg", 128),  # 14x14x576
    "4b": BNInceptionWidths(192, 96, 128, 96, 128, "avg", 128),  # 14x14x576
    "4c": BNInceptionWidths(160, 128, 160, 128, 160, "avg", 128),  # 14x14x608
    "4d": BNInceptionWidths(96, 128, 192, 160, 192, "avg", 128),  # 14x14x608
    "4e": BNInceptionWidths(0, 128, 192, 192, 256, "max", 0, strides=2),  # 7x7x1056
    "5a": BNInceptionWidths(352, 192, 320, 160, 224, "avg", 128),  # 7x7x1024
    "5b": BNInceptionWidths(352, 192, 320, 192, 224, "max", 128),  # 7x7x1024
}
STEMS = {
    "imagenet": (  # 224 -> 28 at inception_3a
        ("stem_conv1", Conv(64, 7, 2)),  # 112x112x64
        ("stem_pool1", Pool("max", 3, 2)),  # 56x56x64
        ("stem_conv2", Conv(64, 1)),  # 56x56x64
        ("stem_conv3", Conv(192, 3)),  # 56x56x192
        ("stem_pool2", Pool("max", 3, 2)),  # 28x28x192
    ),
    "small": (  # 32 -> 16 at inception_3a
        ("stem_conv1", Conv(64, 3)),
        ("stem_conv2", Conv(64, 1)),
        ("stem_conv3", Conv(192, 3)),
        ("stem_pool1", Pool("max", 3, 2)),
    ),
}
DEFAULT_INPUT_SHAPES = {"imagenet": (224, 224, 3), "small": (32, 32, 3)}
ENDPOINTS = tuple(f"inception_{block}" for block in INCEPTION_V2_WIDTHS)


def bn_inception_module(row):
    """A figure-5 row as a table element."""
    strides = row.strides
    branches = []
    if row.ch1x1:
        branches.append((Conv(row.ch1x1, 1),))
    branches.append((Conv(row.ch3x3_reduce, 1), Conv(row.ch3x3, 3, strides)))
    branches.append((
        Conv(row.double_3x3_reduce, 1), Conv(row.double_3x3, 3), Conv(row.double_3x3, 3, strides),
    ))
    pool = (Pool(row.pool, 3, strides),)
    branches.append(pool + ((Conv(row.pool_proj, 1),) if row.pool_proj else ()))
    return Mixed(tuple(branches))


def inception_v2(
    *,
    include_top=True,
    weights=None,
    input_shape=None,
    input_tensor=None,
    pooling=None,
    num_classes=1000,
    classifier_activation="softmax",
    name="inception_v2",
    stem="imagenet",
    width_multiplier=1.0,
    dropout_rate=0.0,
):
    """Builds BN-Inception.

    Reference:
        Ioffe, Szegedy, "Batch Normalization", ICML 2015, figure 5.

    Args:
        include_top, weights, input_shape, input_tensor, pooling, num_classes, classifier_activation, name:
            the keras.applications keywords; the default input is 224x224x3 (32x32x3 with
            the small stem).
        stem: "imagenet" (7x7/2 conv, two pools) or "small" (3x3 convs, one pool).
        width_multiplier: scales every width.
        dropout_rate: dropout before the classifier; 0, because the paper removed dropout
            once batch norm was in (section 4.2.1).

    Returns:
        A single-output `keras.Model`. The paper trained it without auxiliary classifiers.
    """
    common.check_arguments(
        include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, weights=weights,
        width_multiplier=width_multiplier,
    )
    check_choice("stem", stem, tuple(STEMS))
    check_number("dropout_rate", dropout_rate, "in [0, 1)")
    sequence = STEMS[stem] + tuple(
        (f"inception_{block}", bn_inception_module(row))
        for block, row in INCEPTION_V2_WIDTHS.items()
    )
    inputs, _, x = build_trunk(
        sequence, input_shape=input_shape, input_tensor=input_tensor,
        default_input_shape=DEFAULT_INPUT_SHAPES[stem],
        include_top=include_top, block_options={"batch_norm": True},
        scale=common.width_scaler(width_multiplier), net="BN-Inception",
    )
    x = common.global_pool_top(
        x, include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, dropout_rate=dropout_rate,
    )
    return common.load_weights(keras.Model(inputs, x, name=name), weights)


register_model("inception_v2", inception_v2, endpoints=ENDPOINTS)
