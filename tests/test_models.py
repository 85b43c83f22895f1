"""Table-driven tests over every registered net at 32x32: a forward pass, one training step,
the `.keras` round trip, the no-top forms and the endpoints (the default size's counts and
shapes are held to each net's spec in tests/test_specs.py)."""

import contextlib

import keras
import numpy as np
import pytest

import keras_inception
from keras_inception.models import inference_model
from keras_inception.training.speedups import fast_training
from tests.conftest import count_step_traces

SMALL_GOOGLENET = dict(stem="small", width_multiplier=0.25)
SMALL_INCEPTION = dict(stem="small", width_multiplier=0.125)
RESNET_SMALL = dict(stem="small", width_multiplier=0.125)
VGG_SMALL = dict(input_shape=(32, 32, 3), width_multiplier=0.125)
SMALL_STEM = dict(stem="small", width_multiplier=0.25)
# Each net's 32x32 form (its default size, its counts and outputs are in its spec).
SMALL_FORMS = {
    "alexnet": SMALL_STEM,
    "alexnet_torchvision": SMALL_STEM,
    "googlenet": SMALL_GOOGLENET,
    "googlenet_bn": SMALL_GOOGLENET,
    "googlenet_cifar": dict(width_multiplier=0.25),
    "googlenet_torchvision": SMALL_GOOGLENET,
    "inception_resnet_v1": SMALL_INCEPTION,
    "inception_resnet_v2": SMALL_INCEPTION,
    "inception_v2": SMALL_STEM,
    "inception_v3": SMALL_INCEPTION,
    "inception_v4": SMALL_INCEPTION,
    "lenet5": {},
    "nin_cifar10": {},
    "nin_imagenet": dict(input_shape=(32, 32, 3)),
    **{f"resnet{depth}": RESNET_SMALL for depth in (18, 34, 50, 101, 152)},
    **{name: VGG_SMALL for name in ("vgg11", "vgg11_lrn", "vgg13", "vgg16_c", "vgg16", "vgg19")},
    "zfnet": SMALL_STEM,
    "zfnet_wide": SMALL_STEM,
}
NETS = sorted(SMALL_FORMS)


def test_the_table_covers_every_registered_model():
    assert NETS == keras_inception.list_models()


def _outputs(name):
    return sorted(("main", *keras_inception.get_spec(name).aux_heads))


def _small(name, **kwargs):
    return keras_inception.get_model(name, **{"num_classes": 10, **SMALL_FORMS[name], **kwargs})


def _numpy(outputs):
    if not isinstance(outputs, dict):
        outputs = {"main": outputs}
    return {key: keras.ops.convert_to_numpy(value) for key, value in outputs.items()}


