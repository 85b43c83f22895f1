"""A machine that fails the scripts: read-only and full file systems (real mounts, in a mount
namespace of each run's own), two processes on one run, damaged state files and what a killed
write leaves. Each section is a class of docs/reliability.md's table."""

import errno
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import tensorflow as tf

import keras_inception
from keras_inception import files, pretrained, training
from keras_inception.evaluation import open_artifact
from keras_inception.export import export_model
from tests.conftest import own_lines
from tests.script_forks import ScriptServer

ROOT = pathlib.Path(__file__).resolve().parents[1]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
LISTING = "--- left in the folder ---"
TRAIN = ["train.py", "--model=lenet5", "--epochs=2", "--steps_per_epoch=3"]
TUNE = ["tune.py", "--model=googlenet_bn", "--model_kwargs=stem=small", "--image_size=32",
        "--width_multipliers=0.0625,0.125", "--stage_multipliers=0.5,1", "--epochs=1", "--steps_per_epoch=2",
        "--run_eagerly", "--export_modes="]


def script(name, *args, cwd=ROOT, timeout=300):
    """scripts/`name` run with `args` in a process of its own (tests/script_forks.py)."""
    with ScriptServer(name, cwd=cwd) as server:
        result = server.run(args, timeout=timeout)
    return subprocess.CompletedProcess([name, *args], result["returncode"], result["stdout"], result["stderr"])


def run_in_mount(folder, mount, name, *args, size="300k"):
    """Runs scripts/`name` (or Python's `-c` code) where `folder` is mounted read-only
    ("read_only") or as a file system of `size` ("full"), in a mount namespace of its own;
    returns (the process, the paths it left in `folder`). A script runs in a process forked from
    its server (tests/script_forks.py), the code in a new one."""
    if name != "-c":
        with ScriptServer(name, cwd=ROOT) as server:
            result = server.run(args, timeout=300, mount={"folder": folder, "kind": mount, "size": size})
        return (subprocess.CompletedProcess([name, *args], result["returncode"], result["stdout"], result["stderr"]),
                result["listing"])
    quoted = shlex.quote(str(folder))
    mounts = {"read_only": f"mount -o bind,ro {quoted} {quoted}",
              "full": f"mount -t tmpfs -o size={size} tmpfs {quoted}"}
    shell = (f'{mounts[mount]} || exit 99; "$@"; code=$?; echo "{LISTING}"; '
             f'cd {quoted} && find . -mindepth 1 | sort; exit $code')
    result = subprocess.run(["unshare", "--mount", "sh", "-c", shell, "sh", sys.executable, name, *args],
                            cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode != 99, result.stderr
    output, _, listing = result.stdout.partition(LISTING + "\n")
    result.stdout = output
    return result, [line[2:] for line in listing.splitlines()]


@pytest.fixture(scope="module")
def mounts(tmp_path_factory):
    """Skips where this process may not make a mount namespace and mount in it (not root)."""
    folder = tmp_path_factory.mktemp("probe")
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", f"mount -t tmpfs -o size=4k tmpfs {folder}"],
                           capture_output=True)
    if probe.returncode:
        pytest.skip("needs unshare and mount (root): " + probe.stderr.decode(errors="replace").strip())


def one_error_line(result, pattern, code):
    lines = own_lines(result.stderr)
    assert result.returncode == code and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert re.fullmatch(pattern, lines[0]), lines[0]


@pytest.fixture
def run_copy(digits_run, tmp_path):
    """A copy of the digits run (model.keras and run.json) in tmp_path/ro/run."""
    run = tmp_path / "ro" / "run"
    run.mkdir(parents=True)
    for name in ("model.keras", "run.json"):
        shutil.copy(os.path.join(digits_run.run_dir, name), run / name)
    return run


def script_arguments(command, run_copy):
    """The script and flags of `command` on the copied run: train and tune write beside it in
    runs/, export and evaluate read it."""
    runs = f"--output_dir={run_copy.parent}/runs"
    return {"train": [*TRAIN, runs], "tune": [*TUNE, runs],
            "export": ["export.py", f"--model={run_copy}", "--modes=float32"],
            "evaluate": ["evaluate.py", f"--model={run_copy}/model.keras"]}[command]


# 4. Output places that fail: one line naming the path and the errno's meaning, exit 2 (1 for a
# disk that fills), nothing partial left.

