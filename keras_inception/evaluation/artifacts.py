"""Every kind of file a run leaves, as one thing that scores images: a `.keras` file, a
SavedModel folder, or a `.tflite` file.

    artifact = open_artifact("saved_models/googlenet_bn_digits/model_int8.tflite")
    scores, labels = artifact.predict(test_split)  # test_split: (image, label) before preprocessing

Each artifact sees the images the way it is served: the `.keras` and `.tflite` files get the
evaluation view (`preprocessing.evaluation_view`) at their input size, and our SavedModel gets
the whole image as float RGB, since its `serve_float` signature crops and resizes itself.
"""

import glob
import os

import numpy as np
import tensorflow as tf

from keras_inception.data import preprocessing
from keras_inception.evaluation import protocols
from keras_inception.loading import load_model
from keras_inception.models.multi_output import inference_model
from keras_inception.validation import UsageError

# The SavedModel signature whose input is the whole float image (see export/savedmodel.py).
FLOAT_SIGNATURE = "serve_float"
# Output names our SavedModel signatures give the scores under.
SCORE_OUTPUTS = ("probabilities", "logits")


class Artifact:
    """One model file; `predict(dataset)` scores a dataset of (image, label)."""

    kind = None

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(os.path.normpath(path))

    def view(self, image):
        """One source image as this artifact's input."""
        raise NotImplementedError

    def scores(self, images):
        """Scores (N, classes) for a batch of inputs, as NumPy."""
        raise NotImplementedError

    def batch_size(self, dataset, batch_size):
        return batch_size

    def predict(self, dataset, *, batch_size=64, protocol=None, resize_size=None):
        """(scores (N, classes), labels (N,)) over a dataset of (image, label): on the view the
        artifact is served on, or averaged over a test protocol's views (`protocols`)."""
        if protocol is None:
            view, score = self.view, self.scores
            batch_size = self.batch_size(dataset, batch_size)
        else:
            view, score = self.protocol_scorer(protocol, resize_size)
            # A protocol cuts whole images, which batch together only when they share a size.
            batch_size = batch_size if dataset.element_spec[0].shape.is_fully_defined() else 1
        batches = (dataset.map(lambda image, label: (view(image), label), num_parallel_calls=tf.data.AUTOTUNE)
                   .batch(batch_size).prefetch(tf.data.AUTOTUNE))
        scores, labels = [], []
        for images, batch_labels in batches.as_numpy_iterator():
            scores.append(np.asarray(score(images), dtype=np.float32))
            labels.append(batch_labels)
        if not scores:
            raise UsageError(f"The dataset has no images to evaluate {self.name} on.")
        return np.concatenate(scores), np.concatenate(labels).astype(np.int64)


class SizedArtifact(Artifact):
    """An artifact with a fixed square input: it gets the evaluation view at that size, or a
    protocol's crops of that size from the whole image."""

    def __init__(self, path, input_shape):
        super().__init__(path)
        self.size, _, self.channels = input_shape

    def view(self, image):
        return preprocessing.evaluation_view(image, self.size, self.channels)

    def whole_image(self, image):
        """The image a protocol cuts its views from: float, the file's channels, its own size."""
        return preprocessing.to_float(image, self.channels)

    def protocol_scorer(self, protocol, resize_size):
        protocols.check_protocol(protocol)
        if protocol == "vgg_dense":
            raise UsageError(f"vgg_dense runs .keras files, whose dense layers become convolutions; {self.name} is "
                             f"a {self.kind} file. Received: protocol={protocol!r}")
        return (self.whole_image,
                lambda images: protocols.protocol_scores(self.scores, images, protocol, self.size, resize_size))


class KerasArtifact(SizedArtifact):
    kind = "keras"

    def __init__(self, path):
        self.model = inference_model(load_model(path, compile=False))
        super().__init__(path, self.model.input_shape[1:])

    def scores(self, images):
        return self.model(images, training=False)

    def protocol_scorer(self, protocol, resize_size):
        if protocol != "vgg_dense":
            return super().protocol_scorer(protocol, resize_size)
        dense = protocols.fully_convolutional(self.model)
        return (self.whole_image,
                lambda images: protocols.vgg_dense_scores(dense, images, protocols.vgg_scales(self.size)))


