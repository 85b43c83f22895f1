"""The training job: a registered net, a dataset and a recipe in; a trained model, its history
and its held-out test accuracy out, under `saved_models/<run>/`.

    result = train(TrainConfig(model="googlenet_bn", model_kwargs={"stem": "small"},
                               image_size=32, width_multiplier=0.25, epochs=5))

A run directory holds:

    model.keras     the best epoch's model (main head's validation accuracy), written atomically
    backup/         BackupAndRestore state: running the same job again resumes from here
    history.csv     one row per epoch;  history.png: loss and accuracy per head
    logs/           TensorBoard
    run.json        the settings; a re-run with other settings is refused, not mixed in
    results.json    test accuracy and loss, timings, sizes

Re-running a finished job trains nothing more and evaluates again; raising `epochs` continues
it. `overwrite=True` starts over.
"""

import contextlib
import dataclasses
import json
import math
import os
import time

import keras

from keras_inception import data, registry, specs
from keras_inception.files import claim_job_directory, locked, write_json_atomically
from keras_inception.loading import check_model_file
from keras_inception.models.multi_output import inference_model
from keras_inception.training import callbacks as run_callbacks
from keras_inception.training import fine_tune, resume
from keras_inception.training.distribution import start_distribution
from keras_inception.training.precision import precision_policy, precision_words
from keras_inception.training.recipes import get_recipe, make_optimizer, schedule_callbacks
from keras_inception.training.speedups import fast_training
from keras_inception.validation import UsageError, check_bool, check_choice, check_integer, check_number

# Settings that may change between runs of one job: how long and how it runs, not what.
RERUNNABLE_SETTINGS = ("epochs", "steps_per_epoch", "verbose", "overwrite", "jit_compile", "run_eagerly",
                       "distribution", "coordinator_address", "num_processes", "process_id")
