"""GoogLeNet (Inception v1), read from the paper's Table 1.

Reference:
    Szegedy et al., "Going Deeper with Convolutions", CVPR 2015 (arXiv:1409.4842).
"""

import functools
from collections.abc import Mapping
from typing import NamedTuple

from keras_inception.layers import BN_EPSILON, GOOGLENET_LRN
from keras_inception.models import common
from keras_inception.models.multi_output import AuxHead, build_with_aux_heads
from keras_inception.models.tables import LRN, Conv, Mixed, Pool, Top, build_top
from keras_inception.registry import register_model
from keras_inception.validation import UsageError, check_bool, check_choice, check_number


class InceptionWidths(NamedTuple):
    """One row of Table 1: the widths of an Inception module's four branches."""

    ch1x1: int
    ch3x3_reduce: int
    ch3x3: int
    ch5x5_reduce: int
    ch5x5: int
    pool_proj: int

    @property
    def out_channels(self):
        return self.ch1x1 + self.ch3x3 + self.ch5x5 + self.pool_proj


# Table 1. The first digit is the stage; a 3x3/2 max-pool sits between stages. Output sizes
# are for the 224x224 ImageNet stem.
INCEPTION_WIDTHS = {
    "3a": InceptionWidths(64, 96, 128, 16, 32, 32),  # 28x28x256
    "3b": InceptionWidths(128, 128, 192, 32, 96, 64),  # 28x28x480
    "4a": InceptionWidths(192, 96, 208, 16, 48, 64),  # 14x14x512
    "4b": InceptionWidths(160, 112, 224, 24, 64, 64),  # 14x14x512
    "4c": InceptionWidths(128, 128, 256, 24, 64, 64),  # 14x14x512
    "4d": InceptionWidths(112, 144, 288, 32, 64, 64),  # 14x14x528
    "4e": InceptionWidths(256, 160, 320, 32, 128, 128),  # 14x14x832
    "5a": InceptionWidths(256, 160, 320, 32, 128, 128),  # 7x7x832
    "5b": InceptionWidths(384, 192, 384, 48, 128, 128),  # 7x7x1024
}
BRANCHES = InceptionWidths._fields
STAGES = ("3", "4", "5")
# {block: {branch: width}}: Table 1 as what `block_widths` may change and what a width search
# searches (keras_inception.tuning).
WIDTH_TABLE = {block: row._asdict() for block, row in INCEPTION_WIDTHS.items()}


def stage_of(block):
    """"4c" -> "4"."""
    return block[0]


STEMS = {
    # The paper's stem: 224 -> 28 at inception_3a.
    "imagenet": (
        ("stem_conv1", Conv(64, 7, 2)),  # 112x112x64
        ("stem_maxpool1", Pool("max", 3, 2)),  # 56x56x64
        ("stem_lrn1", LRN(GOOGLENET_LRN)),
        ("stem_conv2", Conv(64, 1)),  # 56x56x64
        ("stem_conv3", Conv(192, 3)),  # 56x56x192
        ("stem_lrn2", LRN(GOOGLENET_LRN)),
        ("stem_maxpool2", Pool("max", 3, 2)),  # 28x28x192
    ),
    # For 32x32 images: stride-1 3x3 convs and one pool, so inception_3a sees 16x16 rather
    # than the 4x4 the ImageNet stem would leave (the form of the pytorch-cifar100 collection).
    "small": (
        ("stem_conv1", Conv(64, 3)),  # 32x32x64
        ("stem_conv2", Conv(64, 3)),  # 32x32x64
        ("stem_conv3", Conv(192, 3)),  # 32x32x192
        ("stem_lrn1", LRN(GOOGLENET_LRN)),
        ("stem_maxpool1", Pool("max", 3, 2)),  # 16x16x192
    ),
}
DEFAULT_INPUT_SHAPES = {"imagenet": (224, 224, 3), "small": (32, 32, 3)}

# "paper": LRN in the stem, conv biases, no batch norm. "bn": the usual modern form, batch
# norm after every conv and no LRN.
VARIANTS = {
    "paper": {"batch_norm": False, "lrn": True},
    "bn": {"batch_norm": True, "lrn": False},
}


