"""Export: the inference graph, SavedModel signatures, TFLite in four modes checked with the
LiteRT interpreter, mixed-precision models, safe writes."""

import csv
import json
import os
import pathlib
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_inception
from keras_inception import data, files
from keras_inception.export import ExportResult, export_graph, export_model, tflite
from keras_inception.export.features import output_names
from keras_inception.export.folding import foldable_batch_norms
from keras_inception.export.graph import DelegateLocalResponseNormalization, rgb_input
from keras_inception.export.metadata import read_metadata
from keras_inception.export.verify import parity_report, run_tflite, tflite_input_shape, top2_margins
from keras_inception.extras import require
from keras_inception.pretrained.classes import read_class_names

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def trained_run(digits_run, tmp_path):
    """A copy of the run of the digits GoogLeNet the training job trained (conftest), its
    model.keras and run.json, to export into: the run itself is shared by the workers' tests."""
    run = tmp_path / "run"
    run.mkdir()
    for name in ("model.keras", "run.json"):
        shutil.copy(os.path.join(digits_run.run_dir, name), run / name)
    return run


def _digit_images(size, channels, count=64):
    source = data.from_arrays(*data.digits("test"))
    batches = data.make_dataset(source, image_size=size, channels=channels, training=False, batch_size=count)
    return next(iter(batches))[0].numpy()


def test_export_graph_drops_aux_heads_and_can_give_logits():
    model = keras_inception.get_model("googlenet", stem="small", input_shape=(32, 32, 3), num_classes=10,
                                      width_multiplier=0.25)
    images = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
    graph = export_graph(model)
    assert len(graph.outputs) == 1 and graph.output_shape == (None, 10)
    assert not any(isinstance(layer, keras_inception.layers.LocalResponseNormalization) for layer in graph.layers)
    assert sum(isinstance(layer, DelegateLocalResponseNormalization) for layer in graph.layers) == 1  # the small stem's
    expected = model.predict(images, verbose=0)["main"]
    np.testing.assert_allclose(graph.predict(images, verbose=0), expected, atol=1e-6)
    logits = export_graph(model, logits=True).predict(images, verbose=0)
    np.testing.assert_allclose(keras.ops.softmax(logits).numpy(), expected, atol=1e-6)
    assert np.abs(logits.sum(axis=1) - 1).max() > 1e-3  # not probabilities


