"""The training job: recipes, precision, callbacks, run directories, resume, distribution."""

import json
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_inception import cpu, files, training
from keras_inception.training import callbacks as run_callbacks
from keras_inception.training import distribution, fine_tune, job, precision, recipes, resume
from tests.conftest import QUICK_XLA_FLAGS, free_port
from tests.script_forks import ScriptServer

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The smallest GoogLeNet with both aux heads that the digits train well: 24x24, width x 0.125.
TINY = dict(model="googlenet_bn", model_kwargs={"stem": "small"}, image_size=24, width_multiplier=0.125)


def _learning_rate(optimizer, step):
    schedule = optimizer._learning_rate  # the schedule itself; `.learning_rate` is its current value
    return float(schedule(step)) if callable(schedule) else float(schedule)


@pytest.mark.parametrize(
    "name, optimizer, learning_rate, weight_decay, batch_size, schedule",
    [
        ("googlenet", "SGD", 0.01, 2e-4, 32, "step"),
        ("alexnet", "SGD", 0.01, 5e-4, 128, "plateau"),
        ("resnet", "SGD", 0.1, 1e-4, 256, "plateau"),
        ("modern", "AdamW", 2e-3, 0.05, 64, "cosine"),
    ],
)
def test_recipe_presets_follow_the_papers(name, optimizer, learning_rate, weight_decay, batch_size, schedule):
    recipe = recipes.get_recipe(name)
    built = recipes.make_optimizer(recipe, steps_per_epoch=10, epochs=100)
    assert type(built).__name__ == optimizer
    assert (recipe.batch_size, recipe.schedule, built.weight_decay) == (batch_size, schedule, weight_decay)
    assert _learning_rate(built, 0) == pytest.approx(learning_rate)
    if optimizer == "SGD":
        assert float(built.momentum) == 0.9


def test_googlenet_recipe_lowers_the_rate_4_percent_every_8_epochs():
    built = recipes.make_optimizer(recipes.get_recipe("googlenet"), steps_per_epoch=10, epochs=100)
    rates = [_learning_rate(built, epoch * 10) for epoch in (0, 7, 8, 15, 16, 24)]
    assert rates == pytest.approx([0.01, 0.01, 0.0096, 0.0096, 0.0096 * 0.96, 0.01 * 0.96**3])


def test_plateau_recipes_divide_by_ten_on_the_main_heads_accuracy():
    (callback,) = recipes.schedule_callbacks(recipes.get_recipe("alexnet"), "val_main_accuracy")
    assert isinstance(callback, keras.callbacks.ReduceLROnPlateau)
    assert (callback.monitor, callback.factor, callback.mode) == ("val_main_accuracy", 0.1, "max")
    assert recipes.schedule_callbacks(recipes.get_recipe("googlenet"), "val_accuracy") == []


def test_cosine_decays_to_zero_over_the_run():
    built = recipes.make_optimizer(recipes.get_recipe("modern"), steps_per_epoch=10, epochs=5)
    assert _learning_rate(built, 25) == pytest.approx(1e-3)
    assert _learning_rate(built, 50) == pytest.approx(0.0, abs=1e-9)


def test_overrides_replace_only_the_given_fields():
    recipe = recipes.get_recipe("googlenet", learning_rate=0.05, batch_size=None, optimizer="adam")
    assert (recipe.learning_rate, recipe.batch_size, recipe.optimizer, recipe.schedule) == (0.05, 32, "adam", "step")


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: recipes.get_recipe("lenet"), ValueError, "Received: recipe='lenet'"),
        (lambda: recipes.get_recipe("modern", lr=1), TypeError, r"Unknown recipe field\(s\) \['lr'\]"),
        (lambda: recipes.get_recipe("modern", learning_rate=-1.0), ValueError, "Received: learning_rate=-1.0"),
        (lambda: recipes.get_recipe("modern", weight_decay=-1e-4), ValueError, "Received: weight_decay=-0.0001"),
        (lambda: recipes.get_recipe("modern", schedule="linear"), ValueError, "Received: schedule='linear'"),
        (lambda: training.TrainConfig(epochs=0), ValueError, "Received: epochs=0"),
        (lambda: training.TrainConfig(model="alexnet9"), ValueError, "alexnet9"),
        (lambda: training.TrainConfig(model_kwargs={"num_classes": 3}), ValueError, "comes from the dataset"),
        (lambda: precision.resolve_precision("float16"), ValueError, "Received: precision='float16'"),
        (lambda: distribution.start_distribution("mirrored", num_processes=2), ValueError, "num_processes=2"),
        (lambda: distribution.start_distribution("none", num_processes=2, process_id=2), ValueError, "process_id=2"),
        (lambda: distribution.start_distribution("jax_data_parallel"), ValueError, "KERAS_BACKEND=jax"),
    ],
)
def test_bad_settings_are_refused_in_one_line(call, error, message):
    with pytest.raises(error, match=message) as caught:
        call()
    assert "\n" not in str(caught.value)


