"""Quantization-aware training: the copy computes what its int8 file computes, and the file
holds the ranges learned in training (keras_inception/export/qat.py)."""

import os
import shutil
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_inception import data
from keras_inception.export import qat
from keras_inception.export.verify import run_tflite
from keras_inception.models import inference_model
from tests.script_forks import ScriptServer
from tests.test_int8 import DEAD_BATCH_NORM, silence


@pytest.mark.parametrize("per_channel", [True, False])
def test_weights_are_rounded_to_255_symmetric_levels_of_their_largest_magnitude(per_channel):
    kernel = np.random.default_rng(0).normal(size=(3, 3, 4, 5)).astype("float32") * np.float32([1, 10, 0.1, 3, 1e-3])
    rounded = qat.quantized_weights(tf.constant(kernel), per_channel=per_channel).numpy()
    channels = range(5) if per_channel else [slice(None)]
    for channel in channels:
        limit = np.abs(kernel[..., channel]).max()
        steps = rounded[..., channel] / (limit / 127)
        np.testing.assert_allclose(steps, np.round(steps), atol=2e-3)  # whole steps of limit / 127
        assert np.abs(steps).max() == pytest.approx(127, abs=2e-3)
        np.testing.assert_allclose(rounded[..., channel], kernel[..., channel], rtol=0, atol=limit / 127 / 2 + 1e-7)


@pytest.mark.slow
def test_the_int8_file_computes_what_the_trained_copy_computes_with_its_ranges(digits_run, tmp_path):
    model = inference_model(keras.saving.load_model(f"{digits_run.run_dir}/model.keras"))
    images, labels = data.digits("train")
    pixels = data.preprocessing.evaluation_view(images[:128], 32, 1).numpy()
    batches = tf.data.Dataset.from_tensor_slices((pixels, labels[:128])).batch(64)
    qat_model = qat.quantization_aware_training(model, batches, epochs=1)

    layers = {type(layer) for layer in qat_model.layers}
    assert keras.layers.BatchNormalization not in layers and keras.layers.Conv2D not in layers  # folded, rounded
    convolutions = sum(isinstance(layer, qat.QuantizedConv2D) for layer in qat_model.layers)
    assert convolutions == sum(type(layer) is keras.layers.Conv2D for layer in model.layers)

    converted = qat.convert(qat_model)
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=converted)
    ops = [op["op_name"] for op in interpreter._get_ops_details()]
    assert ops.count("CONV_2D") == convolutions
    tensors = {tensor["name"]: tensor for tensor in interpreter.get_tensor_details()}
    # The last Inception block's output is held in int8 over the range the copy learned.
    block = qat_model.get_layer("inception_5b_quantized")
    (held,) = [tensor for name, tensor in tensors.items()
               if name.endswith("inception_5b_1/concat") and tensor["dtype"] == np.int8]
    assert held["quantization"][0] == pytest.approx((block.range_max.numpy() - block.range_min.numpy()) / 255,
                                                    rel=1e-5)
    # The classifier stays float, so that its softmax joins XNNPACK's one graph.
    assert [op for op in ops if op in ("DEQUANTIZE", "FULLY_CONNECTED", "SOFTMAX")] == [
        "DEQUANTIZE", "FULLY_CONNECTED", "SOFTMAX"]

    test_images, _ = data.digits("test")
    test_pixels = data.preprocessing.evaluation_view(test_images[:64], 32, 1).numpy()
    (tmp_path / "qat.tflite").write_bytes(converted)
    from_file = run_tflite(str(tmp_path / "qat.tflite"), test_pixels)
    from_copy = keras.ops.convert_to_numpy(qat_model(test_pixels, training=False))
    assert np.mean(from_file.argmax(-1) == from_copy.argmax(-1)) >= 62 / 64
    assert np.abs(from_file - from_copy).max() < 0.1

    # A layer kept in float computes in float in the file (its taker too, as its output is no
    # longer rounded), and the file computes that copy.
    kept = qat.keep_in_float(qat_model, ["inception_3a_3x3_reduce_conv"])
    (tmp_path / "kept.tflite").write_bytes(qat.convert(kept))
    interpreter = Interpreter(model_path=str(tmp_path / "kept.tflite"))
    details = interpreter.get_tensor_details()
    float_convolutions = [details[op["outputs"][0]]["name"] for op in interpreter._get_ops_details()
                          if op["op_name"] == "CONV_2D" and details[op["outputs"][0]]["dtype"] == np.float32]
    assert [name.split("/")[1] for name in float_convolutions] == ["inception_3a_3x3_reduce_relu_1",
                                                                     "inception_3a_3x3_relu_1"]
    from_kept_file = run_tflite(str(tmp_path / "kept.tflite"), test_pixels)
    from_kept_copy = keras.ops.convert_to_numpy(kept(test_pixels, training=False))
    assert np.mean(from_kept_file.argmax(-1) == from_kept_copy.argmax(-1)) >= 62 / 64
    # Neither of the old ways in was needed.
    assert "tf_keras" not in sys.modules and "tensorflow_model_optimization" not in sys.modules


