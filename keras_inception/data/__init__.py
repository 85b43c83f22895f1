"""Input pipelines: sources (offline digits, arrays, TFDS), preprocessing, tf.data batches."""

from keras_inception.data.pipeline import for_model, make_dataset
from keras_inception.data.sources import digits, from_arrays, from_tfds

__all__ = ["digits", "for_model", "from_arrays", "from_tfds", "make_dataset"]