def test_float16_without_a_gpu_warns():
    assert not precision.has_accelerator()  # this suite runs on a CPU machine
    with pytest.warns(UserWarning, match="without a GPU"):
        assert precision.resolve_precision("mixed_float16") == "mixed_float16"


def test_auto_precision_is_bfloat16_where_the_cpu_has_its_instructions():
    without = {"vector": ["avx2", "fma", "avx512f", "avx512_vnni"]}
    assert precision.describe_auto(without) == ("float32", "this CPU has no bfloat16 instructions (AVX-512 BF16 or AMX)")
    assert precision.precision_words("auto", without) == (
        "float32 (auto: this CPU has no bfloat16 instructions (AVX-512 BF16 or AMX))")
    with pytest.warns(UserWarning, match="emulated there"):
        assert precision.resolve_precision("mixed_bfloat16", cpu=without) == "mixed_bfloat16"
    for vector in (["avx2", "avx512_bf16"], ["avx2", "amx_tile", "amx_bf16"]):
        assert precision.describe_auto({"vector": vector}) == ("mixed_bfloat16", f"this CPU has {vector[-1]}")
    # And this host as it is: the choice follows its own flags.
    here = cpu.describe_cpu()
    expected = "mixed_bfloat16" if {"avx512_bf16", "amx_bf16"} & set(here["vector"]) else "float32"
    assert precision.resolve_precision("auto") == expected


@pytest.mark.skipif(not cpu.bfloat16_instructions(cpu.describe_cpu()), reason="needs a CPU with bfloat16 instructions")
def test_bfloat16_on_a_cpu_is_tensorflows_onednn_rewrite_of_a_float32_model():
    """Inside the block a float32 model computes in bfloat16 (errors of bfloat16's 8-bit
    mantissa); after it, the same model's graphs compute in float32 again."""
    images = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
    with precision.precision_policy("mixed_bfloat16") as policy:
        model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(16, 3, activation="relu"),
                                  keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])
        assert (policy, model.dtype_policy.name) == ("mixed_bfloat16", "float32")
        rewritten = model.predict(images, verbose=0)
    model.make_predict_function(force=True)
    exact = model(images).numpy()
    assert np.abs(rewritten - exact).max() > 1e-4
    np.testing.assert_allclose(model.predict(images, verbose=0), exact, atol=1e-6)
    assert not tf.config.optimizer.get_experimental_options().get(precision.ONEDNN_BFLOAT16_REWRITE)


@pytest.mark.slow
def test_mixed_precision_job_keeps_heads_float32_and_scales_the_loss(tmp_path):
    with pytest.warns(UserWarning, match="without a GPU"):
        result = training.train(training.TrainConfig(
            **TINY, epochs=1, steps_per_epoch=1, precision="mixed_float16", output_dir=str(tmp_path), verbose=0,
        ))
    model = result.model
    assert model.dtype_policy.name == "mixed_float16"
    assert model.get_layer("inception_3a").compute_dtype == "float16"
    assert [model.get_layer(name).dtype_policy.name for name in ("main", "aux1", "aux2")] == ["float32"] * 3
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert math.isfinite(result.test_loss)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after the job


@pytest.mark.slow
def test_run_eagerly_compiles_every_phase_untraced_and_excludes_xla(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"^run_eagerly runs the steps untraced, so XLA cannot compile them\. "
                                         r"Received: run_eagerly=True, jit_compile=True$"):
        training.TrainConfig(run_eagerly=True, jit_compile=True)
    compiled, compile_for_training = [], job.compile_for_training

    def recording(model, *args, **kwargs):
        compiled.append(model)
        return compile_for_training(model, *args, **kwargs)

    monkeypatch.setattr(job, "compile_for_training", recording)
    result = training.train(training.TrainConfig(model="lenet5", epochs=1, steps_per_epoch=2, run_eagerly=True,
                                                 output_dir=str(tmp_path), verbose=0))
    assert compiled and all(model.run_eagerly for model in compiled)
    assert result.test_size == 360


