"""Trains a registered net on a dataset with a paper's recipe and keeps the best model.

    keras-inception train --model=googlenet_bn --model_kwargs=stem=small --image_size=32 \\
        --width_multiplier=0.25 --epochs=5                      # offline digits, ~1 minute
    keras-inception train --model=googlenet_cifar --dataset=cifar10 --data_dir=~/tensorflow_datasets
    keras-inception train --model=googlenet_bn --dataset=/data/flowers --image_size=224 --recipe=googlenet
    keras-inception train --weights=resnet50.keras --dataset=/data/flowers --frozen_epochs=2 --epochs=3

Running the same command again after a crash resumes from the last completed epoch.
"""

import dataclasses
import os
import sys

from absl import flags

import keras_inception
from keras_inception import cli, training
from keras_inception.data.pipeline import AUGMENTATIONS
from keras_inception.training import distribution, precision, recipes

flags.DEFINE_enum("model", "googlenet_bn", keras_inception.list_models(), "Registered net to train.")
flags.DEFINE_list("model_kwargs", [], "Extra builder arguments as key=value, e.g. stem=small,aux_heads=false.")
flags.DEFINE_float("width_multiplier", None, "Scales the net's widths; default: the net's.")
flags.DEFINE_string("dataset", "digits", "'digits' (offline), a TFDS name, or a folder with one sub-folder per class.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir holding the prepared dataset (nothing is downloaded).")
flags.DEFINE_float("validation_fraction", 0.1, "Share of the training data held out to pick the best epoch (digits, folders).")
flags.DEFINE_float("test_fraction", 0.2, "Share held out for the final test (folders without train/ and test/).")
flags.DEFINE_string("train_split", "train[:90%]", "TFDS training split.")
flags.DEFINE_string("validation_split", "train[90%:]", "TFDS validation split.")
flags.DEFINE_string("test_split", "test", "TFDS test split.")
flags.DEFINE_integer("image_size", None, "Input height and width; default: the net's.", lower_bound=1)
flags.DEFINE_enum("channels", None, ["1", "3"], "Input channels; default: the dataset's.")
flags.DEFINE_integer("epochs", 10, "Epochs in total (a resumed run continues to this many).", lower_bound=1)
flags.DEFINE_integer("steps_per_epoch", None, "At most this many batches per epoch (smoke runs); default: all.", lower_bound=1)
flags.DEFINE_enum("recipe", "modern", list(recipes.RECIPES), "Training recipe preset; the flags below override it.")
flags.DEFINE_integer("batch_size", None, "Images per batch (over all devices); default: the recipe's.", lower_bound=1)
flags.DEFINE_enum("optimizer", None, list(recipes.OPTIMIZERS), "Default: the recipe's.")
flags.DEFINE_float("learning_rate", None, "Base learning rate; default: the recipe's.")
flags.DEFINE_float("momentum", None, "SGD momentum; default: the recipe's.")
flags.DEFINE_float("weight_decay", None, "Weight decay; default: the recipe's.")
flags.DEFINE_enum("schedule", None, list(recipes.SCHEDULES), "Learning-rate schedule; default: the recipe's.")
flags.DEFINE_enum("augmentation", "auto", list(AUGMENTATIONS), "Training augmentation.")
flags.DEFINE_bool("flip", None, "Horizontal flips in training; default: on, off for the digits.")
flags.DEFINE_enum("precision", "auto", list(precision.PRECISIONS),
                  "auto: mixed_float16 with a GPU; mixed_bfloat16 on a CPU with bfloat16 instructions "
                  "(AVX-512 BF16 or AMX); float32 otherwise.")
flags.DEFINE_enum("jit_compile", "auto", ["auto", "true", "false"], "XLA; auto: on with a GPU, off on CPU.")
flags.DEFINE_bool("run_eagerly", False, "Run each step as Python, untraced: for debugging, and for runs of a few "
                  "steps.")
flags.DEFINE_enum("distribution", "none", list(distribution.DISTRIBUTIONS), "Devices and hosts to train on.")
flags.DEFINE_string("coordinator_address", None, "host:port of process 0 (jax_data_parallel over several processes).")
flags.DEFINE_integer("num_processes", 1, "Processes in a jax_data_parallel run.", lower_bound=1)
flags.DEFINE_integer("process_id", 0, "This process's index in a jax_data_parallel run.", lower_bound=0)
flags.DEFINE_integer("seed", 0, "Seeds weights, splits, shuffling and augmentation.", lower_bound=0)
flags.DEFINE_string("output_dir", "saved_models", "Where run directories go.")
flags.DEFINE_string("run_name", None, "Run directory name; default: <model>_<dataset>.")
flags.DEFINE_bool("overwrite", False, "Delete an existing run directory of this name and start over.")
flags.DEFINE_string("weights", None, "A .keras file to fine-tune (a converted checkpoint or any of ours) instead of "
                    "--model: --frozen_epochs with its backbone frozen, then --epochs of the whole net.")
flags.DEFINE_integer("frozen_epochs", None, "Fine-tuning: epochs with the backbone frozen; default: 2.", lower_bound=0)
flags.DEFINE_float("fine_tune_learning_rate", 0.1, "Fine-tuning: the whole net's learning rate, as a share of the "
                   "recipe's.")
FLAGS = flags.FLAGS


def _flag_values(fields):
    """The values of the flags that share a name with one of `fields`."""
    return {field.name: FLAGS[field.name].value for field in fields if field.name in FLAGS}


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    # Flags are named after TrainConfig's and Recipe's fields; only a few need converting.
    settings = _flag_values(dataclasses.fields(training.TrainConfig))
    settings.update(
        model_kwargs=cli.parse_key_values("model_kwargs", FLAGS.model_kwargs),
        dataset=os.path.expanduser(FLAGS.dataset),
        weights=FLAGS.weights and os.path.expanduser(FLAGS.weights),
        data_dir=FLAGS.data_dir and os.path.expanduser(FLAGS.data_dir),
        channels=FLAGS.channels and int(FLAGS.channels),
        jit_compile={"auto": "auto", "true": True, "false": False}[FLAGS.jit_compile],
        recipe_overrides=cli.set_flags(**_flag_values(dataclasses.fields(training.Recipe))),
        verbose=cli.fit_verbosity(),
    )
    try:
        result = training.train(training.TrainConfig(**settings))
    except training.TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(result.summary())
    return 0

