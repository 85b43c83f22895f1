"""A small vocabulary for declaring nets as tables, and the one function that builds them.

A net (or its stem) is a sequence of `(name, element)` pairs. An element is

- `Conv(filters, kernel, strides, padding, groups, name)`: a conv block (conv, optional batch
  norm, ReLU); `padding` is "same", "valid" or an explicit number of zeros on each side;
- `Pool(kind, size, strides, padding, name)`: max or average pooling;
- `LRN(params)`: local response normalization, AlexNet's parameters unless given;
- `Mixed(branches)`: an Inception module, its branches concatenated on channels; a branch is a
  tuple of `Conv`, `Pool` and at most one final `Split`, which forks the branch into parallel
  convs (Inception v3's expanded 8x8 modules, figure 7);
- `Residual(branches, scale)`: an Inception-ResNet block: the branches are concatenated, a
  linear 1x1 conv brings them back to the input's width, and the result is scaled and added to
  the input (Szegedy et al. 2016, section 3.3);
- `Top(dropout_rate)`: not a row but what follows a table: global average pool, dropout and
  the linear classifier, or with `include_top=False` the pooling asked for (`build_top`).

The same tables give the smallest input a net accepts (`smallest_input`), so the size checks
never drift from the layers.
"""

import math
from typing import NamedTuple

from keras import layers

from keras_inception.layers import ALEXNET_LRN, LocalResponseNormalization, as_pair, conv_block
from keras_inception.models import common
from keras_inception.validation import UsageError


class Conv(NamedTuple):
    filters: int
    kernel: object = 1  # int or (height, width)
    strides: int = 1
    padding: object = "same"  # "same", "valid" or zeros on each side
    groups: int = 1
    name: str = None  # in a block: its name there, instead of its place and kernel


class Pool(NamedTuple):
    kind: str = "max"  # "max" or "avg"
    size: int = 3
    strides: int = 1
    padding: str = "same"
    name: str = None  # in a block: its name there, instead of its place and kind


class LRN(NamedTuple):
    params: dict = ALEXNET_LRN  # see keras_inception.layers


class Split(NamedTuple):
    convs: tuple


class Mixed(NamedTuple):
    branches: tuple


class Top(NamedTuple):
    dropout_rate: float = 0.0


class Residual(NamedTuple):
    branches: tuple
    scale: float = 1.0
    activation: bool = True


def _kernel_name(kernel):
    height, width = as_pair(kernel)
    return f"{height}x{width}"


# ---------------------------------------------------------------------------------------------
# Building


def build_trunk(sequence, *, input_shape, default_input_shape, include_top, block_options, scale,
                net, input_tensor=None, minimum_at=None, reason=None, block_scales=None):
    """Checks `input_shape` (or `input_tensor`'s) against what `sequence` needs (see
    `smallest_input`), then builds the sequence on a new input, or on `input_tensor`. Returns
    (the model's inputs, {name: output}, last output).

    `net` names the net in the too-small error; `reason` replaces the error's explanation.
    `scale` and `block_scales`: see `build_sequence`.
    """
    min_size = smallest_input(sequence, minimum_at)
    input_shape = common.resolve_input_shape(
        common.shape_of(input_shape, input_tensor), default=default_input_shape, min_size=min_size,
        include_top=include_top, reason=reason or f"{net} needs {min_size}x{min_size}",
    )
    inputs, x = common.model_input(input_shape, input_tensor)
    outputs, x = build_sequence(x, sequence, block_options=block_options, scale=scale, block_scales=block_scales)
    return inputs, outputs, x


def build_sequence(x, sequence, *, block_options, scale, block_scales=None):
    """Applies `sequence` ((name, element) pairs) to `x`; returns ({name: output}, last output).

    `block_options` go to every `conv_block` (batch_norm, bn_scale, bn_epsilon,
    kernel_initializer, symmetric_padding), and those of `POOL_OPTIONS` to every pool (see
    `_pool`). The tables hold the papers' widths, and this is where they are scaled: `scale`
    maps a table width to the width to build (the width multiplier), and `block_scales`
    ({name: scale}) replaces it for the blocks named (a stage's multiplier on top).
    """
    outputs = {}
    block_scales = block_scales or {}
    for name, element in sequence:
        x = build_element(x, element, name=name, block_options=block_options, scale=block_scales.get(name, scale))
        outputs[name] = x
    return outputs, x


def build_top(x, top, *, include_top, pooling, num_classes, classifier_activation):
    """The `Top` row on `x`."""
    return common.global_pool_top(
        x, include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, dropout_rate=top.dropout_rate,
    )


