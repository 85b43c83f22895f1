"""Where images come from: the offline digits, in-memory arrays, TFDS datasets.

Every source gives a `tf.data.Dataset` of (image, label): an image is uint8 (H, W, C) or
float (H, W, C), a label an integer class id.
"""

import numpy as np
import tensorflow as tf

from keras_inception.extras import require
from keras_inception.validation import UsageError, check_choice, check_number

DIGITS_CLASSES = 10


def digits(split="train", *, test_fraction=0.2, seed=0):
    """scikit-learn's bundled handwritten digits (1,797 images, 8x8, 10 classes), offline.

    Returns (images uint8 (N, 8, 8, 1) in 0..255, labels int32 (N,)). The train/test split
    is stratified and fixed by `seed`, so "test" is never seen in training.
    """
    sklearn_datasets = require("sklearn.datasets", "train")
    train_test_split = require("sklearn.model_selection", "train").train_test_split

    check_choice("split", split, ("train", "test", "all"))
    check_number("test_fraction", test_fraction, "in (0, 1)")
    data = sklearn_datasets.load_digits()
    # The pixel values are 0..16.
    images = np.round(data.images * (255.0 / 16.0)).astype(np.uint8)[..., np.newaxis]
    labels = data.target.astype(np.int32)
    if split == "all":
        return images, labels
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=test_fraction, random_state=seed, stratify=labels
    )
    return (train_x, train_y) if split == "train" else (test_x, test_y)


def from_arrays(images, labels):
    """A dataset of (image, label) from NumPy arrays: images (N, H, W) or (N, H, W, C)."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise UsageError(
            f"`images` must be (N, H, W) or (N, H, W, C). Received: images.shape={images.shape}"
        )
    if labels.shape != (len(images),):
        raise UsageError(
            f"`labels` must hold one integer per image ({len(images)}). "
            f"Received: labels.shape={labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise UsageError(f"`labels` must be integer class ids. Received: labels.dtype={labels.dtype}")
    return tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))


def from_tfds(name, split, *, data_dir=None, download=False):
    """A TFDS dataset as (image, label), with its class count.

    Nothing is downloaded unless `download=True`: prepare the data once where there is a
    network (`tfds build NAME --data_dir=...`) and point `data_dir` at it.

    Returns:
        (dataset, num_classes)
    """
    import tensorflow_datasets as tfds

    try:
        dataset, info = tfds.load(
            name, split=split, data_dir=data_dir, as_supervised=True, with_info=True,
            download=download,
        )
    except (tfds.core.registered.DatasetNotFoundError, ValueError) as error:
        raise UsageError(
            f"TFDS dataset {name!r} (split {split!r}) could not be loaded from data_dir="
            f"{data_dir!r} without downloading: {str(error).splitlines()[0]} "
            f"Received: name={name!r}"
        ) from None
    except AssertionError as error:  # tfds asserts the prepared data exists when download=False
        raise UsageError(
            f"TFDS dataset {name!r} is not prepared in data_dir={data_dir!r} and downloads are "
            f"off ({str(error).splitlines()[0]}). Received: name={name!r}"
        ) from None
    return dataset, info.features["label"].num_classes


def tfds_class_names(name, data_dir, num_classes):
    """TFDS's label names for `name`, or "0", "1", ... where its label feature has none."""
    import tensorflow_datasets as tfds

    names = tfds.builder(name, data_dir=data_dir).info.features["label"].names
    return tuple(names) if names else tuple(str(label) for label in range(num_classes))
