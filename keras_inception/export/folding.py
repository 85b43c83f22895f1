"""Batch norm folded into the convolution before it, for the SavedModel.

In inference a batch norm is a per-channel scale and shift, which the convolution feeding it
can take in: the kernel times gamma / sqrt(variance + epsilon), the bias moved to match.
TFLite's converter folds them itself; TensorFlow's runtime does not, and runs each as separate
passes over the activations, between a convolution and the ReLU that oneDNN fuses into it.
"""

import keras
import numpy as np


class FoldedBatchNormalization(keras.layers.Layer):
    """Where a folded batch norm was: passes its input on, its scale and shift being in the
    convolution before it. For export only."""

    def call(self, inputs, training=None, mask=None):
        return inputs


def takers(model):
    """{id(tensor): the layers of `model` that take it}."""
    found = {}
    for layer in model.layers:
        try:
            inputs = layer.input
        except (AttributeError, ValueError):  # an input layer, or one called more than once
            continue
        for tensor in keras.tree.flatten(inputs):
            found.setdefault(id(tensor), []).append(layer)
    return found


def foldable_batch_norms(model):
    """{convolution name: batch norm} for each `Conv2D` of `model` without an activation whose
    output only a `BatchNormalization` over its channels takes."""
    layer_takers = takers(model)
    pairs = {}
    for layer in model.layers:
        if type(layer) is not keras.layers.Conv2D or layer.get_config()["activation"] != "linear":
            continue
        users = layer_takers.get(id(layer.output), [])
        if (len(users) == 1 and type(users[0]) is keras.layers.BatchNormalization
                and users[0].get_config()["axis"] in (-1, 3)):
            pairs[layer.name] = users[0]
    return pairs


def folded_weights(convolution, batch_norm):
    """[kernel, bias] of one convolution computing `convolution` then `batch_norm` in
    inference, in float32 (computed in float64)."""
    kernel, *bias = (np.asarray(weight, np.float64) for weight in convolution.get_weights())
    bias = bias[0] if bias else 0.0
    gamma = 1.0 if batch_norm.gamma is None else np.asarray(batch_norm.gamma, np.float64)
    beta = 0.0 if batch_norm.beta is None else np.asarray(batch_norm.beta, np.float64)
    mean = np.asarray(batch_norm.moving_mean, np.float64)
    variance = np.asarray(batch_norm.moving_variance, np.float64)
    scale = gamma / np.sqrt(variance + batch_norm.epsilon)
    return [(kernel * scale).astype("float32"), ((bias - mean) * scale + beta).astype("float32")]
