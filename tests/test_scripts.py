"""The command-line scripts, run as a user runs them: real processes."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ROOT, script_path
from tests.script_forks import ScriptServer


def run_script(*args, script="profile_model.py", env=None):
    """`script` run with `args` by a fresh Python, in the checkout's root."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    return subprocess.run(
        [sys.executable, str(script_path(script)), *args],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )


@pytest.mark.slow
def test_profile_script_prints_summary_and_table_1_profile(tmp_path):
    with ScriptServer("profile_model.py", cwd=tmp_path) as server:
        result = server.run(["--model=googlenet"], timeout=300)
    assert result["returncode"] == 0, result["stderr"]
    assert "Total params: 13,378,280" in result["stdout"]  # the summary of the training model
    lines = {line.split()[0]: line.split() for line in result["stdout"].splitlines() if line.strip()}
    assert lines["inception_3a"][1:4] == ["28x28x256", "163,696", "128.0M"]
    assert lines["total"][1] == "6,998,552"  # the profile is of the inference net


# (script, arguments, the one error line it must print). Each case runs as its own process,
# forked from one that has imported the script (tests/script_forks.py): importing TensorFlow
# once per script instead of once per case saves most of the time.
BAD_INPUT = [
    ("profile_model.py", ["--model=resnet9000"], "error: flag --model=resnet9000: value should be one of"),
    ("profile_model.py", ["--input_size=0"], "error: flag --input_size=0"),
    ("profile_model.py", ["--input_size=16", "--nosummary"], "error: `input_shape` is too small"),
    ("profile_model.py", ["--model=inception_v3", "--input_size=74", "--nosummary"],
     "error: `input_shape` is too small: height and width must be at least 107"),
    ("profile_model.py", ["--model=nin_cifar10", "--width_multiplier=0.5"],
     "error: Model 'nin_cifar10' takes no argument 'width_multiplier'"),
    ("profile_model.py", ["--width_multiplier=-1", "--nosummary"], "error: `width_multiplier` must be a number in (0, 16]"),
    ("profile_model.py", ["stray"], "error: unexpected arguments: stray"),
    ("model_table.py", ["stray"], "error: unexpected arguments: stray"),
    ("train.py", ["--epochs=0"], "error: flag --epochs=0"),
    ("train.py", ["--learning_rate=-0.1"], "error: `learning_rate` must be a number > 0. Received: learning_rate=-0.1"),
    ("train.py", ["--model_kwargs=stem"], "error: --model_kwargs takes key=value pairs. Received: 'stem'"),
    ("train.py", ["--model_kwargs=stem=tiny", "--image_size=32"], "error: `stem` must be one of"),
    ("train.py", ["--model=resnet18", "--model_kwargs=depth=19"], "error: `depth` must be one of 18, 34, 50, 101, 152"),
    ("train.py", ["--dataset=./no_such_folder"], "error: The image folder does not exist"),
    ("train.py", ["--distribution=jax_data_parallel"], "error: distribution='jax_data_parallel' needs the jax backend"),
    ("train.py", ["--precision=float16"], "error: flag --precision=float16"),
    ("export.py", ["--model=nowhere.keras"], "error: Expected a .keras model file or a training run directory"),
    ("export.py", ["--model=nowhere.keras", "--modes=int4"], "error: `mode` must be one of"),
    ("export.py", ["--model=nowhere.keras", "--int8_io=int16"], "error: flag --int8_io=int16"),
    ("export.py", ["--model=theirs.h5"], "error: Legacy HDF5 model files are not loaded"),
    ("export.py", ["--model=nowhere.keras", "--min_agreement=1.5"],
     "error: `min_agreement` must be a number in (0, 1]. Received: min_agreement=1.5"),
    ("export.py", ["--model=nowhere.keras", "--qat_epochs=0"],
     "error: flag --qat_epochs=0: 0 is not a positive integer"),
    ("export.py", ["--model=nowhere.keras", "--qat_epochs=1", "--modes=float32"],
     "error: qat_epochs trains the int8 file, which needs mode 'int8'"),
    ("export.py", [], "error: There is no training run (a folder holding model.keras) under saved_models/; train one"),
    ("evaluate.py", [], "error: There is no training run (a folder holding model.keras) under saved_models/; train one"),
    ("evaluate.py", ["--model=model.onnx"], "error: The model path does not exist. Received: model='model.onnx'"),
    ("convert_weights.py", ["--model=resnet18"], "error: flag --checkpoint=None: Flag --checkpoint must have a value"),
    ("convert_weights.py", ["--model=resnet18", "--checkpoint=missing.pth"],
     "error: The checkpoint file does not exist. Received: checkpoint='missing.pth'"),
    ("convert_weights.py", ["--source=caffe"], "error: flag --source=caffe"),
    ("tune.py", ["--model=resnet50"], "error: flag --model=resnet50: value should be one of"),
    ("tune.py", ["--max_params=1.5"], "error: --max_params must be a whole number. Received: max_params=1.5"),
    ("tune.py", ["--width_multipliers=a,1"], "error: --width_multipliers takes comma-separated numbers"),
    ("tune.py", ["--model=inception_v3", "--model_kwargs=stem=small", "--image_size=32", "--search_batch_norm"],
     "error: inception_v3 has no form without batch norm"),
    ("tune.py", ["--tuner=grid"], "error: flag --tuner=grid"),
    ("benchmark.py", ["--models=alexnet"],
     "error: `models` must be one of 'googlenet', 'resnet50', 'resnet18', 'inception_v3'. Received: models='alexnet'"),
    ("benchmark.py", ["--platform=tpu"], "error: flag --platform=tpu"),
    ("benchmark.py", ["--platform=gpu", "--memory_budget_mb=8000"],
     "error: `memory_budget_mb` bounds resident memory on the CPU; on a GPU the device's memory is the bound"),
    # An integer past 64 bits would overflow deep inside NumPy.
    ("benchmark.py", ["--image_size=" + "9" * 25], f"error: flag --image_size={'9' * 25}: must be below 2**63"),
    # A width the nets refuse is refused before the first measurement runs.
    ("benchmark.py", ["--width_multiplier=0"], "error: `width_multiplier` must be a number in (0, 16]"),
]