def _signature_scores(converted, images):
    """A .tflite's scores through its signature, as an app calls it."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=converted)
    assert interpreter.get_signature_list() == {"serving_default": {"inputs": ["image"], "outputs": ["output_0"]}}
    run = interpreter.get_signature_runner()
    return np.concatenate([run(image=image[None])["output_0"] for image in images])


@pytest.mark.parametrize("name, kwargs", [
    ("googlenet", dict(stem="small", input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25, aux_heads=False)),
    ("nin_cifar10", dict(input_shape=(32, 32, 3))),
])
@pytest.mark.slow
def test_every_tflite_mode_runs_in_litert(name, kwargs, tmp_path):
    graph = export_graph(keras_inception.get_model(name, **kwargs))
    images = _digit_images(32, 3, count=16)
    keras_outputs = graph.predict(images, verbose=0)
    reports = {}
    for mode, converted in tflite.convert_modes(graph, tflite.MODES, representative_images=images):
        path = tmp_path / f"{mode}.tflite"
        path.write_bytes(converted)
        reports[mode] = parity_report(str(path), keras_outputs, images)
    assert reports["float32"]["max_abs_error"] <= 1e-4
    assert reports["float16"]["max_abs_error"] <= 1e-2
    sizes = {mode: report["size_bytes"] for mode, report in reports.items()}
    assert sizes["int8"] < 0.4 * sizes["float32"] and sizes["float16"] < 0.6 * sizes["float32"]
    assert all(report["latency_ms"] > 0 for report in reports.values())
    # The signature a mobile app looks for gives the same scores.
    scores = _signature_scores((tmp_path / "float32.tflite").read_bytes(), images[:2])
    np.testing.assert_allclose(scores, keras_outputs[:2], atol=1e-4)
    # Where the top-1 class differs, the report gives how near a tie it was in the reference
    # scores. The file's own scores as the reference, but for two images whose top score is
    # moved to another class, 0.25 and 0.5 above the file's pick (a random net's scores can be
    # 1e-5 from a tie, so Keras's own are not used here).
    float32_path = str(tmp_path / "float32.tflite")
    reference = run_tflite(float32_path, images)
    same = parity_report(float32_path, reference, images)
    assert same["top1_agreement"] == 1.0 and same["widest_flipped_margin"] is None
    assert same["median_margin"] == pytest.approx(np.median(top2_margins(reference)))
    for image, gap in ((0, 0.25), (1, 0.5)):
        other = (reference[image].argmax() + 1) % reference.shape[-1]
        reference[image, other] = reference[image].max() + gap
    flipped = parity_report(float32_path, reference, images)
    assert flipped["top1_agreement"] == 1 - 2 / len(images)
    assert flipped["widest_flipped_margin"] == pytest.approx(0.5)


def _int8_result(widest_flipped_margin):
    return ExportResult(output_dir="unused", saved_model=None, reports={
        "float32": {"max_abs_error": 1.3e-6, "top1_agreement": 1.0},
        "int8": {"max_abs_error": 0.26, "top1_agreement": 0.975, "widest_flipped_margin": widest_flipped_margin,
                 "median_margin": 1.75}})


def test_an_int8_miss_says_how_near_a_tie_the_changed_images_were():
    result = _int8_result(0.9)
    assert result.failures() == [
        "int8 top-1 agreement 97.5% < 98%; where it differs, the Keras model's top two scores were at most "
        "0.9 apart (the median image's: 1.75)"]
    assert result.warnings() == []


def test_an_int8_miss_on_near_ties_alone_is_a_warning():
    result = _int8_result(0.112)  # within a tenth of the median image's gap
    assert result.failures() == []
    assert result.warnings() == [
        "int8 top-1 agreement 97.5% < 98%; where it differs, the Keras model's top two scores were at most "
        "0.112 apart (the median image's: 1.75), each a near tie (within 0.05, or 0.1 of the median gap): the "
        "net is undertrained for this check, not badly quantized"]
    # A net near chance everywhere: its median gap is small too, but the flipped ones' are ties outright.
    undertrained = _int8_result(0.023)
    undertrained.reports["int8"]["median_margin"] = 0.0414
    assert undertrained.failures() == [] and len(undertrained.warnings()) == 1


@pytest.mark.slow
def test_frozen_and_saved_model_conversions_give_the_same_files(monkeypatch):
    """A net up to `FROZEN_MAX_WEIGHT_BYTES` converts from a frozen trace, a larger one from a
    SavedModel: the same signature and the same answers either way."""
    graph = export_graph(keras_inception.get_model("googlenet", stem="small", input_shape=(32, 32, 3), num_classes=10,
                                                   width_multiplier=0.25, aux_heads=False))
    assert tflite._weight_bytes(graph) == 4 * graph.count_params() <= tflite.FROZEN_MAX_WEIGHT_BYTES
    images = _digit_images(32, 3, count=8)
    modes = ("float32", "int8")
    frozen = dict(tflite.convert_modes(graph, modes, representative_images=images))
    monkeypatch.setattr(tflite, "FROZEN_MAX_WEIGHT_BYTES", 0)
    from_saved_model = dict(tflite.convert_modes(graph, modes, representative_images=images))
    keras_outputs = graph.predict(images, verbose=0)
    for converted in (frozen, from_saved_model):
        np.testing.assert_allclose(_signature_scores(converted["float32"], images), keras_outputs, atol=1e-5)
    np.testing.assert_array_equal(_signature_scores(frozen["int8"], images),
                                  _signature_scores(from_saved_model["int8"], images))


def test_full_int8_keeps_tflites_lrn_in_float(tmp_path):
    model = keras_inception.get_model("googlenet", stem="small", input_shape=(32, 32, 3), num_classes=10,
                                      width_multiplier=0.25, aux_heads=False)
    images = _digit_images(32, 3, count=16)
    path = tmp_path / "int8.tflite"
    path.write_bytes(tflite.convert(export_graph(model, form="tensorflow"), "int8", representative_images=images,
                                    int8_io="uint8"))
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    ops = interpreter._get_ops_details()
    lrn = [op for op in ops if op["op_name"] == "LOCAL_RESPONSE_NORMALIZATION"]
    assert len(lrn) == 1  # the small stem's LRN
    tensors = {detail["index"]: detail["dtype"] for detail in interpreter.get_tensor_details()}
    assert all(tensors[index] == np.float32 for op in lrn for index in op["inputs"])
    assert any(op["op_name"] == "CONV_2D" and tensors[op["inputs"][0]] == np.int8 for op in ops)
    assert interpreter.get_input_details()[0]["dtype"] == np.uint8
    assert run_tflite(str(path), images[:4]).shape == (4, 10)


@pytest.mark.slow
def test_export_job_meets_the_targets_on_the_digits(trained_run):
    result = export_model(str(trained_run / "model.keras"), modes=("float32", "int8"), features=True)
    assert result.reports["float32"]["max_abs_error"] <= 1e-4
    assert result.reports["int8"]["top1_agreement"] >= 0.98
    assert all(report["mediapipe_top1_agreement"] >= 0.99 for report in result.reports.values())
    assert result.failures() == [] and result.notes() == []
    # The grayscale net's files take RGB, as phones give it, and name the digits.
    for mode in ("float32", "int8"):
        path = str(trained_run / f"model_{mode}.tflite")
        assert tflite_input_shape(path) == (32, 32, 3)
        metadata = read_metadata(path)
        assert metadata["labels"] == tuple("0123456789") and metadata["color_space"] == "RGB"
        assert metadata["description"].startswith("googlenet_bn trained on digits: probabilities of 10 classes")
    assert read_class_names(str(trained_run / "inference.keras")) == tuple("0123456789")
    assert json.loads((trained_run / "model_int8.json").read_text())["images"] == 200
    assert set(json.loads((trained_run / "export_report.json").read_text())) == {"float32", "int8"}
    # Every quantized layer's error, worst first; none kept in float here.
    with open(trained_run / "quantization_int8.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    snrs = [float(row["snr_db"]) for row in rows]
    assert len(rows) > 50 and snrs == sorted(snrs) and snrs[0] > 15
    assert not any(row["kept_in_float"] for row in rows) and result.reports["int8"]["float_layers"] == {}
    assert [layer for layer, _ in result.reports["int8"]["worst_layers"]] == [row["layer"] for row in rows[:3]]
    # The inference net as a plain Keras file: no auxiliary heads, the trained net's answers.
    assert result.keras_file == str(trained_run / "inference.keras")
    plain = keras.saving.load_model(result.keras_file, safe_mode=True)
    trained = keras.saving.load_model(trained_run / "model.keras")
    images = _digit_images(32, 1, count=8)
    assert plain.output_names == ["main"]
    np.testing.assert_allclose(plain.predict(images, verbose=0), trained.predict(images, verbose=0)["main"],
                               atol=1e-6)
    assert not [path for path in trained_run.iterdir() if ".partial" in path.name]
    # The feature maps of the net the run trained, named in its order.
    assert result.feature_files == (str(trained_run / "features_float32.tflite"),
                                    str(trained_run / "features_saved_model"))
    interpreter = require("ai_edge_litert.interpreter", "mobile").Interpreter(model_path=result.feature_files[0])
    runner = interpreter.get_signature_runner("serving_default")
    assert list(runner.get_output_details()) == output_names(keras_inception.endpoint_names("googlenet_bn"))
    maps = runner(image=images[:1])
    np.testing.assert_allclose(maps["08_inception_5b"], keras.Model(trained.input, trained.get_layer(
        "inception_5b").output).predict(images[:1], verbose=0), rtol=1e-5, atol=1e-5)
    # Existing artifacts stay unless overwrite is asked for.
    before = (trained_run / "model_int8.tflite").stat().st_mtime_ns
    with pytest.raises(ValueError, match="exists; pass overwrite=True"):
        export_model(str(trained_run), modes=("int8",))
    assert (trained_run / "model_int8.tflite").stat().st_mtime_ns == before


SERVE = """
import sys, numpy as np, tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
images = np.load(sys.argv[2])
out = loaded.signatures["serving_default"](images=tf.constant(images))
fl = loaded.signatures["serve_float"](images=tf.constant(images.astype("float32") / 255))
np.savez(sys.argv[3], probabilities=out["probabilities"].numpy(), class_ids=out["class_ids"].numpy(),
         float_probabilities=fl["probabilities"].numpy())