@pytest.mark.parametrize("name", NETS)
@pytest.mark.slow
def test_small_form_trains_a_step_and_round_trips_through_keras_files(name, tmp_path):
    """One training step; the training form with auxiliary heads saved and loaded."""
    model = _small(name)
    # Plain Keras classes: a functional model, or the training form with auxiliary heads.
    assert type(inference_model(model)).__name__ == "Functional"
    assert type(model) is (keras_inception.AuxiliaryHeadsModel if len(_outputs(name)) > 1
                           else type(inference_model(model)))
    assert tuple(model.input_shape[1:3]) == (32, 32)
    images = np.random.default_rng(0).random((4, *model.input_shape[1:]), dtype=np.float32)
    labels = np.arange(4)
    before = _numpy(model(images, training=False))
    assert sorted(before) == _outputs(name)
    for probabilities in before.values():
        assert probabilities.shape == (4, 10)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

    # One step, run eagerly: tracing the big nets' training graph costs ten times the step.
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  run_eagerly=True)
    classifier_bias = keras.ops.convert_to_numpy(model.trainable_weights[-1])
    logs = model.train_on_batch(images, labels, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert not np.array_equal(keras.ops.convert_to_numpy(model.trainable_weights[-1]), classifier_bias)
    if len(_outputs(name)) == 1:
        return  # its .keras round trip is tests/test_plain_keras.py's, whose file is this same net
    after = _numpy(model(images, training=False))

    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert type(reloaded) is type(model)
    for output, expected in after.items():
        np.testing.assert_array_equal(_numpy(reloaded(images, training=False))[output], expected)


@pytest.mark.parametrize("name", NETS)
@pytest.mark.slow
def test_without_top_ends_at_the_last_endpoint(name):
    model = _small(name, include_top=False, pooling="avg")
    endpoints = keras_inception.endpoint_names(name)
    names = [layer.name for layer in model.layers]
    assert "main" not in names and not any(n.startswith("aux") for n in names)
    assert set(endpoints) <= set(names)
    last = model.get_layer(endpoints[-1]).output
    assert tuple(model.output_shape[1:]) == (last.shape[-1],)
    # The pooled features are the mean of the last endpoint's map.
    both = keras.Model(model.input, [last, model.output])
    images = np.random.default_rng(1).random((2, *model.input_shape[1:]), dtype=np.float32)
    feature_map, pooled = (keras.ops.convert_to_numpy(t) for t in both(images))
    np.testing.assert_allclose(pooled, feature_map.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)


# One net of each family module.
FAMILY_NETS = ("alexnet", "googlenet", "inception_resnet_v2", "inception_v2", "inception_v3", "inception_v4", "lenet5",
               "nin_cifar10", "resnet50", "vgg11")


@pytest.mark.parametrize("name", FAMILY_NETS)
def test_the_feature_extractor_gives_the_full_nets_maps_bit_for_bit(name):
    full = _small(name)
    extractor = keras_inception.get_feature_extractor(name, **{"num_classes": 10, **SMALL_FORMS[name]})
    for layer in extractor.layers:
        layer.set_weights(full.get_layer(layer.name).get_weights())
    endpoints = keras_inception.endpoint_names(name)
    maps_of_full = keras.Model(full.input, {endpoint: full.get_layer(endpoint).output for endpoint in endpoints})
    images = np.random.default_rng(2).random((2, *full.input_shape[1:]), dtype=np.float32)
    expected, got = _numpy(maps_of_full(images, training=False)), _numpy(extractor(images, training=False))
    assert list(extractor.output) == list(endpoints)
    for endpoint in endpoints:
        np.testing.assert_array_equal(got[endpoint], expected[endpoint])


def test_paper_inference_net_count(googlenet_paper_no_aux):
    # The main network only, as the paper counts it.
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
@pytest.mark.slow
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


def _first_fit(model, fast):
    """How many times `fit` traces the training and the evaluation step of a fresh model, and
    its history; `fast`: inside the training job's `fast_training`."""
    import tensorflow as tf

    images = np.random.default_rng(0).random((12, *model.input_shape[1:]), dtype=np.float32)
    data = tf.data.Dataset.from_tensor_slices((images, np.arange(12) % 10)).batch(4)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    traces = count_step_traces(model)
    with fast_training(model, data) if fast else contextlib.nullcontext():
        history = model.fit(data, validation_data=data, epochs=2, verbose=0)
    return traces, history.history


def _lenet(seed):
    keras.utils.set_random_seed(seed)
    return keras_inception.get_model("lenet5", input_shape=(32, 32, 1), num_classes=10)


def test_fast_training_traces_each_step_once_and_trains_as_plain_fit_does():
    # Keras's own functional model creates the optimizer's and metrics' variables inside the
    # first traced training step, and traces it again (TensorFlow, no distribution strategy).
    keras_traces, keras_history = _first_fit(_lenet(0), fast=False)
    assert keras_traces == {"train": 2, "test": 1}
    traces, history = _first_fit(_lenet(0), fast=True)
    assert traces == {"train": 1, "test": 1}
    # Building from the first batch took no batch from training, and the fused optimizer
    # update is Keras's arithmetic in one kernel: the same losses, to float32 rounding.
    assert history.keys() == keras_history.keys()
    for key, values in history.items():
        np.testing.assert_allclose(values, keras_history[key], rtol=1e-6, atol=0, err_msg=key)


@pytest.mark.parametrize("optimizer, kernel", [
    (lambda: keras.optimizers.AdamW(1e-2, weight_decay=0.05), "ResourceApplyAdam"),
    (lambda: keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True), "ResourceApplyKerasMomentum"),
    (lambda: keras.optimizers.SGD(0.05), "ResourceApplyGradientDescent"),
])
def test_fast_training_updates_each_variable_in_one_fused_kernel_as_keras_does(optimizer, kernel):
    import tensorflow as tf

    images = np.random.default_rng(0).random((16, 32, 32, 1), dtype=np.float32)
    data = tf.data.Dataset.from_tensor_slices((images, np.arange(16) % 10)).batch(4)
    weights, kernels = {}, {}
    for fast in (False, True):
        model = _lenet(0)
        model.compile(optimizer=optimizer(), loss="sparse_categorical_crossentropy")
        with fast_training(model, data) if fast else contextlib.nullcontext():
            model.fit(data, epochs=2, verbose=0)
            weights[fast] = model.get_weights()
            update = tf.function(lambda: model.optimizer.apply(
                [tf.zeros(variable.shape) for variable in model.trainable_variables], model.trainable_variables))
            kernels[fast] = [op.type for op in update.get_concrete_function().graph.get_operations()].count(kernel)
        assert "update_step" not in vars(model.optimizer)  # the instance is Keras's again
    assert kernels == {False: 0, True: len(model.trainable_variables)}
    # The same arithmetic rounded differently (the kernel fuses multiply-adds), which Adam's
    # division by sqrt(v) magnifies where v is tiny: within a thousandth of a step (lr 0.01).
    for fused, plain in zip(weights[True], weights[False], strict=True):
        np.testing.assert_allclose(fused, plain, rtol=1e-4, atol=1e-5)
