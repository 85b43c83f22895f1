"""Feature extractors exported: a .tflite (and a SavedModel) whose outputs keep the maps' names
and the net's order, and answer as the Keras net's layers do."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_inception
from keras_inception.export.features import SIGNATURE, export_feature_extractor, output_names
from keras_inception.extras import require
from keras_inception.validation import UsageError
from tests.test_models import FAMILY_NETS, SMALL_FORMS


def _maps(model, endpoints, images):
    probe = keras.Model(model.input, {endpoint: model.get_layer(endpoint).output for endpoint in endpoints})
    return {name: keras.ops.convert_to_numpy(value) for name, value in probe(images, training=False).items()}


def _close(got, expected):
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(expected).max())))


@pytest.mark.parametrize("name", FAMILY_NETS)
@pytest.mark.slow
def test_the_tflite_lists_the_maps_by_name_in_order_and_agrees_with_keras(name, tmp_path):
    model = keras_inception.get_model(name, num_classes=10, **SMALL_FORMS[name])
    endpoints = keras_inception.endpoint_names(name)
    (tflite_path,) = export_feature_extractor(model, tmp_path, endpoints, saved_model=False)
    interpreter = require("ai_edge_litert.interpreter", "mobile").Interpreter(model_path=tflite_path)
    runner = interpreter.get_signature_runner(SIGNATURE)
    names = output_names(endpoints)
    assert list(runner.get_output_details()) == names
    assert [detail["shape"][-1] for detail in runner.get_output_details().values()] == [
        model.get_layer(endpoint).output.shape[-1] for endpoint in endpoints]
    images = np.random.default_rng(3).random((2, *model.input_shape[1:]), dtype=np.float32)
    expected = _maps(model, endpoints, images)
    for index, image in enumerate(images):
        outputs = runner(image=image[None])
        for output, endpoint in zip(names, endpoints):
            _close(outputs[output][0], expected[endpoint][index])


def test_the_saved_model_gives_the_maps_by_name(tmp_path):
    model = keras_inception.get_model("googlenet", num_classes=10, **SMALL_FORMS["googlenet"])
    endpoints = keras_inception.endpoint_names("googlenet")
    _, saved_model = export_feature_extractor(model, tmp_path, endpoints)
    serve = tf.saved_model.load(saved_model).signatures[SIGNATURE]
    images = np.random.default_rng(4).random((2, 32, 32, 3), dtype=np.float32)
    outputs = serve(image=tf.constant(images))
    assert sorted(outputs) == output_names(endpoints)
    expected = _maps(model, endpoints, images)
    for output, endpoint in zip(output_names(endpoints), endpoints):
        _close(outputs[output].numpy(), expected[endpoint])


def test_endpoints_the_net_lacks_are_one_line(tmp_path):
    model = keras_inception.get_model("lenet5")
    with pytest.raises(UsageError, match=r"^`endpoints` must name layers of 'lenet5'\. "
                                         r"Received: endpoints=\['s2', 'pool9'\]$"):
        export_feature_extractor(model, tmp_path, ["s2", "pool9"])
    assert list(tmp_path.iterdir()) == []
