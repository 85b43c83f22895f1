"""A converted RGB net for images of another channel count: grayscale (1), or RGB plus a fourth
channel such as depth or infrared (4), as timm's `adapt_input_conv` adapts a first convolution.

- 1 channel, where the checkpoint normalizes its three channels alike (the Inception family,
  torchvision's GoogLeNet): the first convolution's kernels summed over RGB, the gray image
  normalized as each channel was. On a gray image the net computes what the RGB net computes on
  that image repeated three times.
- 1 channel, where the channels are normalized differently (the torch and Caffe statistics): no
  summed kernel gives the RGB net's function at the padded borders, so the gray channel is
  normalized into the three channels the first convolution takes (a 1x1 convolution), exactly.
- 2, 4 or more channels: the kernels repeated over the new channels and scaled by 3 / channels, the
  channel statistics repeated likewise (timm's choice); the extra channels need fine-tuning.
"""

import math

import keras
import numpy as np

from keras_inception.pretrained.assign import layers_with_weights
from keras_inception.validation import UsageError

def check_channels(channels):
    """`channels`, a positive integer; a one-line error otherwise."""
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise UsageError(f"A converted net takes 1 or more input channels (3: the checkpoint's RGB). "
                         f"Received: channels={channels!r}")
    return channels


def uniform(preprocessing):
    """Whether the checkpoint normalizes its three channels alike."""
    mean, std = preprocessing
    return len(set(mean)) == 1 and len(set(std)) == 1


def repeated(values, channels):
    return [values[index % len(values)] for index in range(channels)]


def adapt_kernel(kernel, channels):
    """A (kh, kw, 3, out) kernel for `channels` input channels: summed over RGB for 1, repeated
    and scaled by 3 / channels for more (timm's `adapt_input_conv`)."""
    if channels == 1:
        return kernel.sum(axis=2, keepdims=True)
    repeat = math.ceil(channels / kernel.shape[2])
    return np.concatenate([kernel] * repeat, axis=2)[:, :, :channels] * (kernel.shape[2] / channels)


def first_conv(model):
    return next(layer for layer in layers_with_weights(model) if isinstance(layer, keras.layers.Conv2D))


def adapted_model(rgb, build, preprocessing, channels):
    """The converted RGB net `rgb` for `channels` channels. `build(inputs, x)` builds the same
    net on the preprocessed tensor `x` of the input `inputs`; every weight but the first
    convolution's kernel is copied from `rgb`."""
    check_channels(channels)
    height, width, _ = rgb.input_shape[1:]
    mean, std = preprocessing
    inputs = keras.Input((height, width, channels), name="image")
    exact_expansion = channels == 1 and not uniform(preprocessing)
    if exact_expansion:
        # Each of the three normalized channels from the gray one: (gray - mean) / std.
        expand = keras.layers.Conv2D(3, 1, name="preprocessing")
        x = expand(inputs)
        expand.set_weights([np.array(1 / np.asarray(std), np.float32).reshape(1, 1, 1, 3),
                            np.array(-np.asarray(mean) / np.asarray(std), np.float32)])
    else:
        x = keras.layers.Normalization(mean=repeated(list(mean), channels),
                                       variance=[value**2 for value in repeated(list(std), channels)],
                                       name="preprocessing")(inputs)
    model = build(inputs, x)
    source_layers = {layer.name: layer for layer in layers_with_weights(rgb)}
    adapted = None if exact_expansion else first_conv(model).name  # an expansion keeps the RGB kernels
    for layer in layers_with_weights(model):
        if layer.name == "preprocessing":
            continue
        weights = source_layers[layer.name].get_weights()
        if layer.name == adapted:
            weights = [adapt_kernel(weights[0], channels), *weights[1:]]
        layer.set_weights(weights)
    return model
