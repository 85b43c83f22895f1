"""The papers' training recipes as named presets, and the optimizer and schedule each implies.

Every field can be overridden (`get_recipe("googlenet", learning_rate=0.02)`); `scripts/train.py`
maps its flags onto these fields.
"""

import dataclasses

import keras

from keras_inception.validation import check_choice, check_integer, check_number

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "step", "plateau", "cosine")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train: the optimizer, its learning-rate schedule, weight decay, batch size.

    schedule:
        "constant"; "step": multiply by `decay_rate` every `decay_epochs` epochs;
        "plateau": divide by 10 when the main head's validation accuracy stops improving for
        `patience` epochs; "cosine": cosine decay to 0 over the whole run.
    """

    optimizer: str = "adamw"
    learning_rate: float = 2e-3
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.05
    batch_size: int = 64
    schedule: str = "cosine"
    decay_rate: float = 0.96
    decay_epochs: int = 8
    patience: int = 5

    def __post_init__(self):
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_number("learning_rate", self.learning_rate, "> 0")
        check_number("momentum", self.momentum, "in [0, 1)")
        check_number("weight_decay", self.weight_decay, ">= 0")
        check_integer("batch_size", self.batch_size, 1)
        check_number("decay_rate", self.decay_rate, "in (0, 1)")
        check_integer("decay_epochs", self.decay_epochs, 1)
        check_integer("patience", self.patience, 1)


RECIPES = {
    # Szegedy et al. 2014, section 6: SGD, momentum 0.9, learning rate decreased by 4% every 8
    # epochs. The paper gives no base rate, batch or decay; these are the BVLC Caffe
    # GoogLeNet solver's (base_lr 0.01, batch 32, weight_decay 2e-4).
    "googlenet": Recipe(optimizer="sgd", learning_rate=0.01, weight_decay=2e-4, batch_size=32,
                        schedule="step", decay_rate=0.96, decay_epochs=8),
    # Krizhevsky et al. 2012, section 5: batch 128, momentum 0.9, weight decay 5e-4, lr 0.01
    # divided by 10 when the validation error stops improving.
    "alexnet": Recipe(optimizer="sgd", learning_rate=0.01, weight_decay=5e-4, batch_size=128,
                      schedule="plateau"),
    # He et al. 2015, section 3.4: batch 256, momentum 0.9, weight decay 1e-4, lr 0.1 divided
    # by 10 when the error plateaus.
    "resnet": Recipe(optimizer="sgd", learning_rate=0.1, weight_decay=1e-4, batch_size=256,
                     schedule="plateau"),
    # Today's default for short runs: AdamW with cosine decay.
    "modern": Recipe(),
}


def get_recipe(name, **overrides):
    """The preset `name` with the given fields replaced (None means: keep the preset's)."""
    check_choice("recipe", name, tuple(RECIPES))
    fields = {field.name for field in dataclasses.fields(Recipe)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"Unknown recipe field(s) {unknown}; accepted: {sorted(fields)}")
    overrides = {key: value for key, value in overrides.items() if value is not None}
    return dataclasses.replace(RECIPES[name], **overrides)


def make_optimizer(recipe, *, steps_per_epoch, epochs):
    """The recipe's Keras optimizer, its learning-rate schedule built in."""
    learning_rate = recipe.learning_rate
    if recipe.schedule == "step":
        learning_rate = keras.optimizers.schedules.ExponentialDecay(
            recipe.learning_rate, decay_steps=recipe.decay_epochs * steps_per_epoch,
            decay_rate=recipe.decay_rate, staircase=True,
        )
    elif recipe.schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            recipe.learning_rate, decay_steps=max(1, epochs * steps_per_epoch)
        )
    weight_decay = recipe.weight_decay or None
    if recipe.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate, momentum=recipe.momentum,
                                         weight_decay=weight_decay)
    elif recipe.optimizer == "adam":
        optimizer = keras.optimizers.Adam(learning_rate, weight_decay=weight_decay)
    else:
        optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=recipe.weight_decay)
    # Biases and batch-norm scales and offsets are not decayed (Caffe's decay_mult: 0).
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def schedule_callbacks(recipe, monitor):
    """Callbacks the schedule needs: ReduceLROnPlateau for "plateau"."""
    if recipe.schedule != "plateau":
        return []
    return [keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode="max", factor=0.1,
                                              patience=recipe.patience, verbose=1)]
