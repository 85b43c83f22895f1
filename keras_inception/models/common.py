"""What every builder shares: argument checks in keras.applications' style, the classifier
top, feature pooling, and loading a local weights file."""

import functools
import os
from collections.abc import Mapping

import keras
from keras import layers

from keras_inception.loading import check_model_file
from keras_inception.validation import MULTIPLIER_INTERVAL, UsageError, check_bool, check_choice, check_integer, check_number

POOLING_OPTIONS = (None, "avg", "max")


def check_arguments(*, include_top, pooling, num_classes, classifier_activation, weights,
                    width_multiplier=1.0):
    """The checks every builder starts with, for the keras.applications keywords."""
    check_top(include_top, pooling)
    check_integer("num_classes", num_classes, 1)
    check_classifier_activation(classifier_activation)
    check_weights(weights)
    check_number("width_multiplier", width_multiplier, MULTIPLIER_INTERVAL)


def check_aux_heads(aux_heads, include_top):
    """`aux_heads` defaults to `include_top`; aux heads are classifiers and need the top."""
    if aux_heads is None:
        return include_top
    check_bool("aux_heads", aux_heads)
    if aux_heads and not include_top:
        raise UsageError(
            "Auxiliary heads are classifiers and need `include_top=True`. "
            f"Received: aux_heads=True, include_top={include_top!r}"
        )
    return aux_heads


def scale_width(width, multiplier):
    """A table width times the width multiplier, rounded, at least 1."""
    return max(1, int(width * multiplier + 0.5))


def width_scaler(multiplier):
    return functools.partial(scale_width, multiplier=multiplier)


def check_stage_multipliers(stage_multipliers, stages):
    """{stage: multiplier} for every stage (1.0 where not given), checked against `stages`."""
    if stage_multipliers is None:
        stage_multipliers = {}
    if not isinstance(stage_multipliers, Mapping):
        raise UsageError(
            f"`stage_multipliers` must be a dict {{stage: multiplier}} over the stages "
            f"{', '.join(stages)}. Received: stage_multipliers={stage_multipliers!r}"
        )
    unknown = sorted(set(stage_multipliers) - set(stages), key=str)
    if unknown:
        raise UsageError(
            f"Unknown stage {unknown[0]!r} in `stage_multipliers`; stages: {', '.join(stages)}. "
            f"Received: stage_multipliers={stage_multipliers!r}"
        )
    for stage, multiplier in stage_multipliers.items():
        check_number(f"stage_multipliers[{stage!r}]", multiplier, MULTIPLIER_INTERVAL)
    return {stage: stage_multipliers.get(stage, 1.0) for stage in stages}


def block_scales(blocks, stage_of, stages, width_multiplier=1.0, stage_multipliers=None):
    """{block: scale} for a net whose `stages` each have a multiplier: each block's widths times
    `width_multiplier` and its stage's (`stage_of(block)`) multiplier, rounded once."""
    check_number("width_multiplier", width_multiplier, MULTIPLIER_INTERVAL)
    stage_multipliers = check_stage_multipliers(stage_multipliers, stages)
    return {block: width_scaler(width_multiplier * stage_multipliers[stage_of(block)]) for block in blocks}


def check_block_widths(block_widths, table, argument="block_widths"):
    """Per-block width overrides {block: {branch: width}}, checked against `table` (the net's
    own {block: {branch: width}}); returns them as plain dicts. `argument` names them in the
    errors."""
    if block_widths is None:
        return {}
    if not isinstance(block_widths, Mapping):
        raise UsageError(
            f"`{argument}` must be a dict {{block: {{branch: width}}}}. "
            f"Received: {argument}={block_widths!r}"
        )
    checked = {}
    for block, row in block_widths.items():
        if block not in table:
            raise UsageError(
                f"Unknown block {block!r} in `{argument}`; blocks: {', '.join(table)}. "
                f"Received: {argument}={block_widths!r}"
            )
        name = f"{argument}[{block!r}]"
        branches = ", ".join(table[block])
        if not isinstance(row, Mapping) or set(row) - set(table[block]):
            raise UsageError(
                f"`{name}` must map branches of {block} ({branches}) to widths. "
                f"Received: {name}={row!r}"
            )
        for branch, width in row.items():
            check_integer(f"{name}[{branch!r}]", width, 1)
        checked[block] = dict(row)
    return checked


