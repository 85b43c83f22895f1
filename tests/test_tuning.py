"""Width search: the search space read from the width tables, budgets, the search job and its
report, resume after a kill, and keras-tuner's chief/worker mode over loopback."""

import csv
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

import keras_inception
from keras_inception.models.googlenet import INCEPTION_WIDTHS
from keras_inception.models.inception_v3 import WIDTH_TABLE as V3_WIDTH_TABLE
from keras_inception.training import TrainConfig
from keras_inception.tuning import Budget, InceptionHyperModel, OverBudget, SearchSpace, TuneConfig, tune
from keras_inception.tuning import job as tuning_job
from keras_inception.tuning.job import make_tuner
from keras_inception.tuning.report import pareto_front
from tests.conftest import free_port, once_per_run
from tests.script_forks import ScriptServer

ROOT = pathlib.Path(__file__).resolve().parents[1]
SMALL = dict(input_shape=(32, 32, 3), num_classes=10, model_kwargs={"stem": "small"}, steps_per_epoch=1, epochs=1)
# A search small enough for a test: 1/16 of the widths, 2 batches an epoch, one epoch.
TINY_TRAINING = dict(model="googlenet_bn", model_kwargs={"stem": "small"}, image_size=32, epochs=1,
                     steps_per_epoch=2)
TINY_SPACE = SearchSpace(width_multipliers=(0.0625, 0.125), stage_multipliers=(0.5, 1.0))


def _conv_widths(model):
    return {layer.name: layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)}


def _hp(**values):
    hp = keras_tuner.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


# ---------------------------------------------------------------------------------------------
# The search space


@pytest.mark.parametrize("model, paper", [
    ("googlenet", {block: tuple(row) for block, row in INCEPTION_WIDTHS.items()}),
    ("inception_v3", {block: tuple(row.values()) for block, row in V3_WIDTH_TABLE.items()}),
])
@pytest.mark.slow
def test_default_hyperparameters_give_the_papers_widths(model, paper):
    space = SearchSpace(branch_blocks=("all",), batch_norm=model == "googlenet", dropout_rates=(0.1, 0.4, 0.7))
    hypermodel = InceptionHyperModel(model, space=space, **SMALL)
    assert hypermodel.widths(keras_tuner.HyperParameters()) == paper
    kwargs, _ = hypermodel.builder_kwargs(keras_tuner.HyperParameters())
    assert kwargs["width_multiplier"] == 1.0 and set(kwargs["stage_multipliers"].values()) == {1.0}
    # The default point builds the registered net itself, layer for layer.
    built = hypermodel.build_net(keras_tuner.HyperParameters())
    reference = keras_inception.get_model(model, stem="small", input_shape=(32, 32, 3), num_classes=10)
    assert _conv_widths(built) == _conv_widths(reference)
    assert built.count_params() == reference.count_params()


def test_space_holds_every_branch_of_the_table():
    hypermodel = InceptionHyperModel("googlenet", space=SearchSpace(branch_blocks=("4c",)), **SMALL)
    hp = keras_tuner.HyperParameters()
    hypermodel.builder_kwargs(hp)
    assert set(hp.values) == {"width_multiplier", "stage_3_multiplier", "stage_4_multiplier", "stage_5_multiplier",
                              "4c_ch1x1", "4c_ch3x3_reduce", "4c_ch3x3", "4c_ch5x5_reduce", "4c_ch5x5",
                              "4c_pool_proj"}
    # A branch chooses among its paper width times the factors: 24 x (0.5 .. 2).
    (choice,) = [entry for entry in hp.space if entry.name == "4c_ch5x5_reduce"]
    assert hp.get("4c_ch5x5_reduce") == 24 and choice.values == [12, 18, 24, 36, 48]


@pytest.mark.parametrize("model, values, changed", [
    ("googlenet", {"4c_ch3x3": 384}, {"inception_4c_3x3_conv": 384}),
    ("googlenet", {"stage_5_multiplier": 0.5},
     {f"inception_{block}_{branch}_conv": width // 2
      for block in ("5a", "5b")
      for branch, width in zip(("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj"),
                               INCEPTION_WIDTHS[block])}),
    ("inception_v3", {"mixed_6b_b2_3_7x1": 64}, {"mixed_6b_b2_3_7x1_conv": 64}),
])
def test_an_override_changes_exactly_the_intended_widths(model, values, changed):
    space = SearchSpace(branch_blocks=("4c",) if model == "googlenet" else ("mixed_6b",))
    hypermodel = InceptionHyperModel(model, space=space, **SMALL)
    default = _conv_widths(hypermodel.build_net(keras_tuner.HyperParameters()))
    overridden = _conv_widths(hypermodel.build_net(_hp(**values)))
    assert {name: width for name, width in overridden.items() if default[name] != width} == changed


