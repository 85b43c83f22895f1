"""Width search with keras-tuner: a HyperModel over GoogLeNet's and Inception v3's width
tables, compute budgets, and the tuning job with its report."""

from keras_inception.tuning.budget import Budget, Cost, OverBudget
from keras_inception.tuning.hypermodel import OBJECTIVE, InceptionHyperModel
from keras_inception.tuning.job import TUNERS, TuneConfig, TuneResult, tune
from keras_inception.tuning.space import SearchSpace, searchable_models

__all__ = ["OBJECTIVE", "TUNERS", "Budget", "Cost", "InceptionHyperModel", "OverBudget", "SearchSpace",
           "TuneConfig", "TuneResult", "searchable_models", "tune"]
