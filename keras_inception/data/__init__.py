"""Input pipelines: sources (offline digits, arrays, TFDS, image folders), preprocessing,
tf.data batches."""

from keras_inception.data.folder import FolderSource, from_folder
from keras_inception.data.pipeline import for_model, make_dataset
from keras_inception.data.sources import digits, from_arrays, from_tfds
from keras_inception.data.splits import Splits, image_size, load_splits, splits_of_run, training_flip

__all__ = [
    "FolderSource", "Splits", "digits", "for_model", "from_arrays", "from_folder", "from_tfds",
    "image_size", "load_splits", "make_dataset", "splits_of_run", "training_flip",
]
