"""The README's example and set-up commands are what CI and users run."""

import os
import pathlib
import re
import shlex
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_inception

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_fit_example_trains_every_head():
    section = README.split("## Train GoogLeNet with `model.fit`", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert {"main_loss", "aux1_loss", "aux2_loss", "main_accuracy"} <= set(namespace["history"].history)
    probabilities = namespace["probabilities"]
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.xdist_group("probe")
def test_xdist_groups_take_effect(request):
    # The suite's time relies on `--dist loadgroup` keeping a shared fixture's tests on one
    # worker (conftest.py); with pytest 9.2 and pytest-xdist 3.8 it silently did not (setup.py).
    if getattr(request.config.option, "loadgroup", False):  # set on the workers only (not with -n 0)
        assert request.node.nodeid.endswith("@probe"), request.node.nodeid


def test_longest_first_names_units_of_this_suite(request):
    # conftest.py hands out these units first; a renamed test would silently fall back in line.
    from tests.conftest import LONGEST_FIRST, _unit

    units = {_unit(item) for item in request.session.items}
    if len(units) < 100:
        pytest.skip("a part of the suite was collected")
    assert set(LONGEST_FIRST) <= units, set(LONGEST_FIRST) - units


def test_ci_runs_the_readme_test_command():
    test_command = 'python3 -m pip install -e ".[test]" && python3 -m pytest -q tests'
    assert test_command in README
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_main_command_trains_exports_and_reports(tmp_path):
    # The README's main job, training cut to one short epoch, written to a temporary folder
    # (absl keeps the last value of a repeated flag).
    main = re.search(r"python3 -m pip install -e \. && (python3 scripts/train\.py [^\n]*)", README).group(1)
    train_command, export_command = main.split(" && ")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")

    def run(command, *extra):
        args = [part.replace("saved_models/", f"{tmp_path}/") for part in shlex.split(command)[1:]]
        return subprocess.run([sys.executable, *args, *extra], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)

    trained = run(train_command, "--epochs=1", "--steps_per_epoch=2", f"--output_dir={tmp_path}")
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert "Test accuracy (main head) on 360 held-out images:" in trained.stdout
    exported = run(export_command)
    # One short epoch may leave int8 below its agreement target (exit code 1), never a crash.
    assert exported.returncode in (0, 1) and "Traceback" not in exported.stderr, exported.stderr[-2000:]
    assert "float32" in exported.stdout and "int8" in exported.stdout
    run_dir = tmp_path / "googlenet_bn_digits"
    for artifact in ("model.keras", "saved_model/saved_model.pb", "model_float32.tflite", "model_int8.tflite"):
        assert (run_dir / artifact).exists(), artifact
    # The README's app-side example, on the float32 file (one short epoch leaves int8 near
    # chance): its preprocessing and signature give the Keras model's answers.
    section = README.split("An app runs the file through its signature", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "model_int8.tflite" in code
    code = code.replace("saved_models/", f"{tmp_path}/").replace("model_int8.tflite", "model_float32.tflite")
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    classifier = keras_inception.inference_model(keras.saving.load_model(run_dir / "model.keras"))
    expected = classifier.predict(namespace["views"], verbose=0).argmax(-1)
    assert namespace["class_ids"].shape == (360,)
    assert np.mean(namespace["class_ids"] == expected) >= 0.99


def test_readme_table_of_nets_is_generated_from_the_nets(zoo_summaries):
    from keras_inception.profile import zoo_table

    text = README
    start, end = "<!-- model-table:start -->\n", "\n<!-- model-table:end -->"
    in_readme = text[text.index(start) + len(start): text.index(end)]
    expected = zoo_table(zoo_summaries[name] for name in keras_inception.list_models())
    assert in_readme == expected, "regenerate it: python3 scripts/model_table.py --write_readme"