@pytest.mark.slow
def test_export_makes_the_int8_file_by_quantization_aware_training(digits_run, tmp_path):
    from keras_inception.export import export_model

    # With a dead layer, whose int8 op XNNPACK would refuse.
    shutil.copy(os.path.join(digits_run.run_dir, "run.json"), tmp_path / "run.json")
    model = keras.saving.load_model(os.path.join(digits_run.run_dir, "model.keras"))
    silence(model.get_layer(DEAD_BATCH_NORM))
    model.save(tmp_path / "model.keras")
    result = export_model(str(tmp_path), modes=("int8",), saved_model=False, calibration_images=32,
                          verification_images=64, qat_epochs=1)
    report = result.reports["int8"]
    assert report["qat_epochs"] == 1 and "worst_layers" not in report  # trained, not calibrated
    # Checked against the trained copy, whose function the file computes, as float32 files are
    # against Keras; it was fitted to the net's own answers, and keeps them.
    assert report["top1_agreement"] >= 0.98 and report["mediapipe_top1_agreement"] >= 0.99
    assert report["top1_agreement_before_qat"] >= 0.9
    assert report["float_layers"] == {DEAD_BATCH_NORM.replace("_bn", "_conv"): "XNNPACK cannot run it in int8"}
    assert report["xnnpack_partitions"] == 1
    assert "int8 comes from quantization-aware training: 1 epoch on the training split; checked against" in (
        result.table())
    assert not (tmp_path / "quantization_int8.csv").exists()


@pytest.mark.slow
def test_an_export_killed_in_quantization_aware_training_leaves_the_earlier_files(digits_run, tmp_path):
    for name in ("model.keras", "run.json"):
        shutil.copy(os.path.join(digits_run.run_dir, name), tmp_path / name)
    earlier = {"inference.keras": b"an earlier export's net", "model_int8.tflite": b"an earlier export's int8 file"}
    for name, content in earlier.items():
        (tmp_path / name).write_bytes(content)
    with ScriptServer("export.py", cwd=tmp_path) as server:
        # Killed as the first of two epochs starts: Keras prints the line then.
        result = server.run([f"--model={tmp_path}", "--modes=int8", "--qat_epochs=2", "--nosaved_model",
                             "--overwrite"], timeout=300, kill_on_output="Epoch 1/2")
    assert result["killed"], result["stderr"][-2000:]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["model.keras", "run.json", *earlier])
    for name, content in earlier.items():
        assert (tmp_path / name).read_bytes() == content


def test_quantization_aware_export_refuses_what_it_cannot_train(digits_run, tmp_path):
    from keras_inception.export import export_model

    shutil.copy(os.path.join(digits_run.run_dir, "model.keras"), tmp_path / "model.keras")  # no run.json
    with pytest.raises(ValueError, match=r"has no run.json beside it: give the dataset it was trained on "
                                         r"\(--dataset\)\. Received: qat_epochs=1$"):
        export_model(str(tmp_path / "model.keras"), modes=("int8",), qat_epochs=1)
    with pytest.raises(ValueError, match=r"needs mode 'int8' with float input and output \(int8_io='none'\) and no "
                                         r"min_agreement\. Received: modes=\['int8'\], int8_io='none', "
                                         r"min_agreement=0\.99$"):
        export_model(str(tmp_path / "model.keras"), modes=("int8",), qat_epochs=1, min_agreement=0.99)
    with pytest.raises(ValueError, match=r"qat_epochs"):
        export_model(str(tmp_path / "model.keras"), modes=("int8",), qat_epochs=0)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.keras"]  # nothing written


def test_training_targets_other_than_the_models_answers_or_the_labels_are_refused():
    with pytest.raises(ValueError, match=r"^`targets` must be one of 'model', 'labels'\. Received: targets='teacher'$"):
        qat.quantization_aware_training(None, None, targets="teacher")
