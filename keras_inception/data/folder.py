"""A folder of images, one sub-folder per class, as (image, label) with unreadable files skipped.

    flowers/
      daisy/  001.jpg 002.png ...
      rose/   ...

Classes are the sub-folder names in sorted order (keras.utils.image_dataset_from_directory's
convention). Files that cannot be decoded (truncated, zero bytes, not an image) are found
before training by decoding every file once, then skipped, counted and named in a warning:
never a crash halfway through an epoch, never a silent loss. Files are decoded by their content,
not their extension (a PNG named .jpg is read as PNG), and every image becomes 3-channel RGB:
grayscale is repeated, CMYK JPEGs are converted (by TensorFlow's JPEG decoder).
"""

import os
import warnings
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from keras_inception.data.image_files import MAX_IMAGE_PIXELS, file_problem, pixel_problem
from keras_inception.validation import UsageError, check_integer, check_number

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


class FolderSource(NamedTuple):
    """`splits`: {"train", and "validation" / "test" when their fractions are above 0: a
    `tf.data.Dataset` of (uint8 (H, W, 3) image, int32 label)}; `sizes`: images per split;
    `class_names` in label order; `skipped`: the files skipped as unreadable."""

    splits: dict
    sizes: dict
    class_names: tuple
    skipped: tuple


