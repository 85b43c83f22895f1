"""Network in Network: mlpconv blocks and global average pooling over one map per class.

Reference:
    Lin, Chen, Yan, "Network In Network", ICLR 2014 (arXiv:1312.4400); the layer settings
    follow the authors' Caffe models.
"""

import functools
from typing import NamedTuple

import keras
from keras import layers

from keras_inception.layers import conv_block
from keras_inception.models import common
from keras_inception.registry import register_model
from keras_inception.validation import check_choice


class MlpConv(NamedTuple):
    """A k x k conv and its 1x1 "cccp" convs, all with ReLU, then an optional 3x3/2 pool."""

    filters: int
    kernel: int
    cccp: tuple
    strides: int = 1
    padding: str = "same"
    pool: str = None  # "max", "avg" or None
    dropout: float = 0.0


class NinConfig(NamedTuple):
    blocks: tuple
    input_shape: tuple
    num_classes: int


# The last block's final cccp layer, with one map per class, is the classifier: it is built
# by the top, so `include_top=False` ends with the cccp widths listed here.
NIN_CONFIGS = {
    "cifar10": NinConfig(
        blocks=(
            MlpConv(192, 5, cccp=(160, 96), pool="max", dropout=0.5),  # 16x16x96
            MlpConv(192, 5, cccp=(192, 192), pool="avg", dropout=0.5),  # 8x8x192
            MlpConv(192, 3, cccp=(192,)),  # 8x8x192, then cccp to 10 maps
        ),
        input_shape=(32, 32, 3),
        num_classes=10,
    ),
    "imagenet": NinConfig(
        blocks=(
            MlpConv(96, 11, cccp=(96, 96), strides=4, padding="valid", pool="max"),  # 27x27x96
            MlpConv(256, 5, cccp=(256, 256), pool="max"),  # 14x14x256
            MlpConv(384, 3, cccp=(384, 384), pool="max", dropout=0.5),  # 7x7x384
            MlpConv(1024, 3, cccp=(1024,)),  # 7x7x1024, then cccp to 1000 maps
        ),
        input_shape=(224, 224, 3),
        num_classes=1000,
    ),
}


def _min_size(blocks):
    stride = 1
    for block in blocks:
        stride *= block.strides * (2 if block.pool else 1)
    valid_kernels = [block.kernel for block in blocks if block.padding == "valid"]
    return max([stride, *valid_kernels])


def mlpconv(x, block, *, name):
    x = conv_block(
        x, block.filters, block.kernel, strides=block.strides, padding=block.padding,
        name=f"{name}_{block.kernel}x{block.kernel}",
    )
    for index, width in enumerate(block.cccp, start=1):
        x = conv_block(x, width, 1, name=f"{name}_cccp{index}")
    if block.pool == "max":
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    elif block.pool == "avg":
        x = layers.AveragePooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    if block.dropout:
        x = layers.Dropout(block.dropout, name=f"{name}_dropout")(x)
    return x


def nin(
    *,
    config="cifar10",
    include_top=True,
    weights=None,
    input_shape=None,
    input_tensor=None,
    pooling=None,
    num_classes=None,
    classifier_activation="softmax",
    name=None,
):
    """Builds Network in Network.

    Reference:
        Lin, Chen, Yan, "Network In Network", ICLR 2014.

    Args:
        config: "cifar10" (three mlpconv blocks of 192 channels, 32x32) or "imagenet"
            (four mlpconv blocks, 224x224).
        include_top: include the classifier: a 1x1 conv to one map per class, global
            average pooling and the activation. There is no fully connected layer.
        weights: None, or the path of a local `.weights.h5` / `.keras` file to load.
        input_shape: (height, width, channels); defaults to the configuration's.
        pooling: with `include_top=False`: None, "avg" or "max".
        num_classes: defaults to the configuration's (10 or 1000).
        classifier_activation: activation after the pooling; None gives logits.
        name: model name; defaults to `nin_{config}`.

    Returns:
        A single-output `keras.Model`.
    """
    check_choice("config", config, tuple(NIN_CONFIGS))
    spec = NIN_CONFIGS[config]
    if num_classes is None:
        num_classes = spec.num_classes
    common.check_arguments(
        include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, weights=weights,
    )
    min_size = _min_size(spec.blocks)
    input_shape = common.resolve_input_shape(
        common.shape_of(input_shape, input_tensor), default=spec.input_shape, min_size=min_size,
        include_top=include_top,
        reason=f"NIN {config!r} downsamples by {min_size}",
    )

    inputs, x = common.model_input(input_shape, input_tensor)
    for index, block in enumerate(spec.blocks, start=1):
        x = mlpconv(x, block, name=f"mlpconv{index}")
    if include_top:
        # The Caffe models keep the ReLU on the class maps before pooling them.
        x = conv_block(x, num_classes, 1, name="main_class_maps")
        x = layers.GlobalAveragePooling2D(dtype=common.head_dtype(), name="main_pool")(x)
        x = layers.Activation(
            classifier_activation or "linear", dtype=common.head_dtype(), name="main"
        )(x)
    else:
        x = common.pool_features(x, pooling)
    model = keras.Model(inputs, x, name=name or f"nin_{config}")
    return common.load_weights(model, weights)


def _endpoints(config):
    """The last layer of each mlpconv block."""
    names = []
    for index, block in enumerate(NIN_CONFIGS[config].blocks, start=1):
        if block.dropout:
            names.append(f"mlpconv{index}_dropout")
        elif block.pool:
            names.append(f"mlpconv{index}_pool")
        else:
            names.append(f"mlpconv{index}_cccp{len(block.cccp)}_relu")
    return tuple(names)


for _config in NIN_CONFIGS:
    register_model(f"nin_{_config}", functools.partial(nin, config=_config),
                   endpoints=_endpoints(_config))
