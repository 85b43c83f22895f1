"""The tuning job: a searchable net, a dataset, a search space and a budget in; a table of
trials, the Pareto front and the best model (exported on request) out.

    result = tune(TuneConfig(
        training=TrainConfig(model="googlenet_bn", model_kwargs={"stem": "small"}, image_size=32,
                             epochs=3),
        space=SearchSpace(width_multipliers=(0.125, 0.25)), budget=Budget(max_macs=20_000_000),
        max_trials=6))

A project directory, `saved_models/tune_<model>_<dataset>/` (`run_name`), holds keras-tuner's
own state (`oracle.json`, `trial_*/`, written atomically: see `tuners`), and:

    tune.json             the settings; a re-run with other settings is refused, not mixed in
    costs/                each trial net's parameters, multiply-adds (and latency)
    logs/                 TensorBoard, one directory per trial, with its hyperparameters
    trials.csv, trials.md the table of trials;  pareto.png: accuracy against multiply-adds
    best/model.keras      the best trial's model (its best epoch), ready for scripts/export.py
    results.json          the best trial, its test accuracy, counts of trials

Running the same job again continues the search: completed trials are kept, a trial that was
cut short runs again, and a raised `max_trials` searches further. `overwrite=True` starts over.

Several processes search together with keras-tuner's chief/worker mode: set
KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT everywhere, KERASTUNER_TUNER_ID=chief on the
process that holds the oracle (it trains nothing and writes the report at the end) and
tuner0, tuner1, ... on the workers, which share the project directory.
"""

import contextlib
import dataclasses
import glob
import json
import os
import warnings

import keras

from keras_inception import _compat
from keras_inception.files import (
    claim_job_directory,
    locked,
    read_json_object,
    write_atomically,
    write_json_atomically,
)
from keras_inception.models.multi_output import MAIN_OUTPUT
from keras_inception.training.callbacks import tensorboard_logs
from keras_inception.training.job import (TrainConfig, dataset_name, default_input_size, load_data_and_recipe,
                                          make_pipelines)
from keras_inception.training.precision import precision_policy
from keras_inception.tuning import report, tuners
from keras_inception.tuning.budget import Budget
from keras_inception.tuning.hypermodel import OBJECTIVE, InceptionHyperModel
from keras_inception.tuning.space import SearchSpace, smallest_kwargs
from keras_inception.validation import UsageError, check_bool, check_choice, check_integer

TUNERS = ("random", "hyperband", "bayesian")
# Settings that may change between runs of one search: how far and how it runs, not what.
RERUNNABLE_SETTINGS = ("max_trials", "overwrite", "verbose", "export_modes")
# TrainConfig fields the tuning job sets itself or does not use, and run_eagerly, which a rerun
# of the search may change.
UNUSED_TRAINING_FIELDS = ("output_dir", "run_name", "overwrite", "verbose", "width_multiplier",
                          "distribution", "coordinator_address", "num_processes", "process_id", "run_eagerly")
EXPORT_MODES = ("float32", "float16", "dynamic", "int8")


@dataclasses.dataclass
class TuneConfig:
    """A search; `scripts/tune.py` fills it from flags.

    training: how each trial trains (net, builder keywords, data, image size, epochs, recipe,
        seed), as for the training job; its output, width and distribution fields are unused.
    space: a `SearchSpace`; budget: a `Budget`.
    tuner: "random", "hyperband" or "bayesian".
    max_trials: trials in all (rejected ones count); Hyperband sets its own number.
    hyperband_factor: Hyperband's reduction factor (its max_epochs is `training.epochs`).
    export_modes: TFLite modes to export the best model in (with a SavedModel); () for none.
    """

    training: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    space: SearchSpace = dataclasses.field(default_factory=SearchSpace)
    budget: Budget = dataclasses.field(default_factory=Budget)
    tuner: str = "random"
    max_trials: int = 10
    hyperband_factor: int = 3
    output_dir: str = "saved_models"
    run_name: str = None
    overwrite: bool = False
    export_modes: tuple = ()
    verbose: object = "auto"

    def __post_init__(self):
        check_choice("tuner", self.tuner, TUNERS)
        check_integer("max_trials", self.max_trials, 1)
        check_integer("hyperband_factor", self.hyperband_factor, 2)
        check_bool("overwrite", self.overwrite)
        for mode in self.export_modes:
            check_choice("export_modes", mode, EXPORT_MODES)
        if self.training.width_multiplier is not None:
            raise UsageError("The search chooses the width multiplier; give its choices in "
                             "`space.width_multipliers`. Received: width_multiplier="
                             f"{self.training.width_multiplier!r}")
        if self.training.distribution != "none":
            raise UsageError("Trials train on one device; search in parallel with chief and worker "
                             f"processes. Received: distribution={self.training.distribution!r}")

    def project_dir(self):
        return os.path.join(self.output_dir,
                            self.run_name or f"tune_{self.training.model}_{dataset_name(self.training.dataset)}")


