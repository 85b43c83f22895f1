"""TFLite conversion in four modes, with the TFLite converter.

The .tflite takes the net's input as the pipeline gives it: float32 (1, size, size, channels)
in [0, 1] (or int8/uint8 with `int8_io`), and returns the class scores.
"""

import tempfile

import keras
import tensorflow as tf

MODES = ("float32", "float16", "dynamic", "int8")
INT8_IO = ("none", "int8", "uint8")


# The SavedModel signature the converter reads: `graph` at batch 1, taking what the .tflite
# takes. The served SavedModel carries it too (savedmodel.py), so that an export writes one.
SIGNATURE = "single_image"


def add_single_image_endpoint(archive, graph):
    """Adds `SIGNATURE` to a `keras.export.ExportArchive` tracking `graph`."""
    archive.add_endpoint(SIGNATURE, lambda image: graph(image, training=False),
                         input_signature=[tf.TensorSpec((1, *graph.input_shape[1:]), tf.float32, name="image")])


def _write_batch_one_saved_model(graph, directory):
    """`graph` at batch 1 as a SavedModel: the path on which the converter freezes every
    variable (from a concrete function, int8 calibration met unfrozen variable reads)."""
    archive = keras.export.ExportArchive()
    archive.track(graph)
    add_single_image_endpoint(archive, graph)
    archive.write_out(directory, verbose=False)


def convert(graph, mode, *, representative_images=None, int8_io="none"):
    """The .tflite bytes of `graph` (from `export_graph`).

    Modes: "float32"; "float16" weights; "dynamic" (int8 weights, float activations); "int8"
    (weights and activations, calibrated on `representative_images`, float32 (N, size, size,
    channels) from the training pipeline). In "int8", an op without an int8 kernel (LRN) stays
    float32 rather than failing the conversion.
    """
    for _, converted in convert_modes(graph, (mode,), representative_images=representative_images,
                                      int8_io=int8_io):
        return converted


def convert_modes(graph, modes, *, representative_images=None, int8_io="none", saved_model=None):
    """Yields (mode, .tflite bytes) for each of `modes` in turn (see `convert`). The batch-one
    SavedModel the converter reads is written once for all of them (writing it costs about as
    much as a conversion), or not at all when `saved_model` is a directory already holding
    `graph` with the `SIGNATURE` endpoint (the served SavedModel)."""
    if saved_model is not None:
        yield from _convert_saved_model(saved_model, modes, representative_images, int8_io)
        return
    with tempfile.TemporaryDirectory(prefix="keras_inception_tflite_") as directory:
        _write_batch_one_saved_model(graph, directory)
        yield from _convert_saved_model(directory, modes, representative_images, int8_io)


def _convert_saved_model(directory, modes, representative_images, int8_io):
    for mode in modes:
        converter = tf.lite.TFLiteConverter.from_saved_model(directory, signature_keys=[SIGNATURE])
        _configure(converter, mode, representative_images, int8_io)
        yield mode, converter.convert()


def _configure(converter, mode, representative_images, int8_io):
    if mode != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "int8":
        if representative_images is None or not len(representative_images):
            raise ValueError("mode='int8' needs representative images from the training data. "
                             "Received: representative_images=None")

        def representative_dataset():
            for image in representative_images:
                yield [image[None].astype("float32")]

        converter.representative_dataset = representative_dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]
        if int8_io != "none":
            converter.inference_input_type = converter.inference_output_type = getattr(tf, int8_io)