def test_convert_refuses_an_output_folder_that_does_not_exist_before_converting(tmp_path):
    output = tmp_path / "no_such_folder" / "resnet18.keras"
    with pytest.raises(ValueError, match=rf"^The output's folder {tmp_path}/no_such_folder does not exist\. "
                                         rf"Received: output='{output}'$"):
        pretrained.convert("resnet18", str(tmp_path / "missing.pth"), str(output))  # the checkpoint is not read
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("command", ["train", "tune", "export", "evaluate"])
@pytest.mark.slow
def test_each_script_on_a_read_only_file_system_says_one_line_and_exits_2(mounts, run_copy, command):
    folder = run_copy.parent
    before = sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))
    result, left = run_in_mount(folder, "read_only", *script_arguments(command, run_copy))
    where = {"train": folder, "tune": folder, "export": folder, "evaluate": run_copy}[command]
    one_error_line(result, rf"error: {where}(/runs)?: Read-only file system", 2)
    assert left == before


# Training fills 16 KB at TensorFlow's TensorBoard writer (an error with no errno), 300 KB at
# a Keras save; a search fills 200 KB before keras-tuner's HDF5 checkpoint, which would crash
# the process (a segfault in h5py) were it started.
@pytest.mark.parametrize("command, size, job", [("train", "16k", "lenet5_digits"), ("train", "300k", "lenet5_digits"),
                                                 ("tune", "200k", "tune_googlenet_bn_digits")])
@pytest.mark.slow
def test_a_disk_that_fills_mid_run_exits_1_and_leaves_no_partial_file(mounts, tmp_path, command, size, job):
    folder = tmp_path / "small_disk"
    folder.mkdir()
    arguments = {"train": TRAIN, "tune": TUNE}[command]
    result, left = run_in_mount(folder, "full", *arguments, f"--output_dir={folder}/runs", size=size)
    one_error_line(result, rf"error: {folder}/runs/{job}(/[\w./]+)?: No space left on device.*", 1)
    assert f"runs/{job}/{command.replace('train', 'run')}.json" in left
    assert not [path for path in left if ".partial" in path or path.endswith(".lock")], left


SAVED_MODEL_ON_A_FULL_DISK = """
import sys
import keras_inception
from keras_inception.export.graph import export_graph
from keras_inception.export.savedmodel import write_saved_model
from keras_inception.files import write_directory_atomically
graph = export_graph(keras_inception.get_model("lenet5"), form="tensorflow")
try:
    write_directory_atomically(sys.argv[1], lambda path: write_saved_model(graph, path))
except OSError as error:
    print(type(error).__name__, error.errno, error.strerror, error.filename)
"""


@pytest.mark.slow
def test_a_savedmodel_on_a_full_disk_is_an_oserror_naming_it(mounts, tmp_path):
    result, left = run_in_mount(tmp_path, "full", "-c", SAVED_MODEL_ON_A_FULL_DISK, f"{tmp_path}/saved_model",
                                size="16k")
    assert result.stdout.strip() == f"OSError {errno.ENOSPC} No space left on device {tmp_path}/saved_model", \
        result.stderr[-2000:]
    assert left == []


# 5. Two runs on one directory: an OS lock for the whole run; the second gets one line naming
# the holder; a killed holder blocks nothing.

@pytest.mark.parametrize("command", ["train", "tune", "export"])
@pytest.mark.slow
def test_a_second_process_on_a_locked_job_gets_one_line_naming_the_holder(run_copy, command):
    folder = run_copy.parent
    job = {"train": folder / "runs" / "lenet5_digits", "tune": folder / "runs" / "tune_googlenet_bn_digits",
           "export": run_copy}[command]
    with files.locked(job, "a test"):
        before = sorted(folder.rglob("*"))
        result = script(*script_arguments(command, run_copy))
        assert sorted(folder.rglob("*")) == before  # nothing written
    one_error_line(result, rf"error: {job} is in use by process {os.getpid()} on .+, which runs a test there; "
                           rf"wait for it to end or choose another name\. Received: path='{job}'", 2)
    assert not list(folder.rglob(".*.lock"))  # gone with its holder