def test_short_job_on_the_digits_learns_and_keeps_its_artifacts(digits_run):
    result = digits_run
    assert result.test_accuracy > 0.6 and result.test_size == 360  # chance is 0.1
    run = pathlib.Path(result.run_dir)
    assert run.name == "googlenet_bn_digits"
    history = run_callbacks.read_history(run / "history.csv")
    assert [row["epoch"] for row in history] == [0, 1, 2]
    assert {"main_loss", "aux1_loss", "aux2_loss", "val_main_accuracy", "aux1_accuracy"} <= set(history[0])
    assert result.best_validation_accuracy == max(row["val_main_accuracy"] for row in history)
    assert (run / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(run.joinpath("logs").rglob("events.out.tfevents.*"))
    saved = json.loads((run / "results.json").read_text())
    assert saved["test_accuracy"] == pytest.approx(result.test_accuracy)
    loaded = keras.saving.load_model(run / "model.keras")
    images = np.random.default_rng(0).random((4, 32, 32, 1), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(images, verbose=0)["main"],
                               result.model.predict(images, verbose=0)["main"], atol=1e-5)
    assert not [path for path in run.rglob("*") if ".partial" in path.name]
    assert saved["epochs_completed"] == 3


def test_a_rerun_with_other_settings_is_refused_and_overwrite_starts_over(tmp_path):
    config = training.TrainConfig(**TINY, output_dir=str(tmp_path))
    run_dir = job.prepare_run_dir(config)
    (pathlib.Path(run_dir) / "history.csv").write_text("epoch,loss\n0,1.0\n")
    job.prepare_run_dir(training.TrainConfig(**TINY, output_dir=str(tmp_path), epochs=30))  # more epochs: same job
    other = training.TrainConfig(**{**TINY, "width_multiplier": 0.25}, output_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"other settings \(width_multiplier: 0.125 there, 0.25 now\)"):
        job.prepare_run_dir(other)
    other.overwrite = True
    job.prepare_run_dir(other)
    assert sorted(os.listdir(run_dir)) == ["run.json"]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="is not a training run"):
        job.prepare_run_dir(training.TrainConfig(**TINY, output_dir=str(tmp_path), run_name="mine"))
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_keep_best_model_never_replaces_a_better_model(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    path = tmp_path / "model.keras"
    keeper = run_callbacks.KeepBestModel(str(path), "val_accuracy", best=0.9)
    keeper.set_model(model)
    keeper.on_epoch_end(0, {"val_accuracy": 0.8})
    assert not path.exists()
    keeper.on_epoch_end(1, {"val_accuracy": 0.95})
    assert path.exists() and keeper.best == 0.95
    assert os.listdir(tmp_path) == ["model.keras"]


class _PoisonWeights(keras.callbacks.Callback):
    """Turns the weights into NaN at the end of the first epoch, after its backup."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            for weight in self.model.weights:
                weight.assign(np.full(weight.shape, np.nan, "float32"))


def test_nan_loss_stops_training_and_keeps_the_backup(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = np.random.default_rng(0).random((32, 4), dtype=np.float32), np.arange(32) % 3
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=True)
    with pytest.raises(training.TrainingDiverged, match="last completed epoch's backup is kept"):
        model.fit(x, y, epochs=3, batch_size=8, verbose=0,
                  callbacks=[run_callbacks.StopOnNaN(), backup, _PoisonWeights()])
    assert resume.resumed_epoch(str(tmp_path / "backup")) == 1
    restored = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    restored.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    restored.load_weights(str(tmp_path / "backup" / "latest.weights.h5"))
    assert all(np.isfinite(weight).all() for weight in restored.get_weights())


def _write_backup(folder, epoch):
    folder.mkdir(parents=True)
    (folder / "training_metadata.json").write_text(json.dumps({"epoch": epoch, "batch": -1}))


def test_a_resumed_run_skips_the_phases_behind_its_last_backup_and_cuts_their_history(tmp_path):
    """A fine-tuning run killed in its second phase, after the history's row of epoch 4 but
    before that epoch's backup: the frozen phase is skipped, the second resumes at epoch 3,
    and the row of the epoch that runs again is gone."""
    phases = fine_tune.phases(epochs=4, frozen_epochs=2, learning_rate_scale=0.1)
    _write_backup(tmp_path / fine_tune.FROZEN_BACKUP, 2)
    _write_backup(tmp_path / fine_tune.BACKUP, 3)
    (tmp_path / resume.HISTORY).write_text("epoch,loss\n" + "".join(f"{epoch},{epoch / 10}\n" for epoch in range(4)))

    (resumed,) = list(resume.resumed_phases(str(tmp_path), phases))
    assert (resumed.index, resumed.phase, resumed.done) == (1, phases[1], 3)
    assert [row["epoch"] for row in resumed.history] == [0, 1, 2]
    assert (tmp_path / resume.HISTORY).read_text().splitlines()[-1] == "2,0.2"
    assert resumed.backup.backup_dir == str(tmp_path / fine_tune.BACKUP)


def test_a_fresh_run_runs_every_phase_from_its_first_epoch(tmp_path):
    phases = fine_tune.phases(epochs=4, frozen_epochs=2, learning_rate_scale=0.1)
    resumed = resume.resumed_phases(str(tmp_path), phases)
    first = next(resumed)
    assert (first.index, first.done, first.history) == (0, 0, [])
    _write_backup(tmp_path / fine_tune.FROZEN_BACKUP, 2)  # what the first phase's fit leaves
    second = next(resumed)
    assert (second.index, second.done) == (1, 2)
    assert next(resumed, None) is None


KILLS = 4
# Enough epochs that the run is still going at the last kill, since a run killed at a random
# moment may have finished several epochs since the kill before it.
KILL_EPOCHS = 40


@pytest.mark.slow
def test_training_killed_four_times_resumes_and_ends_as_an_uninterrupted_run(tmp_path):
    """SIGKILL at random moments, and as soon as a half-written file appears (the backup, the
    history plot), then the same command again: every restart resumes from the last
    completed epoch, none loads a torn file, and the run ends with all its epochs once each."""
    command = ["--model=lenet5", f"--epochs={KILL_EPOCHS}", "--steps_per_epoch=3", f"--output_dir={tmp_path}"]
    run_dir = tmp_path / "lenet5_digits"
    rng = np.random.default_rng(0)
    completed, mid_write = [], 0
    with ScriptServer("train.py", cwd=tmp_path) as server:
        for kill in range(KILLS):
            # Every other kill waits for a write in progress: the backup folder or the plot, both
            # written every epoch beside their destination (hidden .partial names).
            on_write = kill % 2 == 1
            partial = (".backup.partial", ".history.partial.png")[kill // 2 % 2]
            result = server.run(command, timeout=60 if on_write else float(rng.uniform(2, 8)),
                                kill_on=run_dir / partial if on_write else None)
            assert result["killed"], result["stderr"][-2000:]  # killed, not failed or finished
            mid_write += on_write and result["seconds"] < 60
            completed.append(resume.resumed_epoch(str(run_dir / "backup")))
        final = server.run(command, timeout=300)
    assert final["returncode"] == 0, final["stderr"][-3000:]
    assert completed == sorted(completed) and completed[-1] < KILL_EPOCHS, completed  # never lost ground
    assert mid_write == KILLS // 2
    assert f"after {KILL_EPOCHS} epochs ({KILL_EPOCHS - completed[-1]} in this run" in final["stdout"]
    assert [row["epoch"] for row in run_callbacks.read_history(run_dir / "history.csv")] == list(range(KILL_EPOCHS))
    assert json.loads((run_dir / "results.json").read_text())["epochs_completed"] == KILL_EPOCHS
    print("epochs completed at each kill:", completed)


@pytest.mark.slow
def test_mirrored_strategy_over_two_cpu_devices_trains(tmp_path):
    # LeNet-5: the strategy is what is tested here, and a GoogLeNet took 70 s to trace under it.
    script = f"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_inception import training
result = training.train(training.TrainConfig(model="lenet5", epochs=1, steps_per_epoch=2,
                        distribution="mirrored", output_dir={str(tmp_path)!r}, verbose=0))
print("replicas", result.model.distribute_strategy.num_replicas_in_sync, "accuracy", result.test_accuracy)
"""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "replicas 2 accuracy" in done.stdout
    assert (tmp_path / "lenet5_digits" / "model.keras").exists()


JAX_EPOCHS = 3


def _digits_lenet_command(output_dir, *extra):
    return [sys.executable, str(ROOT / "scripts" / "train.py"), "--model=lenet5", f"--epochs={JAX_EPOCHS}",
            f"--output_dir={output_dir}", *extra]


def _test_accuracy(stdout):
    return float(re.search(r"Test accuracy \(main head\) on \d+ held-out images: ([\d.]+)%", stdout).group(1))


def _wait_for(condition, processes, timeout=300, poll=0.002):
    """Polls `condition` until it holds; fails at once if one of `processes` ended first."""
    deadline = time.monotonic() + timeout
    while not condition():
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"a process ended (exit code {process.returncode}): {process.stderr.read()[-2000:]}")
        assert time.monotonic() < deadline, "timed out"
        time.sleep(poll)