# The net after the stem, Table 1 from top to bottom: each Inception block by its row of
# `INCEPTION_WIDTHS`, the max pools between the stages, and the classifier.
TRUNK = (
    ("inception_3a", "3a"),  # 28x28x256
    ("inception_3b", "3b"),  # 28x28x480
    ("pool3", Pool("max", 3, 2)),  # 14x14x480
    ("inception_4a", "4a"),  # 14x14x512
    ("inception_4b", "4b"),  # 14x14x512
    ("inception_4c", "4c"),  # 14x14x512
    ("inception_4d", "4d"),  # 14x14x528
    ("inception_4e", "4e"),  # 14x14x832
    ("pool4", Pool("max", 3, 2)),  # 7x7x832
    ("inception_5a", "5a"),  # 7x7x832
    ("inception_5b", "5b"),  # 7x7x1024
)
# After the trunk: the 7x7 average pool (the global one at 224x224), 40% dropout, linear.
MAIN_TOP = Top(dropout_rate=0.4)

# Auxiliary classifiers on 4a and 4d, used only in training (paper, section 5): 14x14 -> 4x4
# by the 5x5/3 pool, a 1x1 conv of 128, a Dense of 1024 and 70% dropout.
AUX_HEADS = {"aux1": AuxHead("inception_4a", dropout_rate=0.7), "aux2": AuxHead("inception_4d", dropout_rate=0.7)}


def resolve_widths(widths=None, block_widths=None, width_multiplier=1.0, stage_multipliers=None):
    """The Inception width table as built, as {block: InceptionWidths}: `table_widths`, each
    width scaled as `googlenet` scales it (`block_scales`).

    Args:
        widths: a whole table {block: 6 widths} for all nine blocks; defaults to Table 1.
        block_widths: per-block overrides on top of it, {block: 6 widths} or
            {block: {branch: width}} to change single branches (branch names: `BRANCHES`).
        width_multiplier: scales every width (rounded, at least 1).
        stage_multipliers: {stage: multiplier} for the stages "3", "4" and "5", on top of
            `width_multiplier` (the product is applied, then rounded once).

    Returns:
        A dict in the paper's block order.
    """
    table = table_widths(widths, block_widths)
    scales = block_scales(width_multiplier, stage_multipliers)
    return {block: InceptionWidths(*map(scales[block], row)) for block, row in table.items()}


def table_widths(widths=None, block_widths=None):
    """The Inception width table before scaling, {block: InceptionWidths}: `widths` (Table 1
    by default) with the `block_widths` overrides (see `resolve_widths`)."""
    if widths is None:
        widths = INCEPTION_WIDTHS
    if not isinstance(widths, Mapping) or set(widths) != set(INCEPTION_WIDTHS):
        raise UsageError(
            f"`widths` must map every block {', '.join(INCEPTION_WIDTHS)} to 6 widths "
            f"({', '.join(BRANCHES)}). Received: widths={widths!r}"
        )
    table = common.check_block_widths(_as_branches("widths", widths), WIDTH_TABLE, "widths")
    for block, row in common.check_block_widths(_as_branches("block_widths", block_widths), WIDTH_TABLE).items():
        table[block] = {**table[block], **row}
    return {block: InceptionWidths(*(table[block][branch] for branch in BRANCHES)) for block in INCEPTION_WIDTHS}


def block_scales(width_multiplier=1.0, stage_multipliers=None):
    """{block: scale}: each Inception block's widths times `width_multiplier` and its stage's
    multiplier, rounded once."""
    return common.block_scales(INCEPTION_WIDTHS, stage_of, STAGES, width_multiplier, stage_multipliers)


def _as_branches(argument, rows):
    """{block: 6 widths} rows as {block: {branch: width}}, for `common.check_block_widths`;
    rows that are dicts already (single branches), and anything else, are left to it."""
    if not isinstance(rows, Mapping):
        return rows
    converted = {}
    for block, row in rows.items():
        if not isinstance(row, Mapping) and block in WIDTH_TABLE:
            if not hasattr(row, "__len__") or len(row) != len(BRANCHES):
                raise UsageError(f"`{argument}[{block!r}]` must be 6 widths ({', '.join(BRANCHES)}). "
                                 f"Received: {argument}[{block!r}]={row!r}")
            row = dict(zip(BRANCHES, row))
        converted[block] = row
    return converted


