"""int8 that keeps the float model's answers: the per-layer error table, layers XNNPACK cannot
run in int8 kept in float, and `min_agreement` keeping the fewest worst layers in float."""

import csv
import json
import os
import pathlib
import shutil

import keras
import numpy as np
import pytest

import keras_inception
from keras_inception.export import int8, tflite
from keras_inception.export.delegates import xnnpack_refused_tensors
from keras_inception.export.graph import export_graph
from keras_inception.export.job import INT8_TABLE, export_model
from keras_inception.export.verify import run_tflite
from keras_inception.validation import UsageError

# Where the hard case breaks int8: a reduce convolution's batch norm, the convolution it feeds,
# and a batch norm that no image gets past (every output of its ReLU zero).
SCALED_BATCH_NORM, ITS_TAKER, DEAD_BATCH_NORM = "inception_3a_3x3_reduce_bn", "inception_3a_3x3_conv", \
    "inception_4a_5x5_reduce_bn"


def _hard_case(digits_run, folder):
    """A copy of the digits run whose float function is unchanged but whose post-training int8
    loses most of one activation's channels: one channel of a batch norm's scale and shift
    times 1000 and the next convolution's weights for it over 1000 (ReLU commutes with a
    positive scale). Besides, one layer is dead, as undertrained nets have them."""
    folder.mkdir()
    shutil.copy(os.path.join(digits_run.run_dir, "run.json"), folder / "run.json")
    model = keras.saving.load_model(os.path.join(digits_run.run_dir, "model.keras"))
    images = np.random.default_rng(0).random((16, 32, 32, 1), dtype=np.float32)
    before = model.predict(images, verbose=0)["main"]
    gamma, beta, mean, variance = model.get_layer(SCALED_BATCH_NORM).get_weights()
    gamma[0], beta[0] = 1000 * gamma[0], 1000 * beta[0]
    model.get_layer(SCALED_BATCH_NORM).set_weights([gamma, beta, mean, variance])
    kernel, *rest = model.get_layer(ITS_TAKER).get_weights()
    kernel[:, :, 0, :] /= 1000
    model.get_layer(ITS_TAKER).set_weights([kernel, *rest])
    np.testing.assert_allclose(model.predict(images, verbose=0)["main"], before, atol=1e-5)
    silence(model.get_layer(DEAD_BATCH_NORM))
    model.save(folder / "model.keras")


def silence(batch_norm):
    """A shift that keeps every output of the ReLU after `batch_norm` at zero."""
    gamma, beta, mean, variance = batch_norm.get_weights()
    batch_norm.set_weights([gamma, np.full_like(beta, -1e4), mean, variance])


@pytest.mark.slow
def test_min_agreement_keeps_the_broken_layers_in_float_and_reaches_the_target(digits_run, tmp_path):
    run = tmp_path / "hard"
    _hard_case(digits_run, run)
    result = export_model(str(run), modes=("int8",), saved_model=False, min_agreement=0.995)
    report = result.reports["int8"]
    assert report["top1_agreement_all_int8"] < 0.9  # post-training int8 loses the scaled activation
    assert report["top1_agreement"] >= 0.995 and report["min_agreement"] == 0.995
    assert report["mediapipe_top1_agreement"] >= 0.99
    assert report["xnnpack_partitions"] == 1  # XNNPACK runs float and int8 ops in one piece
    float_layers = dict(report["float_layers"])
    assert float_layers.pop(DEAD_BATCH_NORM.replace("_bn", "_conv")) == "XNNPACK cannot run it in int8"
    assert {SCALED_BATCH_NORM.replace("_bn", "_conv"), ITS_TAKER} <= set(float_layers)
    assert set(float_layers.values()) == {"min_agreement"}
    with open(run / INT8_TABLE, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["layer"] for row in rows[:2]] == [SCALED_BATCH_NORM.replace("_bn", "_conv"), ITS_TAKER]
    assert float(rows[0]["snr_db"]) < 10 < float(rows[2]["snr_db"])
    assert sum(row["kept_in_float"] == "min_agreement" for row in rows) == len(float_layers)
    assert [layer for layer, _ in report["worst_layers"]] == [row["layer"] for row in rows[:3]]
    assert "int8's worst layers (signal to quantization noise): inception_3a_3x3_reduce_conv" in result.table()
    assert json.loads((run / "model_int8.json").read_text())["float_layers"] == report["float_layers"]


