"""Per-image preprocessing and the papers' augmentation, in TensorFlow ops for tf.data.

Images leave here as float32 (size, size, channels) in [0, 1], the range every net in this
package is trained on.

The random views take an explicit `seed` (a shape-[2] integer tensor) and use TensorFlow's
stateless ops: stateful random ops inside `Dataset.map` can replay the same sequence for every
new iterator once a global seed is set, which would show the net the same crops every epoch.
The pipeline draws a fresh seed per image and per epoch.
"""

import tensorflow as tf

from keras_inception.validation import UsageError

# GoogLeNet (Szegedy et al. 2014, section 6): patches of 8%-100% of the image area with
# aspect ratio in [3/4, 4/3], plus photometric distortions.
CROP_AREA_RANGE = (0.08, 1.0)
CROP_ASPECT_RATIO_RANGE = (3 / 4, 4 / 3)
# Evaluation keeps the central 87.5% before resizing (the usual 224-of-256 crop).
EVAL_CROP_FRACTION = 0.875
# At or below this size the CIFAR recipe (pad and crop) applies and evaluation does not crop.
SMALL_INPUT_MAX = 64
# Small inputs: pad by 4 and crop back, the CIFAR recipe (He et al. 2015, section 4.2).
CIFAR_PADDING = 4


def to_float(image, channels):
    """uint8 or float image -> float32 in [0, 1] with `channels` channels (1 or 3)."""
    if image.dtype == tf.uint8:
        image = tf.image.convert_image_dtype(image, tf.float32)
    else:
        image = tf.cast(image, tf.float32)
    have = image.shape[-1]
    if have == channels:
        return image
    if have == 1 and channels == 3:
        return tf.image.grayscale_to_rgb(image)
    if have == 3 and channels == 1:
        return tf.image.rgb_to_grayscale(image)
    raise UsageError(f"Cannot turn {have}-channel images into {channels} channels. Received: channels={channels!r}")


def center_crop_and_resize(image, size, crop_fraction=EVAL_CROP_FRACTION):
    """Deterministic evaluation view: the central crop, resized to size x size. `image` is
    one image (H, W, C) or a batch (N, H, W, C)."""
    shape = tf.shape(image)
    height, width = shape[-3], shape[-2]
    side = tf.cast(tf.cast(tf.minimum(height, width), tf.float32) * crop_fraction, tf.int32)
    top, left = (height - side) // 2, (width - side) // 2
    image = image[..., top : top + side, left : left + side, :]
    # The antialiasing filter changes only a downscale; an upscale (a crop of at most `size`,
    # as from an image sent at the net's size) is plain bilinear interpolation either way, which
    # TensorFlow's ResizeBilinear computes several times faster than ScaleAndTranslate.
    return tf.cond(side > size, lambda: tf.image.resize(image, (size, size), antialias=True),
                   lambda: tf.image.resize(image, (size, size)))


def evaluation_view(image, size, channels):
    """The deterministic view a net is evaluated and served on: float32 in [0, 1], `channels`
    channels, the central 87.5% (all of it for small inputs) resized to size x size. One image
    or a batch; the exported serving signatures use this same function."""
    image = to_float(image, channels)
    crop = 1.0 if size <= SMALL_INPUT_MAX else EVAL_CROP_FRACTION
    return center_crop_and_resize(image, size, crop)


def _split(seed, count):
    return tf.unstack(tf.random.experimental.stateless_split(seed, num=count))


def inception_augment(image, size, seed, flip=True):
    """GoogLeNet's training view: a random-size, random-aspect crop, a flip, colour jitter."""
    crop_seed, flip_seed, colour_seed = _split(seed, 3)
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=crop_seed,
        min_object_covered=0.0,
        aspect_ratio_range=CROP_ASPECT_RATIO_RANGE,
        area_range=CROP_AREA_RANGE,
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    image = tf.slice(image, begin, crop_size)
    image = tf.image.resize(image, (size, size))
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, flip_seed)
    return photometric_distortions(image, colour_seed)


def photometric_distortions(image, seed):
    """Random brightness, contrast and, for colour images, saturation and hue."""
    brightness, contrast, saturation, hue = _split(seed, 4)
    image = tf.image.stateless_random_brightness(image, 32.0 / 255.0, brightness)
    image = tf.image.stateless_random_contrast(image, 0.5, 1.5, contrast)
    if image.shape[-1] == 3:
        image = tf.image.stateless_random_saturation(image, 0.5, 1.5, saturation)
        image = tf.image.stateless_random_hue(image, 0.2, hue)
    return tf.clip_by_value(image, 0.0, 1.0)


def cifar_augment(image, size, seed, padding=CIFAR_PADDING, flip=True):
    """Small-input training view: resize, pad by `padding`, random crop back, flip."""
    crop_seed, flip_seed = _split(seed, 2)
    image = tf.image.resize(image, (size, size))
    image = tf.image.resize_with_crop_or_pad(image, size + 2 * padding, size + 2 * padding)
    image = tf.image.stateless_random_crop(image, (size, size, image.shape[-1]), crop_seed)
    return tf.image.stateless_random_flip_left_right(image, flip_seed) if flip else image
