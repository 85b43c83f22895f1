"""Quantization-aware training (QAT) in Keras 3 on TensorFlow, without tf_keras or
tensorflow-model-optimization: a copy of a trained net that computes in float what its int8
TFLite file will compute, so that fine-tuning it teaches the weights to live with int8. The
fine-tuning fits the copy to the trained net's own answers (distillation) unless told to fit the
labels, so that the int8 file keeps the float model's answers.

    qat_model = quantization_aware_training(model, train_data, epochs=1)
    tflite_bytes = convert(qat_model)   # int8, with the ranges learned in training

`quantization_aware(model)` gives the copy untrained, for a `fit` of your own.

What the copy simulates, as the TFLite converter and its int8 kernels do:

- each batch norm folded into the convolution before it, with the statistics the trained net
  holds (frozen: the converter folds the moving statistics, so training them would simulate
  another net);
- weights rounded to 8 bits, symmetric over [-127, 127]: a convolution's per output channel,
  a dense layer's per tensor (`QuantizedConv2D`, `QuantizedDense`);
- activations rounded to 8 bits per tensor over a range tracked during training as a moving
  average of each batch's minimum and maximum (`ActivationQuantizer`), placed where the int8
  graph holds a tensor: after the input and after each layer, except inside a convolution's
  fused batch norm and activation. The classifier and its softmax compute in float, only its
  weights rounded: XNNPACK runs no int8 softmax, and int8 logits would split its graph in two.

TensorFlow's fake-quantization ops carry the ranges into the graph, and the converter quantizes
with them instead of calibrating.
"""

import keras
import tensorflow as tf

from keras_inception import _compat
from keras_inception.export.folding import FoldedBatchNormalization, takers
from keras_inception.export.graph import export_graph
from keras_inception.validation import check_choice

# Layers that TFLite fuses into the convolution or dense layer before them, whose input is
# therefore never held in int8.
FUSED_AFTER = (FoldedBatchNormalization, keras.layers.ReLU, keras.layers.Activation)
# What `quantization_aware_training` fits the copy to.
TARGETS = ("model", "labels")
# How much of the tracked range each training batch moves (TensorFlow Model Optimization's
# default).
RANGE_MOMENTUM = 0.99


@keras.saving.register_keras_serializable(package="keras_inception")
class ActivationQuantizer(keras.layers.Layer):
    """Rounds its input to 8 bits over [range_min, range_max], as an int8 tensor holds it. In
    training, the range follows the batches' minimum and maximum (the first batch sets it,
    then a moving average with `momentum`); in inference it stays."""

    def __init__(self, momentum=RANGE_MOMENTUM, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum

    def build(self, input_shape):
        self.range_min = self.add_weight(shape=(), initializer="zeros", trainable=False, name="range_min")
        self.range_max = self.add_weight(shape=(), initializer="zeros", trainable=False, name="range_max")
        self.batches_seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="batches_seen")

    def call(self, inputs, training=None):
        inputs = tf.cast(inputs, "float32")
        if training:
            first = tf.cast(tf.equal(self.batches_seen.value, 0.0), "float32")
            keep = self.momentum * (1.0 - first)
            self.range_min.assign(keep * self.range_min.value + (1.0 - keep) * tf.minimum(tf.reduce_min(inputs), 0.0))
            self.range_max.assign(keep * self.range_max.value + (1.0 - keep) * tf.maximum(tf.reduce_max(inputs), 0.0))
            self.batches_seen.assign_add(1.0)
        return tf.quantization.fake_quant_with_min_max_vars(inputs, self.range_min.value, self.range_max.value,
                                                            num_bits=8, narrow_range=False)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}


def quantized_weights(kernel, per_channel=True):
    """`kernel` rounded to 8 bits, symmetric over [-127, 127] times the largest magnitude: per
    output channel (its last axis), as TFLite's int8 convolutions hold their weights, or per
    tensor, as its fully connected layers do."""
    if not per_channel:
        limit = tf.maximum(tf.reduce_max(tf.abs(kernel)), 1e-8)
        return tf.quantization.fake_quant_with_min_max_vars(kernel, -limit, limit, num_bits=8, narrow_range=True)
    limit = tf.maximum(tf.reduce_max(tf.abs(kernel), axis=list(range(len(kernel.shape) - 1))), 1e-8)
    return tf.quantization.fake_quant_with_min_max_vars_per_channel(kernel, -limit, limit, num_bits=8,
                                                                    narrow_range=True)


@keras.saving.register_keras_serializable(package="keras_inception")
class QuantizedConv2D(keras.layers.Conv2D):
    """A `Conv2D` whose kernel is rounded as TFLite's int8 convolution holds it
    (`quantized_weights`)."""

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, quantized_weights(kernel))


@keras.saving.register_keras_serializable(package="keras_inception")
class QuantizedDense(keras.layers.Dense):
    """A `Dense` whose kernel is rounded as TFLite's int8 fully connected layer holds it
    (`quantized_weights`, per tensor)."""

    def call(self, inputs, training=None):
        outputs = keras.ops.matmul(inputs, quantized_weights(self.kernel, per_channel=False))
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return self.activation(outputs)


# The rounded layer that replaces each float one in the copy, and back (`keep_in_float`).
_ROUNDED_FORM = {keras.layers.Conv2D: QuantizedConv2D, keras.layers.Dense: QuantizedDense}
_FLOAT_FORM = {rounded: plain for plain, rounded in _ROUNDED_FORM.items()}


