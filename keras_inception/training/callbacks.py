"""What a training run shows and keeps, as Keras callbacks.

Keras's own callbacks do most of it (progress bar, TensorBoard, CSVLogger). Three are written
here because no Keras callback does what they do (the backup that resumes a run is
`resume.AtomicBackupAndRestore`):

- `KeepBestModel`: ModelCheckpoint(save_best_only=True) writes the `.keras` file in place, so
  a crash mid-write leaves a torn model. This one writes beside it and renames.
- `StopOnNaN`: TerminateOnNaN stops training *normally*, and a normal end deletes the
  BackupAndRestore state; raising instead keeps the last good epoch's backup to resume from.
- `HistoryPlot`: a PNG of loss and accuracy per head.
"""

import csv
import math
import os

import keras
import numpy as np

from keras_inception.extras import require
from keras_inception.files import check_room, write_atomically

# What an HDF5 weights file needs beyond its arrays (per-array headers, the layer groups).
WEIGHTS_FILE_OVERHEAD = 2**20


def check_room_for_weights(model, directory):
    """`files.check_room` for a `.weights.h5` file of `model` in `directory`."""
    arrays = sum(math.prod(weight.shape) * np.dtype(weight.dtype).itemsize for weight in model.weights)
    check_room(directory, arrays + WEIGHTS_FILE_OVERHEAD)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the backup of the last completed epoch is kept."""


def main_metric(model, metric):
    """The logged name of the main head's `metric`: "main_accuracy" for a multi-output model,
    "accuracy" for a single-output one."""
    return f"main_{metric}" if len(model.outputs) > 1 else metric


class KeepBestModel(keras.callbacks.Callback):
    """Saves the whole model as `.keras` whenever `monitor` (higher is better) improves.

    `best` is the best value so far: pass the one from an earlier run when resuming, so a
    worse epoch after a restart never replaces a better saved model.
    """

    def __init__(self, path, monitor, best=-math.inf):
        super().__init__()
        self.path, self.monitor, self.best = path, monitor, best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(f"KeepBestModel: no {self.monitor!r} in logs {sorted(logs or {})}")
        if float(value) > self.best:
            self.best = float(value)
            write_atomically(self.path, self.model.save)


class StopOnNaN(keras.callbacks.Callback):
    """Raises `TrainingDiverged` at the first NaN or infinite loss (see the module docstring)."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingDiverged(
                f"The loss became {float(loss)} at batch {batch}; the last completed epoch's "
                "backup is kept. Lower the learning rate and run the same command again."
            )


def read_history(csv_path):
    """The rows CSVLogger wrote, as a list of {column: float}."""
    if not os.path.exists(csv_path):
        return []
    with open(csv_path, newline="") as file:
        return [{key: float(value) for key, value in row.items() if value not in ("", None)}
                for row in csv.DictReader(file)]


def tensorboard_logs(log_dir):
    """Keras's TensorBoard callback, writing to `log_dir`; its summaries need the tensorboard package."""
    require("tensorboard", "train")
    return keras.callbacks.TensorBoard(log_dir)


class HistoryPlot(keras.callbacks.Callback):
    """After every epoch, draws loss (top) and accuracy (bottom) for each output head from the
    CSV history, so a resumed run's plot covers all its epochs. Place it after CSVLogger."""

    def __init__(self, csv_path, png_path):
        super().__init__()
        self.csv_path, self.png_path = csv_path, png_path

    def on_epoch_end(self, epoch, logs=None):
        rows = read_history(self.csv_path)
        if rows:
            write_atomically(self.png_path, lambda path: self._draw(rows, path))

    def _draw(self, rows, path):
        require("matplotlib", "train").use("Agg")
        pyplot = require("matplotlib.pyplot", "train")

        heads = self.model.output_names if len(self.model.outputs) > 1 else [None]
        figure, axes = pyplot.subplots(2, len(heads), figsize=(4 * len(heads), 6), squeeze=False)
        epochs = [int(row["epoch"]) + 1 for row in rows]
        for column, head in enumerate(heads):
            for row_index, metric in enumerate(("loss", "accuracy")):
                axis = axes[row_index][column]
                key = f"{head}_{metric}" if head else metric
                for prefix, style in (("", "-"), ("val_", "--")):
                    values = [row.get(prefix + key, math.nan) for row in rows]
                    if not all(math.isnan(value) for value in values):
                        axis.plot(epochs, values, style, marker=".", label=f"{prefix}{key}")
                axis.set_title(f"{head or 'model'}: {metric}")
                axis.set_xlabel("epoch")
                if axis.lines:
                    axis.legend()
                else:
                    axis.set_axis_off()
        figure.tight_layout()
        figure.savefig(path, format="png")
        pyplot.close(figure)
