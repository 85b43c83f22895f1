"""A net's feature maps as a SavedModel and a .tflite whose outputs keep their names and order.

    export_feature_extractor(model, "saved_models/resnet18_features", keras_inception.endpoint_names("resnet18"))

Both take float32 images in [0, 1] at the net's input size and give one output per map. TensorFlow
flattens a function's dict of outputs in the sorted order of its keys, and a .tflite's outputs
and signature follow that order: each output is named `NN_<map>`, its place in the net first
(`00_conv1_relu`, `01_conv2_block2_out`, ...), so that sorted order is the net's order
(`output_names`).
"""

import os

import keras
import tensorflow as tf

from keras_inception import _compat
from keras_inception.export.graph import export_graph
from keras_inception.files import check_writable, write_bytes_atomically, write_directory_atomically
from keras_inception.validation import UsageError

SIGNATURE = "serving_default"
SAVED_MODEL = "features_saved_model"
TFLITE = "features_float32.tflite"


def output_names(endpoints):
    """The outputs' names: `NN_<map>` in the maps' order."""
    return [f"{place:02d}_{endpoint}" for place, endpoint in enumerate(endpoints)]


def feature_graph(model, endpoints):
    """A float32 model (`export_graph`'s form for the delegates) from `model`'s input to a dict
    {output name: map} of its layers `endpoints`."""
    graph = export_graph(model)
    names = [layer.name for layer in graph.layers]
    missing = [endpoint for endpoint in endpoints if endpoint not in names]
    if not endpoints or missing:
        raise UsageError(f"`endpoints` must name layers of {graph.name!r}. "
                         f"Received: endpoints={list(endpoints)!r}")
    outputs = {name: graph.get_layer(endpoint).output for name, endpoint in zip(output_names(endpoints), endpoints)}
    return keras.Model(graph.input, outputs, name=f"{graph.name}_features")


def serving_function(graph):
    """`graph` as a tf.function of `image` (batch, height, width, channels) float32."""
    spec = tf.TensorSpec((None, *graph.input_shape[1:]), tf.float32, name="image")
    return tf.function(lambda image: graph(image, training=False), input_signature=[spec])


def tflite_bytes(graph):
    """The float32 .tflite of `graph` (from `feature_graph`), its signature's outputs named as
    the graph's. Frozen as `tflite.convert` freezes a net: a function handed over with its
    variables would read them uninitialized. The frozen function gives a list, in the sorted
    order of the keys, which the wrapper names again."""
    spec = tf.TensorSpec((1, *graph.input_shape[1:]), tf.float32, name="image")
    single_image = tf.function(lambda image: graph(image, training=False))
    frozen = _compat.freeze_variables(single_image.get_concrete_function(spec))
    names = sorted(graph.output)
    named = tf.function(lambda image: dict(zip(names, frozen(image))), input_signature=[spec])
    function = named.get_concrete_function()
    return tf.lite.TFLiteConverter.from_concrete_functions([function], tf.Module()).convert()


def export_feature_extractor(model, output_dir, endpoints, *, saved_model=True):
    """Writes `output_dir/features_float32.tflite` and (with `saved_model`)
    `output_dir/features_saved_model`, each whole or not at all; returns the paths written."""
    graph = feature_graph(model, list(endpoints))
    check_writable(output_dir)
    saved_model_path, tflite_path = os.path.join(output_dir, SAVED_MODEL), os.path.join(output_dir, TFLITE)

    def write_saved_model(path):
        archive = keras.export.ExportArchive()
        archive.track(graph)
        archive.add_endpoint(SIGNATURE, serving_function(graph))
        archive.write_out(path, verbose=False)

    write_bytes_atomically(tflite_path, tflite_bytes(graph))
    if not saved_model:
        return [tflite_path]
    write_directory_atomically(saved_model_path, write_saved_model)
    return [tflite_path, saved_model_path]