def quantization_aware(model, logits=False):
    """A float32 copy of `model`'s inference net that computes as its int8 TFLite file will (see
    the module docstring): batch norm folded, weights and activations rounded to 8 bits. The
    activation ranges start unset: run the copy in training mode (`fit`) before converting it.
    `logits=True` removes the classifier's softmax, as the export's flag does. `model` is left
    as it is."""
    folded = export_graph(model, logits=logits, form="tensorflow")
    layer_takers = takers(folded)
    rounded_after = {
        layer.name for layer in folded.layers[1:]
        # The classifier stays float in the file (see the module docstring), and TFLite fuses
        # batch norm and activations into the op before them.
        if not (type(layer) is keras.layers.Dense and layer.get_config()["activation"] == "softmax")
        and not all(isinstance(taker, FUSED_AFTER) for taker in layer_takers.get(id(layer.output), [None]))
    }

    def quantized_layer(layer):
        kind = _ROUNDED_FORM.get(type(layer), type(layer))
        return kind.from_config(layer.get_config())

    image = keras.Input(folded.input_shape[1:], name=folded.layers[0].name)
    rounded_image = ActivationQuantizer(name="image_quantized")(image)

    def call_rounded(layer, *args, **kwargs):
        args = keras.tree.map_structure(lambda tensor: rounded_image if tensor is image else tensor, args)
        output = layer(*args, **kwargs)
        return ActivationQuantizer(name=f"{layer.name}_quantized")(output) if layer.name in rounded_after else output

    qat_model = keras.models.clone_model(folded, input_tensors=image, clone_function=quantized_layer,
                                         call_function=call_rounded)
    for layer in folded.layers:
        if layer.weights:
            qat_model.get_layer(layer.name).set_weights(layer.get_weights())
    return qat_model


def rounded_layers(qat_model):
    """The names of a `quantization_aware` copy's layers whose weights it rounds: those
    `keep_in_float` takes."""
    return {layer.name for layer in qat_model.layers if type(layer) in _FLOAT_FORM}


def keep_in_float(qat_model, layers):
    """A copy of a trained `quantization_aware` copy whose convolution and dense layers named in
    `layers` compute in float in its int8 file: their weights and their outputs (after the
    batch norm and activation fused into them) are no longer rounded. The converter then keeps
    in float what takes their output too, up to the next rounded tensor; a layer whose output
    a concatenation takes stays int8 all the same, as the converter gives it the range of the
    concatenation's output."""
    unknown = sorted(set(layers) - rounded_layers(qat_model))
    if unknown:
        raise ValueError(f"{unknown[0]!r} is no rounded convolution or dense layer of {qat_model.name}. "
                         f"Received: layers={sorted(layers)}")
    layer_takers = takers(qat_model)
    unrounded = set()
    for name in layers:
        layer = qat_model.get_layer(name)
        while True:  # along the fused batch norm and activation to the quantizer after them
            (taker, *others) = layer_takers.get(id(layer.output), [None])
            if others or not isinstance(taker, (*FUSED_AFTER, ActivationQuantizer)):
                break
            if isinstance(taker, ActivationQuantizer):
                unrounded.add(taker.name)
                break
            layer = taker

    def layer_copy(layer):
        kind = _FLOAT_FORM[type(layer)] if layer.name in layers else type(layer)
        return kind.from_config(layer.get_config())

    def call_unrounded(layer, *args, **kwargs):
        return args[0] if layer.name in unrounded else layer(*args, **kwargs)

    copy = keras.models.clone_model(qat_model, clone_function=layer_copy, call_function=call_unrounded)
    for layer in copy.layers:
        if layer.weights:
            layer.set_weights(qat_model.get_layer(layer.name).get_weights())
    return copy


def quantization_aware_training(model, data, *, epochs=1, learning_rate=1e-4, steps_per_epoch=None, logits=False,
                                targets="model", verbose=0):
    """`quantization_aware(model, logits)` fine-tuned on `data`: a `tf.data.Dataset` of (images,
    labels) batches as the inference net takes them (one integer label per image), for `epochs`
    at `learning_rate` (Adam; low, as the net is trained already). Returns the fine-tuned copy.

    targets: "model" trains the copy toward `model`'s own class probabilities on each batch
        (distillation), so that its int8 file keeps the float model's answers; "labels" toward
        the labels.
    """
    check_choice("targets", targets, TARGETS)
    qat_model = quantization_aware(model, logits=logits)
    from_logits = qat_model.layers[-1].get_config().get("activation") != "softmax"
    if targets == "model":
        teacher = export_graph(model, form="tensorflow")  # the probabilities, from the copy's input
        data = data.map(lambda images, labels: (images, teacher(images, training=False)))
        loss = keras.losses.CategoricalCrossentropy(from_logits=from_logits)
        metrics = [keras.metrics.CategoricalAccuracy(name="agreement")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        metrics = ["accuracy"]
    qat_model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=metrics)
    qat_model.fit(data, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=verbose)
    return qat_model


def convert(qat_model):
    """The int8 .tflite bytes of a trained `quantization_aware` copy: float32 input and output,
    every tensor that the copy rounds held in int8 over the range it learned."""
    spec = tf.TensorSpec((1, *qat_model.input_shape[1:]), tf.float32, name="image")
    function = tf.function(lambda image: qat_model(image, training=False)).get_concrete_function(spec)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([_compat.freeze_variables(function)], tf.Module())
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()
