"""What a newcomer meets first: the training job's small form for small images, a dataset that
cannot fill its splits, `export.py` finding the run trained last, and quiet script output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_inception import data, training
from keras_inception.runs import latest_run
from keras_inception.training import job

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits():
    return data.load_splits("digits")


@pytest.mark.parametrize("model, kwargs, expected", [
    ("googlenet_bn", {}, {"input_shape": (32, 32, 1), "stem": "small", "width_multiplier": 0.25}),
    ("vgg11", {}, {"input_shape": (32, 32, 1), "width_multiplier": 0.25}),  # VGG has no stem
    ("googlenet_bn", {"width_multiplier": 0.5}, {"input_shape": (32, 32, 1), "stem": "small"}),
    ("lenet5", {}, {}),  # its default input is already small
    ("googlenet_bn", {"stem": "small"}, {}),  # the user chose the form
])
def test_small_images_train_the_nets_small_form(digits, model, kwargs, expected):
    config = training.TrainConfig(model=model, model_kwargs=dict(kwargs))
    small, note = job.small_form(config, digits, {**kwargs, "num_classes": 10})
    assert small == expected
    assert (note is None) == (not expected)


def test_the_small_form_is_said_in_one_line(digits):
    _, note = job.small_form(training.TrainConfig(), digits, {"num_classes": 10})
    assert note == ("digits's 8x8 images are small for googlenet_bn's 224x224 input: training its small form "
                    "at 32x32 (stem=small, width_multiplier=0.25); --image_size and --model_kwargs choose otherwise.")
    assert "\n" not in note


def test_the_default_job_builds_the_small_googlenet(digits, capsys):
    model = job.build_model(training.TrainConfig(), digits)
    assert model.input_shape == (None, 32, 32, 1)
    assert model.output_names == ["aux1", "aux2", "main"]
    assert "small form" in capsys.readouterr().out
    # As if built first: the probe that read the default size drew no random numbers for it.
    tf.keras.utils.set_random_seed(0)
    direct = job.registry.get_model("googlenet_bn", num_classes=10, input_shape=(32, 32, 1), stem="small",
                                    width_multiplier=0.25)
    for got, want in zip(model.get_weights(), direct.get_weights()):
        np.testing.assert_array_equal(got, want)


def _images(folder, counts):
    for name, count in counts.items():
        os.makedirs(folder / name, exist_ok=True)
        for index in range(count):
            tf.io.write_file(str(folder / name / f"{index}.png"),
                             tf.io.encode_png(np.full((9, 9, 3), 40 * index, np.uint8)))


@pytest.mark.parametrize("counts, message", [
    ({"a": 0, "b": 0}, "(train 0, validation 0, test 0; each needs at least one)"),
    ({"a": 2, "b": 1}, "(train 3, validation 0, test 0; each needs at least one)"),
])
def test_a_folder_that_cannot_fill_its_splits_is_refused_before_anything_is_written(tmp_path, counts, message):
    folder = tmp_path / "photos"
    _images(folder, counts)
    (folder / "a" / "broken.jpg").write_bytes(b"not an image")
    runs = tmp_path / "runs"
    config = training.TrainConfig(dataset=str(folder), image_size=32, epochs=1, output_dir=str(runs))
    with pytest.warns(UserWarning):
        with pytest.raises(ValueError) as error:
            training.train(config)
    assert str(error.value) == (f"The dataset has too few usable images to fill its splits {message}. "
                                f"Received: dataset={str(folder)!r}")
    assert not runs.exists()


def test_export_finds_the_run_trained_last(tmp_path):
    with pytest.raises(ValueError, match=r"no training run \(a folder holding model.keras\) under"):
        latest_run(str(tmp_path))
    for name, mtime in (("old", 1_000), ("new", 2_000), ("newest_but_no_model", 3_000)):
        (tmp_path / name).mkdir()
        if name != "newest_but_no_model":
            (tmp_path / name / "model.keras").write_bytes(b"")
            os.utime(tmp_path / name / "model.keras", (mtime, mtime))
    assert latest_run(str(tmp_path)) == str(tmp_path / "new")


def _profile_script(*flags):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "profile_model.py"), "--model=lenet5",
                           "--nosummary", *flags], capture_output=True, text=True, timeout=300,
                          env={key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"})


@pytest.mark.slow
def test_commands_leave_tensorflows_info_lines_off_unless_verbosity_is_given():
    """TensorFlow's own log level (TF_CPP_MIN_LOG_LEVEL=2) is set before its import; the lines it
    writes before its logging is set up still show (TensorFlow offers no setting for them)."""
    quiet, verbose = _profile_script(), _profile_script("--verbosity=0")
    assert quiet.returncode == verbose.returncode == 0
    assert quiet.stdout == verbose.stdout and "61,706" in quiet.stdout
    assert "cpu_feature_guard.cc" in verbose.stderr and "cpu_feature_guard.cc" not in quiet.stderr
    assert "Traceback" not in quiet.stderr


@pytest.mark.parametrize("argv, expected", [(["script"], "2"), (["script", "--verbosity=1"], None),
                                            (["script", "-v", "0"], None)])
def test_the_log_level_default_is_set_unless_verbosity_is_given(argv, expected):
    probe = (f"import os, keras_inception_cli; keras_inception_cli.before_tensorflow({argv!r}); "
             "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), os.environ['TF_ENABLE_ONEDNN_OPTS'])")
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, env=env)
    assert result.stdout.split()[-2:] == [str(expected), "1"], result.stderr[-2000:]


# The imports as the commands (`keras_inception_cli.before_tensorflow`) and the benchmark's workers make
# them, then what they left loaded and what stays importable.
JAX_PROBE = """
import importlib, json, sys
sys.path.insert(0, {root!r})
{setup}
loaded = ["jax" in sys.modules, "tensorflow" in sys.modules]
importlib.import_module("jax")
print(json.dumps(loaded))
"""


@pytest.mark.parametrize("setup", [
    "import keras_inception_cli; keras_inception_cli.before_tensorflow(['script'])",
    "from benchmarks import worker; worker._import_tensorflow_as_the_scripts_do()",
])
@pytest.mark.parametrize("backend, expected", [("tensorflow", [False, True]), ("jax", [False, False])])
@pytest.mark.slow
def test_tensorflow_is_imported_without_jax_which_stays_importable(setup, backend, expected):
    pytest.importorskip("jax")  # the test extra's; TensorFlow's import loads it where installed
    probe = JAX_PROBE.format(root=str(ROOT), setup=setup)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == expected


@pytest.mark.slow
def test_tensorflow_imported_plainly_loads_jax_where_installed():
    """What the hiding is for: without it, TensorFlow's import loads JAX."""
    pytest.importorskip("jax")
    result = subprocess.run([sys.executable, "-c", "import sys, tensorflow; print('jax' in sys.modules)"],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.stdout.split()[-1] == "True", result.stderr[-2000:]