@dataclasses.dataclass
class TuneResult:
    project_dir: str
    rows: list  # one dict per trial: see report.trial_rows
    best: dict  # the best completed trial's row; None when no trial completed
    best_model_path: str
    test_accuracy: float
    export: object  # export.ExportResult, or None

    def summary(self):
        counts = {}
        for row in self.rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        lines = [f"Trials: {len(self.rows)} ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"]
        if self.best:
            lines.append(
                f"Best: trial {self.best['trial']}, validation accuracy {self.best['val_main_accuracy']:.2%}, "
                f"test accuracy {self.test_accuracy:.2%}, {self.best['parameters']:,} parameters, "
                f"{self.best['multiply_adds'] / 1e6:,.1f} M multiply-adds"
            )
            lines.append(f"Best model: {self.best_model_path}")
        else:
            lines.append("No trial completed; nothing to keep.")
        lines.append(f"Report: {os.path.join(self.project_dir, 'trials.md')} (trials.csv, pareto.png beside it)")
        return "\n".join(lines)


def process_role():
    """"solo", or keras-tuner's "chief" / "worker" when KERASTUNER_ORACLE_IP is set."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "solo"
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def _settings(config):
    settings = dataclasses.asdict(config)
    for key in RERUNNABLE_SETTINGS:
        settings.pop(key)
    for key in UNUSED_TRAINING_FIELDS:
        settings["training"].pop(key, None)
    return json.loads(json.dumps(settings))


def prepare_project_dir(config):
    """Creates the project directory, or checks that the existing one is this search's."""
    return claim_job_directory(config.project_dir(), _settings(config), settings_file="tune.json",
                               overwrite=config.overwrite, job="search")


def check_tuner_state(project_dir):
    """keras-tuner reloads `oracle.json` and each `trial_*/trial.json` of a project it resumes,
    and a damaged one fails there without its name: each is read here first, and one that is
    not a JSON object is named in one line."""
    oracle = os.path.join(project_dir, "oracle.json")
    for path in [oracle] * os.path.exists(oracle) + sorted(glob.glob(os.path.join(glob.escape(project_dir),
                                                                                     "trial_*", "trial.json"))):
        read_json_object(path, "keras-tuner's state")


def make_tuner(config, hypermodel, project_dir):
    common = dict(
        hypermodel=hypermodel, objective=OBJECTIVE, seed=config.training.seed,
        directory=os.path.dirname(os.path.abspath(project_dir)), project_name=os.path.basename(project_dir),
        # A rejected trial is a failed one; however many there are in a row, search on.
        max_consecutive_failed_trials=10**9,
    )
    if config.tuner == "hyperband":
        return tuners.Hyperband(max_epochs=config.training.epochs, factor=config.hyperband_factor, **common)
    tuner_class = tuners.RandomSearch if config.tuner == "random" else tuners.BayesianOptimization
    return tuner_class(max_trials=config.max_trials, **common)


def _input_shape(training, splits, model_kwargs):
    channels = training.channels or splits.channels
    if training.image_size is not None:
        return (training.image_size, training.image_size, channels)
    size = default_input_size(training.model, model_kwargs)  # the net's default, with the data's channels
    return (size, size, channels)


def check_budget_reachable(budget, smallest):
    """Refuses a budget that even the smallest net of the space (`smallest`) exceeds: every
    trial would be rejected."""
    excess = budget.excess(budget.measure(smallest))
    if excess:
        raise UsageError(f"No net in the search space fits the budget: the smallest has {excess}. "
                         f"Received: budget={budget}")