def build_element(x, element, *, name, block_options, scale):
    if isinstance(element, Conv):
        return _conv(x, element, name=name, block_options=block_options, scale=scale)
    if isinstance(element, Pool):
        return _pool(x, element, name=name, options=block_options)
    if isinstance(element, LRN):
        return LocalResponseNormalization(**element.params, name=name)(x)
    if isinstance(element, Mixed):
        return layers.Concatenate(name=name)(
            _branches(x, element.branches, name=name, block_options=block_options, scale=scale)
        )
    if isinstance(element, Residual):
        return _residual(x, element, name=name, block_options=block_options, scale=scale)
    raise TypeError(f"Unknown table element {element!r} in block {name!r}.")


def _conv(x, conv, *, name, block_options, scale):
    padding = conv.padding
    if not isinstance(padding, str):
        x = layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
        padding = "valid"
    block_options = {key: value for key, value in block_options.items() if key not in POOL_OPTIONS}
    return conv_block(
        x, scale(conv.filters), conv.kernel, strides=conv.strides, padding=padding,
        groups=conv.groups, name=name, **block_options,
    )


# Build options that change how a "same" pool is computed, for checkpoints from PyTorch. Every
# max pool in these nets follows a ReLU, so zero padding there equals PyTorch's -inf padding.
POOL_OPTIONS = ("ceil_mode", "count_include_pad")