# At most this many training images are cached decoded in memory (CIFAR-sized sets).
CACHE_MAX_IMAGES = 60_000
# A dataset of images no larger than this (the digits' 8x8, CIFAR's 32x32), given no image size,
# trains the net's small form at SMALL_FORM_SIZE: an ImageNet-sized input would only upsample
# each image many times over, at many times the compute.
SMALL_IMAGES = 64
SMALL_FORM_SIZE = 32
# With fewer training images than this (the digits), the small form has a quarter of the widths
# too: the full widths overfit so few images and take minutes an epoch on a CPU.
FEW_IMAGES = 10_000
SMALL_FORM_WIDTH = 0.25
# Fine-tuning's first phase, the classifier alone learning on the frozen backbone.
DEFAULT_FROZEN_EPOCHS = 2


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs; `scripts/train.py` fills it from flags.

    model, model_kwargs: a registered net and extra builder arguments (`num_classes` and
        `input_shape` come from the data and `image_size`).
    dataset, data_dir, validation_fraction, test_fraction, *_split: see `data.load_splits`.
    image_size, channels: the input; None keeps the net's default size, and the dataset's
        channels (1 for the digits).
    recipe, recipe_overrides: a preset of `training.recipes` and fields to replace.
    augmentation, flip: see `data.make_dataset`; flip None means on, except for the digits.
    precision: "auto", "float32", "mixed_float16", "mixed_bfloat16".
    steps_per_epoch: train on at most this many batches per epoch (None: the whole split),
        for smoke runs.
    jit_compile: XLA; "auto" is Keras's choice (on with a GPU, off on CPU).
    run_eagerly: run each step as Python, untraced (Keras's `compile(run_eagerly=True)`): for
        debugging, and for runs of a few steps, where tracing a step costs more than the steps.
    distribution, coordinator_address, num_processes, process_id: see `training.distribution`.
    weights: a `.keras` file (a converted checkpoint or any of ours) to fine-tune instead of
        building `model`: `frozen_epochs` (default 2) with the backbone frozen, then `epochs`
        of the whole net at `fine_tune_learning_rate` times the recipe's rate (see
        `training.fine_tune`).
    """

    model: str = "googlenet_bn"
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    width_multiplier: float = None
    dataset: str = "digits"
    data_dir: str = None
    validation_fraction: float = 0.1
    test_fraction: float = 0.2
    train_split: str = "train[:90%]"
    validation_split: str = "train[90%:]"
    test_split: str = "test"
    image_size: int = None
    channels: int = None
    epochs: int = 10
    steps_per_epoch: int = None
    recipe: str = "modern"
    recipe_overrides: dict = dataclasses.field(default_factory=dict)
    augmentation: str = "auto"
    flip: bool = None
    precision: str = "auto"
    jit_compile: object = "auto"
    run_eagerly: bool = False
    distribution: str = "none"
    coordinator_address: str = None
    num_processes: int = 1
    process_id: int = 0
    seed: int = 0
    output_dir: str = "saved_models"
    run_name: str = None
    overwrite: bool = False
    verbose: object = "auto"
    weights: str = None
    frozen_epochs: int = None
    fine_tune_learning_rate: float = 0.1

    def __post_init__(self):
        registry.get_builder(self.model)
        self._check_fine_tuning()
        check_integer("epochs", self.epochs, 1)
        if self.steps_per_epoch is not None:
            check_integer("steps_per_epoch", self.steps_per_epoch, 1)
        check_integer("seed", self.seed, 0)
        check_bool("overwrite", self.overwrite)
        check_choice("jit_compile", self.jit_compile, ("auto", True, False))
        check_bool("run_eagerly", self.run_eagerly)
        if self.run_eagerly and self.jit_compile is True:
            raise UsageError("run_eagerly runs the steps untraced, so XLA cannot compile them. "
                             "Received: run_eagerly=True, jit_compile=True")
        if self.image_size is not None:
            check_integer("image_size", self.image_size, 1)
        if self.channels is not None:
            check_choice("channels", self.channels, (1, 3))
        for reserved in ("num_classes", "input_shape"):
            if reserved in self.model_kwargs:
                raise UsageError(
                    f"`{reserved}` comes from the dataset and image_size, not model_kwargs. "
                    f"Received: model_kwargs={self.model_kwargs!r}"
                )
        get_recipe(self.recipe, **self.recipe_overrides)  # checks the overrides early

    def _check_fine_tuning(self):
        if self.weights is None:
            if self.frozen_epochs is not None:
                raise UsageError(f"`frozen_epochs` applies to fine-tuning, with `weights`. "
                                 f"Received: frozen_epochs={self.frozen_epochs!r}")
            return
        check_model_file(os.path.expanduser(self.weights), "weights")
        for name, unset in (("model_kwargs", {}), ("width_multiplier", None), ("image_size", None),
                            ("channels", None)):
            if getattr(self, name) != unset:
                raise UsageError(f"`{name}` comes from the weights file when fine-tuning. "
                                 f"Received: {name}={getattr(self, name)!r}")
        if self.frozen_epochs is None:
            self.frozen_epochs = DEFAULT_FROZEN_EPOCHS
        check_integer("frozen_epochs", self.frozen_epochs, 0)
        check_number("fine_tune_learning_rate", self.fine_tune_learning_rate, "> 0")

    @property
    def from_logits(self):
        """The net gives logits (`classifier_activation=None`), not probabilities."""
        return self.model_kwargs.get("classifier_activation", "softmax") is None

    def run_dir(self):
        net = os.path.splitext(os.path.basename(self.weights))[0] if self.weights else self.model
        name = self.run_name or f"{net}_{dataset_name(self.dataset)}"
        if self.process_id > 0:  # one writer per file: other processes keep their own runs
            name += f"_process_{self.process_id}"
        return os.path.join(self.output_dir, name)


@dataclasses.dataclass
class TrainResult:
    run_dir: str
    model: keras.Model  # the best epoch's weights
    test_accuracy: float
    test_loss: float
    test_size: int
    best_validation_accuracy: float
    epochs_completed: int
    epochs_this_run: int
    seconds: float
    precision: str = ""  # the policy, in words (`precision.precision_words`)

    def summary(self):
        return (
            f"Test accuracy (main head) on {self.test_size} held-out images: {self.test_accuracy:.2%}\n"
            f"Best validation accuracy {self.best_validation_accuracy:.2%} after {self.epochs_completed} "
            f"epochs ({self.epochs_this_run} in this run, {self.seconds:.0f} s)\n"
            f"Precision: {self.precision}\n"
            f"Model: {os.path.join(self.run_dir, 'model.keras')}  (history.csv, history.png, logs/ beside it)"
        )


def dataset_name(dataset):
    return os.path.basename(os.path.normpath(dataset)) or "dataset"


def _settings(config):
    settings = {key: value for key, value in dataclasses.asdict(config).items()
                if key not in RERUNNABLE_SETTINGS}
    return json.loads(json.dumps(settings))


def prepare_run_dir(config):
    """Creates the run directory, or checks that the existing one is this job's."""
    return claim_job_directory(config.run_dir(), _settings(config), settings_file="run.json",
                               overwrite=config.overwrite, job="training run")


def build_model(config, splits):
    """The net `config` asks for, or its small form for a dataset of small images (see
    `small_form`), which is said in one line unless `config.verbose` is 0."""
    if config.weights:
        model, note = fine_tune.model_from_weights(config.weights, splits.num_classes)
        if config.verbose:
            print(note)
        return model
    kwargs = dict(config.model_kwargs)
    kwargs["num_classes"] = splits.num_classes
    if config.width_multiplier is not None:
        kwargs["width_multiplier"] = config.width_multiplier
    if config.image_size is not None:
        channels = config.channels or splits.channels
        kwargs["input_shape"] = (config.image_size, config.image_size, channels)
    elif config.channels is not None:
        raise UsageError(f"`channels` needs `image_size` too. Received: channels={config.channels!r}")
    else:
        small, note = small_form(config, splits, kwargs)
        if small:
            if config.verbose:
                print(note)
            kwargs.update(small)
    return registry.get_model(config.model, **kwargs)