def test_branch_override_is_scaled_by_its_stage_and_the_global_multiplier():
    hypermodel = InceptionHyperModel("googlenet", space=SearchSpace(branch_blocks=("4c",)), **SMALL)
    widths = hypermodel.widths(_hp(width_multiplier=0.5, stage_4_multiplier=0.75, **{"4c_ch3x3": 384}))
    assert widths["4c"][2] == round(384 * 0.5 * 0.75) == 144
    assert widths["3a"] == tuple(round(width * 0.5) for width in INCEPTION_WIDTHS["3a"])


@pytest.mark.parametrize("model, space, kwargs, message", [
    ("resnet50", SearchSpace(), {}, "Only nets built from an Inception width table can be searched: googlenet"),
    ("inception_v3", SearchSpace(batch_norm=True), {}, "inception_v3 has no form without batch norm"),
    ("googlenet", SearchSpace(branch_blocks=("6a",)), {}, "Unknown block '6a' in `branch_blocks`"),
    ("googlenet", SearchSpace(), {"model_kwargs": {"width_multiplier": 0.5}},
     "`width_multiplier` is set by the search or the data"),
])
def test_bad_search_space_is_refused_up_front(model, space, kwargs, message):
    with pytest.raises(ValueError, match=message):
        InceptionHyperModel(model, space=space, **{**SMALL, **kwargs})


@pytest.mark.parametrize("kwargs, message", [
    (dict(width_multipliers=()), "`width_multipliers` must be a non-empty list of numbers"),
    (dict(stage_multipliers=(1.0, -1.0)), "`stage_multipliers` must be a number > 0. Received: stage_multipliers=-1.0"),
    (dict(dropout_rates=(1.0,)), r"`dropout_rates` must be a number in \[0, 1\)"),
    (dict(branch_blocks="4c"), "`branch_blocks` must be a list of block names"),
])
def test_bad_search_space_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SearchSpace(**kwargs)


def test_bad_tune_config_values():
    with pytest.raises(ValueError, match="`tuner` must be one of 'random', 'hyperband', 'bayesian'"):
        TuneConfig(tuner="grid")
    with pytest.raises(ValueError, match="The search chooses the width multiplier"):
        TuneConfig(training=TrainConfig(width_multiplier=0.5))
    with pytest.raises(ValueError, match="`max_params` must be an integer >= 1"):
        Budget(max_params=0)


# ---------------------------------------------------------------------------------------------
# Budgets