def decode_file(path):
    """An image file -> uint8 (H, W, 3). JPEG, PNG, GIF (first frame) and BMP, sniffed from
    the content rather than the extension; grayscale becomes RGB."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image.set_shape((None, None, 3))
    return image


def list_folder(directory):
    """(paths, labels, class_names, refused) of the image files under `directory`/<class>/;
    `refused`: the listed files that are no regular image files to read, each skipped with a
    warning that says why."""
    if not os.path.isdir(directory):
        raise UsageError(f"The image folder does not exist. Received: directory={directory!r}")
    class_names = sorted(
        entry.name for entry in os.scandir(directory) if entry.is_dir() and not entry.name.startswith(".")
    )
    if not class_names:
        raise UsageError(
            f"The image folder must hold one sub-folder per class. Received: directory={directory!r}"
        )
    paths, labels, empty, refused, problems = [], [], [], [], {}
    for label, name in enumerate(class_names):
        class_dir = os.path.join(directory, name)
        files = sorted(
            os.path.join(root, file)
            for root, _, names in os.walk(class_dir)
            for file in names
            if file.lower().endswith(IMAGE_EXTENSIONS)
        )
        problems.update({path: _listing_problem(path) for path in files})
        refused += [path for path in files if problems[path]]
        files = [path for path in files if not problems[path]]
        if not files:
            empty.append(name)
        paths += files
        labels += [label] * len(files)
    if refused:
        named = ", ".join(f"{_shown(path)} ({problems[path]})" for path in refused)
        warnings.warn(f"Image folder {directory}: skipped {len(refused)} files that are no image files to "
                      f"read: {named}")
    if empty:
        # The class keeps its label so that label ids do not depend on which folders are empty.
        warnings.warn(f"Image folder {directory}: no images in class folder(s) {', '.join(empty)}.")
    return paths, np.asarray(labels, np.int32), tuple(class_names), [_shown(path) for path in refused]


def _is_utf8(path):
    try:
        path.encode("utf-8")
        return True
    except UnicodeEncodeError:  # bytes that are no UTF-8, kept by Python as lone surrogates
        return False


def _shown(path):
    """The path as text that prints: a name that is not UTF-8 with its bytes escaped."""
    return path if _is_utf8(path) else ascii(path)[1:-1]


def _listing_problem(path):
    """Why a listed file is skipped before any reading: not a regular file, too large, or a
    name that is not UTF-8 (TensorFlow's file names are UTF-8 strings)."""
    return file_problem(path) if _is_utf8(path) else "its name is not UTF-8"


def unreadable_files(paths, max_pixels=MAX_IMAGE_PIXELS):
    """The paths that do not decode to a non-empty image, found by decoding each once (in
    parallel, in tf.data), and those whose header declares more than `max_pixels` pixels,
    found before decoding."""
    too_large = {path for path in paths if pixel_problem(path, max_pixels)}
    paths = [path for path in paths if path not in too_large]
    if not paths:
        return sorted(too_large)

    def check(path):
        shape = tf.shape(decode_file(path))
        return path, tf.reduce_prod(shape)

    decoded = (
        tf.data.Dataset.from_tensor_slices(paths)
        .map(check, num_parallel_calls=tf.data.AUTOTUNE)
        .ignore_errors()
    )
    readable = {path.decode() for path, size in decoded.as_numpy_iterator() if size > 0}
    return sorted(too_large | {path for path in paths if path not in readable})


def split_indices(labels, fractions, seed):
    """{split name: indices} for a split stratified by class and fixed by `seed`.

    `fractions` maps split names to shares, e.g. {"test": 0.2, "validation": 0.1}; per class,
    a seeded shuffle gives each split its share in that order and "train" the rest.
    """
    rng = np.random.default_rng(seed)
    chosen = {name: [] for name in ("train", *fractions)}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        start = 0
        for name, fraction in fractions.items():
            count = int(round(len(members) * fraction))
            chosen[name].append(members[start : start + count])
            start += count
        chosen["train"].append(members[start:])
    return {name: np.sort(np.concatenate(parts)) if parts else np.zeros([0], int)
            for name, parts in chosen.items()}


def from_folder(directory, *, validation_fraction=0.0, test_fraction=0.0, seed=0, verify=True,
                max_image_pixels=MAX_IMAGE_PIXELS):
    """A folder of class sub-folders as a `FolderSource`.

    Args:
        directory: the folder; each sub-folder is a class.
        validation_fraction, test_fraction: shares of each class held out as "validation"
            and "test" (none when 0); the rest is "train".
        seed: fixes the split.
        verify: decode every file once up front and skip, count and name the unreadable
            ones. With False (for folders too large to scan) unreadable files are still
            skipped in the pipeline, each with a logged warning, but not counted up front.
        max_image_pixels: with `verify`, files whose header declares more pixels are skipped
            as unreadable before they are decoded.

    Whatever `verify`, only regular files of at most `image_files.MAX_IMAGE_BYTES` with UTF-8
    names are listed; the others (a named pipe, a link to `/dev/zero`) are skipped and named in
    a warning.
    """
    check_integer("max_image_pixels", max_image_pixels, 1)
    check_number("validation_fraction", validation_fraction, "in [0, 1)")
    check_number("test_fraction", test_fraction, "in [0, 1)")
    if validation_fraction + test_fraction >= 1:
        raise UsageError(
            "`validation_fraction + test_fraction` must be below 1. Received: "
            f"validation_fraction={validation_fraction!r}, test_fraction={test_fraction!r}"
        )
    paths, labels, class_names, refused = list_folder(directory)
    skipped = unreadable_files(paths, max_image_pixels) if verify else []
    if skipped:
        warnings.warn(
            f"Image folder {directory}: skipped {len(skipped)} of {len(paths)} files that do not "
            f"decode as images: {', '.join(skipped)}"
        )
        bad = set(skipped)
        keep = np.array([path not in bad for path in paths], bool)
        paths, labels = [path for path in paths if path not in bad], labels[keep]
    fractions = {name: fraction for name, fraction in
                 (("test", test_fraction), ("validation", validation_fraction)) if fraction > 0}
    splits, sizes = {}, {}
    for name, indices in split_indices(labels, fractions, seed).items():
        dataset = tf.data.Dataset.from_tensor_slices(
            (tf.constant([paths[i] for i in indices], tf.string), labels[indices])
        )
        dataset = dataset.map(lambda path, label: (decode_file(path), label),
                              num_parallel_calls=tf.data.AUTOTUNE)
        # A file that changed or broke after the scan is dropped with a logged warning.
        splits[name] = dataset.ignore_errors(log_warning=True)
        sizes[name] = len(indices)
    return FolderSource(splits, sizes, class_names, tuple(refused + skipped))
