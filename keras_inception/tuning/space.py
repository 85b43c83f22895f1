"""The search space: which nets can be searched, and how hyperparameter values become their
builder's keywords.

Every hyperparameter is read from the width table the builder itself builds from
(`googlenet.WIDTH_TABLE`, `inception_v3.WIDTH_TABLE`); nothing here restates a width. Each
hyperparameter's default is the paper's value, so the default point of the space is the
paper's net:

    width_multiplier          global multiplier (the stem and the auxiliary heads too)
    stage_<s>_multiplier      one per stage, on top of the global one (GoogLeNet: 3, 4, 5;
                              Inception v3: 5, 6, 7, the 35x35, 17x17 and 8x8 grids)
    <block>_<branch>          a branch's width in the paper's units, before the multipliers
                              (only for the blocks in `SearchSpace.branch_blocks`)
    batch_norm, dropout_rate, learning_rate
"""

import dataclasses
import functools
import inspect
from typing import Callable

from keras_inception import registry
from keras_inception.models.googlenet import STAGES as GOOGLENET_STAGES
from keras_inception.models.googlenet import VARIANTS as GOOGLENET_VARIANTS
from keras_inception.models.googlenet import WIDTH_TABLE as GOOGLENET_WIDTH_TABLE
from keras_inception.models.googlenet import googlenet, resolve_widths
from keras_inception.models.inception_v3 import STAGES as INCEPTION_V3_STAGES
from keras_inception.models.inception_v3 import WIDTH_TABLE as INCEPTION_V3_WIDTH_TABLE
from keras_inception.models.inception_v3 import inception_v3, resolve_table
from keras_inception.models.tables import conv_widths
from keras_inception.validation import UsageError, check_bool, check_number


@dataclasses.dataclass(frozen=True)
class SearchableNet:
    """What a builder exposes to the search, all read from its module."""

    width_table: dict  # {block: {branch: width}}
    stages: tuple
    # (block_widths, width_multiplier, stage_multipliers) -> {block: widths as built}
    built_widths: Callable
    # batch norm on/off -> builder keywords; None where the net has no form without it
    batch_norm_kwargs: Callable = None
    batch_norm_of: Callable = None  # builder keywords -> is batch norm on


def _googlenet_widths(block_widths, width_multiplier, stage_multipliers):
    table = resolve_widths(block_widths=block_widths, width_multiplier=width_multiplier,
                           stage_multipliers=stage_multipliers)
    return {block: tuple(row) for block, row in table.items()}


def _inception_v3_widths(block_widths, width_multiplier, stage_multipliers):
    table = resolve_table(block_widths, width_multiplier, stage_multipliers)
    return {block: tuple(conv_widths(element).values()) for block, element in table}


_GOOGLENET = SearchableNet(
    width_table=GOOGLENET_WIDTH_TABLE,
    stages=GOOGLENET_STAGES,
    built_widths=_googlenet_widths,
    batch_norm_kwargs=lambda on: {"variant": "bn" if on else "paper"},
    batch_norm_of=lambda kwargs: GOOGLENET_VARIANTS[kwargs["variant"]]["batch_norm"],
)
_INCEPTION_V3 = SearchableNet(
    width_table=INCEPTION_V3_WIDTH_TABLE,
    stages=INCEPTION_V3_STAGES,
    built_widths=_inception_v3_widths,
)
# Searchable builders; every registered net built by one of them can be searched
# (googlenet, googlenet_bn, googlenet_cifar, inception_v3).
SEARCHABLE_BUILDERS = {
    googlenet: _GOOGLENET,
    inception_v3: _INCEPTION_V3,
}


def searchable_models():
    return tuple(name for name in registry.list_models() if _builder_of(name) in SEARCHABLE_BUILDERS)


def _builder_of(name):
    builder = registry.get_builder(name)
    return builder.func if isinstance(builder, functools.partial) else builder


def net_defaults(name):
    """The registered net's builder keywords with their defaults (a registration's own
    keywords included): the paper's dropout, variant and so on."""
    builder = registry.get_builder(name)
    defaults = {key: parameter.default
                for key, parameter in inspect.signature(_builder_of(name)).parameters.items()
                if parameter.default is not inspect.Parameter.empty}
    if isinstance(builder, functools.partial):
        defaults.update(builder.keywords)
    return defaults


def searchable_net(name):
    registry.get_builder(name)  # an unknown name gets the registry's error
    if _builder_of(name) not in SEARCHABLE_BUILDERS:
        raise UsageError(
            f"Only nets built from an Inception width table can be searched: "
            f"{', '.join(searchable_models())}. Received: model={name!r}"
        )
    return SEARCHABLE_BUILDERS[_builder_of(name)]


