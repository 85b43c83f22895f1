"""Grad-CAM (Selvaraju et al. 2017) for every net and every head, wherever the net sits.

    heat = keras_inception.explain.grad_cam(model, images, head="aux1")  # (batch, H, W) in [0, 1]

A heat map is the ReLU of the feature maps weighted by the spatial mean of the gradient of one
class's score before the softmax. The model is split at the map rather than asked for an inner
tensor, so that a net nested inside a user's model (`keras.Sequential([preprocessing, net])`)
works: `prefix` runs everything from the model's input up to the map, `head_from_map` the head's
layers from the map to the head's input, and the gradient is taken between the two.
"""

import keras
import numpy as np
from keras import layers, ops

from keras_inception import extras
from keras_inception.profile import layer_producers
from keras_inception.validation import UsageError

POOLING_LAYERS = (layers.AveragePooling2D, layers.MaxPooling2D, layers.GlobalAveragePooling2D,
                  layers.GlobalMaxPooling2D)
BACKENDS = ("tensorflow", "jax")


def grad_cam(model, images, head="main", layer=None, class_index=None):
    """Grad-CAM heat maps of `images` (batch, H, W, C) as NumPy (batch, H, W) in [0, 1].

    `model` is one of the package's nets, or any Keras model that holds one (the first holding
    a head named `head`: `main`, or an auxiliary head of a training form: GoogLeNet's `aux1` and
    `aux2`, Inception v3's `aux`).
    `layer` names the net's layer whose 4-D output is weighted; by default the map entering the
    head's pooling. `class_index` is the class explained: an integer, one per image, or None for
    each image's top class under that head.
    """
    images = ops.convert_to_tensor(images)
    if len(images.shape) != 4:
        raise UsageError(f"`images` must be a batch (batch, height, width, channels). "
                         f"Received: images with shape {tuple(images.shape)}")
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise UsageError(f"Grad-CAM runs under the {' and '.join(BACKENDS)} backends. "
                         f"Received: KERAS_BACKEND={backend!r}")
    net = holder_of_head(model, head)
    head_layer = net.get_layer(head)
    map_layer = map_entering_pool(net, head_layer) if layer is None else named_layer(net, layer)
    map_tensor = map_layer.output
    if len(map_tensor.shape) != 4:
        raise UsageError(f"Grad-CAM weights a 4-D feature map; {map_layer.name!r} gives shape "
                         f"{tuple(map_tensor.shape)}. Received: layer={map_layer.name!r}")
    try:
        head_from_map = keras.Model(map_tensor, head_layer.input)
    except ValueError:
        raise UsageError(f"The layer {map_layer.name!r} does not feed the head {head!r}. "
                         f"Received: layer={map_layer.name!r}") from None

    maps = prefix(model, net, map_tensor)(images, training=False)

    def scores(maps):
        return class_scores(head_layer, head_from_map(maps, training=False))

    classes = chosen_classes(class_index, scores(maps), len(images))
    one_hot = ops.one_hot(classes, head_layer_classes(head_layer))
    gradients = gradient(lambda maps: ops.sum(scores(maps) * one_hot), maps)
    weights = ops.mean(ops.cast(gradients, "float32"), axis=(1, 2), keepdims=True)
    heat = ops.relu(ops.sum(weights * ops.cast(maps, "float32"), axis=-1))
    heat = ops.image.resize(heat[..., None], tuple(images.shape[1:3]), interpolation="bilinear")[..., 0]
    peak = ops.max(heat, axis=(1, 2), keepdims=True)
    heat = ops.where(peak > 0, heat / ops.where(peak > 0, peak, 1.0), 0.0)
    return np.clip(ops.convert_to_numpy(heat), 0.0, 1.0)


def models_within(model):
    """`model` and every model nested in it, outer first."""
    yield model
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from models_within(layer)


def holder_of_head(model, head):
    """The first model within `model` (itself included) whose outputs include a layer `head`."""
    if not isinstance(model, keras.Model):
        raise UsageError(f"Grad-CAM explains a Keras model. Received: model={model!r}")
    heads = []
    for candidate in models_within(model):
        # A Sequential model has no `output_names`: its output is its last layer's.
        names = getattr(candidate, "output_names", None) or [candidate.layers[-1].name]
        if head in names:
            return candidate
        heads += [name for name in names if name not in heads]
    raise UsageError(f"The model has no head {head!r}; its heads: {', '.join(heads)}. Received: head={head!r}")