def check_dense_top(fc_units, dropout_rate):
    """The hidden dense layers of `flatten_top`: their widths, and the dropout after each."""
    if (not isinstance(fc_units, (tuple, list)) or not fc_units
            or any(isinstance(u, bool) or not isinstance(u, int) or u < 1 for u in fc_units)):
        raise UsageError(
            f"`fc_units` must be a list of positive integers. Received: fc_units={fc_units!r}"
        )
    check_number("dropout_rate", dropout_rate, "in [0, 1)")


def check_top(include_top, pooling):
    check_bool("include_top", include_top)
    check_choice("pooling", pooling, POOLING_OPTIONS)
    if include_top and pooling is not None:
        raise UsageError(
            "`pooling` applies only when `include_top=False`; the classifier top has its own "
            f"pooling. Received: include_top=True, pooling={pooling!r}"
        )


def check_classifier_activation(classifier_activation):
    if classifier_activation is None or callable(classifier_activation):
        return
    try:
        keras.activations.get(classifier_activation)
    except (ValueError, TypeError):
        raise UsageError(
            "`classifier_activation` must be None (logits), a Keras activation name such as "
            f"'softmax', or a callable. Received: classifier_activation={classifier_activation!r}"
        ) from None


def resolve_input_shape(input_shape, *, default, min_size, include_top, reason):
    """Returns the (height, width, channels) to build with, or raises a one-line ValueError.

    Height and width may be None only without the classifier top (global pooling copes with
    any size); otherwise both must be at least `min_size`, where `reason` says why.
    """
    if input_shape is None:
        return tuple(default)
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise UsageError(
            "`input_shape` must be (height, width, channels), channels last. "
            f"Received: input_shape={input_shape!r}"
        )
    height, width, channels = input_shape
    for dim in (height, width, channels):
        if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool) or dim < 1):
            raise UsageError(
                f"`input_shape` must hold positive integers. Received: input_shape={input_shape!r}"
            )
    if channels is None:
        raise UsageError(f"The channel count must be known. Received: input_shape={input_shape!r}")
    if include_top and (height is None or width is None):
        raise UsageError(
            "Height and width must be given when `include_top=True`. "
            f"Received: input_shape={input_shape!r}"
        )
    for dim in (height, width):
        if dim is not None and dim < min_size:
            raise UsageError(
                f"`input_shape` is too small: height and width must be at least {min_size} "
                f"({reason}). Received: input_shape={input_shape!r}"
            )
    return (height, width, channels)


def shape_of(input_shape, input_tensor):
    """The input shape to check: `input_shape`, else `input_tensor`'s (without the batch)."""
    if input_tensor is None:
        return input_shape
    if not isinstance(input_tensor, keras.KerasTensor) or len(input_tensor.shape) != 4:
        raise UsageError("`input_tensor` must be a Keras tensor of images (batch, height, width, channels), "
                         f"such as keras.Input's or a layer's output. Received: input_tensor={input_tensor!r}")
    shape = tuple(input_tensor.shape[1:])
    if input_shape is not None and tuple(input_shape) != shape:
        raise UsageError(f"`input_shape` differs from `input_tensor`'s shape {shape}; give one of them. "
                         f"Received: input_shape={input_shape!r}")
    return shape


def model_input(input_shape, input_tensor):
    """(the model's inputs, the tensor the net starts from): a new `image` input, or
    keras.applications' `input_tensor`, whose source inputs become the model's."""
    if input_tensor is None:
        inputs = keras.Input(shape=input_shape, name="image")
        return inputs, inputs
    sources = keras.utils.get_source_inputs(input_tensor)
    return (sources[0] if len(sources) == 1 else sources), input_tensor


def head_dtype():
    """Classifier layers stay float32 under a mixed-precision policy, for a stable softmax."""
    if keras.config.dtype_policy().name.startswith("mixed"):
        return "float32"
    return None