def _choices(argument, values, interval):
    if values is None:
        return None
    if not isinstance(values, (tuple, list)) or not values:
        raise UsageError(f"`{argument}` must be a non-empty list of numbers. Received: {argument}={values!r}")
    for value in values:
        check_number(argument, value, interval)
    return tuple(sorted(set(values)))


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """What to search. Each field lists the values to choose from; a single value fixes it.

    width_multipliers: the global multiplier.
    stage_multipliers: each stage's multiplier (the same choices for every stage).
    branch_blocks: blocks whose branch widths are searched one by one ("4c", "mixed_6b";
        "all" for every block); each branch then chooses among its paper width times
        `branch_factors`.
    batch_norm: search batch norm on and off (GoogLeNet; Inception v3 is always batch-normed);
        False keeps the net's own.
    dropout_rates, learning_rates: None keeps the net's dropout and the recipe's rate.
    """

    width_multipliers: tuple = (0.25, 0.5, 0.75, 1.0)
    stage_multipliers: tuple = (0.5, 0.75, 1.0, 1.25, 1.5)
    branch_blocks: tuple = ()
    branch_factors: tuple = (0.5, 0.75, 1.0, 1.5, 2.0)
    batch_norm: bool = False
    dropout_rates: tuple = None
    learning_rates: tuple = None

    def __post_init__(self):
        set_field = functools.partial(object.__setattr__, self)
        set_field("width_multipliers", _choices("width_multipliers", self.width_multipliers, "> 0"))
        set_field("stage_multipliers", _choices("stage_multipliers", self.stage_multipliers, "> 0"))
        set_field("branch_factors", _choices("branch_factors", self.branch_factors, "> 0"))
        set_field("dropout_rates", _choices("dropout_rates", self.dropout_rates, "in [0, 1)"))
        set_field("learning_rates", _choices("learning_rates", self.learning_rates, "> 0"))
        check_bool("batch_norm", self.batch_norm)
        if isinstance(self.branch_blocks, str) or not isinstance(self.branch_blocks, (tuple, list)):
            raise UsageError(f"`branch_blocks` must be a list of block names. "
                             f"Received: branch_blocks={self.branch_blocks!r}")
        set_field("branch_blocks", tuple(self.branch_blocks))
        if self.width_multipliers is None or self.stage_multipliers is None or self.branch_factors is None:
            raise UsageError("`width_multipliers`, `stage_multipliers` and `branch_factors` need at "
                             "least one value each. Received: None")

    def blocks_to_search(self, net):
        """The blocks of `net` (a SearchableNet) whose branch widths are searched."""
        if self.branch_blocks == ("all",):
            return tuple(net.width_table)
        unknown = [block for block in self.branch_blocks if block not in net.width_table]
        if unknown:
            raise UsageError(f"Unknown block {unknown[0]!r} in `branch_blocks`; blocks: "
                             f"{', '.join(net.width_table)} or 'all'. Received: branch_blocks={self.branch_blocks!r}")
        return self.branch_blocks


def _nearest(values, target):
    return min(values, key=lambda value: (abs(value - target), value))


def choose(hp, name, values, paper):
    """`hp.Choice` over `values`, defaulting to the paper's value (or the one nearest it); a
    single value is `hp.Fixed`."""
    if len(values) == 1:
        return hp.Fixed(name, values[0])
    return hp.Choice(name, list(values), default=_nearest(values, paper))


def branch_choices(width, factors):
    """A branch's choices: its paper width times each factor, rounded, at least 1."""
    return tuple(sorted({max(1, int(width * factor + 0.5)) for factor in factors}))


def builder_kwargs(hp, name, space, recipe_learning_rate):
    """(builder keywords, learning rate) for the values in `hp`; a value `hp` lacks takes its
    default, so an empty `HyperParameters` gives the paper's net."""
    net = searchable_net(name)
    defaults = net_defaults(name)
    kwargs = {"width_multiplier": choose(hp, "width_multiplier", space.width_multipliers, 1.0)}
    kwargs["stage_multipliers"] = {
        stage: choose(hp, f"stage_{stage}_multiplier", space.stage_multipliers, 1.0)
        for stage in net.stages
    }
    block_widths = {}
    for block in space.blocks_to_search(net):
        block_widths[block] = {
            branch: choose(hp, f"{block}_{branch}", branch_choices(width, space.branch_factors), width)
            for branch, width in net.width_table[block].items()
        }
    kwargs["block_widths"] = block_widths
    if space.batch_norm:
        if net.batch_norm_kwargs is None:
            raise UsageError(f"{name} has no form without batch norm to search. "
                             f"Received: model={name!r}, batch_norm=True")
        paper = net.batch_norm_of(defaults)
        kwargs.update(net.batch_norm_kwargs(hp.Boolean("batch_norm", default=paper)))
    if space.dropout_rates is not None:
        kwargs["dropout_rate"] = choose(hp, "dropout_rate", space.dropout_rates, defaults["dropout_rate"])
    learning_rate = recipe_learning_rate
    if space.learning_rates is not None:
        learning_rate = choose(hp, "learning_rate", space.learning_rates, recipe_learning_rate)
    return kwargs, learning_rate


def smallest_kwargs(name, space):
    """The builder keywords of the smallest net in the space (every width at its minimum)."""
    net = searchable_net(name)
    return {
        "width_multiplier": min(space.width_multipliers),
        "stage_multipliers": {stage: min(space.stage_multipliers) for stage in net.stages},
        "block_widths": {
            block: {branch: min(branch_choices(width, space.branch_factors))
                    for branch, width in net.width_table[block].items()}
            for block in space.blocks_to_search(net)
        },
    }


def built_widths(name, kwargs):
    """{block: widths as built} for builder keywords `kwargs`."""
    return searchable_net(name).built_widths(
        kwargs.get("block_widths"), kwargs.get("width_multiplier", 1.0), kwargs.get("stage_multipliers")
    )
