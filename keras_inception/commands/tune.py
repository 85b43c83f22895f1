"""Searches GoogLeNet's or Inception v3's widths with keras-tuner, within a compute budget.

    keras-inception tune --model=googlenet_bn --model_kwargs=stem=small --image_size=32 \\
        --width_multipliers=0.25,0.5 --stage_multipliers=0.5,1,1.5 --max_macs=40e6 \\
        --max_trials=6 --epochs=5 --export_modes=float32,int8        # offline digits, minutes
    keras-inception tune --model=inception_v3 --model_kwargs=stem=small --image_size=32 \\
        --tuner=bayesian --branch_blocks=mixed_6b --max_params=5e6

Writes trials.csv, trials.md and pareto.png (accuracy against multiply-adds, Pareto front
marked) and keeps the best trial's model as best/model.keras, exported on request. Running
the same command again after an interruption continues the search; --overwrite starts over.

Chief and workers (keras-tuner's distributed mode): run the same command with
KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT set, KERASTUNER_TUNER_ID=chief on one process
and tuner0, tuner1, ... on the others.
"""

import os
import sys

from absl import flags

from keras_inception import cli, training, tuning
from keras_inception.training import recipes
from keras_inception.tuning import job
from keras_inception.validation import UsageError

flags.DEFINE_enum("model", "googlenet_bn", tuning.searchable_models(), "Net whose widths are searched.")
flags.DEFINE_list("model_kwargs", [], "Other builder arguments as key=value, fixed for every trial, e.g. stem=small.")
flags.DEFINE_string("dataset", "digits", "'digits' (offline), a TFDS name, or a folder with one sub-folder per class.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir holding the prepared dataset (nothing is downloaded).")
flags.DEFINE_integer("image_size", None, "Input height and width; default: the net's.", lower_bound=1)
flags.DEFINE_integer("epochs", 3, "Epochs per trial (Hyperband: the most any trial trains).", lower_bound=1)
flags.DEFINE_integer("steps_per_epoch", None, "At most this many batches per epoch; default: all.", lower_bound=1)
flags.DEFINE_enum("recipe", "modern", list(recipes.RECIPES), "Training recipe of every trial.")
flags.DEFINE_integer("batch_size", None, "Images per batch; default: the recipe's.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seeds the search, the weights and the data.", lower_bound=0)
flags.DEFINE_bool("run_eagerly", False, "Run each trial's steps as Python, untraced: for debugging, and for "
                  "trials of a few steps.")

flags.DEFINE_enum("tuner", "random", list(job.TUNERS), "keras-tuner's RandomSearch, Hyperband or BayesianOptimization.")
flags.DEFINE_integer("max_trials", 10, "Trials in all, rejected ones included (not Hyperband).", lower_bound=1)
flags.DEFINE_integer("hyperband_factor", 3, "Hyperband's reduction factor.", lower_bound=2)
flags.DEFINE_list("width_multipliers", ["0.25", "0.5", "0.75", "1"], "Choices of the global width multiplier.")
flags.DEFINE_list("stage_multipliers", ["0.5", "0.75", "1", "1.25", "1.5"], "Choices of each stage's multiplier.")
flags.DEFINE_list("branch_blocks", [], "Blocks whose branch widths are searched one by one (e.g. 4c,4d), or 'all'.")
flags.DEFINE_list("branch_factors", ["0.5", "0.75", "1", "1.5", "2"], "A searched branch's choices: its paper width times these.")
flags.DEFINE_bool("search_batch_norm", False, "Search batch norm on and off (GoogLeNet).")
flags.DEFINE_list("dropout_rates", [], "Choices of the dropout rate; default: the net's.")
flags.DEFINE_list("learning_rates", [], "Choices of the learning rate; default: the recipe's.")

flags.DEFINE_float("max_params", None, "Budget: parameters of the inference net (e.g. 5e6).")
flags.DEFINE_float("max_macs", None, "Budget: multiply-adds of the inference net for one image (e.g. 1.5e9).")
flags.DEFINE_float("max_latency_ms", None, "Budget: median single-image latency of the float32 .tflite here.")
flags.DEFINE_integer("latency_threads", None, "LiteRT threads for the latency budget; default: LiteRT's.", lower_bound=1)

flags.DEFINE_list("export_modes", [], "Export the best model as a SavedModel and .tflite in these modes, e.g. float32,int8.")
flags.DEFINE_string("output_dir", "saved_models", "Where project directories go.")
flags.DEFINE_string("run_name", None, "Project directory name; default: tune_<model>_<dataset>.")
flags.DEFINE_bool("overwrite", False, "Delete an existing search of this name and start over.")
FLAGS = flags.FLAGS


def _numbers(flag, convert=float):
    try:
        return tuple(convert(value) for value in FLAGS[flag].value) or None
    except ValueError:
        raise UsageError(f"--{flag} takes comma-separated numbers. Received: {','.join(FLAGS[flag].value)}") from None


def _count(flag):
    """A float flag (so that 5e6 is accepted) that must hold a whole number."""
    value = FLAGS[flag].value
    if value is None:
        return None
    if value != int(value):
        raise UsageError(f"--{flag} must be a whole number. Received: {flag}={value!r}")
    return int(value)


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    config = job.TuneConfig(
        training=training.TrainConfig(
            model=FLAGS.model, model_kwargs=cli.parse_key_values("model_kwargs", FLAGS.model_kwargs),
            dataset=os.path.expanduser(FLAGS.dataset), data_dir=FLAGS.data_dir and os.path.expanduser(FLAGS.data_dir),
            image_size=FLAGS.image_size, epochs=FLAGS.epochs, steps_per_epoch=FLAGS.steps_per_epoch,
            recipe=FLAGS.recipe, recipe_overrides=cli.set_flags(batch_size=FLAGS.batch_size), seed=FLAGS.seed,
            run_eagerly=FLAGS.run_eagerly,
        ),
        space=tuning.SearchSpace(
            width_multipliers=_numbers("width_multipliers"), stage_multipliers=_numbers("stage_multipliers"),
            branch_blocks=tuple(FLAGS.branch_blocks), branch_factors=_numbers("branch_factors"),
            batch_norm=FLAGS.search_batch_norm, dropout_rates=_numbers("dropout_rates"),
            learning_rates=_numbers("learning_rates"),
        ),
        budget=tuning.Budget(max_params=_count("max_params"), max_macs=_count("max_macs"),
                             max_latency_ms=FLAGS.max_latency_ms, latency_threads=FLAGS.latency_threads),
        tuner=FLAGS.tuner, max_trials=FLAGS.max_trials, hyperband_factor=FLAGS.hyperband_factor,
        output_dir=FLAGS.output_dir, run_name=FLAGS.run_name, overwrite=FLAGS.overwrite,
        export_modes=tuple(dict.fromkeys(FLAGS.export_modes)),
        verbose=cli.fit_verbosity(),
    )
    result = tuning.tune(config)
    if result is None:  # a worker: the chief reports
        return 0
    print(result.summary())
    if result.export is not None:
        print(result.export.table())
        for failure in result.export.failures():
            print(f"error: verification target missed: {failure}", file=sys.stderr)
        for warning in result.export.warnings():
            print(f"warning: {warning}", file=sys.stderr)
        return 1 if result.export.failures() else 0
    return 0

