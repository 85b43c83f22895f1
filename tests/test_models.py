"""Table-driven tests over every registered net: shapes, parameter counts, output names."""

import numpy as np
import pytest

import keras_inception
from keras_inception.models import inference_model

AUX = ("aux1", "aux2", "main")

# name -> (build kwargs, input shape, output names, params or None) at the default size and at
# a small size. Parameter counts are the references in shared/REFERENCE.md.
DEFAULT_SIZE = {
    "googlenet": ({}, (224, 224, 3), AUX, 1000, 13_378_280),
    "googlenet_bn": ({}, (224, 224, 3), AUX, 1000, None),
    "googlenet_cifar": ({}, (32, 32, 3), ("main",), 100, None),
    "nin_cifar10": ({}, (32, 32, 3), ("main",), 10, 966_986),
    "nin_imagenet": ({}, (224, 224, 3), ("main",), 1000, 7_595_176),
}
SMALL_SIZE = {
    "googlenet": (dict(stem="small", input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25), AUX, 10),
    "googlenet_bn": (dict(stem="small", input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25), AUX, 10),
    "googlenet_cifar": (dict(input_shape=(32, 32, 1), num_classes=10, width_multiplier=0.25), ("main",), 10),
    "nin_cifar10": (dict(input_shape=(32, 32, 1)), ("main",), 10),
    "nin_imagenet": (dict(input_shape=(32, 32, 3), num_classes=10), ("main",), 10),
}


def test_the_tables_cover_every_registered_model():
    assert sorted(DEFAULT_SIZE) == keras_inception.list_models()
    assert sorted(SMALL_SIZE) == keras_inception.list_models()


@pytest.mark.parametrize("name", sorted(DEFAULT_SIZE))
def test_default_size(name, request):
    kwargs, input_shape, outputs, num_classes, params = DEFAULT_SIZE[name]
    model = (request.getfixturevalue("googlenet_paper") if name == "googlenet"
             else keras_inception.get_model(name, **kwargs))
    assert tuple(model.input_shape[1:]) == input_shape
    assert sorted(model.output_names) == sorted(outputs)
    for output in outputs:  # each output is the layer of the same name
        assert tuple(model.get_layer(output).output.shape) == (None, num_classes)
    if params is not None:
        assert model.count_params() == params


@pytest.mark.parametrize("name", sorted(SMALL_SIZE))
def test_small_size_forward_pass(name):
    kwargs, outputs, num_classes = SMALL_SIZE[name]
    model = keras_inception.get_model(name, **kwargs)
    batch = np.random.default_rng(0).random((2, *kwargs["input_shape"]), dtype=np.float32)
    predictions = model.predict(batch, verbose=0)
    if not isinstance(predictions, dict):
        predictions = {"main": predictions}
    assert sorted(predictions) == sorted(outputs)
    for output in outputs:
        assert predictions[output].shape == (2, num_classes)
        np.testing.assert_allclose(predictions[output].sum(axis=1), 1.0, rtol=1e-5)


def test_paper_inference_net_count(googlenet_paper_no_aux):
    # The main network only (REFERENCE.md).
    assert googlenet_paper_no_aux.output_names == ["main"]
    assert googlenet_paper_no_aux.count_params() == 6_998_552


def test_bn_inference_net_trades_conv_biases_for_batch_norm(googlenet_paper_no_aux):
    model = keras_inception.get_model("googlenet_bn", aux_heads=False)
    assert model.output_names == ["main"]
    # Every conv loses its bias and gains a batch norm of four weights per channel.
    paper = googlenet_paper_no_aux
    conv_channels = sum(layer.filters for layer in paper.layers if hasattr(layer, "filters"))
    assert model.count_params() == paper.count_params() - conv_channels + 4 * conv_channels


@pytest.mark.parametrize("pooling, shape", [(None, (7, 7, 1024)), ("avg", (1024,)), ("max", (1024,))])
def test_googlenet_without_top(pooling, shape):
    model = keras_inception.get_model("googlenet", include_top=False, pooling=pooling)
    assert tuple(model.output_shape[1:]) == shape
    assert not any(layer.name.startswith("aux") for layer in model.layers)


@pytest.mark.parametrize(
    "config, pooling, shape",
    [("cifar10", None, (8, 8, 192)), ("cifar10", "avg", (192,)), ("imagenet", "max", (1024,))],
)
def test_nin_without_top(config, pooling, shape):
    model = keras_inception.get_model(f"nin_{config}", include_top=False, pooling=pooling)
    assert tuple(model.output_shape[1:]) == shape


def test_nin_has_no_dense_layer():
    model = keras_inception.get_model("nin_cifar10")
    assert not any(type(layer).__name__ == "Dense" for layer in model.layers)
    assert model.get_layer("main_class_maps_conv").filters == 10


def test_inference_model_of_single_output_model_is_itself():
    model = keras_inception.get_model("nin_cifar10")
    assert inference_model(model) is model


def test_classifier_activation_none_gives_logits():
    model = keras_inception.get_model(
        "googlenet", classifier_activation=None, stem="small", input_shape=(32, 32, 3),
        num_classes=10, width_multiplier=0.25,
    )
    outputs = model.predict(np.ones((2, 32, 32, 3), np.float32) * 10, verbose=0)
    assert not np.allclose(outputs["main"].sum(axis=1), 1.0)


def test_nin_cifar10_follows_the_caffe_model():
    model = keras_inception.get_model("nin_cifar10")
    convs = [(layer.name, layer.kernel_size[0], layer.filters) for layer in model.layers
             if type(layer).__name__ == "Conv2D"]
    assert [(k, f) for _, k, f in convs] == [
        (5, 192), (1, 160), (1, 96), (5, 192), (1, 192), (1, 192), (3, 192), (1, 192), (1, 10)]
    assert type(model.get_layer("mlpconv1_pool")).__name__ == "MaxPooling2D"
    assert type(model.get_layer("mlpconv2_pool")).__name__ == "AveragePooling2D"
    assert model.get_layer("mlpconv1_dropout").rate == 0.5
    assert tuple(model.get_layer("mlpconv2_pool").output.shape[1:3]) == (8, 8)


@pytest.mark.parametrize("name, kwargs", [
    ("googlenet", dict(stem="small", input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.125)),
    ("nin_cifar10", {}),
])
def test_classifiers_stay_float32_under_mixed_precision(name, kwargs):
    import keras

    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = keras_inception.get_model(name, **kwargs)
        outputs = [layer for layer in ("main", "aux1", "aux2") if layer in model.output_names]
        for output in outputs:
            assert model.get_layer(output).output.dtype == "float32"
        assert model.layers[2].output.dtype == "float16"  # the trunk computes in float16
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        images = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
        logs = model.train_on_batch(images, np.array([1, 2]), return_dict=True)
        assert np.isfinite(logs["loss"])
    finally:
        keras.config.set_dtype_policy("float32")
