"""The papers' test protocols: the views of an image a net is scored on, and their scores
averaged (softmax first, as the papers do).

- `center`: the shorter side resized to `crop_size / 0.875`, the central crop (torchvision's
  evaluation);
- `ten_crop`: the same resize, then the four corners, the centre and the mirror images of those,
  in torchvision's `TenCrop` order (AlexNet, ZFNet, ResNet);
- `googlenet_144`: GoogLeNet's 144 crops (Szegedy et al. 2015, section 7): the shorter side
  resized to 256, 288, 320 and 352 (for 224 crops; in proportion for others); three squares of
  that side (left, centre and right, or top, centre and bottom); from each the four corners and
  the centre crop and the square resized to the crop; each of those and its mirror image;
- `vgg_dense` (`vgg_dense_scores`): VGG's dense evaluation (Simonyan and Zisserman 2015,
  section 3.2): the fully connected layers applied as convolutions over the whole image at
  each smallest side Q, the class score map averaged, and the same on the mirrored image.

torchvision has the ten crops as a transform, and no anchor runs the others end to end; the
crops are cut here with TensorFlow slicing, in torchvision's positions.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_inception.specs import PROTOCOLS
from keras_inception.validation import UsageError, check_integer

CROP_PROTOCOLS = ("center", "ten_crop", "googlenet_144")
VIEWS = {"center": 1, "ten_crop": 10, "googlenet_144": 144}
# torchvision's evaluation: the crop is 87.5% of the resized shorter side (224 of 256).
CENTER_CROP_FRACTION = 0.875
# GoogLeNet's four scales, for 224x224 crops.
GOOGLENET_SCALES = (256, 288, 320, 352)
# The crop the papers' scales are given for; other crops scale them in proportion.
PAPER_CROP = 224
# VGG's test scales Q for nets trained with S in [256, 512] (its Table 4).
VGG_SCALES = (256, 384, 512)


def check_protocol(protocol, allowed=PROTOCOLS):
    if protocol not in allowed:
        raise UsageError(f"Unknown protocol; protocols: {', '.join(allowed)}. Received: protocol={protocol!r}")


def resize_shorter_side(images, size):
    """A batch (N, H, W, C) with its shorter side resized to `size`, the longer in proportion
    (truncated, as torchvision's `Resize(int)` does), bilinear with antialiasing."""
    height, width = images.shape[1], images.shape[2]
    if height <= width:
        new = (size, int(size * width / height))
    else:
        new = (int(size * height / width), size)
    if new == (height, width):
        return tf.convert_to_tensor(images, tf.float32)
    return tf.image.resize(tf.cast(images, tf.float32), new, antialias=True)


def _crop(images, top, left, size):
    return images[:, top:top + size, left:left + size, :]


def center_crop(images, size):
    """torchvision's `center_crop`: the offsets rounded half to even, as its `round` does."""
    height, width = images.shape[1], images.shape[2]
    return _crop(images, int(round((height - size) / 2.0)), int(round((width - size) / 2.0)), size)


def five_crops(images, size):
    """torchvision's `five_crop` order: top left, top right, bottom left, bottom right, centre."""
    height, width = images.shape[1], images.shape[2]
    return [_crop(images, 0, 0, size), _crop(images, 0, width - size, size),
            _crop(images, height - size, 0, size), _crop(images, height - size, width - size, size),
            center_crop(images, size)]


def _check_fits(images, crop_size, resized_to):
    height, width = images.shape[1], images.shape[2]
    if min(height, width) < crop_size:
        raise UsageError(f"The crop ({crop_size}x{crop_size}) is larger than the image resized to a shorter side of "
                         f"{resized_to} ({height}x{width}). Received: crop_size={crop_size!r}")


def view_chunks(images, protocol, crop_size=224, resize_size=None):
    """The views of a batch (N, H, W, C) for a crop protocol, as a list of chunks, each
    (views, N, crop, crop, C): one chunk for `center` and `ten_crop`, one per scale for
    `googlenet_144`, so that a caller scores 36 views at a time. `resize_size`: the shorter
    side for `center` and `ten_crop` (default `crop_size / 0.875`)."""
    check_protocol(protocol, CROP_PROTOCOLS)
    check_integer("crop_size", crop_size, 1)
    images = tf.convert_to_tensor(images, tf.float32)
    if len(images.shape) != 4:
        raise UsageError(f"`images` must be a batch (N, H, W, C). Received: images.shape={tuple(images.shape)}")
    if protocol in ("center", "ten_crop"):
        if resize_size is None:
            resize_size = int(round(crop_size / CENTER_CROP_FRACTION))
        check_integer("resize_size", resize_size, 1)
        resized = resize_shorter_side(images, resize_size)
        _check_fits(resized, crop_size, resize_size)
        if protocol == "center":
            return [tf.stack([center_crop(resized, crop_size)])]
        return [tf.stack(five_crops(resized, crop_size) + five_crops(tf.reverse(resized, [2]), crop_size))]
    chunks = []
    for scale in googlenet_scales(crop_size):
        resized = resize_shorter_side(images, scale)
        _check_fits(resized, crop_size, scale)
        views = []
        for square in _three_squares(resized, scale):
            six = five_crops(square, crop_size) + [tf.image.resize(square, (crop_size, crop_size), antialias=True)]
            views += six + [tf.reverse(view, [2]) for view in six]
        chunks.append(tf.stack(views))
    return chunks


def in_proportion(scales, crop_size):
    """A paper's shorter sides for 224x224 crops, scaled to `crop_size`."""
    return tuple(int(round(scale * crop_size / PAPER_CROP)) for scale in scales)


def googlenet_scales(crop_size):
    """GoogLeNet's four shorter sides, in proportion to the crop."""
    return in_proportion(GOOGLENET_SCALES, crop_size)


def _three_squares(images, side):
    """Left, centre and right squares (top, centre and bottom for a portrait image)."""
    height, width = images.shape[1], images.shape[2]
    if width >= height:
        return [images[:, :, left:left + side, :] for left in (0, int(round((width - side) / 2.0)), width - side)]
    return [images[:, top:top + side, :, :] for top in (0, int(round((height - side) / 2.0)), height - side)]


def protocol_views(images, protocol, crop_size=224, resize_size=None):
    """The views of a batch of images (N, H, W, C) for `center`, `ten_crop` or
    `googlenet_144`, shaped (views, N, crop_size, crop_size, C). See the module docstring."""
    return tf.concat(view_chunks(images, protocol, crop_size, resize_size), axis=0)


def softmax(logits):
    shifted = np.exp(np.asarray(logits, np.float64) - np.max(logits, axis=-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


def softmax_if_logits(scores):
    """Class probabilities: `scores` as they are where each row already is a distribution (our
    files end in softmax unless exported with logits), else their softmax."""
    scores = np.asarray(scores, np.float64)
    if (scores >= 0).all() and np.allclose(scores.sum(-1), 1.0, atol=1e-3):
        return scores
    return softmax(scores)


def protocol_scores(score, images, protocol, crop_size=224, resize_size=None, views_per_call=36):
    """The class probabilities of a batch for a crop protocol: `score(views)` maps a NumPy
    array (M, crop, crop, C) to scores (M, classes); each view's scores go through softmax (unless they are
    probabilities) and are averaged over the views. At most `views_per_call` views of the
    batch are scored at once."""
    check_integer("views_per_call", views_per_call, 1)
    total, count = None, 0
    batch = int(images.shape[0])
    for chunk in view_chunks(images, protocol, crop_size, resize_size):
        for start in range(0, int(chunk.shape[0]), views_per_call):
            views = chunk[start:start + views_per_call]
            flat = tf.reshape(views, (-1, *views.shape[2:])).numpy()  # NumPy, as every artifact takes it
            probabilities = softmax_if_logits(score(flat)).reshape(int(views.shape[0]), batch, -1)
            total = probabilities.sum(0) if total is None else total + probabilities.sum(0)
            count += int(views.shape[0])
    return (total / count).astype(np.float32)


def vgg_scales(crop_size):
    """VGG's test scales Q, in proportion to the crop (256, 384 and 512 for 224)."""
    return in_proportion(VGG_SCALES, crop_size)


def fully_convolutional(model):
    """`model`, a net whose trunk is a chain of layers ending in `flatten` and dense layers
    (VGG, AlexNet, ZFNet, LeNet-5), with those dense layers applied as convolutions over an
    input of any size (the first as a convolution of the trunk's output size at the net's
    input, the others 1x1) and the same weights: its output is the map of class scores before
    the classifier's activation."""
    names = [layer.name for layer in model.layers]
    if "flatten" not in names:
        raise UsageError(f"{model.name} has no `flatten` before dense layers, so it has no dense evaluation; "
                         f"VGG, AlexNet, ZFNet and LeNet-5 have. Received: model={model.name!r}")
    flatten = model.get_layer("flatten")
    _, height, width, channels = flatten.input.shape
    inputs = keras.Input((None, None, model.input_shape[-1]), name="images")
    x, previous = inputs, model.layers[0]
    for layer in model.layers[1:names.index("flatten")]:
        if layer.input is not previous.output:  # a branch or a merge: not a chain
            raise UsageError(f"{model.name}'s trunk is not a chain of layers ({layer.name} is not). "
                             f"Received: model={model.name!r}")
        x, previous = layer(x), layer
    dense_layers = [layer for layer in model.layers[names.index("flatten") + 1:]
                    if isinstance(layer, keras.layers.Dense)]
    for index, dense in enumerate(dense_layers):
        kernel, bias = (keras.ops.convert_to_numpy(weight) for weight in dense.weights)
        size = (height, width) if index == 0 else (1, 1)
        last = index == len(dense_layers) - 1
        conv = keras.layers.Conv2D(dense.units, size, activation=None if last else dense.activation,
                                   dtype="float32", name=f"{dense.name}_as_conv")
        x = conv(x)
        conv.set_weights([kernel.reshape(*size, -1, dense.units), bias])
    return keras.Model(inputs, x, name=f"{model.name}_fully_convolutional")


def vgg_dense_scores(model, images, scales=VGG_SCALES, flip=True):
    """VGG's dense evaluation of a batch (N, H, W, C): for each smallest side Q in `scales`,
    the image resized, `fully_convolutional(model)` run over all of it, its class score map
    averaged over positions and turned into probabilities by softmax; with `flip`, the same on
    the mirrored image; the probabilities averaged over all of them. `model` may also be the
    result of `fully_convolutional`."""
    if not scales or any(not isinstance(scale, int) or scale < 1 for scale in scales):
        raise UsageError(f"`scales` must be positive integers. Received: scales={scales!r}")
    net = model if model.name.endswith("_fully_convolutional") else fully_convolutional(model)
    images = tf.convert_to_tensor(images, tf.float32)
    total, count = 0.0, 0
    for scale in scales:
        resized = resize_shorter_side(images, scale)
        for view in (resized, tf.reverse(resized, [2])) if flip else (resized,):
            try:
                maps = net(view, training=False)
            except ValueError as error:  # a smallest side below the trunk's reach
                raise UsageError(f"Q={scale} is too small for {model.name}'s dense evaluation ({error}). "
                                 f"Received: scales={scales!r}") from None
            logits = keras.ops.convert_to_numpy(keras.ops.mean(maps, axis=(1, 2)))
            total = total + softmax(logits)
            count += 1
    return (total / count).astype(np.float32)
