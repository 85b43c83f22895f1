"""Class names offline: the 1000 ImageNet classes shipped with the package, `decode_predictions`
for them or any dataset's names, and names carried inside a `.keras` file.

A `.keras` file is a zip archive; Keras reads only its own members, so a `class_names.json`
beside them travels with the model and plain Keras still loads it.
"""

import functools
import json
import zipfile
from importlib import resources

import numpy as np

from keras_inception.validation import UsageError, check_integer

IMAGENET_CLASSES_FILE = "imagenet_classes.txt"
CLASS_NAMES_MEMBER = "class_names.json"


@functools.cache
def imagenet_classes():
    """((WordNet ID, short name), ...) of the 1000 ImageNet classes, in the checkpoints' order."""
    text = resources.files("keras_inception.pretrained").joinpath(IMAGENET_CLASSES_FILE).read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return tuple((wnid, name) for wnid, name in rows)


def decode_predictions(scores, top=5, class_names=None):
    """The `top` classes of each row of `scores` (N, classes), best first, as lists of
    (class id, class name, score): keras.applications' form. The ids and names are ImageNet's
    (WordNet IDs) for 1000 classes unless `class_names` names them (ids are then the indices)."""
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise UsageError(f"`scores` must be (images, classes). Received: scores.shape={scores.shape}")
    check_integer("top", top, 1)
    if class_names is None:
        if scores.shape[1] != len(imagenet_classes()):
            raise UsageError(f"Scores of {scores.shape[1]} classes need `class_names`; only ImageNet's 1000 "
                             f"are known without them. Received: scores.shape={scores.shape}")
        labels = imagenet_classes()
    else:
        if len(class_names) != scores.shape[1]:
            raise UsageError(f"`class_names` must name each of the {scores.shape[1]} classes. "
                             f"Received: {len(class_names)} names")
        labels = [(str(index), str(name)) for index, name in enumerate(class_names)]
    decoded = []
    for row in scores:
        best = np.argsort(-row, kind="stable")[:top]
        decoded.append([(labels[index][0], labels[index][1], float(row[index])) for index in best])
    return decoded


def add_class_names(keras_path, names):
    """Writes `names` into the `.keras` archive at `keras_path`, as `class_names.json`."""
    with zipfile.ZipFile(keras_path, "a") as archive:
        archive.writestr(CLASS_NAMES_MEMBER, json.dumps([str(name) for name in names]))


def read_class_names(keras_path):
    """The class names a `.keras` file carries, or None."""
    if not zipfile.is_zipfile(keras_path):
        return None
    with zipfile.ZipFile(keras_path) as archive:
        if CLASS_NAMES_MEMBER not in archive.namelist():
            return None
        try:
            names = json.loads(archive.read(CLASS_NAMES_MEMBER))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        return None
    return tuple(names)
