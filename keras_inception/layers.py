"""Building blocks shared by every net: the conv block, batch norm and local response
normalization.

Only `keras.layers` and `keras.ops` are used here, so the nets run under any Keras backend.
Every layer assumes channels-last tensors. Batch norm is Keras's own layer; the training job
trains it with TensorFlow's fused kernel (`training.speedups`) without changing the model.
"""

import keras
from keras import layers, ops

from keras_inception.validation import check_integer

# Batch-norm settings for every net. Keras's default momentum (0.99) leaves the moving
# statistics far from the data after a few hundred steps, and evaluation then collapses to
# chance; 0.9 is PyTorch's default (its momentum=0.1) and works for short and long runs alike.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-3

# LRN parameters in TensorFlow's convention:
#   out = x / (bias + alpha * sum_{|j - c| <= depth_radius} x_j**2) ** beta
# AlexNet (Krizhevsky et al. 2012, section 3.3): k=2, n=5, alpha=1e-4, beta=0.75, with alpha
# applied to the plain sum.
ALEXNET_LRN = {"depth_radius": 2, "bias": 2.0, "alpha": 1e-4, "beta": 0.75}
# GoogLeNet's paper gives no LRN parameters; these are the ones of the authors' Caffe
# replication (bvlc_googlenet: local_size 5, alpha 1e-4, beta 0.75, k 1). Caffe divides alpha
# by the window size, hence 1e-4 / 5.
GOOGLENET_LRN = {"depth_radius": 2, "bias": 1.0, "alpha": 2e-5, "beta": 0.75}


def conv_block(
    x,
    filters,
    kernel_size,
    *,
    name,
    strides=1,
    padding="same",
    batch_norm=False,
    bn_scale=True,
    activation="relu",
    use_bias=None,
    groups=1,
    kernel_initializer="glorot_uniform",
    bn_epsilon=BN_EPSILON,
    symmetric_padding=False,
):
    """Conv2D, then optional batch norm, then an activation.

    Sub-layers are named `{name}_conv`, `{name}_bn` and `{name}_{activation}` (and
    `{name}_pad` for symmetric padding).

    Args:
        x: input tensor (channels last).
        filters: number of output channels.
        kernel_size: int or (height, width).
        name: base name of the block; required so every layer has a stable name.
        strides, padding, groups, kernel_initializer: as for `keras.layers.Conv2D`.
        batch_norm: add batch normalization after the convolution.
        bn_scale: learn batch norm's gamma; False is TF-slim's Inception convention (a ReLU
            follows, so a scale adds nothing the next conv cannot learn).
        activation: activation name, or None for no activation.
        use_bias: conv bias; defaults to `not batch_norm` (batch norm's beta replaces it).
        bn_epsilon: batch norm's epsilon (checkpoints from PyTorch use 1e-5).
        symmetric_padding: a strided "same" conv pads (kernel - 1) // 2 zeros on every side,
            as PyTorch's `padding=k // 2` does, instead of TensorFlow's "same", which puts the
            odd zero at the bottom and right and so samples a grid shifted by one pixel.

    Returns:
        The output tensor.
    """
    if use_bias is None:
        use_bias = not batch_norm
    if symmetric_padding and padding == "same" and as_pair(strides) != (1, 1):
        pads = symmetric_pads(kernel_size)
        if any(any(pair) for pair in pads):  # a 1x1 conv samples the same grid either way
            x = layers.ZeroPadding2D(pads, name=f"{name}_pad")(x)
        padding = "valid"
    x = layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        groups=groups,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        name=f"{name}_conv",
    )(x)
    if batch_norm:
        x = layers.BatchNormalization(
            momentum=BN_MOMENTUM, epsilon=bn_epsilon, scale=bn_scale, name=f"{name}_bn"
        )(x)
    if activation is not None:
        x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def as_pair(value):
    """An int or (height, width) stride or kernel size as a (height, width) pair."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def symmetric_pads(kernel_size):
    """((top, bottom), (left, right)) zeros of PyTorch's `padding=k // 2` for an odd kernel."""
    height, width = as_pair(kernel_size)
    return ((height - 1) // 2,) * 2, ((width - 1) // 2,) * 2


@keras.saving.register_keras_serializable(package="keras_inception")
class LocalResponseNormalization(layers.Layer):
    """Local response normalization across channels, written with `keras.ops` only.

    Computes `x / (bias + alpha * sum_{|j - c| <= depth_radius} x_j**2) ** beta` over the last
    axis, which is exactly `tf.nn.local_response_normalization`. Defaults are AlexNet's
    (`ALEXNET_LRN`); GoogLeNet's are in `GOOGLENET_LRN`.

    Reference:
        Krizhevsky, Sutskever, Hinton, "ImageNet Classification with Deep Convolutional
        Neural Networks", NIPS 2012, section 3.3.
    """

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        check_integer("depth_radius", depth_radius, 0)
        self.depth_radius = depth_radius
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, inputs):
        radius = self.depth_radius
        channels = inputs.shape[-1]
        squared = ops.square(inputs)
        padding = [[0, 0]] * (len(inputs.shape) - 1) + [[radius, radius]]
        padded = ops.pad(squared, padding)
        # Sum of 2r + 1 shifted copies: exact, unlike a difference of cumulative sums.
        window_sum = padded[..., 0:channels]
        for offset in range(1, 2 * radius + 1):
            window_sum = window_sum + padded[..., offset : offset + channels]
        return inputs * ops.power(self.bias + self.alpha * window_sum, -self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "depth_radius": self.depth_radius,
                "bias": self.bias,
                "alpha": self.alpha,
                "beta": self.beta,
            }
        )
        return config
