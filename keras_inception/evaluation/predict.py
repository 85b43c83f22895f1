"""Top classes, with names, for image files, from any artifact.

    for path, top in predict_files("saved_models/googlenet_bn_digits/model_int8.tflite", ["seven.png"]):
        print(path, top)  # [(class id, class name, score), ...], best first

Each image goes through the artifact's own view (`artifacts.Artifact.view`): the central crop
resized to its input, as it was evaluated. The names are `labels.class_names_for`'s: those the
file carries, else those of the training run's dataset, else ImageNet's for a 1000-class model.
"""

import os

import numpy as np
import tensorflow as tf

from keras_inception.data.image_files import MAX_IMAGE_PIXELS, file_problem, pixel_problem
from keras_inception.data.preprocessing import evaluation_view
from keras_inception.evaluation.artifacts import artifact_kind, open_artifact
from keras_inception.files import check_writable, write_bytes_atomically
from keras_inception.labels import class_names_for
from keras_inception.loading import load_model
from keras_inception.pretrained.classes import decode_predictions
from keras_inception.validation import UsageError, check_integer


def read_image(path, max_pixels=MAX_IMAGE_PIXELS):
    """An image file (PNG, JPEG, GIF, BMP) as uint8 RGB (H, W, 3); a one-line error otherwise,
    and for an image that declares more than `max_pixels` pixels (before decoding it)."""
    if not os.path.lexists(path):
        raise UsageError(f"The image file does not exist. Received: image={path!r}")
    problem = file_problem(path)
    if problem:
        raise UsageError(f"{path} {problem}. Received: image={path!r}")
    problem = pixel_problem(path, max_pixels)
    if problem:
        raise UsageError(f"{path} {problem} (a decompression bomb, or raise the limit: --max_image_pixels). "
                         f"Received: image={path!r}")
    try:
        return tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
        raise UsageError(f"{path} is not an image TensorFlow decodes (PNG, JPEG, GIF or BMP). "
                         f"Received: image={path!r}") from None


def predict_files(model_path, image_paths, *, top=5, dataset=None, data_dir=None, threads=None,
                  max_image_pixels=MAX_IMAGE_PIXELS):
    """[(image path, [(class id, class name, score), ...]), ...]: each image's `top` classes.
    An image above `max_image_pixels` pixels is refused before it is decoded."""
    check_integer("top", top, 1)
    check_integer("max_image_pixels", max_image_pixels, 1)
    # Every file checked before the model loads.
    images = [read_image(path, max_image_pixels) for path in image_paths]
    artifact = open_artifact(model_path, threads=threads)
    scores = np.concatenate([np.asarray(artifact.scores(artifact.view(tf.constant(image))[None].numpy()))
                             for image in images])
    names = class_names_for(model_path, scores.shape[-1], dataset=dataset, data_dir=data_dir)
    return list(zip(image_paths, decode_predictions(scores, top=min(top, scores.shape[-1]), class_names=names)))


def grad_cam_files(model_path, image_paths, folder, *, head="main", layer=None, max_image_pixels=MAX_IMAGE_PIXELS):
    """Writes each image's Grad-CAM overlay (its view, heat maps of the head's top class laid over
    it) to `folder/<image name>.<head>.png`; returns the paths written, one per image. Gradients
    need the Keras model: a SavedModel or a `.tflite` file is refused before any work."""
    from keras_inception.explain import grad_cam, overlay

    if artifact_kind(model_path) != "keras":
        raise UsageError(f"Grad-CAM needs a .keras file's gradients; {model_path} is a {artifact_kind(model_path)} "
                         f"artifact. Received: model={model_path!r}")
    if not os.path.isfile(model_path):
        raise UsageError(f"The model file does not exist. Received: model={model_path!r}")
    check_writable(folder)
    images = [read_image(path, max_image_pixels) for path in image_paths]
    model = load_model(model_path, compile=False)
    size, _, channels = model.input_shape[1:]
    written = []
    for path, image in zip(image_paths, images):
        pixels = evaluation_view(tf.constant(image), size, channels)[None].numpy()  # as predict_files sees it
        heat = grad_cam(model, pixels, head=head, layer=layer)[0]
        target = os.path.join(folder, f"{os.path.splitext(os.path.basename(path))[0]}.{head}.png")
        png = tf.io.encode_png(overlay(pixels[0], heat)).numpy()
        write_bytes_atomically(target, png)
        written.append(target)
    return written
