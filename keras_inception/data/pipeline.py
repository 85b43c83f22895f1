"""tf.data pipelines that feed any registered net: decode -> preprocess/augment -> batch.

Labels stay one integer per image: the package's multi-output models give that label to
every head themselves (`AuxiliaryHeadsModel`), so `model.fit(train, validation_data=val)`
works with these datasets and with a user's own.
"""

import tensorflow as tf

from keras_inception.data import preprocessing
from keras_inception.validation import UsageError, check_choice, check_integer

AUGMENTATIONS = ("auto", "inception", "cifar", "none")


def make_dataset(
    dataset,
    *,
    image_size,
    channels=3,
    training,
    batch_size=64,
    augmentation="auto",
    flip=True,
    shuffle_buffer=10_000,
    cache=True,
    deterministic=False,
    seed=None,
    drop_remainder=False,
):
    """Turns a dataset of (image, label) into batches a net trains or evaluates on.

    Args:
        dataset: `tf.data.Dataset` of (image, label), e.g. from `keras_inception.data.sources`.
        image_size: the net's input height and width.
        channels: the net's input channels (1 or 3); grayscale and RGB are converted.
        training: shuffle and augment (True), or the deterministic evaluation view (False).
        batch_size: images per batch.
        augmentation: "inception" (random-size crops, flips, colour), "cifar" (pad, crop,
            flip), "none", or "auto": "cifar" up to 64x64, "inception" above.
        flip: horizontal flips in training (off for data whose meaning flips, like digits).
        shuffle_buffer: shuffle buffer size in training.
        cache: cache the decoded source in memory before augmentation.
        deterministic: keep the element order fixed run to run (slower parallel map).
        seed: seed of the shuffle and the augmentation; each epoch still differs.
        drop_remainder: leave out a last, smaller batch (every batch then shards evenly over
            several processes).

    Returns:
        A batched, prefetched `tf.data.Dataset` of (float32 images in [0, 1], int32 labels).
    """
    check_choice("augmentation", augmentation, AUGMENTATIONS)
    check_integer("image_size", image_size, 1)
    check_integer("batch_size", batch_size, 1)
    check_choice("channels", channels, (1, 3))
    if augmentation == "auto":
        augmentation = "cifar" if image_size <= preprocessing.SMALL_INPUT_MAX else "inception"

    def evaluation_view(image, label):
        return preprocessing.evaluation_view(image, image_size, channels), tf.cast(label, tf.int32)

    def training_view(example, seed):
        image, label = example
        image = preprocessing.to_float(image, channels)
        if augmentation == "inception":
            image = preprocessing.inception_augment(image, image_size, seed, flip=flip)
        elif augmentation == "cifar":
            image = preprocessing.cifar_augment(image, image_size, seed, flip=flip)
        else:
            image = tf.image.resize(image, (image_size, image_size))
        # A random crop loses the static shape; with an unknown channel count the training
        # step would be traced for any input, and run slower.
        image = tf.ensure_shape(image, (image_size, image_size, channels))
        return image, tf.cast(label, tf.int32)

    options = tf.data.Options()
    options.deterministic = deterministic
    dataset = dataset.with_options(options)
    if cache:
        dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        # One stateless-op seed per image, drawn anew every epoch (see preprocessing).
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds))
        dataset = dataset.map(training_view, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(evaluation_view, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def for_model(model, dataset, *, training, **kwargs):
    """`make_dataset` with the image size and channels that `model` expects."""
    height, width, channels = model.input_shape[1:]
    if height is None or height != width:
        raise UsageError(
            "The model must take square images of a fixed size. "
            f"Received: input_shape={model.input_shape[1:]}"
        )
    return make_dataset(dataset, image_size=height, channels=channels, training=training, **kwargs)