def default_input_size(name, kwargs):
    """The height of the net's default input: its spec's, or with a stem chosen in `kwargs`
    (which sets its own default), the net's as built."""
    if "stem" not in kwargs:
        return specs.get_spec(name).input_shape[0]
    return registry.get_model(name, **kwargs).input_shape[1]


def small_form(config, splits, kwargs):
    """({builder keywords}, the line saying so) of the net's small form, when the dataset's
    images are at most SMALL_IMAGES pixels high and wide and the net's default input is
    larger still; ({}, None) otherwise. Keywords the user gave are kept."""
    size = data.image_size(splits)
    if size is None or max(size) > SMALL_IMAGES:
        return {}, None
    default = default_input_size(config.model, kwargs)
    keras.utils.set_random_seed(config.seed)  # the net that trains starts from the seed itself
    if default <= SMALL_IMAGES:
        return {}, None
    small = {"input_shape": (SMALL_FORM_SIZE, SMALL_FORM_SIZE, splits.channels)}
    if "stem" in registry.accepted_arguments(config.model) and "stem" not in kwargs:
        small["stem"] = "small"
    if splits.sizes["train"] < FEW_IMAGES and "width_multiplier" not in kwargs:
        small["width_multiplier"] = SMALL_FORM_WIDTH
    chosen = ", ".join(f"{key}={value}" for key, value in small.items() if key != "input_shape")
    note = (f"{splits.name}'s {size[0]}x{size[1]} images are small for {config.model}'s {default}x{default} "
            f"input: training its small form at {SMALL_FORM_SIZE}x{SMALL_FORM_SIZE}"
            f"{' (' + chosen + ')' if chosen else ''}; --image_size and --model_kwargs choose otherwise.")
    return small, note


def _make_callbacks(run_dir, monitor, best, recipe, backup):
    csv_path = os.path.join(run_dir, resume.HISTORY)
    return [
        run_callbacks.StopOnNaN(),
        keras.callbacks.CSVLogger(csv_path, append=True),
        run_callbacks.HistoryPlot(csv_path, os.path.join(run_dir, "history.png")),
        run_callbacks.KeepBestModel(os.path.join(run_dir, "model.keras"), monitor, best),
        run_callbacks.tensorboard_logs(os.path.join(run_dir, "logs")),
        *schedule_callbacks(recipe, monitor),
        # Last, so that an epoch is marked done only once everything above has been written.
        backup,
    ]


def make_pipelines(config, splits, model, recipe):
    """(train, validation, test) batches for `model`; the training batches cut to
    `steps_per_epoch` when it is set."""
    flip = data.training_flip(splits, config.flip)
    # Arrays and TFDS sets up to CIFAR's size are cached decoded; folders of files are not.
    cache = not os.path.isdir(config.dataset) and splits.sizes["train"] <= CACHE_MAX_IMAGES
    # Processes of a multi-host run must see the same number of batches, or one waits for
    # the others forever; a last partial batch would shard unevenly, so it is left out.
    common = dict(batch_size=recipe.batch_size, cache=cache, drop_remainder=config.num_processes > 1)
    train_data = data.for_model(model, splits.train, training=True, augmentation=config.augmentation,
                                flip=flip, seed=config.seed, **common)
    if config.steps_per_epoch is not None:  # a fresh pass each epoch, cut short
        train_data = train_data.take(config.steps_per_epoch)
    return (
        train_data,
        data.for_model(model, splits.validation, training=False, **common),
        data.for_model(model, splits.test, training=False, **common),
    )


def compile_model(model, config, recipe, steps_per_epoch, phase):
    """Compiles for `phase` (`fine_tune.phases`): its backbone frozen or not, the recipe's
    learning rate scaled, the schedule over the phase's epochs."""
    if config.weights:
        fine_tune.freeze_backbone(model, phase.frozen)
    if phase.learning_rate_scale != 1.0:
        recipe = dataclasses.replace(recipe, learning_rate=recipe.learning_rate * phase.learning_rate_scale)
    compile_for_training(
        model, recipe, steps_per_epoch=steps_per_epoch, epochs=phase.last_epoch - phase.first_epoch,
        from_logits=config.from_logits,
        jit_compile=config.jit_compile, run_eagerly=config.run_eagerly,
    )


