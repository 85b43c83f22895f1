"""SavedModel for serving: the model's own preprocessing inside named signatures.

Signatures (list them with `saved_model_cli show --dir DIR --all`):

- `serving_default(images)`: uint8 images (N, H, W, 3) of any size, as decoded from files.
- `serve_float(images)`: float32 images (N, H, W, 3) in [0, 1], any size.

Both apply the evaluation view the net was validated on (`preprocessing.evaluation_view`:
central crop, resize, channel conversion) and return `probabilities` (or `logits`) and
`class_ids`, so a client needs nothing from this package.
"""

import keras
import tensorflow as tf

from keras_inception.data import preprocessing

# The serving signatures (preprocessing inside) by the image dtype they take.
SERVING_SIGNATURES = {"serving_default": tf.uint8, "serve_float": tf.float32}


def write_saved_model(graph, path, *, logits=False):
    """Writes `graph` (from `export_graph`) as a SavedModel directory at `path`."""
    size, channels = graph.input_shape[1], graph.input_shape[-1]
    output_name = "logits" if logits else "probabilities"

    def serve(images):
        scores = graph(preprocessing.evaluation_view(images, size, channels), training=False)
        return {output_name: scores, "class_ids": tf.argmax(scores, axis=-1, output_type=tf.int32)}

    archive = keras.export.ExportArchive()
    archive.track(graph)
    for name, dtype in SERVING_SIGNATURES.items():
        archive.add_endpoint(name, serve, input_signature=[tf.TensorSpec((None, None, None, 3), dtype, name="images")])
    archive.write_out(path, verbose=False)
