"""The class names of an artifact's outputs: those the file carries (a converted checkpoint's
`.keras`, an exported `.tflite`'s label file), else those of the training run's dataset, else
ImageNet's for a 1000-class model, else the class indices."""

from keras_inception import data
from keras_inception.pretrained.classes import imagenet_classes, read_class_names
from keras_inception.runs import run_settings
from keras_inception.validation import UsageError


def carried_class_names(model_path):
    """The names a `.keras` file or a `.tflite` with metadata carries, or None."""
    if model_path.endswith(".keras"):
        return read_class_names(model_path)
    if model_path.endswith(".tflite"):
        from keras_inception.export.metadata import read_metadata  # MediaPipe's schema, only here

        metadata = read_metadata(model_path)
        return metadata and metadata["labels"]
    return None


def class_names_for(model_path, classes, *, dataset=None, data_dir=None):
    """The names of an artifact's `classes` outputs (see the module docstring); None for
    ImageNet's, which `decode_predictions` gives with their WordNet IDs."""
    imagenet_names = tuple(name for _, name in imagenet_classes())
    carried = None if dataset else carried_class_names(model_path)
    if carried is not None and len(carried) == classes:
        return None if carried == imagenet_names else carried
    run = run_settings(model_path)
    if run or dataset:
        names = data.splits_of_run(run, dataset=dataset, data_dir=data_dir).class_names
    elif classes == len(imagenet_classes()):
        return None  # decode_predictions' own ImageNet names and WordNet IDs
    else:
        names = tuple(str(index) for index in range(classes))
    if len(names) != classes:
        raise UsageError(f"{model_path} scores {classes} classes; its dataset names {len(names)}. "
                         f"Received: model={model_path!r}")
    return names


def label_names(model_path, classes, *, dataset=None, data_dir=None):
    """`class_names_for`, with ImageNet's short names spelled out: a label file's lines."""
    names = class_names_for(model_path, classes, dataset=dataset, data_dir=data_dir)
    return names if names is not None else tuple(name for _, name in imagenet_classes())
