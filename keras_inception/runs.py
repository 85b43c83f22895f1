"""Training runs on disk, as later jobs (export, evaluate, predict) find them: a run directory
under `saved_models/` holds `model.keras` and `run.json` (its settings), and the export's
artifacts beside them."""

import glob
import os

from keras_inception.files import read_json_object
from keras_inception.validation import UsageError

RUN_SETTINGS = "run.json"


def latest_run(root="saved_models"):
    """The training run under `root` whose `model.keras` was written last."""
    models = glob.glob(os.path.join(glob.escape(root), "*", "model.keras"))
    if not models:
        raise UsageError(f"There is no training run (a folder holding model.keras) under {root}/; "
                         f"train one, or name the model. Received: root={root!r}")
    return os.path.dirname(max(models, key=os.path.getmtime))


def run_settings(artifact_path):
    """The settings of the run that `artifact_path` (a file or SavedModel folder in a run
    directory, or the directory itself) came from; {} when no `run.json` is beside it."""
    path = os.path.abspath(artifact_path)
    for folder in (path, os.path.dirname(path), os.path.dirname(os.path.dirname(path))):
        candidate = os.path.join(folder, RUN_SETTINGS)
        if os.path.isfile(candidate):
            return read_json_object(candidate, "the training run's settings")
    return {}