class TFLiteArtifact(SizedArtifact):
    kind = "tflite"

    def __init__(self, path, threads=None):
        from keras_inception.export.verify import tflite_input_shape, tflite_runner

        super().__init__(path, tflite_input_shape(path))
        self._run = tflite_runner(path, threads=threads)

    def scores(self, images):
        return self._run(images)


class SavedModelArtifact(Artifact):
    kind = "saved_model"

    def __init__(self, path):
        super().__init__(path)
        try:
            loaded = tf.saved_model.load(path)
        except (OSError, tf.errors.OpError, ValueError) as error:  # a damaged folder, or one cut short
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UsageError(f"{path} is not a SavedModel TensorFlow loads ({first_line:.200}). "
                             f"Received: model={path!r}") from None
        if FLOAT_SIGNATURE not in loaded.signatures:
            raise UsageError(
                f"{path} has no {FLOAT_SIGNATURE!r} signature (float32 images in [0, 1], as "
                f"scripts/export.py writes); its signatures: {sorted(loaded.signatures)}. Received: model={path!r}")
        self._loaded = loaded  # the signature's variables live as long as this object
        self._serve = loaded.signatures[FLOAT_SIGNATURE]

    def view(self, image):
        return preprocessing.to_float(image, 3)

    def batch_size(self, dataset, batch_size):
        # Images of different sizes cannot share a batch; the signature takes any size.
        return batch_size if dataset.element_spec[0].shape.is_fully_defined() else 1

    def protocol_scorer(self, protocol, resize_size):
        protocols.check_protocol(protocol)
        raise UsageError(f"{self.name} is a SavedModel, which crops and resizes images itself, so it takes no "
                         f"protocol; the protocols run .keras and .tflite files (name them in --model). "
                         f"Received: protocol={protocol!r}")

    def scores(self, images):
        outputs = self._serve(images=tf.constant(images))
        return next(outputs[name] for name in SCORE_OUTPUTS if name in outputs).numpy()


def artifact_kind(path):
    """"keras", "saved_model" or "tflite" from the path; a one-line ValueError otherwise."""
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, "saved_model.pb")):
        return "saved_model"
    if path.endswith(".keras"):
        return "keras"
    if path.endswith(".tflite"):
        return "tflite"
    raise UsageError(f"Expected a .keras file, a SavedModel folder (holding saved_model.pb) or a .tflite "
                     f"file. Received: model={path!r}")


def open_artifact(path, *, threads=None):
    """The `Artifact` for `path`, loaded; `threads`: the LiteRT interpreter's, for .tflite."""
    kind = artifact_kind(path)
    if kind != "saved_model" and not os.path.isfile(path):
        raise UsageError(f"The model file does not exist. Received: model={path!r}")
    if kind == "keras":
        return KerasArtifact(path)
    if kind == "tflite":
        return TFLiteArtifact(path, threads=threads)
    return SavedModelArtifact(path)


def run_artifacts(run_dir):
    """The artifacts a run directory holds, in the order to compare them: the Keras model
    (the export's inference.keras, else model.keras), the SavedModel, then each .tflite."""
    keras_file = next((os.path.join(run_dir, name) for name in ("inference.keras", "model.keras")
                       if os.path.isfile(os.path.join(run_dir, name))), None)
    saved_model = os.path.join(run_dir, "saved_model")
    found = [keras_file] if keras_file else []
    if os.path.isfile(os.path.join(saved_model, "saved_model.pb")):
        found.append(saved_model)
    found += sorted(glob.glob(os.path.join(glob.escape(run_dir), "*.tflite")))
    if not found:
        raise UsageError(f"{run_dir} holds no model to evaluate (.keras, saved_model/ or .tflite). "
                         f"Received: model={run_dir!r}")
    return found
