"""The command-line scripts, run as a user runs them: real subprocesses."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_script(*args, script="profile_model.py"):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )


def test_profile_script_prints_summary_and_table_1_profile():
    result = run_script("--model=googlenet")
    assert result.returncode == 0, result.stderr
    assert "Total params: 13,378,280" in result.stdout  # the summary of the training model
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.strip()}
    assert lines["inception_3a"][1:4] == ["28x28x256", "163,696", "128.0M"]
    assert lines["total"][1] == "6,998,552"  # the profile is of the inference net


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model=resnet9000"], "error: flag --model=resnet9000: value should be one of"),
        (["--input_size=0"], "error: flag --input_size=0"),
        (["--input_size=16", "--nosummary"], "error: `input_shape` is too small"),
        (["--model=nin_cifar10", "--width_multiplier=0.5"], "error: Model 'nin_cifar10' takes no argument 'width_multiplier'"),
        (["--width_multiplier=-1", "--nosummary"], "error: `width_multiplier` must be a number > 0"),
        (["stray"], "error: unexpected arguments: stray"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    _assert_usage_error(run_script(*args), message)


def _assert_usage_error(result, message):
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs=0"], "error: flag --epochs=0"),
        (["--learning_rate=-0.1"], "error: `learning_rate` must be a number > 0. Received: learning_rate=-0.1"),
        (["--model_kwargs=stem"], "error: --model_kwargs takes key=value pairs. Received: 'stem'"),
        (["--model_kwargs=stem=tiny", "--image_size=32"], "error: `stem` must be one of"),
        (["--dataset=./no_such_folder"], "error: The image folder does not exist"),
        (["--distribution=jax_data_parallel"], "error: distribution='jax_data_parallel' needs the jax backend"),
        (["--precision=float16"], "error: flag --precision=float16"),
    ],
)
def test_train_script_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    result = run_script(*args, f"--output_dir={tmp_path / 'out'}", script="train.py")
    _assert_usage_error(result, message)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model=nowhere.keras"], "error: Expected a .keras model file or a training run directory"),
        (["--model=nowhere.keras", "--modes=int4"], "error: `mode` must be one of"),
        (["--model=nowhere.keras", "--int8_io=int16"], "error: flag --int8_io=int16"),
        ([], "error: flag --model=None: Flag --model must have a value other than None"),
    ],
)
def test_export_script_bad_input_is_one_line_and_exit_code_2(tmp_path, args, message):
    _assert_usage_error(run_script(*args, script="export.py"), message)
