"""The shared building blocks: LRN against TensorFlow's op, the conv block's names and options."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_inception.layers import ALEXNET_LRN, GOOGLENET_LRN, LocalResponseNormalization, conv_block


@pytest.mark.parametrize(
    "params, channels",
    [
        (ALEXNET_LRN, 96),
        (GOOGLENET_LRN, 64),
        (ALEXNET_LRN, 3),  # fewer channels than the window
        ({"depth_radius": 0, "bias": 1.0, "alpha": 1.0, "beta": 0.5}, 8),
        ({"depth_radius": 4, "bias": 0.5, "alpha": 0.01, "beta": 1.0}, 17),
    ],
)
def test_lrn_equals_tensorflow(params, channels):
    rng = np.random.default_rng(0)
    # ReLU-like activations of the size seen after a first conv layer.
    x = (rng.standard_normal((2, 9, 9, channels)) * 20).astype(np.float32)
    expected = tf.nn.local_response_normalization(x, **params).numpy()
    actual = keras.ops.convert_to_numpy(LocalResponseNormalization(**params)(x))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(actual, x)  # it does normalize


def test_lrn_defaults_are_alexnet():
    layer = LocalResponseNormalization()
    assert (layer.depth_radius, layer.bias, layer.alpha, layer.beta) == (2, 2.0, 1e-4, 0.75)


def test_lrn_serializes():
    layer = LocalResponseNormalization(**GOOGLENET_LRN, name="lrn")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, LocalResponseNormalization)
    assert restored.get_config() == layer.get_config()
    x = np.random.default_rng(1).random((1, 4, 4, 10), dtype=np.float32) * 50
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored(x)), keras.ops.convert_to_numpy(layer(x)))


@pytest.mark.parametrize("radius", [-1, 1.5, True])
def test_lrn_rejects_bad_radius(radius):
    with pytest.raises(ValueError, match=f"depth_radius={radius!r}"):
        LocalResponseNormalization(depth_radius=radius)


@pytest.mark.parametrize(
    "batch_norm, use_bias, expected_layers, has_bias",
    [
        (False, None, ["b_conv", "b_relu"], True),
        (True, None, ["b_conv", "b_bn", "b_relu"], False),
        (True, True, ["b_conv", "b_bn", "b_relu"], True),
    ],
)
def test_conv_block_names_and_bias(batch_norm, use_bias, expected_layers, has_bias):
    inputs = keras.Input((8, 8, 3))
    outputs = conv_block(inputs, 4, 3, name="b", batch_norm=batch_norm, use_bias=use_bias)
    model = keras.Model(inputs, outputs)
    assert [layer.name for layer in model.layers[1:]] == expected_layers
    assert model.get_layer("b_conv").use_bias is has_bias
    assert tuple(outputs.shape) == (None, 8, 8, 4)


def test_conv_block_without_activation_and_with_stride():
    inputs = keras.Input((8, 8, 3))
    outputs = conv_block(inputs, 4, 3, name="b", strides=2, padding="valid", activation=None)
    assert tuple(outputs.shape) == (None, 3, 3, 4)
    assert [layer.name for layer in keras.Model(inputs, outputs).layers[1:]] == ["b_conv"]