def inception_module(widths, *, factorize_5x5=False, kernel_5x5=5):
    """The four-branch Inception module (paper, figure 2b) as a table element, its layers named
    as in the authors' Caffe model (`inception_3a_1x1`, ..., `inception_3a_pool_proj`)."""
    if factorize_5x5:
        # Two stacked 3x3 convs see the same 5x5 window with fewer weights (Inception v2).
        five = (Conv(widths.ch5x5, 3, name="5x5a"), Conv(widths.ch5x5, 3, name="5x5b"))
    else:
        five = (Conv(widths.ch5x5, kernel_5x5, name="5x5"),)
    return Mixed((
        (Conv(widths.ch1x1, 1, name="1x1"),),
        (Conv(widths.ch3x3_reduce, 1, name="3x3_reduce"), Conv(widths.ch3x3, 3, name="3x3")),
        (Conv(widths.ch5x5_reduce, 1, name="5x5_reduce"), *five),
        (Pool("max", 3, name="pool"), Conv(widths.pool_proj, 1, name="pool_proj")),
    ))


def trunk_sequence(stem, table, *, lrn, factorize_5x5, kernel_5x5, pool4_size=3):
    """The stem (LRN dropped unless `lrn`) and `TRUNK` with the Inception blocks of `table` and
    a `pool4_size` pool4, as (name, element) pairs to build."""
    stem = tuple((layer, element) for layer, element in STEMS[stem] if lrn or not isinstance(element, LRN))
    blocks = tuple(
        (layer, inception_module(table[element], factorize_5x5=factorize_5x5, kernel_5x5=kernel_5x5)
         if isinstance(element, str) else element._replace(size=pool4_size) if layer == "pool4" else element)
        for layer, element in TRUNK
    )
    return stem + blocks


