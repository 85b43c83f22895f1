"""Evaluation of any artifact (.keras, SavedModel, .tflite) on a run's held-out test split."""

from keras_inception.evaluation.artifacts import Artifact, open_artifact, run_artifacts
from keras_inception.evaluation.job import evaluate
from keras_inception.evaluation.report import Evaluation, evaluate_scores

__all__ = ["Artifact", "Evaluation", "evaluate", "evaluate_scores", "open_artifact", "run_artifacts"]
