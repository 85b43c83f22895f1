"""Copying a checkpoint's tensors into a built net, with strict accounting.

Every Keras layer with weights names the source tensors it takes (`layer_map`: Keras layer name
-> the source's prefix); every variable is assigned and every shape checked, and every source
tensor is used or matches an ignore pattern. The first mismatch is one ValueError line naming
both tensors and both shapes.

PyTorch layouts become Keras's here: conv kernels (out, in, h, w) -> (h, w, in, out), linear
weights transposed, and a first fully connected layer after a flatten re-ordered from the
source's (C, H, W) flattening to Keras's (H, W, C). Keras sources (`layout="keras"`) are copied
as they are. A conv bias in front of a batch norm that our net builds without one is folded into
the norm's moving mean, which is exact; a batch norm saved without a scale gets gamma = 1.
"""

import fnmatch

import keras
import numpy as np

from keras_inception.validation import UsageError


def _fail(checkpoint, message):
    raise UsageError(f"{message}. Received: checkpoint={checkpoint!r}")


# Tensor names by layout: (conv kernel, bias, batch-norm gamma, beta, mean, variance).
NAMES = {
    "torch": {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias", "mean": "running_mean",
              "variance": "running_var"},
    "keras": {"kernel": "kernel", "bias": "bias", "gamma": "gamma", "beta": "beta", "mean": "moving_mean",
              "variance": "moving_variance"},
}


class Assignment:
    """The state of one conversion: the source tensors, those used, and biases to fold."""

    def __init__(self, state, checkpoint, layout="torch"):
        self.state, self.checkpoint, self.layout = state, checkpoint, layout
        self.names = NAMES[layout]
        self.used, self.folded_bias = set(), {}

    def key(self, prefix, role):
        return f"{prefix}.{self.names[role]}"

    def take(self, key, target, expected_shape, transform=None):
        if key not in self.state:
            _fail(self.checkpoint, f"{self.checkpoint} has no tensor {key!r} for {target} {tuple(expected_shape)}")
        value = np.asarray(self.state[key])
        source_shape = value.shape
        if transform is not None:
            try:
                value = transform(value)
            except ValueError:  # a reshape or transpose that the source's shape does not allow
                value = None
        if value is None or value.shape != tuple(expected_shape):
            _fail(self.checkpoint, f"{key} {source_shape} does not fit {target} {tuple(expected_shape)}")
        self.used.add(key)
        return value.astype(np.float32)


def _conv(assignment, layer, prefix):
    kernel_shape = layer.kernel.shape
    torch_layout = assignment.layout == "torch"
    values = [assignment.take(assignment.key(prefix, "kernel"), f"{layer.name}.kernel", kernel_shape,
                              (lambda value: value.transpose(2, 3, 1, 0)) if torch_layout else None)]
    bias_key = assignment.key(prefix, "bias")
    if layer.use_bias:
        values.append(assignment.take(bias_key, f"{layer.name}.bias", layer.bias.shape))
    elif bias_key in assignment.state:
        if not layer.name.endswith("_conv"):
            _fail(assignment.checkpoint, f"{bias_key} has no batch norm after {layer.name} to fold into")
        bias = assignment.take(bias_key, f"{layer.name} (folded into its batch norm)", (kernel_shape[-1],))
        assignment.folded_bias[layer.name[: -len("_conv")] + "_bn"] = bias
    return values


def _batch_norm(assignment, layer, prefix):
    values = []
    if layer.scale:
        gamma = assignment.key(prefix, "gamma")
        if gamma in assignment.state or assignment.layout == "torch":
            values.append(assignment.take(gamma, f"{layer.name}.gamma", layer.gamma.shape))
        else:  # saved without a scale (TF-slim's convention): the identity
            values.append(np.ones(layer.gamma.shape, np.float32))
    if layer.center:
        values.append(assignment.take(assignment.key(prefix, "beta"), f"{layer.name}.beta", layer.beta.shape))
    mean = assignment.take(assignment.key(prefix, "mean"), f"{layer.name}.moving_mean", layer.moving_mean.shape)
    values.append(mean - assignment.folded_bias.pop(layer.name, 0.0))
    values.append(assignment.take(assignment.key(prefix, "variance"), f"{layer.name}.moving_variance",
                                  layer.moving_variance.shape))
    return values


def _dense(assignment, layer, prefix, flattened_from=None):
    units = layer.kernel.shape[-1]
    if assignment.layout == "keras":
        return [assignment.take(f"{prefix}.kernel", f"{layer.name}.kernel", layer.kernel.shape),
                assignment.take(f"{prefix}.bias", f"{layer.name}.bias", layer.bias.shape)]

    def kernel(value):
        if value.ndim == 4:  # a fully connected layer stored as a conv (timm's VGG)
            return value.transpose(2, 3, 1, 0).reshape(-1, units)
        if flattened_from is not None:  # the source flattened (C, H, W); Keras flattens (H, W, C)
            channels, height, width = flattened_from
            return value.reshape(units, channels, height, width).transpose(2, 3, 1, 0).reshape(-1, units)
        return value.T

    return [assignment.take(f"{prefix}.weight", f"{layer.name}.kernel", layer.kernel.shape, kernel),
            assignment.take(f"{prefix}.bias", f"{layer.name}.bias", layer.bias.shape)]


def layers_with_weights(model):
    """Every layer holding variables, nested models flattened, in the graph's order."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += layers_with_weights(layer)
        elif layer.weights:
            found.append(layer)
    return found


def assign_weights(model, state, layer_map, *, checkpoint, ignore=(), flattened_from=None, layout="torch"):
    """Sets every weight of `model` from `state` ({key: array}) through `layer_map` ({Keras layer
    name: source prefix}); `ignore`: fnmatch patterns of source keys to leave unused;
    `flattened_from`: {Dense layer name: the source's (C, H, W) before its flatten}; `layout`:
    "torch" or "keras", the source's tensor names and layouts."""
    assignment = Assignment(state, checkpoint, layout)
    flattened_from = flattened_from or {}
    converted = []
    for layer in layers_with_weights(model):
        if layer.name not in layer_map:
            _fail(checkpoint, f"nothing in {checkpoint} maps to {layer.name} (a {type(layer).__name__})")
        prefix = layer_map[layer.name]
        if isinstance(layer, keras.layers.Conv2D):
            values = _conv(assignment, layer, prefix)
        elif isinstance(layer, keras.layers.BatchNormalization):
            values = _batch_norm(assignment, layer, prefix)
        elif isinstance(layer, keras.layers.Dense):
            values = _dense(assignment, layer, prefix, flattened_from.get(layer.name))
        else:
            _fail(checkpoint, f"{layer.name} is a {type(layer).__name__}, which no converter fills")
        converted.append((layer, values))
    left = [key for key in state if key not in assignment.used
            and not any(fnmatch.fnmatchcase(key, pattern) for pattern in ignore)]
    if left:
        _fail(checkpoint, f"{checkpoint} holds {left[0]} {np.shape(state[left[0]])}, which maps to no layer of "
                          f"{model.name} ({len(left)} such tensors)")
    for layer, values in converted:  # only once everything fits: a refused file changes nothing
        layer.set_weights(values)
    return model