def _pool(x, pool, *, name, options=None):
    options = options or {}
    pool_layer = layers.MaxPooling2D if pool.kind == "max" else layers.AveragePooling2D
    padding, pads = pool.padding, None
    if padding == "same" and pool.strides > 1 and pool.kind == "max" and options.get("ceil_mode"):
        # PyTorch's ceil_mode pool without padding: windows start at 0, stride apart, while
        # they start inside the map; the last may run past its bottom and right edges.
        pads = [(0, _ceil_mode_overhang(size, pool.size, pool.strides)) for size in x.shape[1:3]]
    elif padding == "same" and (
            (pool.kind == "avg" and options.get("count_include_pad"))
            or (pool.strides > 1 and options.get("symmetric_padding"))):
        # PyTorch's padding=k // 2 on every side; an average pool then divides by the whole
        # window, padding included, as count_include_pad=True does.
        pads = [(pool.size // 2,) * 2] * 2
    if pads is not None:
        padding = "valid"
        if any(any(pair) for pair in pads):
            x = layers.ZeroPadding2D(tuple(pads), name=f"{name}_pad")(x)
    return pool_layer(pool.size, strides=pool.strides, padding=padding, name=name)(x)


def _ceil_mode_overhang(size, window, strides):
    """Rows past the map's end that a ceil_mode pool's last window covers."""
    if size is None:
        raise UsageError("ceil_mode pools need the input's height and width. Received: input_shape with None")
    windows = -(-max(size - window, 0) // strides) + 1
    return max((windows - 1) * strides + window - size, 0)


def _branches(x, branches, *, name, block_options, scale):
    """Builds each branch; returns the list of tensors to concatenate (a Split adds several)."""
    results = []
    for index, branch in enumerate(branches):
        y = x
        for position, op in enumerate(branch):
            if isinstance(op, Split):
                for fork, conv in enumerate(op.convs):
                    results.append(_conv(y, conv, name=f"{name}_{conv_key(index, position, conv, fork)}",
                                         block_options=block_options, scale=scale))
                break
            if isinstance(op, Conv):
                y = _conv(y, op, name=f"{name}_{conv_key(index, position, op)}",
                          block_options=block_options, scale=scale)
            else:
                y = _pool(y, op, name=f"{name}_{op.name or f'b{index}_{position}_{op.kind}pool'}",
                          options=block_options)
        else:
            results.append(y)
    return results


def _residual(x, block, *, name, block_options, scale):
    mixed = layers.Concatenate(name=f"{name}_mixed")(
        _branches(x, block.branches, name=name, block_options=block_options, scale=scale)
    )
    # The linear 1x1 conv restores the input's width; it has a bias and no batch norm.
    up = conv_block(mixed, x.shape[-1], 1, name=f"{name}_up", batch_norm=False,
                    use_bias=True, activation=None,
                    kernel_initializer=block_options.get("kernel_initializer", "glorot_uniform"))
    # Scaling the residual by 0.1-0.3 before the addition kept the wide nets from dying
    # early in training (paper, section 3.3).
    up = layers.Rescaling(block.scale, name=f"{name}_scale")(up)
    if not block.activation:
        return layers.Add(name=name)([x, up])
    x = layers.Add(name=f"{name}_add")([x, up])
    return layers.Activation("relu", name=name)(x)


# ---------------------------------------------------------------------------------------------
# Widths: what a width search reads and changes


def conv_key(index, position, conv, fork=None):
    """A conv's name within its block: its own `name`, or its branch, position in the branch
    (a letter for each fork of a Split) and kernel, e.g. "b1_1_5x5" or "b2_3a_1x3"."""
    if conv.name:
        return conv.name
    fork = "" if fork is None else "abcdefgh"[fork]
    return f"b{index}_{position}{fork}_{_kernel_name(conv.kernel)}"


def _map_convs(element, change):
    """`element` with each conv replaced by `change(key, conv)`; a bare Conv has the key ""."""
    if isinstance(element, Conv):
        return change("", element)
    if not isinstance(element, (Mixed, Residual)):
        return element
    branches = []
    for index, branch in enumerate(element.branches):
        ops = []
        for position, op in enumerate(branch):
            if isinstance(op, Split):
                op = Split(tuple(change(conv_key(index, position, conv, fork), conv)
                                 for fork, conv in enumerate(op.convs)))
            elif isinstance(op, Conv):
                op = change(conv_key(index, position, op), op)
            ops.append(op)
        branches.append(tuple(ops))
    return element._replace(branches=tuple(branches))


class ConvPlace(NamedTuple):
    """Where a conv block sits in a table (`conv_places`)."""

    name: str  # its layer name without "_conv"/"_bn", e.g. "mixed_5b_b1_1_5x5" or "block35_1_up"
    block: str  # the table row it belongs to
    branch: int = None  # its branch in a Mixed or Residual block; None for a plain Conv row
    position: object = None  # its place in the branch; "up" for a Residual block's linear 1x1
    fork: str = ""  # "a", "b", ... for the convs of a Split
    branch_length: int = 1  # the branch's elements, pools included


def conv_places(sequence):
    """Every conv block of a table, in the order the table declares them (the order a checkpoint
    converter maps them in)."""
    for block, element in sequence:
        if isinstance(element, Conv):
            yield ConvPlace(block, block)
        elif isinstance(element, (Mixed, Residual)):
            for index, branch in enumerate(element.branches):
                for position, op in enumerate(branch):
                    forks = op.convs if isinstance(op, Split) else (op,) if isinstance(op, Conv) else ()
                    for fork, conv in enumerate(forks):
                        split = isinstance(op, Split)
                        key = conv_key(index, position, conv, fork if split else None)
                        yield ConvPlace(f"{block}_{key}", block, index, position, "abcdefgh"[fork] if split else "",
                                        len(branch))
            if isinstance(element, Residual):
                yield ConvPlace(f"{block}_up", block, position="up")


def conv_widths(element):
    """{key: filters} of the convs in a Mixed or Residual block. A key is the conv's layer name
    without the block's: "b1_1_5x5" in mixed_5b builds the layer mixed_5b_b1_1_5x5."""
    widths = {}

    def record(key, conv):
        widths[key] = conv.filters
        return conv

    _map_convs(element, record)
    return widths


def replace_widths(element, widths):
    """`element` with the convs named in `widths` ({key: filters}, keys of `conv_widths`)
    given those widths."""
    return _map_convs(
        element, lambda key, conv: conv._replace(filters=widths[key]) if key in widths else conv
    )


def scale_widths(element, scale):
    """`element` with the conv widths `build_sequence` builds from it under `scale`."""
    return _map_convs(element, lambda key, conv: conv._replace(filters=scale(conv.filters)))


# ---------------------------------------------------------------------------------------------
# Spatial arithmetic


def _axis_size(size, kernel, strides, padding):
    """Output length along one axis, or None if the op cannot apply to `size`."""
    if padding == "same":
        # A stride larger than the map would only repeat its padding.
        return math.ceil(size / strides) if size >= strides else None
    if padding != "valid":
        size += 2 * padding
    if size < kernel:
        return None
    return (size - kernel) // strides + 1


def _element_size(size, element):
    if isinstance(element, Conv):
        height, width = as_pair(element.kernel)
        return _axis_size(size, max(height, width), element.strides, element.padding)
    if isinstance(element, Pool):
        return _axis_size(size, element.size, element.strides, element.padding)
    if isinstance(element, (Mixed, Residual)):
        # Every branch ends at the same size (they are concatenated); follow the first.
        for op in element.branches[0]:
            op = op.convs[0] if isinstance(op, Split) else op
            size = None if size is None else _element_size(size, op)
        return size
    return size  # LRN


def sizes_along(size, sequence):
    """{name: output height} for a square input of `size`, or None where the net breaks."""
    sizes = {}
    for name, element in sequence:
        size = _element_size(size, element)
        if size is None or size < 1:
            return None
        sizes[name] = size
    return sizes


def smallest_input(sequence, minimum_at=None, limit=2048):
    """The smallest square input size the sequence accepts.

    `minimum_at` is {name: size} for maps that must be at least that large (an auxiliary
    head's valid pooling, say).
    """
    minimum_at = minimum_at or {}
    for size in range(1, limit + 1):
        sizes = sizes_along(size, sequence)
        if sizes is not None and all(sizes[name] >= need for name, need in minimum_at.items()):
            return size
    raise ValueError(f"No input up to {limit}x{limit} fits this net.")
