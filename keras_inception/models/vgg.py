"""VGG, configurations A, A-LRN, B, C, D and E, each with an optional batch-norm form.

Reference:
    Simonyan, Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
    Recognition", ICLR 2015 (arXiv:1409.1556).
"""

import functools

import keras

from keras_inception.layers import BN_EPSILON
from keras_inception.models import common
from keras_inception.models.tables import LRN, Conv, Pool, build_trunk
from keras_inception.registry import register_model
from keras_inception.validation import check_bool, check_choice, check_number

# The paper's Table 1, one list per column: a number is a 3x3 conv of that width, (width, 1)
# a 1x1 conv, "M" a 2x2/2 max-pool, "LRN" local response normalization.
VGG_CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    # A-LRN: the paper found the LRN did not help and dropped it from B-E (section 4.1).
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    # C's 1x1 convs add depth and non-linearity without widening the receptive field;
    # D (3x3 in their place) was better, so spatial context matters (section 4.1).
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M",
          512, 512, (512, 1), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}
REGISTERED = {"vgg11": "A", "vgg11_lrn": "A-LRN", "vgg13": "B", "vgg16_c": "C", "vgg16": "D",
              "vgg19": "E"}
ENDPOINTS = tuple(f"block{index}_pool" for index in range(1, 6))


def _sequence(config):
    """Turns a Table 1 column into named table elements (keras.applications' layer names)."""
    sequence, block, position = [], 1, 1
    for entry in VGG_CONFIGS[config]:
        if entry == "M":
            sequence.append((f"block{block}_pool", Pool("max", 2, 2, "valid")))
            block, position = block + 1, 1
        elif entry == "LRN":
            sequence.append((f"block{block}_lrn", LRN()))
        else:
            width, kernel = entry if isinstance(entry, tuple) else (entry, 3)
            sequence.append((f"block{block}_conv{position}", Conv(width, kernel)))
            position += 1
    return tuple(sequence)


def vgg(
    *,
    include_top=True,
    weights=None,
    input_shape=None,
    input_tensor=None,
    pooling=None,
    num_classes=1000,
    classifier_activation="softmax",
    name=None,
    config="D",
    batch_norm=False,
    width_multiplier=1.0,
    fc_units=(4096, 4096),
    dropout_rate=0.5,
    bn_epsilon=BN_EPSILON,
):
    """Builds a VGG net from a column of the paper's Table 1.

    Reference:
        Simonyan, Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
        Recognition", ICLR 2015.

    Args:
        include_top, weights, input_shape, input_tensor, pooling, num_classes, classifier_activation:
            the keras.applications keywords; the default input is 224x224x3. Five 2x2 pools
            take 32x32 images to 1x1, so CIFAR-sized inputs need no other stem.
        name: model name; defaults to the registered name (vgg16 for D, ...).
        config: "A", "A-LRN", "B", "C", "D" or "E".
        batch_norm: batch norm after every conv (the later "vgg16_bn" form; not in the paper).
        width_multiplier: scales every conv and hidden dense width.
        fc_units: widths of the two hidden dense layers, "fc1" and "fc2" (4096 each).
        dropout_rate: dropout after each hidden dense layer (0.5).
        bn_epsilon: batch norm's epsilon, with `batch_norm` (PyTorch checkpoints need 1e-5).

    Returns:
        A single-output `keras.Model`. D and E with the defaults hold exactly the parameters
        of keras.applications' VGG16 and VGG19.
    """
    common.check_arguments(
        include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, weights=weights,
        width_multiplier=width_multiplier,
    )
    check_choice("config", config, tuple(VGG_CONFIGS))
    check_bool("batch_norm", batch_norm)
    check_number("bn_epsilon", bn_epsilon, "in (0, 1)")
    common.check_dense_top(fc_units, dropout_rate)
    if name is None:
        name = {c: n for n, c in REGISTERED.items()}[config] + ("_bn" if batch_norm else "")
    scale = common.width_scaler(width_multiplier)
    # Five 2x2 pools take 32x32 images to 1x1, so CIFAR-sized inputs need no other stem.
    inputs, _, x = build_trunk(
        _sequence(config), input_shape=input_shape, input_tensor=input_tensor,
        default_input_shape=(224, 224, 3),
        include_top=include_top, block_options={"batch_norm": batch_norm, "bn_epsilon": bn_epsilon},
        scale=scale,
        net="VGG (five 2x2 pools)",
    )
    x = common.flatten_top(
        x, include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, units=[scale(units) for units in fc_units],
        names=[f"fc{index}" for index in range(1, len(fc_units) + 1)], dropout_rate=dropout_rate,
    )
    return common.load_weights(keras.Model(inputs, x, name=name), weights)


for _name, _config in REGISTERED.items():
    register_model(_name, functools.partial(vgg, config=_config), endpoints=ENDPOINTS)