@pytest.mark.slow
def test_a_lock_left_by_a_killed_process_does_not_block_the_next(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from keras_inception import files\n"
                               "with files.locked(sys.argv[1], 'a test'):\n print('held', flush=True); time.sleep(600)",
                               str(tmp_path / "run")], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    with pytest.raises(files.DirectoryInUse, match=rf"is in use by process {holder.pid} on "):
        with files.locked(tmp_path / "run", "a test"):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / ".run.lock").exists()  # left by the killed holder, and locked by no one
    with files.locked(tmp_path / "run", "a test"):
        assert (tmp_path / ".run.lock").read_text().startswith(f"process {os.getpid()} on ")
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_two_trainings_started_together_on_one_run_leave_it_resumable(tmp_path):
    arguments = [*TRAIN[1:], f"--output_dir={tmp_path}"]
    with ThreadPoolExecutor(max_workers=2) as pool:  # both processes run together
        results = list(pool.map(lambda _: script("train.py", *arguments), range(2)))
    codes = sorted(result.returncode for result in results)
    assert codes in ([0, 0], [0, 2]), results
    for result in results:
        if result.returncode == 2:
            assert own_lines(result.stderr)[0].startswith(f"error: {tmp_path}/lenet5_digits is in use by process ")
    history = (tmp_path / "lenet5_digits" / "history.csv").read_text().splitlines()
    assert len(history) == 3 and history[0].startswith("epoch")  # one header, two epochs
    again = script("train.py", *arguments)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((tmp_path / "lenet5_digits" / "results.json").read_text())["epochs_completed"] == 2


# 6. Damaged state: the file is named with what is wrong with it, in one line.

TINY_LENET = dict(model="lenet5", epochs=1, steps_per_epoch=1, verbose=0)


@pytest.mark.parametrize("content, problem", [("[1, 2]", "holds a JSON list, not an object"),
                                              ("\x00garbage", "is not valid JSON: Expecting value: line 1 column 1")])
@pytest.mark.slow
def test_a_damaged_run_json_is_named_by_train_and_export(run_copy, content, problem):
    (run_copy / "run.json").write_text(content)
    with pytest.raises(ValueError, match=rf"^{run_copy}/run\.json \(the training run's settings\) {problem}"):
        training.train(training.TrainConfig(**TINY_LENET, output_dir=str(run_copy.parent), run_name="run"))
    with pytest.raises(ValueError, match=rf"^{run_copy}/run\.json \(the training run's settings\) {problem}"):
        export_model(str(run_copy), modes=("float32",))
    assert sorted(os.listdir(run_copy)) == ["model.keras", "run.json"]


def test_a_savedmodel_without_its_variables_is_named(tmp_path):
    module = tf.Module()
    module.weight = tf.Variable(1.0)
    module.serve_float = tf.function(lambda images: {"probabilities": images * module.weight},
                                     input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    path = tmp_path / "saved_model"
    tf.saved_model.save(module, str(path), signatures={"serve_float": module.serve_float})
    shutil.rmtree(path / "variables")
    with pytest.raises(ValueError, match=rf"^{path} is not a SavedModel TensorFlow loads \(.+\)\. "
                                         rf"Received: model='{path}'$"):
        open_artifact(str(path))


@pytest.mark.parametrize("content, problem", [(b"", "is empty"), (b"not hdf5" * 10, r"cannot be read \(")])
def test_get_model_names_a_weights_file_it_cannot_read(tmp_path, content, problem):
    path = tmp_path / "lenet.weights.h5"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"^The weights file {path} {problem}.*Received: weights="):
        keras_inception.get_model("lenet5", weights=str(path))


# 7. What a killed write leaves (a hidden .partial beside its destination) is deleted by the next
# run on that destination.

def test_the_next_conversion_deletes_what_a_killed_one_left(tmp_path):
    stale = tmp_path / ".resnet18.partial.keras"
    stale.write_bytes(b"\0" * 1000)
    with pytest.raises(ValueError, match=r"The checkpoint file does not exist"):
        pretrained.convert("resnet18", str(tmp_path / "missing.pth"), str(tmp_path / "resnet18.keras"))
    assert os.listdir(tmp_path) == []


def test_the_next_export_deletes_what_a_killed_one_left(run_copy):
    (run_copy / ".model_int8.partial.tflite").write_bytes(b"\0" * 1000)
    (run_copy / ".saved_model.partial" / "variables").mkdir(parents=True)
    (run_copy / "model_float32.tflite").write_bytes(b"an earlier export")
    with pytest.raises(ValueError, match=r"model_float32\.tflite exists; pass overwrite=True"):
        export_model(str(run_copy), modes=("float32",))
    assert sorted(os.listdir(run_copy)) == ["model.keras", "model_float32.tflite", "run.json"]
    assert (run_copy / "model_float32.tflite").read_bytes() == b"an earlier export"
    assert not list(run_copy.parent.glob(".*"))

