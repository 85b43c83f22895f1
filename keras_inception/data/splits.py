"""A dataset named by the user ("digits", a TFDS name, or a folder) as train / validation /
test sources, the form the training job needs.

The test split is never trained on and never used to choose a checkpoint: the best epoch is
picked on "validation", carved out of the training data when the dataset has none.
"""

import os
from typing import NamedTuple

import tensorflow as tf

from keras_inception.data import folder, sources
from keras_inception.validation import UsageError, check_number


# The `load_splits` arguments that a training run records and a later job must repeat.
SPLIT_SETTINGS = ("validation_fraction", "test_fraction", "seed", "train_split", "validation_split", "test_split")


class Splits(NamedTuple):
    """(image, label) datasets before preprocessing; `sizes` counts images per split;
    `class_names` names the labels in order ("0"-"9" for the digits, the folder names, TFDS's
    label names)."""

    name: str
    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    sizes: dict
    num_classes: int
    channels: int
    class_names: tuple


def _is_folder(dataset):
    return os.sep in dataset or dataset.startswith(".") or os.path.isdir(dataset)


def load_splits(dataset="digits", *, data_dir=None, validation_fraction=0.1, test_fraction=0.2,
                seed=0, train_split="train[:90%]", validation_split="train[90%:]",
                test_split="test"):
    """Loads `dataset` as `Splits`.

    Args:
        dataset: "digits" (scikit-learn's, offline: 1,437 train and 360 test images), a folder
            of class sub-folders, or a TFDS name read from `data_dir` (never downloaded).
            A folder holding `train/` and `test/` uses them; any other folder is split by class.
        validation_fraction: share of the training data held out for validation (digits and
            folders).
        test_fraction: share held out for testing (folders without `train/` and `test/`).
        seed: fixes those splits.
        train_split, validation_split, test_split: TFDS split strings.
    """
    check_number("validation_fraction", validation_fraction, "in (0, 1)")
    if dataset == "digits":
        splits = _digits(validation_fraction, seed)
    elif _is_folder(dataset):
        splits = _folder(dataset, validation_fraction, test_fraction, seed)
    else:
        splits = _tfds(dataset, data_dir, train_split, validation_split, test_split)
    _check_every_split_has_images(splits, dataset)
    return splits


def _check_every_split_has_images(splits, dataset):
    # A negative size is TFDS's "unknown", which is not an empty split.
    if all(count != 0 for count in splits.sizes.values()):
        return
    counts = ", ".join(f"{name} {count}" for name, count in splits.sizes.items())
    raise UsageError(f"The dataset has too few usable images to fill its splits ({counts}; each "
                     f"needs at least one). Received: dataset={dataset!r}")


def splits_of_run(run, *, dataset=None, data_dir=None):
    """The splits a training run used, from its `run.json` settings (`run`: a dict, empty for
    a model that no run of ours trained), so that its test split is the one it held out;
    `dataset` and `data_dir` override the run's (default: the digits)."""
    settings = {key: run[key] for key in SPLIT_SETTINGS if key in run}
    return load_splits(dataset or run.get("dataset", "digits"), data_dir=data_dir or run.get("data_dir"),
                       **settings)


def training_flip(splits, flip=None):
    """Whether training flips `splits`' images: `flip`, or where None, on except for the digits,
    whose meaning flips."""
    return flip if flip is not None else splits.name != "digits"


def image_size(splits):
    """(height, width) of the training images when every image has the same size, else None."""
    height, width = splits.train.element_spec[0].shape[:2]
    return (height, width) if height and width else None


def _digits(validation_fraction, seed):
    train_x, train_y = sources.digits("train")
    test_x, test_y = sources.digits("test")
    parts = folder.split_indices(train_y, {"validation": validation_fraction}, seed)
    train, validation = parts["train"], parts["validation"]
    return Splits(
        "digits",
        sources.from_arrays(train_x[train], train_y[train]),
        sources.from_arrays(train_x[validation], train_y[validation]),
        sources.from_arrays(test_x, test_y),
        {"train": len(train), "validation": len(validation), "test": len(test_y)},
        sources.DIGITS_CLASSES,
        channels=1,
        class_names=tuple(str(digit) for digit in range(sources.DIGITS_CLASSES)),
    )


def _folder(directory, validation_fraction, test_fraction, seed):
    if not os.path.isdir(directory):
        raise UsageError(f"The image folder does not exist. Received: dataset={directory!r}")
    name = os.path.basename(os.path.normpath(directory))
    train_dir, test_dir = os.path.join(directory, "train"), os.path.join(directory, "test")
    if os.path.isdir(train_dir) and os.path.isdir(test_dir):
        source = folder.from_folder(train_dir, validation_fraction=validation_fraction, seed=seed)
        test = folder.from_folder(test_dir)
        if test.class_names != source.class_names:
            raise UsageError(
                f"{test_dir} and {train_dir} must hold the same class folders. Received: "
                f"train classes {source.class_names}, test classes {test.class_names}"
            )
        test_dataset, test_size = test.splits["train"], test.sizes["train"]
    else:
        source = folder.from_folder(directory, validation_fraction=validation_fraction,
                                    test_fraction=test_fraction, seed=seed)
        test_dataset, test_size = source.splits["test"], source.sizes["test"]
    sizes = {"train": source.sizes["train"], "validation": source.sizes["validation"], "test": test_size}
    return Splits(name, source.splits["train"], source.splits["validation"], test_dataset, sizes,
                  len(source.class_names), channels=3, class_names=tuple(source.class_names))


def _tfds(name, data_dir, train_split, validation_split, test_split):
    loaded = {}
    for split_name, split in (("train", train_split), ("validation", validation_split),
                              ("test", test_split)):
        loaded[split_name], num_classes = sources.from_tfds(name, split, data_dir=data_dir)
    sizes = {key: int(dataset.cardinality()) for key, dataset in loaded.items()}
    channels = loaded["train"].element_spec[0].shape[-1] or 3
    return Splits(name, loaded["train"], loaded["validation"], loaded["test"], sizes,
                  num_classes, channels, sources.tfds_class_names(name, data_dir, num_classes))
