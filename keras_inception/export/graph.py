"""The graph every export starts from: the inference net, in float32, TFLite-friendly.

- Auxiliary heads are dropped (`inference_model`).
- A net trained under mixed precision is rebuilt in float32 and given the same weights: a
  float16 graph fails or misbehaves in the TFLite converter (a known TensorFlow trap), and the
  weights were float32 variables all along.
- In the `form="delegates"` graph, every op is one that TFLite's CPU (XNNPACK) and GPU delegates
  both run, so that neither splits the graph:
  - `LocalResponseNormalization` becomes the squares summed across channels by a 1x1
    convolution, then square roots; TFLite's own LRN op runs in neither delegate.
  - A concatenation of more than five tensors (Inception v3's last blocks) becomes nested ones:
    XNNPACK takes at most five inputs.
- `form="tensorflow"` writes LRN as TensorFlow's op, `tf.nn.local_response_normalization`, and
  folds each batch norm into the convolution before it (`folding`): for the SavedModel, and for
  a .tflite as the converter takes the net most directly (TFLite's builtin LRN), kept to
  measure what "delegates" gains. `form="keras"` keeps our layers, for a
  `.keras` file.
- `logits=True` removes the classifier's softmax.

`rgb_input` puts a one-channel net behind the pipeline's gray conversion, for the .tflite files:
phones and MediaPipe feed RGB.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_inception.export.folding import FoldedBatchNormalization, foldable_batch_norms, folded_weights
from keras_inception.layers import LocalResponseNormalization
from keras_inception.models.multi_output import MAIN_OUTPUT, inference_model
from keras_inception.validation import UsageError, check_choice

# tf.image.rgb_to_grayscale's weights, which the input pipeline and the SavedModel apply.
GRAYSCALE_WEIGHTS = (0.2989, 0.5870, 0.1140)


# LRN's exponent beta as square roots, which both delegates run (XNNPACK has no POW).
_INVERSE_POWERS = {
    0.5: tf.math.rsqrt,
    0.75: lambda base: tf.math.rsqrt(base) * tf.math.rsqrt(tf.sqrt(base)),
}
FORMS = ("delegates", "tensorflow", "keras")


class DelegateLocalResponseNormalization(keras.layers.Layer):
    """`LocalResponseNormalization` as a 1x1 convolution over the squares (a band of ones
    across channels, scaled by alpha, plus the bias) and square roots, for export only."""

    def __init__(self, depth_radius, bias, alpha, beta, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def build(self, input_shape):
        channel = np.arange(input_shape[-1])
        band = np.abs(channel[:, None] - channel[None, :]) <= self.depth_radius
        self.window = tf.constant((self.alpha * band)[None, None].astype("float32"))

    def call(self, inputs):
        base = tf.nn.conv2d(tf.square(inputs), self.window, strides=1, padding="VALID") + self.bias
        return inputs * _INVERSE_POWERS[self.beta](base)


# XNNPACK's concatenation takes at most this many tensors; a wider one leaves its graph.
XNNPACK_MAX_CONCAT_INPUTS = 5


class NestedConcatenate(keras.layers.Concatenate):
    """`Concatenate` written as nested concatenations of at most `XNNPACK_MAX_CONCAT_INPUTS`
    tensors each, which give the same tensor, for export only."""

    def call(self, inputs):
        inputs = list(inputs)
        while len(inputs) > XNNPACK_MAX_CONCAT_INPUTS:
            inputs = [group[0] if len(group) == 1 else tf.concat(group, axis=self.axis)
                      for group in (inputs[start:start + XNNPACK_MAX_CONCAT_INPUTS]
                                    for start in range(0, len(inputs), XNNPACK_MAX_CONCAT_INPUTS))]
        return tf.concat(inputs, axis=self.axis)


class TFLocalResponseNormalization(keras.layers.Layer):
    """`LocalResponseNormalization` as the TensorFlow op, for export only."""

    def __init__(self, depth_radius, bias, alpha, beta, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def call(self, inputs):
        return tf.nn.local_response_normalization(
            inputs, depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha, beta=self.beta
        )


def _float32_config(layer):
    config = layer.get_config()
    if "dtype" in config:
        config["dtype"] = "float32"
    return config


def export_graph(model, *, logits=False, form="delegates"):
    """A float32, single-output copy of `model` for export; `model` is left as it is.

    form: "delegates", "tensorflow" or "keras" (see the module docstring). An LRN exponent without a
        square-root form (`_INVERSE_POWERS`) gets TFLite's op in "delegates" too.
    """
    check_choice("form", form, FORMS)
    model = inference_model(model)
    folds = foldable_batch_norms(model) if form == "tensorflow" else {}
    folded = {batch_norm.name for batch_norm in folds.values()}

    def clone_layer(layer):
        config = _float32_config(layer)
        if layer.name in folds:
            config["use_bias"] = True
        if layer.name in folded:
            return FoldedBatchNormalization(name=layer.name)
        if form != "keras" and isinstance(layer, LocalResponseNormalization):
            if form == "delegates" and config["beta"] in _INVERSE_POWERS:
                return DelegateLocalResponseNormalization(**config)
            return TFLocalResponseNormalization(**config)
        if form == "delegates" and type(layer) is keras.layers.Concatenate:
            return NestedConcatenate(**config)
        if logits and layer.name == MAIN_OUTPUT:
            if "activation" not in config:
                raise UsageError(f"The {MAIN_OUTPUT!r} layer has no activation to remove. "
                                 f"Received: layer={type(layer).__name__}")
            config["activation"] = "linear"
        return layer.__class__.from_config(config)

    graph = keras.models.clone_model(model, clone_function=clone_layer)
    if not folds:
        graph.set_weights([weight.astype("float32") for weight in model.get_weights()])
        return graph
    for layer in model.layers:
        if layer.name in folded or not layer.weights:
            continue
        weights = (folded_weights(layer, folds[layer.name]) if layer.name in folds
                   else [weight.astype("float32") for weight in layer.get_weights()])
        graph.get_layer(layer.name).set_weights(weights)
    return graph


def rgb_input(graph):
    """`graph` taking RGB images: a one-channel net gets the gray conversion in front, as a 1x1
    convolution, an op both TFLite delegates run."""
    if graph.input_shape[-1] == 3:
        return graph
    image = keras.Input((*graph.input_shape[1:3], 3), name="image")
    to_gray = keras.layers.Conv2D(1, 1, use_bias=False, trainable=False, name="rgb_to_gray")
    gray = to_gray(image)
    to_gray.set_weights([np.asarray(GRAYSCALE_WEIGHTS, "float32").reshape(1, 1, 3, 1)])
    return keras.Model(image, graph(gray), name=graph.name)
