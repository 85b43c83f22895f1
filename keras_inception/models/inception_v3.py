"""Inception v3: factorised convolutions (5x5 as two 3x3, 7x7 as 1x7 and 7x1), grid reductions
by parallel strided branches, and one batch-normalised auxiliary classifier.

Reference:
    Szegedy, Vanhoucke, Ioffe, Shlens, Wojna, "Rethinking the Inception Architecture for
    Computer Vision", CVPR 2016 (arXiv:1512.00567).

Layer and endpoint names are TF-slim's, in lower case (`conv_1a`, `mixed_6e`). Convs have no
bias and their batch norm no scale, as in TF-slim and keras.applications, whose parameter
count the net matches exactly.
"""

import functools

from keras_inception.layers import BN_EPSILON
from keras_inception.models import common
from keras_inception.models.multi_output import AuxHead, build_with_aux_heads
from keras_inception.models.tables import (
    Conv,
    Mixed,
    Pool,
    Split,
    conv_widths,
    replace_widths,
    scale_widths,
)
from keras_inception.registry import register_model
from keras_inception.validation import check_bool, check_choice, check_number

# Convs with batch norm and no scale: TF-slim's convention for the whole Inception v3/v4 line.
INCEPTION_CONV = {"batch_norm": True, "bn_scale": False}


def small_stem(out_channels):
    """For 32x32 images: the stem's convs at stride 1 and no pools, so the first Inception
    modules see 32x32, as the ImageNet stem's 35x35."""
    return (
        ("conv_1a", Conv(32, 3)),
        ("conv_2a", Conv(32, 3)),
        ("conv_2b", Conv(64, 3)),
        ("conv_3b", Conv(80, 1)),
        ("conv_4a", Conv(out_channels, 3)),
    )


STEMS = {
    "imagenet": (  # 299x299
        ("conv_1a", Conv(32, 3, 2, "valid")),  # 149x149x32
        ("conv_2a", Conv(32, 3, padding="valid")),  # 147x147x32
        ("conv_2b", Conv(64, 3)),  # 147x147x64
        ("pool_3a", Pool("max", 3, 2, "valid")),  # 73x73x64
        ("conv_3b", Conv(80, 1, padding="valid")),  # 73x73x80
        ("conv_4a", Conv(192, 3, padding="valid")),  # 71x71x192
        ("pool_5a", Pool("max", 3, 2, "valid")),  # 35x35x192
    ),
    "small": small_stem(192),  # 32x32x192
}
DEFAULT_INPUT_SHAPES = {"imagenet": (299, 299, 3), "small": (32, 32, 3)}


def module_a(pool_proj):
    """Figure 5: the 5x5 of GoogLeNet kept on one branch, as two 3x3 on another (35x35)."""
    return Mixed((
        (Conv(64, 1),),
        (Conv(48, 1), Conv(64, 5)),
        (Conv(64, 1), Conv(96, 3), Conv(96, 3)),
        (Pool("avg", 3), Conv(pool_proj, 1)),
    ))


def module_b(width):
    """Figure 6 with n=7: 7x7 convs factorised into 1x7 and 7x1 (17x17)."""
    return Mixed((
        (Conv(192, 1),),
        (Conv(width, 1), Conv(width, (1, 7)), Conv(192, (7, 1))),
        (Conv(width, 1), Conv(width, (7, 1)), Conv(width, (1, 7)), Conv(width, (7, 1)),
         Conv(192, (1, 7))),
        (Pool("avg", 3), Conv(192, 1)),
    ))


# Figure 7: the 8x8 modules fork their 3x3s into parallel 1x3 and 3x1 ("expanded filter
# banks"), for high-dimensional representations at the coarsest grid.
MODULE_C = Mixed((
    (Conv(320, 1),),
    (Conv(384, 1), Split((Conv(384, (1, 3)), Conv(384, (3, 1))))),
    (Conv(448, 1), Conv(384, 3), Split((Conv(384, (1, 3)), Conv(384, (3, 1))))),
    (Pool("avg", 3), Conv(192, 1)),
))

