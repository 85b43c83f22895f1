"""GoogLeNet (Inception v1), read from the paper's Table 1.

Reference:
    Szegedy et al., "Going Deeper with Convolutions", CVPR 2015 (arXiv:1409.4842).
"""

import functools
import math
from collections.abc import Mapping
from typing import NamedTuple

import keras
from keras import layers

from keras_inception.layers import GOOGLENET_LRN, conv_block
from keras_inception.models import common
from keras_inception.models.multi_output import AuxiliaryHeadsModel
from keras_inception.models.ops import LRN, Conv, Pool, build_sequence
from keras_inception.registry import register_model
from keras_inception.validation import MULTIPLIER_INTERVAL, check_bool, check_choice, check_number


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


class AuxHead(NamedTuple):
    block: str  # the Inception block whose output feeds the head
    pool: int = 5
    pool_strides: int = 3  # 14x14 -> 4x4
    conv: int = 128
    fc: int = 1024


# Auxiliary classifiers on 4a and 4d, used only in training (paper, section 5).
AUX_HEADS = {"aux1": AuxHead("4a"), "aux2": AuxHead("4d")}


def resolve_widths(widths=None, block_widths=None, width_multiplier=1.0, stage_multipliers=None):
    """The Inception width table to build, as {block: InceptionWidths}.

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
    if widths is None:
        widths = INCEPTION_WIDTHS
    if not isinstance(widths, Mapping) or set(widths) != set(INCEPTION_WIDTHS):
        raise ValueError(
            f"`widths` must map every block {', '.join(INCEPTION_WIDTHS)} to 6 widths "
            f"({', '.join(BRANCHES)}). Received: widths={widths!r}"
        )
    table = {block: _check_row(f"widths[{block!r}]", widths[block]) for block in INCEPTION_WIDTHS}
    if block_widths is not None:
        if not isinstance(block_widths, Mapping):
            raise ValueError(
                "`block_widths` must be a dict {block: widths}. "
                f"Received: block_widths={block_widths!r}"
            )
        for block, row in block_widths.items():
            if block not in INCEPTION_WIDTHS:
                raise ValueError(
                    f"Unknown Inception block in `block_widths`; known blocks: "
                    f"{', '.join(INCEPTION_WIDTHS)}. Received: block_widths={block_widths!r}"
                )
            argument = f"block_widths[{block!r}]"
            if isinstance(row, Mapping):
                unknown = set(row) - set(BRANCHES)
                if unknown:
                    raise ValueError(
                        f"Unknown branch in `{argument}`; branches: {', '.join(BRANCHES)}. "
                        f"Received: {argument}={row!r}"
                    )
                row = table[block]._replace(**row)
            table[block] = _check_row(argument, row)
    check_number("width_multiplier", width_multiplier, MULTIPLIER_INTERVAL)
    stage_multipliers = common.check_stage_multipliers(stage_multipliers, STAGES)
    return {
        block: InceptionWidths(*map(
            common.width_scaler(width_multiplier * stage_multipliers[stage_of(block)]), row
        ))
        for block, row in table.items()
    }


def _check_row(argument, row):
    if isinstance(row, Mapping) or not hasattr(row, "__len__") or len(row) != len(BRANCHES):
        raise ValueError(
            f"`{argument}` must be 6 positive integers ({', '.join(BRANCHES)}). "
            f"Received: {argument}={row!r}"
        )
    for width in row:
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(
                f"`{argument}` must be 6 positive integers ({', '.join(BRANCHES)}). "
                f"Received: {argument}={tuple(row)!r}"
            )
    return InceptionWidths(*row)


def inception_module(x, widths, *, name, batch_norm=False, factorize_5x5=False, kernel_5x5=5):
    """The four-branch Inception module (paper, figure 2b), concatenated on channels."""
    conv = functools.partial(conv_block, batch_norm=batch_norm)
    branch_1x1 = conv(x, widths.ch1x1, 1, name=f"{name}_1x1")

    branch_3x3 = conv(x, widths.ch3x3_reduce, 1, name=f"{name}_3x3_reduce")
    branch_3x3 = conv(branch_3x3, widths.ch3x3, 3, name=f"{name}_3x3")

    branch_5x5 = conv(x, widths.ch5x5_reduce, 1, name=f"{name}_5x5_reduce")
    if factorize_5x5:
        # Two stacked 3x3 convs see the same 5x5 window with fewer weights (Inception v2).
        branch_5x5 = conv(branch_5x5, widths.ch5x5, 3, name=f"{name}_5x5a")
        branch_5x5 = conv(branch_5x5, widths.ch5x5, 3, name=f"{name}_5x5b")
    else:
        branch_5x5 = conv(branch_5x5, widths.ch5x5, kernel_5x5, name=f"{name}_5x5")

    branch_pool = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branch_pool = conv(branch_pool, widths.pool_proj, 1, name=f"{name}_pool_proj")

    return layers.Concatenate(name=name)([branch_1x1, branch_3x3, branch_5x5, branch_pool])


def _aux_classifier(x, head, *, name, num_classes, classifier_activation, batch_norm,
                    dropout_rate, scale):
    x = layers.AveragePooling2D(head.pool, strides=head.pool_strides, name=f"{name}_pool")(x)
    x = conv_block(x, scale(head.conv), 1, name=f"{name}_1x1", batch_norm=batch_norm)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(scale(head.fc), activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    return common.classifier(x, num_classes, classifier_activation, name=name)


def _min_input_size(stem, aux_heads):
    """The smallest height/width the net accepts, and why."""
    stem_stride = math.prod(getattr(element, "strides", 1) for _, element in STEMS[stem])
    # The stem, then a 2x pool before stage 4 and another before stage 5.
    total_stride = stem_stride * 4
    # The aux heads' valid 5x5 average pool needs a 5x5 map at 4a and 4d.
    aux_min = AUX_HEADS["aux1"].pool * stem_stride * 2
    if aux_heads and aux_min > total_stride:
        return aux_min, "the auxiliary heads' 5x5 pool needs a 5x5 map at inception_4a"
    return total_stride, f"GoogLeNet with the {stem!r} stem downsamples by {total_stride}"


def googlenet(
    *,
    include_top=True,
    weights=None,
    input_shape=None,
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
    dropout_rate=0.4,
    aux_dropout_rate=0.7,
):
    """Builds GoogLeNet.

    Reference:
        Szegedy et al., "Going Deeper with Convolutions", CVPR 2015.

    Args:
        include_top: include the classifier (global average pool, dropout, linear).
        weights: None, or the path of a local `.weights.h5` / `.keras` file to load.
        input_shape: (height, width, channels); defaults to 224x224x3 for the ImageNet stem
            and 32x32x3 for the small one.
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
        dropout_rate: dropout before the main classifier (0.4 in the paper).
        aux_dropout_rate: dropout in the auxiliary heads (0.7 in the paper).

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
    if factorize_5x5 and kernel_5x5 != 5:
        raise ValueError(
            "`factorize_5x5=True` replaces the 5x5 conv, so `kernel_5x5` must stay 5. "
            f"Received: kernel_5x5={kernel_5x5!r}"
        )
    aux_heads = common.check_aux_heads(aux_heads, include_top)
    table = resolve_widths(widths, block_widths, width_multiplier, stage_multipliers)
    scale = common.width_scaler(width_multiplier)
    min_size, reason = _min_input_size(stem, aux_heads)
    input_shape = common.resolve_input_shape(
        input_shape, default=DEFAULT_INPUT_SHAPES[stem], min_size=min_size,
        include_top=include_top, reason=reason,
    )
    batch_norm, lrn = VARIANTS[variant]["batch_norm"], VARIANTS[variant]["lrn"]
    stem_layers = tuple((layer, element) for layer, element in STEMS[stem]
                        if lrn or not isinstance(element, LRN))

    def build(with_aux_heads):
        inputs = keras.Input(shape=input_shape, name="image")
        _, x = build_sequence(inputs, stem_layers, conv_options={"batch_norm": batch_norm},
                              scale=scale)
        taps = {}
        previous_stage = None
        for block, row in table.items():
            stage = block[0]
            if previous_stage is not None and stage != previous_stage:
                # 28x28 -> 14x14 before 4a, 14x14 -> 7x7 before 5a.
                x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"pool{previous_stage}")(x)
            x = inception_module(
                x, row, name=f"inception_{block}", batch_norm=batch_norm,
                factorize_5x5=factorize_5x5, kernel_5x5=kernel_5x5,
            )
            taps[block] = x
            previous_stage = stage

        # The paper's 7x7 average pool is the global one.
        main = common.global_pool_top(
            x, include_top=include_top, pooling=pooling, num_classes=num_classes,
            classifier_activation=classifier_activation, dropout_rate=dropout_rate,
        )
        if not with_aux_heads:
            return keras.Model(inputs, main, name=name)
        outputs = {"main": main}
        for head_name, head in AUX_HEADS.items():
            outputs[head_name] = _aux_classifier(
                taps[head.block], head, name=head_name, num_classes=num_classes,
                classifier_activation=classifier_activation, batch_norm=batch_norm,
                dropout_rate=aux_dropout_rate, scale=scale,
            )
        return AuxiliaryHeadsModel(inputs, outputs, name=name)

    return common.build_and_load(build, weights, aux_heads=aux_heads, include_top=include_top)


ENDPOINTS = tuple(f"inception_{block}" for block in INCEPTION_WIDTHS)
register_model("googlenet", googlenet, endpoints=ENDPOINTS)
register_model(
    "googlenet_bn", functools.partial(googlenet, variant="bn", name="googlenet_bn"),
    endpoints=ENDPOINTS,
)
# torchvision's GoogLeNet, for like-for-like comparisons (scripts/benchmark.py): batch norm,
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