@pytest.mark.slow
def test_two_jax_processes_killed_one_epoch_apart_resume_together(tmp_path):
    """`--distribution=jax_data_parallel` over two processes on 127.0.0.1 (gloo collectives),
    killed with their backups one epoch apart, then restarted with the same commands: both
    resume from the epoch they share, end with identical weights, and learn what one process
    learns."""
    pytest.importorskip("jax")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3", XLA_FLAGS=QUICK_XLA_FLAGS)
    run_dirs = [tmp_path / "two" / name for name in ("lenet5_digits", "lenet5_digits_process_1")]

    def start(*, with_single_process):
        address = f"127.0.0.1:{free_port()}"
        commands = [_digits_lenet_command(tmp_path / "two", "--distribution=jax_data_parallel",
                                          f"--coordinator_address={address}", "--num_processes=2",
                                          f"--process_id={index}") for index in range(2)]
        if with_single_process:
            commands.append(_digits_lenet_command(tmp_path / "one"))
        return [subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for command in commands]

    def backups():
        return [resume.backup_epoch(run_dir / "backup") for run_dir in run_dirs]

    processes = start(with_single_process=False)
    try:
        _wait_for(lambda: min(backups()) >= 2, processes)
    finally:
        for process in processes:
            process.kill()
            process.wait()
    assert backups() == [2, 2]
    # Saving is a collective on JAX (each process gathers the weights), so the processes write
    # their backups in step, and a crash leaves them one epoch apart only in the milliseconds
    # between one's last gather and its rename. The state such a crash leaves in process 1,
    # made here by hand: the epoch-2 backup never replaced the epoch-1 one.
    shutil.rmtree(run_dirs[1] / "backup")
    os.replace(files.previous_directory(run_dirs[1] / "backup"), run_dirs[1] / "backup")
    assert backups() == [2, 1]

    processes = start(with_single_process=True)
    try:
        outputs = [process.communicate(timeout=400) for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-2000:]

    # Both went back to epoch 1, the one they shared, and ran the remaining epochs once each.
    for (stdout, _), run_dir in zip(outputs, run_dirs):
        assert f"after {JAX_EPOCHS} epochs ({JAX_EPOCHS - 1} in this run" in stdout
        assert [row["epoch"] for row in run_callbacks.read_history(run_dir / "history.csv")] == list(range(JAX_EPOCHS))
    assert backups() == [JAX_EPOCHS, JAX_EPOCHS]
    # Each process keeps its own run directory; the weights in them are the same to the bit.
    models = [keras.saving.load_model(run_dir / "model.keras") for run_dir in run_dirs]
    for first, second in zip(models[0].get_weights(), models[1].get_weights(), strict=True):
        np.testing.assert_array_equal(first, second)
    accuracies = [_test_accuracy(stdout) for stdout, _ in outputs]
    assert accuracies[0] == accuracies[1]
    # The same global batch and seed: within noise of one process (360 test images, one
    # image is 0.28%; the two processes drop the last partial batch and test on 320).
    assert abs(accuracies[0] - accuracies[2]) < 5, accuracies
    assert accuracies[2] > 50, accuracies  # and both learned
    print("test accuracy: two processes, one process:", accuracies[0], accuracies[2])