# Figure 10: the grid is halved by strided conv branches in parallel with a pool, which
# avoids both a representational bottleneck (pool first) and the cost of convolving first.
REDUCTION_A = Mixed((
    (Conv(384, 3, 2, "valid"),),
    (Conv(64, 1), Conv(96, 3), Conv(96, 3, 2, "valid")),
    (Pool("max", 3, 2, "valid"),),
))  # 35x35x288 -> 17x17x768
REDUCTION_B = Mixed((
    (Conv(192, 1), Conv(320, 3, 2, "valid")),
    (Conv(192, 1), Conv(192, (1, 7)), Conv(192, (7, 1)), Conv(192, 3, 2, "valid")),
    (Pool("max", 3, 2, "valid"),),
))  # 17x17x768 -> 8x8x1280

INCEPTION_V3 = (
    ("mixed_5b", module_a(32)),  # 35x35x256
    ("mixed_5c", module_a(64)),  # 35x35x288
    ("mixed_5d", module_a(64)),  # 35x35x288
    ("mixed_6a", REDUCTION_A),  # 17x17x768
    ("mixed_6b", module_b(128)),  # 17x17x768
    ("mixed_6c", module_b(160)),
    ("mixed_6d", module_b(160)),
    ("mixed_6e", module_b(192)),  # 17x17x768, feeds the auxiliary head
    ("mixed_7a", REDUCTION_B),  # 8x8x1280
    ("mixed_7b", MODULE_C),  # 8x8x2048
    ("mixed_7c", MODULE_C),  # 8x8x2048
)
ENDPOINTS = tuple(name for name, _ in INCEPTION_V3)
# The grids: 35x35 (mixed_5*), 17x17 (mixed_6*) and 8x8 (mixed_7*), each reduction counted
# with the grid it produces, as TF-slim numbers them.
STAGES = ("5", "6", "7")
# {block: {conv: width}}, read from the table above: what `block_widths` may change and what
# a width search searches (keras_inception.tuning).
WIDTH_TABLE = {name: conv_widths(element) for name, element in INCEPTION_V3}
# The auxiliary head on mixed_6e: 5x5/3 average pool (17x17 -> 5x5), 1x1 conv (128), then a
# conv as wide as the pooled map, which makes it a batch-normalised fully connected layer of
# 768 (the paper's "BN-auxiliary", section 7), and the classifier.
AUX_HEAD = AuxHead("mixed_6e", conv=128, fc=768, fc_as_conv=True)


def stage_of(block):
    """"mixed_6b" -> "6"."""
    return block.split("_")[1][0]


def resolve_table(block_widths=None, width_multiplier=1.0, stage_multipliers=None):
    """The Inception part of the net as built: `table_with_widths`, every width scaled as
    `inception_v3` scales it (`block_scales`)."""
    scales = block_scales(width_multiplier, stage_multipliers)
    return tuple((name, scale_widths(element, scales[name])) for name, element in table_with_widths(block_widths))


def table_with_widths(block_widths=None):
    """`INCEPTION_V3` before scaling, with the `block_widths` overrides ({block: {conv: width}},
    names from `WIDTH_TABLE`)."""
    block_widths = common.check_block_widths(block_widths, WIDTH_TABLE)
    return tuple((name, replace_widths(element, block_widths.get(name, {}))) for name, element in INCEPTION_V3)


def block_scales(width_multiplier=1.0, stage_multipliers=None):
    """{block: scale}: each Inception block's widths times `width_multiplier` and its stage's
    multiplier, rounded once."""
    return common.block_scales([name for name, _ in INCEPTION_V3], stage_of, STAGES, width_multiplier,
                               stage_multipliers)


