"""What the training job adds to Keras's `fit` on TensorFlow, leaving the model and the files
saved from it plain Keras:

- the optimizer's, the losses' and the metrics' variables are built from the data's shapes
  before `fit` traces its training step, as Keras does on JAX and under a distribution
  strategy; otherwise TensorFlow creates them inside the first trace and traces the step again;
- every `keras.layers.BatchNormalization` trains with TensorFlow's fused kernel
  (FusedBatchNormV3, oneDNN's when TensorFlow's oneDNN kernels are on), as tf.keras 2 did by
  default; Keras 3 computes the moments, the normalization and their gradients as separate ops;
- Keras's Adam, AdamW and SGD update each variable with TensorFlow's fused kernel of the same
  arithmetic (ResourceApplyAdam, ResourceApplyKerasMomentum, ResourceApplyGradientDescent), as
  tf.keras 2's optimizers did; Keras 3 builds each update from many small ops, which the first
  step traces and sets up one by one (outside a distribution strategy only).

    with speedups.fast_training(model, train_data):
        model.fit(train_data, validation_data=validation_data, epochs=10)

The layers and the optimizer keep their class and configuration throughout, so a model saved
during `fit` (by a checkpoint callback) loads with plain Keras. Under other backends nothing
changes.
"""

import contextlib
import types

import keras
from keras import ops

from keras_inception import _compat


@contextlib.contextmanager
def fast_training(model, data=None):
    """Inside, `model` trains with the speed-ups above (TensorFlow only).

    Args:
        model: a compiled Keras model.
        data: the `tf.data.Dataset` of training batches that `fit` will get; its shapes build
            the training state. Anything else builds nothing, and only batch norm is fused.

    Yields:
        `model` itself.
    """
    if keras.backend.backend() != "tensorflow":
        yield model
        return
    import tensorflow as tf

    fused = fuse_batch_norms(batch_norm_layers(model))
    optimizer = None if tf.distribute.has_strategy() else fuse_optimizer_updates(getattr(model, "optimizer", None))
    try:
        if data is not None:
            build_training_state(model, data)
        yield model
    finally:
        unfuse_batch_norms(fused)
        if optimizer is not None:
            del optimizer.update_step


def build_training_state(model, data):
    """Creates the variables of `model`'s optimizer, losses and metrics from the shapes of a
    `tf.data.Dataset`, so that TensorFlow traces the first training step once."""
    import tensorflow as tf

    if tf.distribute.has_strategy() or not isinstance(data, tf.data.Dataset):
        return  # Keras builds them itself under a strategy
    _compat.build_training_state(model, data.element_spec)


def batch_norm_layers(model):
    """Every `keras.layers.BatchNormalization` in `model`, nested models included."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(batch_norm_layers(layer))
    return found


def fuse_batch_norms(batch_norms):
    """Makes each of these `BatchNormalization` layers train with the fused kernel; returns the
    layers changed, for `unfuse_batch_norms`. Only the instances change, never their class or
    configuration."""
    changed = [layer for layer in batch_norms if "call" not in vars(layer)]
    for layer in changed:
        layer.call = types.MethodType(_fused_call, layer)
    return changed


def unfuse_batch_norms(layers):
    for layer in layers:
        del layer.call


def fuse_optimizer_updates(optimizer):
    """Makes `optimizer` (an instance of exactly Keras's Adam, AdamW or SGD, or a loss-scale
    optimizer around one) update each variable with one fused TensorFlow kernel; returns the
    optimizer changed (for `del optimizer.update_step`), or None where nothing changed. Only
    the instance changes, never its class or configuration."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    kind = type(optimizer)
    if kind in (keras.optimizers.Adam, keras.optimizers.AdamW) and not optimizer.amsgrad:
        step = _fused_adam_step
    elif kind is keras.optimizers.SGD:
        step = _fused_sgd_step
    else:
        return None
    if "update_step" in vars(optimizer):
        return None
    optimizer.update_step = types.MethodType(step, optimizer)
    return optimizer


def _handle(variable):
    return variable.value.handle if isinstance(variable, keras.Variable) else variable.handle


def _fused_adam_step(optimizer, gradient, variable, learning_rate):
    """`Adam.update_step` as one ResourceApplyAdam, which computes what Keras's does."""
    import tensorflow as tf

    dtype = variable.dtype
    step = tf.cast(optimizer.iterations + 1, dtype)
    beta_1, beta_2 = tf.cast(optimizer.beta_1, dtype), tf.cast(optimizer.beta_2, dtype)
    momentum, velocity = _compat.optimizer_slots(optimizer, variable, "_momentums", "_velocities")
    tf.raw_ops.ResourceApplyAdam(
        var=_handle(variable), m=_handle(momentum), v=_handle(velocity),
        beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype),
        beta1=beta_1, beta2=beta_2, epsilon=tf.cast(optimizer.epsilon, dtype), grad=tf.cast(gradient, dtype),
    )


def _fused_sgd_step(optimizer, gradient, variable, learning_rate):
    """`SGD.update_step` as one ResourceApplyKerasMomentum (Keras's momentum and Nesterov
    formulas), or ResourceApplyGradientDescent without momentum."""
    import tensorflow as tf

    dtype = variable.dtype
    learning_rate, gradient = tf.cast(learning_rate, dtype), tf.cast(gradient, dtype)
    if optimizer.momentum == 0:
        tf.raw_ops.ResourceApplyGradientDescent(var=_handle(variable), alpha=learning_rate, delta=gradient)
        return
    (momentum,) = _compat.optimizer_slots(optimizer, variable, "momentums")
    tf.raw_ops.ResourceApplyKerasMomentum(
        var=_handle(variable), accum=_handle(momentum), lr=learning_rate, grad=gradient,
        momentum=tf.cast(optimizer.momentum, dtype), use_nesterov=optimizer.nesterov,
    )


def _fused_call(layer, inputs, training=None, mask=None):
    """`BatchNormalization.call`, with the training step of a 4-D, channels-last float batch in
    one fused op; everything else (inference, masks, renorm, synchronized) is Keras's code."""
    if not (training and layer.trainable and _fusable(layer, inputs, mask)):
        return type(layer).call(layer, inputs, training=training, mask=mask)
    import tensorflow as tf

    # Computed in float32 whatever the inputs, as Keras's layer does.
    x = ops.cast(inputs, "float32")
    channels = x.shape[-1]
    gamma = layer.gamma if layer.scale else ops.ones([channels])
    beta = layer.beta if layer.center else ops.zeros([channels])
    outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
        x, gamma, beta, epsilon=layer.epsilon, is_training=True
    )
    # The kernel returns the variance with Bessel's correction, n / (n - 1) for n > 1 values
    # per channel; Keras's moving variance is updated with the biased one.
    count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), "float32")
    variance = variance * tf.maximum(count - 1.0, 1.0) / count
    momentum = layer.momentum
    layer.moving_mean.assign(layer.moving_mean * momentum + mean * (1.0 - momentum))
    layer.moving_variance.assign(layer.moving_variance * momentum + variance * (1.0 - momentum))
    return ops.cast(outputs, layer.compute_dtype)


def _fusable(layer, inputs, mask):
    return (
        keras.backend.backend() == "tensorflow"
        and len(inputs.shape) == 4
        and layer.axis in (-1, 3)
        and mask is None
        and not layer.renorm
        and not layer.synchronized
        and keras.backend.result_type(inputs.dtype, "float32") == "float32"
    )
