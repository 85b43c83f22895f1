"""The training job: recipes, precision, distribution, callbacks, and `train`."""

from keras_inception.training.callbacks import TrainingDiverged
from keras_inception.training.job import TrainConfig, TrainResult, train
from keras_inception.training.recipes import RECIPES, Recipe, get_recipe, make_optimizer

__all__ = ["RECIPES", "Recipe", "TrainConfig", "TrainResult", "TrainingDiverged", "get_recipe",
           "make_optimizer", "train"]
