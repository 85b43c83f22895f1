"""The shared building blocks: LRN against TensorFlow's op, the training job's fused batch norm
against Keras's layer, the conv block's names and options."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_inception.layers import (
    ALEXNET_LRN,
    GOOGLENET_LRN,
    LocalResponseNormalization,
    conv_block,
)
from keras_inception.training.speedups import fast_training, fuse_batch_norms

ROOT = Path(__file__).resolve().parents[1]


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


def _fused_ops(function, *args):
    """The FusedBatchNormV3 ops in the graph `function` traces for `args`."""
    graph = tf.function(function).get_concrete_function(*args).graph
    return [op for op in graph.get_operations() if op.type == "FusedBatchNormV3"]


def _training_step(layer, x, weights):
    """One training step's output, gradients (input, then variables) and moving statistics."""

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x, training=True)
            loss = tf.reduce_sum(outputs * weights)
        return outputs, tape.gradient(loss, [x] + layer.trainable_variables)

    outputs, gradients = step(tf.constant(x))
    return [outputs, *gradients, layer.moving_mean, layer.moving_variance]


def fused_batch_norm_matches_keras():
    """A fused batch norm against Keras's layer in a training step, for shapes down to
    one value per channel (where Bessel's correction must not divide by zero)."""
    cases = [((4, 7, 5, 6), {}), ((1, 1, 1, 3), {"scale": False}),
             ((3, 2, 2, 8), {"center": False, "scale": False})]
    for shape, options in cases:
        rng = np.random.default_rng(0)
        x = (rng.standard_normal(shape) * 3 + 1).astype(np.float32)
        weights = tf.constant(rng.standard_normal(shape).astype(np.float32))
        pair = [keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3, **options)
                for _ in range(2)]
        fuse_batch_norms(pair[1:])
        for layer in pair:
            layer.build(shape)
            if layer.scale:
                layer.gamma.assign(np.linspace(0.5, 2.0, shape[-1]))
        assert not _fused_ops(lambda x: pair[0](x, training=True), x)
        assert len(_fused_ops(lambda x: pair[1](x, training=True), x)) == 1
        expected, actual = (_training_step(layer, x, weights) for layer in pair)
        assert len(actual) == len(expected)
        for got, want in zip(actual, expected):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-5)
        # The step's momentum-0.9 update moved the statistics off their initial values.
        assert not np.allclose(np.asarray(pair[1].moving_variance), 1.0)


def test_fused_batch_norm_trains_as_keras_batch_norm():
    fused_batch_norm_matches_keras()


@pytest.mark.slow
def test_fused_batch_norm_trains_as_keras_batch_norm_with_onednn_kernels():
    # TensorFlow picks its oneDNN kernel for the fused op only with TF_ENABLE_ONEDNN_OPTS=1,
    # which our scripts set; it is read once, at import, hence a process of its own.
    code = ("from tensorflow.python.util import _pywrap_util_port as port; "
            "assert port.IsMklEnabled(); "
            "from tests.test_layers import fused_batch_norm_matches_keras as check; check()")
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("shape, training", [((2, 4, 4, 3), False), ((5, 3), True)])
def test_fused_batch_norm_leaves_the_rest_to_keras(shape, training):
    """Inference and other ranks are Keras's own code: no fused op, and the same results."""
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    keras_layer, fused = keras.layers.BatchNormalization(), keras.layers.BatchNormalization()
    fuse_batch_norms([fused])
    for layer in (keras_layer, fused):
        layer.build(shape)
        layer.moving_mean.assign(np.full(shape[-1], 0.5))
    assert not _fused_ops(lambda x: fused(x, training=training), x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(fused(x, training=training)),
                                  keras.ops.convert_to_numpy(keras_layer(x, training=training)))


def test_fused_batch_norm_under_mixed_precision_computes_in_float32():
    x = np.random.default_rng(3).standard_normal((2, 3, 3, 4)).astype(np.float16)
    pair = [keras.layers.BatchNormalization(dtype="mixed_float16") for _ in range(2)]
    fuse_batch_norms(pair[1:])
    expected, actual = (layer(x, training=True) for layer in pair)
    assert _fused_ops(lambda x: pair[1](x, training=True), x)
    assert actual.dtype == expected.dtype == tf.float16
    np.testing.assert_allclose(actual.numpy(), expected.numpy(), atol=2e-3)
    assert pair[1].moving_variance.dtype == "float32"


def test_fast_training_fuses_batch_norm_and_saves_plain_keras(tmp_path):
    inputs = keras.Input((6, 6, 3))
    model = keras.Model(inputs, conv_block(inputs, 4, 3, name="b", batch_norm=True))
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(4).random((2, 6, 6, 3), dtype=np.float32)
    assert type(model.get_layer("b_bn")) is keras.layers.BatchNormalization
    with fast_training(model):
        assert len(_fused_ops(lambda x: model(x, training=True), x)) == 1
        model.save(tmp_path / "m.keras")  # as a checkpoint callback would, mid-fit
    assert not _fused_ops(lambda x: model(x, training=True), x)  # and undone on leaving
    restored = keras.saving.load_model(tmp_path / "m.keras")
    assert type(restored.get_layer("b_bn")) is keras.layers.BatchNormalization
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
