"""ImageNet checkpoints that people already have, converted into our nets, and class names.

    model = keras_inception.pretrained.load("resnet50", "~/.cache/torch/hub/checkpoints/resnet50-11ad3fa6.pth")
    keras_inception.decode_predictions(model.predict(images))

A converted model is our registered net with the source's weights. It takes float32 RGB
images in [0, 1] like every net here: the source's normalization is its first layer
(`preprocessing`), so our pipelines, export and TFLite work unchanged. Nothing is downloaded.
"""

import os
import warnings

import keras

from keras_inception import registry
from keras_inception.files import check_writable, locked, remove_stale_partials, write_atomically
from keras_inception.pretrained import keras_applications, timm, torchvision
from keras_inception.pretrained.assign import assign_weights, layers_with_weights
from keras_inception.pretrained.channels import adapted_model, check_channels, first_conv
from keras_inception.pretrained.checkpoints import SOURCES, architecture_of, describe, read_checkpoint
from keras_inception.pretrained.classes import add_class_names, decode_predictions, imagenet_classes
from keras_inception.validation import UsageError

__all__ = ["SOURCES", "convert", "decode_predictions", "imagenet_classes", "load", "supported"]

# The source tensors of auxiliary heads, left out when a caller drops the heads.
AUX_KEYS = ("AuxLogits.*", "aux1.*", "aux2.*")
# Our registered names for a source's net where they differ from the source's.
ALIASES = {"googlenet_torchvision": "googlenet", "alexnet_torchvision": "alexnet"}


def supported(source="torchvision"):
    """The source's net names that convert."""
    if source == "keras":
        return tuple(keras_applications.CONVERSIONS)
    names = tuple(torchvision.CONVERSIONS)
    if source == "torchvision":
        return names
    return tuple(name for name in names if name not in ("googlenet", "alexnet")) + tuple(timm.INCEPTION_V4_FAMILY)


def _conversion(name, checkpoint):
    architecture = ALIASES.get(name, name)
    if checkpoint.source == "keras":
        # keras.applications' names ("ResNet50"), or ours ("resnet50").
        ours = {conversion.model: key for key, conversion in keras_applications.CONVERSIONS.items()}
        architecture = ours.get(name, name)
        conversion = keras_applications.CONVERSIONS.get(architecture)
        held, _ = keras_applications.architecture_of(checkpoint.state)
        if conversion is None:
            raise UsageError(f"No keras conversion for {name!r}; converted: {', '.join(supported('keras'))}. "
                             f"Received: model={name!r}")
        if held is not None and held != architecture:
            raise UsageError(f"{checkpoint.path} holds a {held}, not a {architecture}. Received: model={name!r}")
        return architecture, conversion
    if checkpoint.source == "timm":
        architecture = architecture.split(".")[0]  # a hub ID such as "resnet50.a1_in1k"
        config_architecture = checkpoint.config.get("architecture")
        if config_architecture and config_architecture != architecture:
            raise UsageError(f"{checkpoint.path}'s config.json is for {config_architecture!r}, not {name!r}. "
                             f"Received: model={name!r}")
        conversion = timm.conversion(architecture, checkpoint.config, checkpoint.state)
    else:
        conversion = torchvision.CONVERSIONS.get(architecture)
    if conversion is None:
        raise UsageError(f"No {checkpoint.source} conversion for {name!r}; converted: "
                         f"{', '.join(supported(checkpoint.source))}. Received: model={name!r}")
    held, _ = architecture_of(checkpoint.state)
    if held is not None and held != architecture:
        raise UsageError(f"{checkpoint.path} holds {describe(checkpoint.state)}, not a {architecture}. "
                         f"Received: model={name!r}")
    return architecture, conversion


# Builder arguments a caller may set on a converted net; the others make it the source's net.
CALLER_ARGUMENTS = ("classifier_activation", "aux_heads", "name", "include_top", "num_classes", "pooling")


def build_converted(conversion, input_shape=None, **arguments):
    """Our net for `conversion`, with the source's normalization as its first layer."""
    size = conversion.source_size
    inputs = keras.Input(input_shape or (size, size, 3), name="image")
    mean, std = conversion.preprocessing
    x = keras.layers.Normalization(mean=list(mean), variance=[value**2 for value in std], name="preprocessing")(inputs)
    return registry.get_model(conversion.model, input_tensor=x, **{**conversion.build, **arguments})