"""


@pytest.mark.slow
def test_saved_model_serves_uint8_images_in_a_fresh_process(trained_run, tmp_path):
    export_model(str(trained_run), modes=())
    model = keras.saving.load_model(trained_run / "model.keras")
    # Images as a user has them: uint8 RGB, larger than the net's input.
    images = np.repeat(np.kron(data.digits("test")[0][:8], np.ones((1, 6, 6, 1), np.uint8)), 3, axis=-1)
    np.save(tmp_path / "images.npy", images)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", SERVE, str(trained_run / "saved_model"), str(tmp_path / "images.npy"),
                           str(tmp_path / "out.npz")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    served = np.load(tmp_path / "out.npz")
    view = data.preprocessing.evaluation_view(tf.constant(images), 32, 1)
    expected = keras_inception.inference_model(model).predict(view, verbose=0)
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    np.testing.assert_allclose(served["float_probabilities"], expected, atol=1e-5)
    np.testing.assert_array_equal(served["class_ids"], expected.argmax(-1))
    saved_model_cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")  # installed with TF
    shown = subprocess.run([saved_model_cli, "show", "--dir", str(trained_run / "saved_model"), "--all"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert "signature_def['serving_default']" in shown.stdout and "signature_def['serve_float']" in shown.stdout
    assert set(tf.saved_model.load(str(trained_run / "saved_model")).signatures) == {"serving_default", "serve_float"}


@pytest.mark.slow
def test_model_trained_under_mixed_precision_exports(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = keras_inception.get_model("googlenet", stem="small", input_shape=(32, 32, 3), num_classes=10,
                                          width_multiplier=0.25)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    images = _digit_images(32, 3, count=8)
    graph = export_graph(model)
    assert {layer.dtype_policy.name for layer in graph.layers} == {"float32"}
    mixed = model.predict(images, verbose=0)["main"]
    np.testing.assert_allclose(graph.predict(images, verbose=0), mixed, atol=2e-2)  # float16 rounding only
    path = tmp_path / "float32.tflite"
    path.write_bytes(tflite.convert(graph, "float32"))
    assert parity_report(str(path), graph.predict(images, verbose=0), images)["max_abs_error"] <= 1e-4
    from keras_inception.export.savedmodel import write_saved_model

    write_saved_model(graph, str(tmp_path / "saved_model"))
    served = tf.saved_model.load(str(tmp_path / "saved_model")).signatures["serve_float"](images=tf.constant(images))
    np.testing.assert_allclose(served["probabilities"].numpy(), graph.predict(images, verbose=0), atol=1e-5)


def test_a_failed_directory_write_leaves_the_old_artifact(tmp_path):
    target = tmp_path / "saved_model"
    target.mkdir()
    (target / "saved_model.pb").write_text("old")

    def broken_write(path):
        os.makedirs(path)
        (pathlib.Path(path) / "saved_model.pb").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.write_directory_atomically(str(target), broken_write)
    assert (target / "saved_model.pb").read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["saved_model"]
    # A crash between the swap's two renames: the old directory is put back.
    os.replace(target, tmp_path / ".saved_model.previous")
    files.recover_directory(str(target))
    assert (target / "saved_model.pb").read_text() == "old"


def test_a_kept_previous_directory_can_be_rolled_back_to(tmp_path):
    target = tmp_path / "backup"

    def write(text):
        def into(path):
            os.makedirs(path)
            (pathlib.Path(path) / "epoch").write_text(text)
        files.write_directory_atomically(str(target), into, keep_previous=True)

    write("1")
    write("2")
    files.recover_directory(str(target), keep_previous=True)  # a restart keeps the previous one
    assert (pathlib.Path(files.previous_directory(str(target))) / "epoch").read_text() == "1"
    files.roll_back_directory(str(target))
    assert (target / "epoch").read_text() == "1"
    assert sorted(os.listdir(tmp_path)) == ["backup"]
    # A crash between the roll-back's renames: the previous one is put back, the other dropped.
    write("2")
    os.replace(target, tmp_path / ".backup.discarded")
    files.recover_directory(str(target), keep_previous=True)
    assert (target / "epoch").read_text() == "1" and sorted(os.listdir(tmp_path)) == ["backup"]
    files.roll_back_directory(str(target))  # nothing kept: the directory goes
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_export_killed_mid_write_leaves_whole_artifacts(tmp_path):
    """SIGKILL while the SavedModel directory is being written, and at random moments of a
    re-export: the artifacts at their destinations are always whole (the old ones or the new
    ones), and the next run completes."""
    from tests.script_forks import ScriptServer

    model_path = tmp_path / "lenet5.keras"
    keras.utils.set_random_seed(0)
    keras_inception.get_model("lenet5").save(model_path)
    command = [f"--model={model_path}", "--modes=float32", "--calibration_images=4", "--verification_images=8",
               "--overwrite"]
    saved_model, tflite_path = tmp_path / "saved_model", tmp_path / "model_float32.tflite"
    images = _digit_images(32, 3, count=4)  # the .tflite takes RGB, LeNet-5 gray
    expected = rgb_input(export_graph(keras.saving.load_model(model_path))).predict(images, verbose=0)

    def assert_whole():
        np.testing.assert_allclose(run_tflite(str(tflite_path), images), expected, atol=1e-4)
        assert "serving_default" in tf.saved_model.load(str(saved_model)).signatures

    rng = np.random.default_rng(0)
    with ScriptServer("export.py", cwd=tmp_path) as server:
        first = server.run(command, timeout=300)
        assert first["returncode"] == 0, first["stderr"][-2000:]
        killed = server.run(command, timeout=300, kill_on=tmp_path / ".saved_model.partial")
        assert killed["killed"] and (tmp_path / ".saved_model.partial").exists()  # killed mid-write
        assert_whole()
        for _ in range(2):
            killed = server.run(command, timeout=float(rng.uniform(0.2, 0.9) * first["seconds"]))
            assert killed["killed"]
            assert_whole()
        final = server.run(command, timeout=300)
    assert final["returncode"] == 0, final["stderr"][-2000:]
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []
    assert_whole()


def _with_random_batch_norm_statistics(model, seed=0):
    """Batch norms as after training: means, variances, scales and shifts away from 0 and 1."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 2.0, w.shape).astype("float32") if "variance" in v.path or "gamma" in v.path
                               else rng.normal(0, 0.2, w.shape).astype("float32")
                               for v, w in zip(layer.weights, layer.get_weights())])
    return model