def test_over_budget_trial_fails_before_any_training():
    hypermodel = InceptionHyperModel("googlenet_bn", budget=Budget(max_params=50_000),
                                     space=SearchSpace(width_multipliers=(0.125,)), **SMALL)
    model = hypermodel.build(keras_tuner.HyperParameters())
    weights = [weight.numpy().copy() for weight in model.weights]
    images, labels = np.zeros((4, 32, 32, 3), np.float32), np.zeros(4, np.int32)
    with pytest.raises(OverBudget, match=r"Over budget, not trained: 9\d,\d{3} parameters > max_params=50,000"):
        hypermodel.fit(keras_tuner.HyperParameters(), model, images, labels, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 0
    assert all(np.array_equal(before, after.numpy()) for before, after in zip(weights, model.weights))
    # keras-tuner fails such a trial for good: no retries.
    assert issubclass(OverBudget, keras_tuner.errors.FailedTrialError)


def test_latency_budget_measures_the_tflite_in_litert():
    hypermodel = InceptionHyperModel("googlenet_bn", budget=Budget(max_latency_ms=1e-6, latency_threads=1),
                                     space=SearchSpace(width_multipliers=(0.0625,)), **SMALL)
    cost = hypermodel.cost(keras_tuner.HyperParameters())
    assert 0 < cost.latency_ms < 1000
    assert hypermodel.budget.excess(cost).startswith(f"{cost.latency_ms:.2f} ms > max_latency_ms=1e-06")


def test_unreachable_budget_is_refused_before_anything_is_written(tmp_path):
    config = TuneConfig(training=TrainConfig(**TINY_TRAINING), space=TINY_SPACE, budget=Budget(max_macs=1000),
                        output_dir=str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match=r"No net in the search space fits the budget: the smallest has [\d,]+ "
                                         r"multiply-adds > max_macs=1,000"):
        tune(config)
    assert not os.listdir(tmp_path)


# ---------------------------------------------------------------------------------------------
# The search job


@pytest.mark.parametrize("kind, tuner_class, oracle_class", [
    ("random", keras_tuner.RandomSearch, keras_tuner.oracles.RandomSearchOracle),
    ("hyperband", keras_tuner.Hyperband, keras_tuner.oracles.HyperbandOracle),
    ("bayesian", keras_tuner.BayesianOptimization, keras_tuner.oracles.BayesianOptimizationOracle),
])
def test_tuner_flag_picks_keras_tuners_own_tuner(kind, tuner_class, oracle_class, tmp_path):
    config = TuneConfig(training=TrainConfig(**TINY_TRAINING), space=TINY_SPACE, tuner=kind, max_trials=7)
    hypermodel = InceptionHyperModel("googlenet_bn", space=TINY_SPACE, **SMALL)
    tuner = make_tuner(config, hypermodel, str(tmp_path / "search"))
    assert isinstance(tuner, tuner_class) and isinstance(tuner.oracle, oracle_class)
    assert tuner.oracle.objective.name == "val_main_accuracy" and tuner.oracle.objective.direction == "max"
    if kind == "hyperband":  # trains a trial for at most the job's epochs
        assert (tuner.oracle.max_epochs, tuner.oracle.factor) == (1, 3)
    else:
        assert tuner.oracle.max_trials == 7
    assert set(tuner.oracle.get_space().values) >= {"width_multiplier", "stage_4_multiplier"}
    # Its state files are replaced whole, a new file renamed in (a new inode), never rewritten
    # in place: a search killed mid-write resumes from the old file or the new one.
    trial = tuner.oracle.create_trial("tuner0")
    state_files = [tmp_path / "search" / "oracle.json", tmp_path / "search" / f"trial_{trial.trial_id}" / "trial.json"]
    tuner.oracle.save()
    inodes = [path.stat().st_ino for path in state_files]
    tuner.oracle.end_trial(trial)  # saves the trial and the oracle
    assert all(path.stat().st_ino != inode for path, inode in zip(state_files, inodes))
    assert json.loads(state_files[1].read_text())["trial_id"] == trial.trial_id
    assert [path.name for path in (tmp_path / "search").rglob(".*")] == []  # nothing left beside them


@pytest.fixture(scope="session")
def small_search(tmp_path_factory, worker_id):
    """Three trials of a tiny GoogLeNet on the digits, with a budget between the smallest and
    the largest net of the space, then the same search raised to four trials: run once."""

    def search():
        output_dir = tmp_path_factory.mktemp("tune")
        config = TuneConfig(training=TrainConfig(**TINY_TRAINING), space=TINY_SPACE,
                            budget=Budget(max_macs=3_000_000), max_trials=3, output_dir=str(output_dir), verbose=0)
        keras.utils.set_random_seed(0)
        # Steps run eagerly: tracing a trial's training graph costs far more than its two steps
        # (the compiled path is what the process tests below and the training tests run).
        tf.config.run_functions_eagerly(True)
        try:
            first = tune(config)
            project = pathlib.Path(first.project_dir)
            before = {trial: json.loads((project / f"trial_{trial}" / "trial.json").read_text()) for trial in "012"}
            mtimes = {path: path.stat().st_mtime_ns for path in project.glob("trial_*/checkpoint.weights.h5")}
            config.max_trials = 4
            second = tune(config)
        finally:
            tf.config.run_functions_eagerly(False)
        return first, second, before, mtimes

    return once_per_run(tmp_path_factory, worker_id, "small_search", search)


@pytest.mark.slow
def test_search_writes_the_report(small_search):
    _, result, _, _ = small_search  # the report as the second run left it
    project = pathlib.Path(result.project_dir)
    rows = list(csv.DictReader((project / "trials.csv").open()))
    assert [row["trial"] for row in rows] == ["0", "1", "2", "3"]
    statuses = {row["status"] for row in rows}
    assert statuses <= {"completed", "rejected"} and "completed" in statuses
    for row in rows:
        assert int(row["multiply_adds"]) > 0 and int(row["parameters"]) > 0
        # Rejected exactly when over the budget; only completed trials have an accuracy.
        assert (row["status"] == "rejected") == (int(row["multiply_adds"]) > 3_000_000)
        assert (row["val_main_accuracy"] != "") == (row["status"] == "completed")
        assert len(row["widths_4c"].split("-")) == 6
    markdown = (project / "trials.md").read_text().splitlines()
    assert markdown[0].startswith("| trial | status | val_main_accuracy | parameters | multiply_adds |")
    assert len(markdown) == 2 + 4
    png = (project / "pareto.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 700  # 7 in x 100 dpi
    results = json.loads((project / "results.json").read_text())
    assert results["best"]["trial"] in results["pareto_front"]
    assert 0 <= results["test_accuracy"] <= 1


def test_rejected_trials_are_not_trained(small_search):
    result, _, _, _ = small_search
    project = pathlib.Path(result.project_dir)
    for row in result.rows:
        trained = (project / f"trial_{row['trial']}" / "checkpoint.weights.h5").exists()
        assert trained == (row["status"] == "completed")
        if row["status"] == "rejected":
            assert row["note"] == f"{row['multiply_adds']:,} multiply-adds > max_macs=3,000,000"


def test_best_model_is_the_best_trial_and_goes_to_export(small_search):
    _, result, _, _ = small_search
    best_dir = pathlib.Path(result.best_model_path).parent
    model = keras.saving.load_model(result.best_model_path)
    assert set(model.output_names) == {"main", "aux1", "aux2"}
    completed = [row for row in result.rows if row["status"] == "completed"]
    assert result.best["val_main_accuracy"] == max(row["val_main_accuracy"] for row in completed)
    assert keras_inception.inference_model(model).count_params() == result.best["parameters"]
    assert json.loads((best_dir / "run.json").read_text())["dataset"] == "digits"


def test_pareto_front_keeps_only_undominated_trials():
    rows = [{"trial": str(i), "multiply_adds": macs, "val_main_accuracy": accuracy}
            for i, (macs, accuracy) in enumerate([(5, 0.5), (3, 0.6), (8, 0.9), (9, 0.8), (1, None), (3, 0.4)])]
    assert [row["trial"] for row in pareto_front(rows)] == ["1", "2"]


def test_rerun_keeps_completed_trials_and_searches_further(small_search):
    first, second, before, mtimes = small_search
    project = pathlib.Path(second.project_dir)
    assert [row["trial"] for row in second.rows] == ["0", "1", "2", "3"]
    for trial, saved in before.items():
        assert json.loads((project / f"trial_{trial}" / "trial.json").read_text()) == saved
    for path, mtime in mtimes.items():
        assert path.stat().st_mtime_ns == mtime  # not trained again
    assert [row for row in second.rows[:3]] == first.rows


def test_rerun_with_other_settings_is_refused(small_search, tmp_path):
    result, _, _, _ = small_search
    space = SearchSpace(width_multipliers=(0.0625, 0.125), stage_multipliers=(0.5, 0.75, 1.0))
    config = TuneConfig(training=TrainConfig(**TINY_TRAINING), space=space, budget=Budget(max_macs=3_000_000),
                        output_dir=str(pathlib.Path(result.project_dir).parent), verbose=0)
    with pytest.raises(ValueError, match=r"holds a search with other settings \(space.stage_multipliers: "
                                         r"\[0.5, 1.0\] there, \[0.5, 0.75, 1.0\] now\)"):
        tune(config)


@pytest.mark.parametrize("damaged, content, problem", [
    ("oracle.json", "{\"ongoing_trials\": ", "is not valid JSON: Expecting value"),
    ("trial_1/trial.json", "[]", "holds a JSON list, not an object"),
])
def test_damaged_tuner_state_is_named_before_keras_tuner_reads_it(small_search, tmp_path, damaged, content, problem):
    result, _, _, _ = small_search
    project = tmp_path / pathlib.Path(result.project_dir).name
    shutil.copytree(result.project_dir, project)
    settings = json.loads((project / "tune.json").read_text())
    (project / "tune.json").write_text(json.dumps({**settings, "output_dir": str(tmp_path)}))  # the copy's place
    (project / damaged).write_text(content)
    config = TuneConfig(training=TrainConfig(**TINY_TRAINING), space=TINY_SPACE, budget=Budget(max_macs=3_000_000),
                        max_trials=4, output_dir=str(tmp_path), verbose=0)
    with pytest.raises(ValueError, match=rf"^{project / damaged} \(keras-tuner's state\) {problem}.*"
                                         rf"Received: file="):
        tune(config)
    assert (project / damaged).read_text() == content  # named, not rewritten


# ---------------------------------------------------------------------------------------------
# Processes: killed and resumed; chief and workers


def _tune_command(output_dir, *extra):
    """The README's search (absl keeps the last value of a repeated flag), made tiny: nets of
    1/16 to 1/8 of the widths, one epoch of two batches run untraced, no export unless asked."""
    readme = re.search(r"(python3 scripts/tune\.py [^\n]*)", (ROOT / "README.md").read_text()).group(1)
    return [sys.executable, *shlex.split(readme)[1:], "--width_multipliers=0.0625,0.125", "--stage_multipliers=0.5,1",
            "--epochs=1", "--steps_per_epoch=2", "--run_eagerly", "--export_modes=", f"--output_dir={output_dir}",
            *extra]


def _read_json(path):
    """The file's JSON, or None while it is missing or half-written (keras-tuner writes its state
    files in place)."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _trials(project):
    return {path.parent.name: _read_json(path) for path in project.glob("trial_*/trial.json")}


def _ended_trials(project):
    """Trials the oracle has recorded as ended. keras-tuner writes a trial's trial.json before
    oracle.json, so only this says that a resumed search will not run the trial again."""
    return (_read_json(project / "oracle.json") or {}).get("end_order", [])


@pytest.mark.slow
def test_killed_search_resumes_and_keeps_completed_trials(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    project = tmp_path / "tune_googlenet_bn_digits"
    command = _tune_command(tmp_path, "--max_trials=2")
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while process.poll() is None and time.time() < deadline and not _ended_trials(project):
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL  # killed mid-search, not finished
    completed = {name: trial for name, trial in _trials(project).items() if trial and trial["status"] == "COMPLETED"}
    assert len(completed) == 1 and not (project / "trials.csv").exists()

    # The same command again (in a process forked from a warm server), the best model now
    # handed to export too.
    with ScriptServer("tune.py", cwd=ROOT) as server:
        rerun = server.run(command[2:] + ["--export_modes=float32"], timeout=600)
    assert rerun["returncode"] == 0, rerun["stderr"][-2000:]
    trials = _trials(project)
    assert sorted(trials) == ["trial_0", "trial_1"]
    assert all(trials[name] == trial for name, trial in completed.items())  # kept as they were
    assert all(trial["status"] == "COMPLETED" for trial in trials.values())
    assert "Trials: 2 (2 completed)" in rerun["stdout"]
    assert "float32" in rerun["stdout"] and (project / "best" / "model_float32.tflite").exists()


@pytest.mark.slow
def test_chief_and_two_workers_record_every_trial_once(tmp_path):
    address = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(free_port())}
    arguments = _tune_command(tmp_path, "--max_trials=3")[2:]
    servers = {tuner_id: ScriptServer("tune.py", cwd=tmp_path, env=dict(address, KERASTUNER_TUNER_ID=tuner_id))
               for tuner_id in ("chief", "tuner0", "tuner1")}
    try:
        with ThreadPoolExecutor(max_workers=len(servers)) as pool:  # the three processes run together
            results = dict(zip(servers, pool.map(lambda server: server.run(arguments, timeout=540),
                                                 servers.values())))
    finally:
        for server in servers.values():
            server.close()
    outputs = {tuner_id: result["stdout"] + result["stderr"] for tuner_id, result in results.items()}
    for tuner_id, result in results.items():
        assert result["returncode"] == 0, f"{tuner_id}: {outputs[tuner_id][-2000:]}"
    project = tmp_path / "tune_googlenet_bn_digits"
    trials = _trials(project)
    assert sorted(trials) == ["trial_0", "trial_1", "trial_2"]
    assert all(trial["status"] == "COMPLETED" for trial in trials.values())
    oracle = json.loads((project / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2"]  # each trial ended exactly once
    rows = list(csv.DictReader((project / "trials.csv").open()))
    assert sorted(row["trial"] for row in rows) == ["0", "1", "2"]
    assert "Trials: 3 (3 completed)" in outputs["chief"]
    # The workers trained each trial's one epoch, between them exactly once; the chief served
    # the oracle and trained nothing.
    epochs = {tuner_id: output.count("val_main_loss:") for tuner_id, output in outputs.items()}
    assert epochs["chief"] == 0 and epochs["tuner0"] + epochs["tuner1"] == 3, epochs
    assert epochs["tuner0"] >= 1 and epochs["tuner1"] >= 1, epochs


def test_the_search_input_is_the_nets_default_from_its_spec_unless_a_stem_is_chosen():
    digits = types.SimpleNamespace(channels=1)
    assert tuning_job._input_shape(TrainConfig(model="inception_v3"), digits, {}) == (299, 299, 1)
    assert tuning_job._input_shape(TrainConfig(model="googlenet_bn"), digits, {"stem": "small"}) == (32, 32, 1)
    assert tuning_job._input_shape(TrainConfig(model="googlenet_bn", image_size=48), digits, {}) == (48, 48, 1)