def load(name, checkpoint, source=None, *, input_shape=None, input_channels=None, **arguments):
    """Our net `name` (the source's name, e.g. "resnet50", "vgg16_bn", a timm hub ID) with the
    weights of the checkpoint file at `checkpoint`; `source` ("torchvision", "timm") is
    recognised from the file when not given. The model's `class_names` are ImageNet's.

    input_shape: builds the fully convolutional nets at another size (default: the source's),
        and takes another channel count than RGB's: 1 (grayscale) or 4 (RGB plus depth or
        infrared), the first convolution adapted (`channels`).
    input_channels: the channel count at the source's size (the same as `input_shape`'s).
    arguments: `classifier_activation` (None: logits), `aux_heads` (False drops a trained
        auxiliary head), `name`, and keras.applications' `include_top`, `num_classes` and
        `pooling`: `include_top=False` keeps the converted backbone alone (with `pooling`), and
        other `num_classes` give it a new, freshly initialized classifier, which a warning says.
    """
    unknown = sorted(set(arguments) - set(CALLER_ARGUMENTS))
    if unknown:
        raise TypeError(f"load() takes no argument {unknown[0]!r}; it takes {', '.join(CALLER_ARGUMENTS)}. "
                        f"Received: {unknown[0]}={arguments[unknown[0]]!r}")
    channels = 3 if input_channels is None else check_channels(input_channels)
    if isinstance(input_shape, (tuple, list)) and len(input_shape) == 3:  # else the builder says what is wrong
        if input_channels is not None and input_shape[-1] != input_channels:
            raise UsageError(f"`input_shape` has {input_shape[-1]} channels and `input_channels` says "
                             f"{input_channels}. Received: input_shape={input_shape!r}")
        channels = check_channels(input_shape[-1])
        input_shape = (*input_shape[:-1], 3)  # converted as RGB, then adapted
    read = read_checkpoint(checkpoint, source)
    _, conversion = _conversion(name, read)
    include_top = arguments.get("include_top", True)
    num_classes = arguments.pop("num_classes", 1000)
    ignore = conversion.ignore
    if include_top is False:  # the backbone alone: the source's classifiers go unused
        ignore += conversion.head + AUX_KEYS
    elif arguments.get("aux_heads") is False:
        ignore += AUX_KEYS
    model = build_converted(conversion, input_shape, **arguments)  # the builder checks include_top and pooling
    layer_names = [layer.name for layer in layers_with_weights(model)]
    assign_weights(model, read.state, conversion.layer_map(layer_names, read.state), checkpoint=read.path,
                   ignore=ignore, flattened_from=conversion.flattened_from, layout=conversion.layout)
    if conversion.bgr:
        _take_rgb(model)
    class_names = None
    if include_top is not False:
        if num_classes == len(imagenet_classes()):
            class_names = tuple(class_name for _, class_name in imagenet_classes())
        else:
            arguments["num_classes"] = num_classes
            model = _with_new_head(model, conversion, input_shape, name, arguments)
    if channels != 3:
        model = adapted_model(model, lambda inputs, x: registry.get_model(
            conversion.model, input_tensor=x, **{**conversion.build, **arguments}), conversion.preprocessing, channels)
    if class_names:
        model.class_names = class_names
    return model


def _take_rgb(model):
    """Reverses the first conv's input channels: a net whose weights expect BGR then computes
    the same on RGB, exactly."""
    first = first_conv(model)
    weights = first.get_weights()
    first.set_weights([weights[0][:, :, ::-1, :], *weights[1:]])


def _with_new_head(converted, conversion, input_shape, name, arguments):
    """The net built with `arguments` (another `num_classes`), every layer it shares with the
    converted net keeping the converted weights."""
    model = build_converted(conversion, input_shape, **arguments)
    fresh = []
    for layer in model.layers:
        if not layer.weights:
            continue
        try:
            source = converted.get_layer(layer.name)
        except ValueError:
            source = None
        if source is not None and [w.shape for w in layer.weights] == [w.shape for w in source.weights]:
            layer.set_weights(source.get_weights())
        else:
            fresh.append(layer.name)
    warnings.warn(f"{name}: the converted ImageNet backbone with a new {arguments['num_classes']}-class head; "
                  f"freshly initialized: {', '.join(fresh)}", stacklevel=3)
    return model


def convert(name, checkpoint, output=None, source=None, *, overwrite=False, input_channels=3):
    """`load`, then the model saved as `output` (default: `<name>.keras` in the working folder),
    written atomically, its ImageNet class names inside (`classes.read_class_names`). Returns the
    output path. `input_channels`: see `load`."""
    output = os.fspath(output or f"{ALIASES.get(name, name).split('.')[0]}.keras")
    if not output.endswith(".keras"):
        raise UsageError(f"The output must be a .keras file. Received: output={output!r}")
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise UsageError(f"The output's folder {folder} does not exist. Received: output={output!r}")
    with locked(output, "a conversion"):
        if os.path.exists(output) and not overwrite:
            raise UsageError(f"{output} exists; pass overwrite=True (--overwrite) to replace it. "
                             f"Received: output={output!r}")
        remove_stale_partials(output)
        check_writable(folder)  # before the conversion, not after it
        model = load(name, checkpoint, source, input_channels=input_channels)

        def write(path):
            model.save(path)
            add_class_names(path, model.class_names)

        write_atomically(output, write)
    return output