def inception_v3(
    *,
    include_top=True,
    weights=None,
    input_shape=None,
    input_tensor=None,
    pooling=None,
    num_classes=1000,
    classifier_activation="softmax",
    name="inception_v3",
    stem="imagenet",
    aux_heads=None,
    width_multiplier=1.0,
    block_widths=None,
    stage_multipliers=None,
    dropout_rate=0.2,
    bn_scale=False,
    bn_epsilon=BN_EPSILON,
    count_include_pad=False,
):
    """Builds Inception v3.

    Reference:
        Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", 2016.

    Args:
        include_top, weights, input_shape, input_tensor, pooling, num_classes, classifier_activation, name:
            the keras.applications keywords; the default input is 299x299x3 (32x32x3 with
            the small stem).
        stem: "imagenet" (valid convs and two pools, 299 -> 35) or "small" (stride 1).
        aux_heads: build the auxiliary classifier on mixed_6e; defaults to `include_top`.
            With it the model is an `AuxiliaryHeadsModel` with outputs `main` and `aux`, the
            aux loss weighted 0.3 like GoogLeNet's.
        width_multiplier: scales every width.
        block_widths: per-conv width overrides {block: {conv: width}}, the names of
            `WIDTH_TABLE` ({"mixed_6b": {"b1_0_1x1": 96}}); scaled like the table.
        stage_multipliers: {stage: multiplier} for the stages "5", "6" and "7" (the 35x35,
            17x17 and 8x8 grids), on top of `width_multiplier`; the stem and the auxiliary
            head follow `width_multiplier` alone.
        dropout_rate: dropout before the classifier (TF-slim's keep probability 0.8).
        bn_scale: batch norm learns a scale (gamma), as torchvision's and timm's do.
        bn_epsilon: batch norm's epsilon.
        count_include_pad: the modules' 3x3 average pools divide by 9 at the borders too,
            padding included, as PyTorch's `avg_pool2d(x, 3, 1, 1)` does, instead of by the
            pixels inside the map ("same", TF-slim's and keras.applications').

    Returns:
        A `keras.Model`. Without the aux head it holds exactly the parameters of
        keras.applications' InceptionV3 (23,851,784 with 1000 classes).
    """
    common.check_arguments(
        include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, weights=weights,
        width_multiplier=width_multiplier,
    )
    check_choice("stem", stem, tuple(STEMS))
    check_number("dropout_rate", dropout_rate, "in [0, 1)")
    check_bool("bn_scale", bn_scale)
    check_number("bn_epsilon", bn_epsilon, "in (0, 1)")
    check_bool("count_include_pad", count_include_pad)
    block_options = {**INCEPTION_CONV, "bn_scale": bn_scale, "bn_epsilon": bn_epsilon}
    aux_heads = common.check_aux_heads(aux_heads, include_top)
    sequence = STEMS[stem] + table_with_widths(block_widths)
    scale = common.width_scaler(width_multiplier)

    build = functools.partial(
        build_with_aux_heads, trunk=sequence, heads={"aux": AUX_HEAD}, name=name,
        trunk_options=dict(input_shape=input_shape, input_tensor=input_tensor,
                           default_input_shape=DEFAULT_INPUT_SHAPES[stem], include_top=include_top,
                           block_options={**block_options, "count_include_pad": count_include_pad},
                           scale=scale, block_scales=block_scales(width_multiplier, stage_multipliers),
                           net=f"Inception v3 with the {stem!r} stem"),
        main_top=lambda x: common.global_pool_top(x, include_top=include_top, pooling=pooling, num_classes=num_classes,
                                                  classifier_activation=classifier_activation,
                                                  dropout_rate=dropout_rate),
        head_options=dict(num_classes=num_classes, classifier_activation=classifier_activation,
                          block_options=block_options, scale=scale),
    )
    return common.build_and_load(build, weights, aux_heads=aux_heads, include_top=include_top)


register_model("inception_v3", inception_v3, endpoints=ENDPOINTS)