def test_a_target_only_all_float_reaches_writes_nothing_and_a_table_goes_with_its_file(tmp_path):
    # An untrained LeNet-5 scores every digit nearly alike, so that int8's rounding moves the top
    # class of some whatever stays int8.
    keras.utils.set_random_seed(0)
    keras_inception.get_model("lenet5", num_classes=10).save(tmp_path / "lenet5.keras")
    with pytest.raises(UsageError, match=r"^int8 reaches at most \d+\.\d\d% top-1 agreement .* layers kept in float, "
                                         r"short of min_agreement=1\.0; export float16 or float32 instead$"):
        export_model(str(tmp_path / "lenet5.keras"), output_dir=str(tmp_path / "out"), modes=("float32", "int8"),
                     min_agreement=1.0)
    assert [path for path in pathlib.Path(tmp_path).rglob("*") if path.is_file()] == [tmp_path / "lenet5.keras"]
    # The table describes the int8 file beside it: an int8 file without one takes the old one away.
    export_model(str(tmp_path / "lenet5.keras"), output_dir=str(tmp_path / "out"), modes=("int8",),
                 saved_model=False, verification_images=8)
    assert (tmp_path / "out" / INT8_TABLE).exists()
    export_model(str(tmp_path / "lenet5.keras"), output_dir=str(tmp_path / "out"), modes=("int8",),
                 saved_model=False, verification_images=8, int8_io="uint8", overwrite=True)
    assert not (tmp_path / "out" / INT8_TABLE).exists()


@pytest.mark.parametrize("arguments, message", [
    ({"min_agreement": 0}, r"`min_agreement` must be a number in \(0, 1\]. Received: min_agreement=0"),
    ({"min_agreement": 1.5}, r"`min_agreement` must be a number in \(0, 1\]. Received: min_agreement=1.5"),
    ({"min_agreement": 0.99, "modes": ("float32",)}, r"needs mode 'int8' .* Received: modes=\['float32'\]"),
    ({"min_agreement": 0.99, "int8_io": "uint8"}, r"int8_io='none'\). Received: .*int8_io='uint8'"),
])
def test_bad_min_agreement_is_refused_before_any_work(arguments, message, tmp_path):
    with pytest.raises(UsageError, match=message):
        export_model(str(tmp_path / "none.keras"), **arguments)


def test_the_tflite_layer_names_resolve_to_the_keras_layers():
    names = {"googlenet_bn": "Functional", "inception_3a_1x1_conv": "Conv2D", "inception_3a_1x1_bn": "BatchNormalization",
             "inception_3a_1x1_relu": "ReLU"}
    tensor = ("googlenet_bn_1/inception_3a_1x1_relu_1/Relu;googlenet_bn_1/inception_3a_1x1_bn_1/batchnorm/add_1;"
              "googlenet_bn_1/inception_3a_1x1_conv_1/convolution")
    assert int8.keras_layer_of(tensor, names) == "inception_3a_1x1_conv"
    assert int8.keras_layer_of("googlenet_bn_1/stem_maxpool_1/MaxPool2d", names) == "googlenet_bn"
    assert int8.keras_layer_of("Identity", names) == "Identity"


def test_snr_is_the_median_over_channels_so_one_loud_channel_cannot_hide_the_rest():
    rng = np.random.default_rng(0)
    values = rng.random((1, 4, 4, 8), dtype=np.float32)
    values[..., 0] *= 1000
    scale = float(values.max()) / 255
    quantized = np.round(values / scale - 128).astype(np.int8)
    per_channel = int8.median_channel_snr_db(values, quantized, scale, -128)
    # The other channels keep a few levels of 255: their SNR is low though the loud one's is high.
    assert per_channel < 20
    fine = np.round(values[..., 1:] / (float(values[..., 1:].max()) / 255) - 128).astype(np.int8)
    assert int8.median_channel_snr_db(values[..., 1:], fine, float(values[..., 1:].max()) / 255, -128) > 40
    assert np.isnan(int8.median_channel_snr_db(np.zeros((1, 2, 2, 3), np.float32), np.zeros((1, 2, 2, 3), np.int8),
                                               0.1, 0))


@pytest.mark.slow
def test_a_dead_layer_is_kept_float_so_that_litert_opens_the_file(digits_run):
    model = keras.saving.load_model(os.path.join(digits_run.run_dir, "model.keras"))
    silence(model.get_layer(DEAD_BATCH_NORM))
    graph = export_graph(model)
    images = np.random.default_rng(0).random((8, 32, 32, 1), dtype=np.float32)
    # TensorFlow's converter alone gives the dead layer a near-zero output scale, which XNNPACK refuses.
    plain = tflite.convert(graph, "int8", representative_images=images, float_ops=())
    assert list(xnnpack_refused_tensors(plain).values()) == ["CONV_2D"]
    with pytest.raises(RuntimeError, match="failed to prepare"):
        run_tflite(plain, images[:1])
    converted = tflite.convert(graph, "int8", representative_images=images)
    assert xnnpack_refused_tensors(converted) == {}
    np.testing.assert_allclose(run_tflite(converted, images), graph.predict(images, verbose=0), atol=0.1)
    # A file with quantized input and output cannot keep it float: refused, naming the layer.
    with pytest.raises(UsageError, match=r"^XNNPACK cannot run inception_4a_5x5_reduce_conv in int8 .* "
                                         r"Received: int8_io='uint8'$"):
        tflite.convert(graph, "int8", representative_images=images, int8_io="uint8")