def googlenet(
    *,
    include_top=True,
    weights=None,
    input_shape=None,
    input_tensor=None,
    pooling=None,
    num_classes=1000,
    classifier_activation="softmax",
    name="googlenet",
    variant="paper",
    stem="imagenet",
    aux_heads=None,
    widths=None,
    block_widths=None,
    width_multiplier=1.0,
    stage_multipliers=None,
    factorize_5x5=False,
    kernel_5x5=5,
    dropout_rate=MAIN_TOP.dropout_rate,
    aux_dropout_rate=AUX_HEADS["aux1"].dropout_rate,
    pool4_size=3,
    bn_epsilon=BN_EPSILON,
    symmetric_padding=False,
    ceil_mode=False,
):
    """Builds GoogLeNet.

    Reference:
        Szegedy et al., "Going Deeper with Convolutions", CVPR 2015.

    Args:
        include_top: include the classifier (global average pool, dropout, linear).
        weights: None, or the path of a local `.weights.h5` / `.keras` file to load.
        input_shape: (height, width, channels); defaults to 224x224x3 for the ImageNet stem
            and 32x32x3 for the small one.
        input_tensor: a Keras tensor to build the net on (keras.applications' keyword): the
            model's inputs are then that tensor's source inputs.
        pooling: with `include_top=False`: None (the 5b feature map), "avg" or "max".
        num_classes: number of classes of every classifier.
        classifier_activation: activation of the classifiers; None gives logits.
        name: model name.
        variant: "paper" (LRN, conv biases, no batch norm) or "bn" (batch norm, no LRN).
        stem: "imagenet" (7x7/2 conv, two pools) or "small" (stride-1 3x3 convs, one pool).
        aux_heads: build the two auxiliary classifiers; defaults to `include_top`. With them
            the model is an `AuxiliaryHeadsModel` with outputs `main`, `aux1`, `aux2`; without
            them a single-output inference net.
        widths, block_widths, width_multiplier: the Inception width table; see
            `resolve_widths`. The multiplier also scales the stem and the aux heads.
        stage_multipliers: {stage: multiplier} for the Inception stages "3", "4" and "5", on
            top of `width_multiplier` (the stem and the aux heads follow that alone).
        factorize_5x5: replace each 5x5 conv by two stacked 3x3 convs.
        kernel_5x5: the kernel of the "5x5" branch, 5 or 3. torchvision's GoogLeNet builds
            that branch with a 3x3 conv (a bug it keeps for its checkpoints); 3 gives its form.
        dropout_rate: dropout before the main classifier (the table's 0.4, the paper's).
        aux_dropout_rate: dropout in the auxiliary heads (`AUX_HEADS`' 0.7, the paper's).
        pool4_size: the window of the pool between stages 4 and 5: 3 (the paper's 3x3/2) or
            2 (TF-slim's and torchvision's 2x2/2).
        bn_epsilon: batch norm's epsilon (the "bn" variant).
        symmetric_padding: the strided 7x7 conv pads 3 on every side, as PyTorch's does,
            instead of TensorFlow's "same" (see `layers.conv_block`).
        ceil_mode: the strided max pools are PyTorch's and Caffe's `ceil_mode` pools without
            padding, which differ from "same" at odd map sizes.

    Returns:
        A `keras.Model`.
    """
    common.check_arguments(
        include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, weights=weights,
        width_multiplier=width_multiplier,
    )
    check_choice("variant", variant, tuple(VARIANTS))
    check_choice("stem", stem, tuple(STEMS))
    check_number("dropout_rate", dropout_rate, "in [0, 1)")
    check_number("aux_dropout_rate", aux_dropout_rate, "in [0, 1)")
    check_bool("factorize_5x5", factorize_5x5)
    check_choice("kernel_5x5", kernel_5x5, (5, 3))
    check_choice("pool4_size", pool4_size, (3, 2))
    check_number("bn_epsilon", bn_epsilon, "in (0, 1)")
    check_bool("symmetric_padding", symmetric_padding)
    check_bool("ceil_mode", ceil_mode)
    if factorize_5x5 and kernel_5x5 != 5:
        raise UsageError(
            "`factorize_5x5=True` replaces the 5x5 conv, so `kernel_5x5` must stay 5. "
            f"Received: kernel_5x5={kernel_5x5!r}"
        )
    aux_heads = common.check_aux_heads(aux_heads, include_top)
    batch_norm, lrn = VARIANTS[variant]["batch_norm"], VARIANTS[variant]["lrn"]
    sequence = trunk_sequence(stem, table_widths(widths, block_widths), lrn=lrn, factorize_5x5=factorize_5x5,
                              kernel_5x5=kernel_5x5, pool4_size=pool4_size)
    scale = common.width_scaler(width_multiplier)
    scales = block_scales(width_multiplier, stage_multipliers)
    block_options = {"batch_norm": batch_norm, "bn_epsilon": bn_epsilon, "symmetric_padding": symmetric_padding}
    heads = {name: head._replace(dropout_rate=aux_dropout_rate) for name, head in AUX_HEADS.items()}

    top = MAIN_TOP._replace(dropout_rate=dropout_rate)

    build = functools.partial(
        build_with_aux_heads, trunk=sequence, heads=heads, name=name,
        trunk_options=dict(input_shape=input_shape, input_tensor=input_tensor,
                           default_input_shape=DEFAULT_INPUT_SHAPES[stem], include_top=include_top,
                           block_options={**block_options, "ceil_mode": ceil_mode}, scale=scale,
                           block_scales={layer: scales[block] for layer, block in TRUNK if isinstance(block, str)},
                           net=f"GoogLeNet with the {stem!r} stem"),
        main_top=lambda x: build_top(x, top, include_top=include_top, pooling=pooling, num_classes=num_classes,
                                     classifier_activation=classifier_activation),
        head_options=dict(num_classes=num_classes, classifier_activation=classifier_activation,
                          block_options=block_options, scale=scale),
    )
    return common.build_and_load(build, weights, aux_heads=aux_heads, include_top=include_top)


ENDPOINTS = tuple(f"inception_{block}" for block in INCEPTION_WIDTHS)
register_model("googlenet", googlenet, endpoints=ENDPOINTS)
register_model(
    "googlenet_bn", functools.partial(googlenet, variant="bn", name="googlenet_bn"),
    endpoints=ENDPOINTS,
)
# torchvision's GoogLeNet, for like-for-like comparisons (benchmarks/benchmark.py): batch norm,
# a 3x3 kernel in the "5x5" branch and dropout 0.2 before the classifier.
register_model(
    "googlenet_torchvision",
    functools.partial(
        googlenet, variant="bn", kernel_5x5=3, dropout_rate=0.2, name="googlenet_torchvision",
    ),
    endpoints=ENDPOINTS,
)
# The popular CIFAR-100 form (pytorch-cifar100): batch norm, three-conv 3x3 stem at full
# resolution, each 5x5 as two 3x3, no auxiliary heads.
register_model(
    "googlenet_cifar",
    functools.partial(
        googlenet, variant="bn", stem="small", factorize_5x5=True, aux_heads=False,
        num_classes=100, name="googlenet_cifar",
    ),
    endpoints=ENDPOINTS,
)
