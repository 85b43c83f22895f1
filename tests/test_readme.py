"""The README's example and set-up commands are what CI and users run."""

import os
import pathlib
import re
import shlex
import subprocess
import sys

import numpy as np

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


def test_ci_runs_the_readme_test_command():
    test_command = 'python3 -m pip install -e ".[test]" && python3 -m pytest -q tests'
    assert test_command in README
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_main_command_trains_and_reports_test_accuracy(tmp_path):
    # The README's main job, cut to one short epoch and written to a temporary folder
    # (absl keeps the last value of a repeated flag).
    command = re.search(r"python3 -m pip install -e \. && (python3 scripts/train\.py [^\n]*)", README).group(1)
    args = shlex.split(command)[1:] + ["--epochs=1", "--steps_per_epoch=2", f"--output_dir={tmp_path}"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Test accuracy (main head) on 360 held-out images:" in result.stdout
    assert (tmp_path / "googlenet_bn_digits" / "model.keras").exists()