def compile_for_training(model, recipe, *, steps_per_epoch, epochs, from_logits=False, jit_compile="auto",
                         run_eagerly=False):
    """Compiles with the recipe's optimizer and schedule, one loss on every head (auxiliary
    ones weighted 0.3) and accuracy on every head: `val_main_accuracy` is the main head's."""
    model.compile(
        optimizer=make_optimizer(recipe, steps_per_epoch=steps_per_epoch, epochs=epochs),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        # Accuracy on every head, for the per-head plot; the checkpoint and the reported test
        # accuracy use the main head's.
        metrics={name: ["accuracy"] for name in model.output_names},
        jit_compile=False if run_eagerly else jit_compile,
        run_eagerly=run_eagerly,
    )


def load_data_and_recipe(config):
    """(splits, recipe, steps per epoch) for the job `config`."""
    splits = data.load_splits(
        config.dataset, data_dir=config.data_dir, validation_fraction=config.validation_fraction,
        test_fraction=config.test_fraction, seed=config.seed, train_split=config.train_split,
        validation_split=config.validation_split, test_split=config.test_split,
    )
    recipe = get_recipe(config.recipe, **config.recipe_overrides)
    steps_per_epoch = max(1, math.ceil(splits.sizes["train"] / recipe.batch_size))
    return splits, recipe, min(steps_per_epoch, config.steps_per_epoch or steps_per_epoch)


def train(config):
    """Runs the job `config` describes; see the module docstring. Returns a `TrainResult`."""
    scope = start_distribution(
        config.distribution, coordinator_address=config.coordinator_address,
        num_processes=config.num_processes, process_id=config.process_id,
    )
    keras.utils.set_random_seed(config.seed)
    splits, recipe, steps_per_epoch = load_data_and_recipe(config)

    phases = fine_tune.phases(epochs=config.epochs, frozen_epochs=config.frozen_epochs,
                              learning_rate_scale=config.fine_tune_learning_rate)
    with contextlib.ExitStack() as run_lock:  # held from the first write to the last
        with precision_policy(config.precision) as policy, scope:
            model = build_model(config, splits)
            train_data, validation_data, test_data = make_pipelines(config, splits, model, recipe)
            compile_model(model, config, recipe, steps_per_epoch, phases[0])
            monitor = "val_" + run_callbacks.main_metric(model, "accuracy")
            # Only now, with the settings proven good, is anything written.
            run_lock.enter_context(locked(config.run_dir(), "a training run"))
            run_dir = prepare_run_dir(config)
            start = time.perf_counter()
            first_done = None
            for resumed in resume.resumed_phases(run_dir, phases, config.num_processes):
                phase = resumed.phase
                if resumed.index:
                    compile_model(model, config, recipe, steps_per_epoch, phase)
                first_done = resumed.done if first_done is None else first_done
                best = max((row[monitor] for row in resumed.history if monitor in row), default=-math.inf)
                with fast_training(model, train_data):
                    model.fit(train_data, validation_data=validation_data, initial_epoch=phase.first_epoch,
                              epochs=phase.last_epoch,
                              callbacks=_make_callbacks(run_dir, monitor, best, recipe, resumed.backup),
                              verbose=config.verbose, shuffle=False)  # the pipeline shuffles
            seconds = time.perf_counter() - start
            best_path = os.path.join(run_dir, "model.keras")
            if os.path.exists(best_path):
                model.load_weights(best_path)
            test = model.evaluate(test_data, return_dict=True, verbose=0)

        history = run_callbacks.read_history(os.path.join(run_dir, resume.HISTORY))
        result = TrainResult(
            run_dir=run_dir,
            model=model,
            test_accuracy=float(test[run_callbacks.main_metric(model, "accuracy")]),
            test_loss=float(test["loss"]),
            test_size=_evaluated_images(splits.sizes["test"], recipe.batch_size, config.num_processes),
            best_validation_accuracy=max((row[monitor] for row in history), default=math.nan),
            epochs_completed=len(history),
            epochs_this_run=max(0, phases[-1].last_epoch - first_done),
            seconds=seconds,
            precision=precision_words(config.precision),
        )
        _write_results(result, model, config, recipe, policy)
    return result


def _evaluated_images(count, batch_size, num_processes):
    return count - count % batch_size if num_processes > 1 else count  # see make_pipelines


def _write_results(result, model, config, recipe, policy):
    summary = {field.name: getattr(result, field.name) for field in dataclasses.fields(result)
               if field.name != "model"}
    summary.update(
        model=config.model,
        dataset=config.dataset,
        parameters=inference_model(model).count_params(),
        precision=policy,  # mixed_bfloat16 on a CPU keeps a float32 model (TensorFlow's rewrite)
        recipe=dataclasses.asdict(recipe),
    )
    write_json_atomically(os.path.join(result.run_dir, "results.json"), summary)
