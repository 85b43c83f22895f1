"""TFLite conversion in four modes, with the TFLite converter.

The .tflite takes the net's input as the pipeline gives it: float32 (1, size, size, channels)
in [0, 1] (or int8/uint8 with `int8_io`), and returns the class scores.
"""

import contextlib
import math
import tempfile

import keras
import numpy as np
import tensorflow as tf

from keras_inception import _compat
from keras_inception.export import int8
from keras_inception.validation import UsageError

MODES = ("float32", "float16", "dynamic", "int8")
INT8_IO = ("none", "int8", "uint8")

# In a full-int8 graph with float input and output, these ops stay float32 (between a
# dequantize and a quantize): XNNPACK runs them only in float, and in int8 each would split
# its graph. The 1x1 convolution of the LRN form stays int8.
FLOAT_OPS_IN_INT8 = ("SOFTMAX", "AVERAGE_POOL_2D", "SQUARE", "SQRT", "RSQRT")

# The .tflite's one signature, as the converter names a Keras model's: input `image`, output
# `output_0`.
SIGNATURE = "serving_default"

# Up to this many bytes of weights, a net is converted from one frozen trace; above it, from a
# batch-one SavedModel: a SavedModel costs time per op, while freezing copies the weights into
# graph constants many times over, which large nets pay for in time and memory.
FROZEN_MAX_WEIGHT_BYTES = 32 * 2**20


def convert(graph, mode, *, representative_images=None, int8_io="none", float_ops=FLOAT_OPS_IN_INT8):
    """The .tflite bytes of `graph` (from `export_graph`).

    Modes: "float32"; "float16" weights; "dynamic" (int8 weights, float activations); "int8"
    (weights and activations, calibrated on `representative_images`, float32 (N, size, size,
    channels) from the training pipeline). In "int8", an op without an int8 kernel (TFLite's
    LRN) stays float32 rather than failing the conversion, and so do `float_ops` where the input
    and output are float (`int8_io="none"`), as do the layers XNNPACK cannot run in int8
    (`delegates.xnnpack_refused_tensors`, which needs the `mobile` extra): TensorFlow keeps chosen
    ops float only through its quantization debugger, whose files take and give float32.
    """
    for _, converted in convert_modes(graph, (mode,), representative_images=representative_images,
                                      int8_io=int8_io, float_ops=float_ops):
        return converted


def convert_modes(graph, modes, *, representative_images=None, int8_io="none", float_ops=FLOAT_OPS_IN_INT8,
                  choose_int8=None):
    """Yields (mode, .tflite bytes) for each of `modes` in turn (see `convert`), all from one
    trace of `graph`: frozen for a net up to `FROZEN_MAX_WEIGHT_BYTES`, else a SavedModel.

    choose_int8: where "int8" keeps layers in float (`int8_io="none"` and `float_ops`), a
    function from an `int8.Int8Quantizer` to the bytes to use; default: every layer int8 that
    XNNPACK can run so.
    """
    with _new_converters(graph) as new_converter:
        for mode in modes:
            converter = _configure(new_converter(), mode, representative_images, int8_io)
            if mode == "int8" and int8_io == "none" and float_ops:
                quantizer = int8.Int8Quantizer(converter, representative_images, float_ops=float_ops,
                                               layer_names=int8.layer_names(graph))
                yield mode, (choose_int8 or _runnable_by_xnnpack)(quantizer)
            elif mode == "int8" and int8_io != "none":
                yield mode, _fully_quantized(converter.convert(), graph, int8_io)
            else:
                yield mode, converter.convert()


def _runnable_by_xnnpack(quantizer):
    """Every layer in int8 that XNNPACK can run so, without measuring the layers' errors."""
    from keras_inception.export.delegates import xnnpack_refused_tensors  # the mobile extra

    return quantizer.model(xnnpack_refused_tensors(quantizer.model()))


def _fully_quantized(converted, graph, int8_io):
    """`converted`, unless XNNPACK cannot run one of its layers in int8, which a file with int8
    input and output cannot keep in float."""
    from keras_inception.export.delegates import xnnpack_refused_tensors  # the mobile extra

    refused = xnnpack_refused_tensors(converted)
    if refused:
        names = int8.layer_names(graph)
        layers = ", ".join(sorted({int8.keras_layer_of(tensor, names) for tensor in refused}))
        raise UsageError(f"XNNPACK cannot run {layers} in int8 (its calibrated output is all or nearly all zero), "
                         f"and an int8 file with quantized input and output cannot keep it in float: export "
                         f"with int8_io='none' (--int8_io=none). Received: int8_io={int8_io!r}")
    return converted


@contextlib.contextmanager
def _new_converters(graph):
    """A function that gives a fresh TFLite converter of `graph`'s single-image function."""
    single_image = tf.function(lambda image: graph(image, training=False))
    spec = tf.TensorSpec((1, *graph.input_shape[1:]), tf.float32, name="image")
    if _weight_bytes(graph) <= FROZEN_MAX_WEIGHT_BYTES:
        # A concrete function handed over unfrozen would keep variable reads, which int8
        # calibration cannot run. Nothing else to track: the converter saves the function alone.
        frozen = _compat.freeze_variables(single_image.get_concrete_function(spec))
        yield lambda: tf.lite.TFLiteConverter.from_concrete_functions([frozen], tf.Module())
        return
    with tempfile.TemporaryDirectory(prefix="keras_inception_tflite_") as directory:
        archive = keras.export.ExportArchive()
        archive.track(graph)
        archive.add_endpoint(SIGNATURE, single_image, input_signature=[spec])
        archive.write_out(directory, verbose=False)
        yield lambda: tf.lite.TFLiteConverter.from_saved_model(directory, signature_keys=[SIGNATURE])


def _weight_bytes(graph):
    return sum(math.prod(weight.shape) * np.dtype(weight.dtype).itemsize for weight in graph.weights)


def _configure(converter, mode, representative_images, int8_io):
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "int8":
        if representative_images is None or not len(representative_images):
            raise UsageError("mode='int8' needs representative images from the training data. "
                             "Received: representative_images=None")

        def representative_dataset():
            for image in representative_images:
                yield [image[None].astype("float32")]

        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]
        if int8_io != "none":
            converter.inference_input_type = converter.inference_output_type = getattr(tf, int8_io)
    return converter

