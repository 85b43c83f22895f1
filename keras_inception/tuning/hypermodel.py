"""The keras-tuner HyperModel over the Inception width tables.

    hypermodel = InceptionHyperModel("googlenet_bn", input_shape=(32, 32, 1), num_classes=10,
                                     model_kwargs={"stem": "small"}, steps_per_epoch=23, epochs=3,
                                     budget=Budget(max_macs=20_000_000))
    tuner = keras_tuner.RandomSearch(hypermodel, objective=OBJECTIVE, max_trials=10)
    tuner.search(train, validation_data=validation, epochs=3)

Each trial builds the training form of the net (auxiliary heads included, weighted 0.3), so
the objective is the main head's validation accuracy, `val_main_accuracy`, whatever other
heads there are. A trial whose inference net is over budget is failed in `fit` before any
training (`budget.OverBudget`).
"""

import dataclasses
import hashlib
import json
import os

import keras
import keras_tuner

from keras_inception import registry
from keras_inception.files import write_json_atomically
from keras_inception.training.callbacks import check_room_for_weights
from keras_inception.training.job import compile_for_training
from keras_inception.training.recipes import Recipe
from keras_inception.training.speedups import fast_training
from keras_inception.tuning import space as search_space
from keras_inception.tuning.budget import OVER_BUDGET, Budget, Cost, OverBudget
from keras_inception.validation import UsageError, check_integer

# Builder keywords that the search or the data set; `model_kwargs` may not.
RESERVED_KWARGS = ("width_multiplier", "stage_multipliers", "block_widths", "aux_heads", "input_shape",
                   "num_classes")
# The main head's validation accuracy, named explicitly: with auxiliary heads Keras also logs
# `val_aux1_accuracy` and others, which keras-tuner must not pick up.
OBJECTIVE = keras_tuner.Objective("val_main_accuracy", direction="max")


def values_key(values):
    """A stable key for a trial's hyperparameter values (Hyperband's own `tuner/` entries
    left out: they say how long a trial trains, not which net it is)."""
    chosen = {name: value for name, value in values.items() if not name.startswith("tuner/")}
    return hashlib.sha256(json.dumps(chosen, sort_keys=True).encode()).hexdigest()[:32]


class DiskFull(OSError, keras_tuner.errors.FatalError):
    """A full disk: keras-tuner's FatalError ends the search rather than failing trial after
    trial, and the scripts report it as the OSError it is."""


class RoomForCheckpoints(keras.callbacks.Callback):
    """Runs first at each epoch's end and checks that `directory` has room for the weights
    keras-tuner's checkpoint callback writes next (`check_room_for_weights`)."""

    def __init__(self, directory):
        super().__init__()
        self.directory = directory

    def on_epoch_end(self, epoch, logs=None):
        try:
            check_room_for_weights(self.model, self.directory)
        except OSError as error:
            raise DiskFull(error.errno, error.strerror, error.filename) from None


class InceptionHyperModel(keras_tuner.HyperModel):
    """Builds and compiles a searchable net (see `space.searchable_models()`) from a trial's
    hyperparameters.

    Args:
        model: registered net ("googlenet", "googlenet_bn", "googlenet_cifar", "inception_v3").
        input_shape, num_classes: from the data.
        space: a `SearchSpace`.
        model_kwargs: other builder keywords, fixed across trials (`stem="small"`).
        recipe: a `training.Recipe`; the learning rate may be searched.
        steps_per_epoch, epochs: for the learning-rate schedule.
        budget: a `Budget`; trials over it fail untrained.
        cost_dir: where measured costs are kept, one JSON file per net (the report reads them).
        from_logits, jit_compile, run_eagerly: as for the training job.
    """

    def __init__(self, model, *, input_shape, num_classes, space=None, model_kwargs=None,
                 recipe=None, steps_per_epoch, epochs, budget=None, cost_dir=None,
                 from_logits=False, jit_compile="auto", run_eagerly=False):
        super().__init__(name=model)
        search_space.searchable_net(model)
        reserved = sorted(set(model_kwargs or {}) & set(RESERVED_KWARGS))
        if reserved:
            raise UsageError(f"`{reserved[0]}` is set by the search or the data, not model_kwargs. "
                             f"Received: model_kwargs={model_kwargs!r}")
        check_integer("steps_per_epoch", steps_per_epoch, 1)
        check_integer("epochs", epochs, 1)
        self.model = model
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.space = space or search_space.SearchSpace()
        self.model_kwargs = dict(model_kwargs or {})
        self.recipe = recipe or Recipe()
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.budget = budget or Budget()
        self.cost_dir = cost_dir
        self.from_logits = from_logits
        self.jit_compile = jit_compile
        self.run_eagerly = run_eagerly
        # Surface a bad space (an unknown block, batch norm on Inception v3) now, not per trial.
        self.builder_kwargs(keras_tuner.HyperParameters())

    def builder_kwargs(self, hp):
        """(builder keywords, learning rate) for the trial `hp`."""
        kwargs, learning_rate = search_space.builder_kwargs(hp, self.model, self.space,
                                                            self.recipe.learning_rate)
        return self._full_kwargs(kwargs, aux_heads=True), learning_rate

    def _full_kwargs(self, search_kwargs, *, aux_heads):
        return {**self.model_kwargs, **search_kwargs, "input_shape": self.input_shape,
                "num_classes": self.num_classes, "aux_heads": aux_heads}

    def build_net(self, hp):
        """The trial's net (training form), uncompiled."""
        return registry.get_model(self.model, **self.builder_kwargs(hp)[0])

    def build_inference_net(self, search_kwargs):
        """The net for builder keywords chosen outside a trial (`space.smallest_kwargs`),
        without auxiliary heads."""
        return registry.get_model(self.model, **self._full_kwargs(search_kwargs, aux_heads=False))

    def build(self, hp):
        kwargs, learning_rate = self.builder_kwargs(hp)
        model = registry.get_model(self.model, **kwargs)
        compile_for_training(
            model, dataclasses.replace(self.recipe, learning_rate=learning_rate),
            steps_per_epoch=self.steps_per_epoch, epochs=self.epochs,
            from_logits=self.from_logits, jit_compile=self.jit_compile, run_eagerly=self.run_eagerly,
        )
        return model

    def fit(self, hp, model, *args, **kwargs):
        excess = self.budget.excess(self.cost(hp, model))
        if excess:
            raise OverBudget(OVER_BUDGET + excess)
        if self.cost_dir:  # keras-tuner's checkpoints go beside it, in the project
            kwargs["callbacks"] = [RoomForCheckpoints(os.path.dirname(self.cost_dir)), *kwargs.get("callbacks", [])]
        with fast_training(model, kwargs.get("x", args[0] if args else None)):
            return model.fit(*args, **kwargs)

    def cost(self, hp, model=None):
        """The trial's `Cost`, measured once per net and kept in `cost_dir`."""
        path = self.cost_dir and os.path.join(self.cost_dir, values_key(hp.values) + ".json")
        if path and os.path.exists(path):
            with open(path) as file:
                return Cost(**json.load(file))
        cost = self.budget.measure(model if model is not None else self.build_net(hp))
        if path:
            os.makedirs(self.cost_dir, exist_ok=True)
            write_json_atomically(path, dataclasses.asdict(cost))
        return cost

    def widths(self, hp):
        """{block: widths as built} of the trial `hp`."""
        return search_space.built_widths(self.model, self.builder_kwargs(hp)[0])