@pytest.fixture(scope="module")
def bad_input_runs(tmp_path_factory):
    """{case index: (result, its output directory)} for every BAD_INPUT case."""
    root = tmp_path_factory.mktemp("bad_input")
    # A folder of its own, so that no run or file of the checkout's (saved_models/) changes a case.
    cwd = tmp_path_factory.mktemp("bad_input_cwd")
    by_script = {}
    for index, (script, args, _) in enumerate(BAD_INPUT):
        extra = [f"--output_dir={root / str(index)}"] if script in ("train.py", "tune.py", "benchmark.py") else []
        by_script.setdefault(script, []).append((index, [*args, *extra]))

    def run(script):
        with ScriptServer(script, cwd=cwd) as server:
            return {index: server.run(argv) for index, argv in by_script[script]}

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = {index: result for part in pool.map(run, by_script) for index, result in part.items()}
    return {index: (result, root / str(index)) for index, result in results.items()}


@pytest.mark.parametrize("index", range(len(BAD_INPUT)),
                         ids=[f"{case[0]}-{' '.join(case[1])}" for case in BAD_INPUT])
def test_bad_input_is_one_line_exit_code_2_and_writes_nothing(index, bad_input_runs):
    result, out = bad_input_runs[index]
    assert result["returncode"] == 2, result["stderr"][-2000:]
    errors = [line for line in result["stderr"].splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(BAD_INPUT[index][2]), result["stderr"]
    assert "Traceback" not in result["stderr"]
    assert not out.exists()