def named_layer(net, name):
    try:
        return net.get_layer(name)
    except ValueError:
        raise UsageError(f"The net {net.name!r} has no layer {name!r}. Received: layer={name!r}") from None


def map_entering_pool(net, head_layer):
    """The layer whose output enters the head's pooling: the first pooling layer met walking back
    from the head, through layers of one input."""
    producers = layer_producers(net)
    layer = producers.get(id(head_layer.input))
    while layer is not None and not isinstance(layer.input, (list, tuple, dict)):
        if isinstance(layer, POOLING_LAYERS):
            if id(layer.input) in producers:
                return producers[id(layer.input)]
            break
        layer = producers.get(id(layer.input))
    raise UsageError(f"No pooling layer feeds the head {head_layer.name!r} of {net.name!r} from a layer; "
                     f"name the map to explain. Received: layer=None")


def prefix(model, net, map_tensor):
    """A model from `model`'s input to `map_tensor` inside `net`, which `model` holds at any depth.

    Each enclosing model's graph is called again up to the model holding the net, sharing its
    layers: a functional one through `keras.models.clone_model`'s `call_function`, a Sequential
    one layer by layer (clone_model takes no `call_function` for those).
    """
    if model is net:
        return keras.Model(net.inputs, map_tensor)
    child = next(layer for layer in model.layers
                 if isinstance(layer, keras.Model) and any(inner is net for inner in models_within(layer)))
    inner = prefix(child, net, map_tensor)
    if isinstance(model, keras.Sequential):
        inputs = keras.Input(batch_shape=model.inputs[0].shape, dtype=model.inputs[0].dtype)
        x = inputs
        for layer in model.layers:
            if layer is child:
                return keras.Model(inputs, inner(x))
            x = layer(x)
    reached = []

    def call(layer, *args, **kwargs):
        if layer is child and not reached:
            reached.append(inner(*args, **kwargs))
        return layer(*args, **kwargs)

    copy = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
    return keras.Model(copy.inputs, reached[0])


def class_scores(head_layer, head_input):
    """The head's class scores before its softmax, from the head layer's input."""
    if isinstance(head_layer, layers.Dense):
        kernel = ops.cast(head_layer.kernel, "float32")
        scores = ops.matmul(ops.cast(head_input, "float32"), kernel)
        return scores + ops.cast(head_layer.bias, "float32") if head_layer.use_bias else scores
    if isinstance(head_layer, layers.Activation):
        return ops.cast(head_input, "float32")
    raise UsageError(f"A head must end in a Dense or Activation layer, whose scores before the softmax "
                     f"can be recomputed. Received: head={head_layer.name!r} ({type(head_layer).__name__})")


def head_layer_classes(head_layer):
    return head_layer.units if isinstance(head_layer, layers.Dense) else head_layer.output.shape[-1]


def chosen_classes(class_index, scores, batch):
    """One class per image: each image's top score's, or `class_index` (one, or one per image)."""
    count = scores.shape[-1]
    if class_index is None:
        return ops.argmax(scores, axis=-1)
    indices = np.asarray(class_index)
    if indices.ndim == 0:
        indices = np.full(batch, indices)
    if indices.shape != (batch,) or indices.dtype.kind not in "iu" or not ((0 <= indices) & (indices < count)).all():
        raise UsageError(f"`class_index` must be None, a class in [0, {count}) or one per image ({batch}). "
                         f"Received: class_index={class_index!r}")
    return ops.convert_to_tensor(indices.astype("int32"))


def gradient(function, x):
    """The gradient of the scalar `function(x)` with respect to `x`, in the backend's own way."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.grad(function)(x)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        value = function(x)
    return tape.gradient(value, x)


def overlay(image, heat, opacity=0.5):
    """`heat` (H, W) in [0, 1] laid over `image` (H, W, 1 or 3) in [0, 1] in matplotlib's jet
    colour map (blue cold, red hot), as uint8 RGB (H, W, 3)."""
    colour_map = extras.require("matplotlib", "evaluate").colormaps["jet"]
    colour = colour_map(np.asarray(heat, dtype=np.float32))[..., :3]
    image = np.asarray(image, dtype=np.float32)
    image = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image
    return np.round(255.0 * ((1.0 - opacity) * image + opacity * colour)).astype(np.uint8)
