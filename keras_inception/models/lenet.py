"""LeNet-5 in its usual dense form.

Reference:
    LeCun, Bottou, Bengio, Haffner, "Gradient-Based Learning Applied to Document
    Recognition", Proc. IEEE 1998.
"""

import keras

from keras_inception.models import common
from keras_inception.models.tables import Conv, Pool, build_trunk
from keras_inception.registry import register_model

# The paper's layer names. S2 and S4 were trainable subsampling (a scaled, biased average);
# the usual form keeps a plain average pool. C3 was wired to a subset of S2's maps; the usual
# form connects every map. Both choices are what gives the familiar 61,706 parameters.
LENET5 = (
    ("c1", Conv(6, 5, padding="valid")),  # 28x28x6
    ("s2", Pool("avg", 2, 2, "valid")),  # 14x14x6
    ("c3", Conv(16, 5, padding="valid")),  # 10x10x16
    ("s4", Pool("avg", 2, 2, "valid")),  # 5x5x16
    ("c5", Conv(120, 5, padding="valid")),  # 1x1x120
)
F6_UNITS = 84
ENDPOINTS = ("c1_tanh", "s2", "c3_tanh", "s4", "c5_tanh")


def lenet5(
    *,
    include_top=True,
    weights=None,
    input_shape=None,
    input_tensor=None,
    pooling=None,
    num_classes=10,
    classifier_activation="softmax",
    name="lenet5",
    width_multiplier=1.0,
):
    """Builds LeNet-5: three tanh convs, two average pools, F6 (84) and the classifier.

    Reference:
        LeCun et al., "Gradient-Based Learning Applied to Document Recognition", 1998.

    Args:
        include_top: include F6 and the classifier; without them the net ends at C5.
        weights: None, or the path of a local `.weights.h5` / `.keras` file to load.
        input_shape: (height, width, channels); defaults to 32x32x1, the paper's padded
            MNIST digits.
        pooling: with `include_top=False`: None (C5's map), "avg" or "max".
        num_classes: number of classes (10).
        classifier_activation: activation of the classifier; None gives logits. The paper's
            Euclidean RBF output units are replaced by the usual linear layer.
        name: model name.
        width_multiplier: scales C1, C3, C5 and F6.

    Returns:
        A single-output `keras.Model`.
    """
    common.check_arguments(
        include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, weights=weights,
        width_multiplier=width_multiplier,
    )
    scale = common.width_scaler(width_multiplier)
    inputs, _, x = build_trunk(
        LENET5, input_shape=input_shape, input_tensor=input_tensor, default_input_shape=(32, 32, 1),
        include_top=include_top,
        block_options={"activation": "tanh"}, scale=scale, net="LeNet-5 (C5 needs a 5x5 map)",
    )
    x = common.flatten_top(
        x, include_top=include_top, pooling=pooling, num_classes=num_classes,
        classifier_activation=classifier_activation, units=[scale(F6_UNITS)], names=["f6"],
        activation="tanh",
    )
    return common.load_weights(keras.Model(inputs, x, name=name), weights)


register_model("lenet5", lenet5, endpoints=ENDPOINTS)
