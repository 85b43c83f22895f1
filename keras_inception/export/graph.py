"""The graph every export starts from: the inference net, in float32, TFLite-friendly.

- Auxiliary heads are dropped (`inference_model`).
- A net trained under mixed precision is rebuilt in float32 and given the same weights: a
  float16 graph fails or misbehaves in the TFLite converter (a known TensorFlow trap), and the
  weights were float32 variables all along.
- `LocalResponseNormalization` becomes `tf.nn.local_response_normalization`, the same function
  (checked in the tests) but one that TFLite has a kernel for. That kernel is float only: a
  full-int8 model keeps LRN in float32 between a dequantize and a quantize.
- `logits=True` removes the classifier's softmax.
"""

import keras
import tensorflow as tf

from keras_inception.layers import LocalResponseNormalization
from keras_inception.models.multi_output import MAIN_OUTPUT, inference_model


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


def export_graph(model, *, logits=False, tensorflow_lrn=True):
    """A float32, single-output copy of `model` for export; `model` is left as it is.

    tensorflow_lrn: LRN as the TensorFlow op, for the converters; False keeps our layer, for a
        `.keras` file.
    """
    model = inference_model(model)

    def clone_layer(layer):
        config = _float32_config(layer)
        if tensorflow_lrn and isinstance(layer, LocalResponseNormalization):
            return TFLocalResponseNormalization(**config)
        if logits and layer.name == MAIN_OUTPUT:
            if "activation" not in config:
                raise ValueError(f"The {MAIN_OUTPUT!r} layer has no activation to remove. "
                                 f"Received: layer={type(layer).__name__}")
            config["activation"] = "linear"
        return layer.__class__.from_config(config)

    graph = keras.models.clone_model(model, clone_function=clone_layer)
    graph.set_weights([weight.astype("float32") for weight in model.get_weights()])
    return graph