def tune(config):
    """Runs the search `config` describes; see the module docstring. Returns a `TuneResult`
    (None on a worker process)."""
    role, training = process_role(), config.training
    keras.utils.set_random_seed(training.seed)
    splits, recipe, steps_per_epoch = load_data_and_recipe(training)
    project_dir = config.project_dir()

    with contextlib.ExitStack() as project_lock:  # held from the first write to the last
        with precision_policy(training.precision):
            hypermodel = InceptionHyperModel(
                training.model, input_shape=_input_shape(training, splits, training.model_kwargs),
                num_classes=splits.num_classes, space=config.space, model_kwargs=training.model_kwargs,
                recipe=recipe, steps_per_epoch=steps_per_epoch, epochs=training.epochs, budget=config.budget,
                cost_dir=os.path.join(project_dir, "costs"),
                from_logits=training.from_logits,
                jit_compile=training.jit_compile, run_eagerly=training.run_eagerly,
            )
            smallest = hypermodel.build_inference_net(smallest_kwargs(hypermodel.model, hypermodel.space))
            if role != "worker":
                check_budget_reachable(hypermodel.budget, smallest)
                # Only now, with the settings proven good, is anything written; workers share
                # the chief's project and take no lock.
                project_lock.enter_context(locked(project_dir, "a search"))
                prepare_project_dir(config)
                check_tuner_state(project_dir)
            # Every net of the search takes the same input, so the smallest one shapes the pipelines.
            train_data, validation_data, test_data = make_pipelines(training, splits, smallest, recipe)
            tuner = make_tuner(config, hypermodel, project_dir)
            with _quiet_failures():
                tuner.search(train_data, validation_data=validation_data, epochs=training.epochs,
                             callbacks=[tensorboard_logs(os.path.join(project_dir, "logs"))],
                             verbose=config.verbose, shuffle=False)  # the pipeline shuffles
        if role == "worker":
            return None
        # After the block: the best net is evaluated and exported in float32, as its files run (on a
        # CPU, bfloat16 is a rewrite of every TensorFlow graph the block runs, the export's too).
        return _finish(config, tuner, hypermodel, test_data, project_dir)


@contextlib.contextmanager
def _quiet_failures():
    """keras-tuner prints the traceback of every failed trial; a rejected trial is routine, so
    failures are listed in the report instead (the whole message stays in trial.json)."""
    with _compat.keras_tuner_tracebacks_off():
        yield


def _finish(config, tuner, hypermodel, test_data, project_dir):
    """The report, the best model and its test accuracy, and the export."""
    rows = report.trial_rows(tuner, hypermodel)
    for row in rows:
        if row["status"] == "failed":
            print(f"warning: trial {row['trial']} failed: {row['note']} (whole message: trial.json)")
    report.write_report(rows, project_dir, title=f"{config.training.model}: {len(rows)} trials")
    front = report.pareto_front(rows)
    best = max(front, key=lambda row: row["val_main_accuracy"]) if front else None
    result = TuneResult(project_dir, rows, best, None, None, None)
    if best is not None:
        with warnings.catch_warnings():  # the checkpoint holds no optimizer state, by design
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model = tuner.load_model(tuner.oracle.get_trial(best["trial"]))
        test = model.evaluate(test_data, return_dict=True, verbose=0)
        result.test_accuracy = float(test[f"{MAIN_OUTPUT}_accuracy"])
        best_dir = os.path.join(project_dir, "best")
        os.makedirs(best_dir, exist_ok=True)
        result.best_model_path = os.path.join(best_dir, "model.keras")
        write_atomically(result.best_model_path, model.save)
        training = config.training
        # What the export job reads beside a model: where its calibration images come from.
        write_json_atomically(os.path.join(best_dir, "run.json"), {
            "model": training.model, "dataset": training.dataset, "data_dir": training.data_dir,
            "seed": training.seed, "trial": best["trial"],
        })
        if config.export_modes:
            from keras_inception.export.job import export_model  # the mobile extra, only when asked for

            result.export = export_model(result.best_model_path, modes=tuple(config.export_modes),
                                         overwrite=True)
    summary = {key: value for key, value in dataclasses.asdict(result).items() if key not in ("rows", "export")}
    summary["trials"] = {status: sum(row["status"] == status for row in rows)
                         for status in sorted({row["status"] for row in rows})}
    summary["pareto_front"] = [row["trial"] for row in front]
    if result.export is not None:
        summary["export"] = result.export.reports
    write_json_atomically(os.path.join(project_dir, "results.json"), summary)
    return result