def test_batch_norms_fold_into_the_convolution_before_them_where_it_alone_feeds_them():
    inputs = keras.Input((8, 8, 3))
    a = keras.layers.BatchNormalization(scale=False, name="a_bn")(  # TF-slim's: no gamma
        keras.layers.Conv2D(4, 3, use_bias=False, name="a")(inputs))
    b = keras.layers.BatchNormalization(name="b_bn")(keras.layers.Conv2D(4, 1, name="b")(keras.layers.ReLU()(a)))
    c = keras.layers.BatchNormalization(name="c_bn")(keras.layers.Conv2D(4, 1, activation="relu", name="c")(b))
    d = keras.layers.Conv2D(4, 1, name="d")(c)  # its output goes to its batch norm and to the sum
    outputs = keras.layers.Add()([keras.layers.BatchNormalization(name="d_bn")(d), d])
    model = _with_random_batch_norm_statistics(keras.Model(inputs, outputs))
    folds = foldable_batch_norms(model)
    assert {name: batch_norm.name for name, batch_norm in folds.items()} == {"a": "a_bn", "b": "b_bn"}
    graph = export_graph(model, form="tensorflow")
    assert [type(layer).__name__ for layer in graph.layers].count("FoldedBatchNormalization") == 2
    images = np.random.default_rng(1).random((4, 8, 8, 3), dtype=np.float32)
    np.testing.assert_allclose(graph.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)


def test_the_saved_model_graph_of_a_resnet_has_every_batch_norm_folded():
    model = _with_random_batch_norm_statistics(keras_inception.get_model("resnet18", input_shape=(32, 32, 3)))
    graph = export_graph(model, form="tensorflow")
    assert not [layer for layer in graph.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(foldable_batch_norms(model)) == 20  # 17 convolutions and 3 projections
    images = np.random.default_rng(1).random((4, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(graph.predict(images, verbose=0), export_graph(model, form="keras").predict(images, verbose=0),
                               atol=1e-5)