def classifier(x, num_classes, classifier_activation, *, name):
    """The final linear layer; it carries the output's name (`main`, `aux1`, ...)."""
    return layers.Dense(
        num_classes, activation=classifier_activation, dtype=head_dtype(), name=name
    )(x)


def flatten_top(x, *, include_top, pooling, num_classes, classifier_activation, units, names,
                dropout_rate=0.0, activation="relu"):
    """The end of the nets from before global pooling (LeNet-5, AlexNet, ZFNet, VGG): with the
    top, flatten, hidden dense layers (`units`, named `names`) each followed by dropout, and
    the `main` classifier; without it, `pool_features`."""
    if not include_top:
        return pool_features(x, pooling)
    x = layers.Flatten(name="flatten")(x)
    for width, name in zip(units, names):
        x = layers.Dense(width, activation=activation, name=name)(x)
        if dropout_rate:
            x = layers.Dropout(dropout_rate, name=f"{name}_dropout")(x)
    return classifier(x, num_classes, classifier_activation, name="main")


def global_pool_top(x, *, include_top, pooling, num_classes, classifier_activation,
                    dropout_rate=0.0):
    """The usual end of a modern net: with the top, global average pooling, optional dropout
    and the `main` classifier; without it, `pool_features`."""
    if not include_top:
        return pool_features(x, pooling)
    x = layers.GlobalAveragePooling2D(name="main_pool")(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate, name="main_dropout")(x)
    return classifier(x, num_classes, classifier_activation, name="main")


def pool_features(x, pooling):
    """Global pooling of the last feature map for `include_top=False` (None keeps the map)."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def check_weights(weights):
    """`weights` is None or a local file; nothing is ever downloaded."""
    if weights is None:
        return
    if not isinstance(weights, (str, os.PathLike)):
        raise UsageError(
            "`weights` must be None or the path of a local '.weights.h5' or '.keras' file. "
            f"Received: weights={weights!r}"
        )
    path = os.fspath(weights)
    if not path.endswith((".weights.h5", ".keras")):
        raise UsageError(
            "`weights` must be None or the path of a local '.weights.h5' or '.keras' file "
            "(get_model(name, weights='imagenet') converts a local ImageNet checkpoint); "
            "no pretrained weights are downloaded. "
            f"Received: weights={weights!r}"
        )
    if not os.path.isfile(path):
        raise UsageError(f"The weights file does not exist. Received: weights={weights!r}")
    if os.path.getsize(path) == 0:
        raise UsageError(f"The weights file {path} is empty. Received: weights={weights!r}")
    if path.endswith(".keras"):
        check_model_file(path, "weights")  # a crafted archive is refused before Keras opens it


def load_weights(model, weights, build_training_model=None):
    """Loads a local weights file into a freshly built model.

    Keras weight files key layers by type and order, not by name, so a file saved from the
    training model (with auxiliary heads) does not line up with the same net built without
    them. For that case pass `build_training_model`: the file is loaded into the training
    form and the weights are copied over by layer name.
    """
    if weights is None:
        return model
    path = os.fspath(weights)
    try:
        model.load_weights(path)
        return model
    except OSError as error:  # h5py's error for a file that is no HDF5, or a damaged one
        raise UsageError(f"The weights file {path} cannot be read ({str(error).strip().splitlines()[0]}). "
                         f"Received: weights={weights!r}") from None
    except ValueError as error:
        if build_training_model is None:
            raise _mismatch(weights, error) from None
        mismatch = error
    training_model = build_training_model()
    try:
        training_model.load_weights(path)
    except ValueError:
        raise _mismatch(weights, mismatch) from None
    for layer in model.layers:
        layer.set_weights(training_model.get_layer(layer.name).get_weights())
    return model


def build_and_load(build, weights, *, aux_heads, include_top):
    """`build(with_aux_heads)` -> the model, with `weights` loaded. A file saved from the
    training model (auxiliary heads included) also loads into the net built without them."""
    build_training_model = functools.partial(build, True) if include_top and not aux_heads else None
    return load_weights(build(aux_heads), weights, build_training_model)


def _mismatch(weights, error):
    first_line = str(error).strip().splitlines()[0]
    return UsageError(
        f"The weights file does not fit this net ({first_line}). Received: weights={weights!r}"
    )
