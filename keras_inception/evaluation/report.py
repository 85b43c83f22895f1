"""What an evaluation measures, from scores and labels: top-1, top-5, per-class accuracy and
the confusion matrix (scikit-learn's), and the tables and PNG that show them."""

import dataclasses

import numpy as np

from keras_inception.extras import require
from keras_inception.validation import UsageError

TOP_K = 5
# Above this many classes the confusion matrix's cells carry no numbers and its axes no names:
# they would not be legible.
LABELLED_CLASSES_MAX = 30


@dataclasses.dataclass
class Evaluation:
    artifact: str  # the file's path
    kind: str  # "keras", "saved_model", "tflite"
    images: int
    top1: float
    top_k: float  # top-5, or top-(classes) when there are fewer classes
    k: int
    class_names: tuple
    confusion: np.ndarray  # (classes, classes): rows are true labels, columns predictions
    protocol: str = None  # the test protocol; None: the view the artifact is served on

    @property
    def per_class(self):
        """Each class's accuracy (its diagonal share); NaN for a class without test images."""
        counts = self.confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.diag(self.confusion) / counts

    def to_json(self):
        counts = self.confusion.sum(axis=1)
        return {
            "artifact": self.artifact, "kind": self.kind, "protocol": self.protocol, "images": self.images,
            "top1": self.top1, f"top{self.k}": self.top_k,
            "per_class": [{"class": name, "images": int(count), "accuracy": None if count == 0 else float(accuracy)}
                          for name, count, accuracy in zip(self.class_names, counts, self.per_class)],
            "confusion_matrix": self.confusion.tolist(),
        }


def evaluate_scores(scores, labels, class_names, *, artifact="", kind="", protocol=None):
    """An `Evaluation` of `scores` (N, classes) against integer `labels` (N,)."""
    metrics = require("sklearn.metrics", "evaluate")

    classes = len(class_names)
    if scores.ndim != 2 or scores.shape[1] != classes:
        raise UsageError(f"{artifact or 'The model'} scores {scores.shape[-1]} classes; the dataset has "
                         f"{classes}. Received: scores.shape={scores.shape}")
    k = min(TOP_K, classes)
    everything = np.arange(classes)
    return Evaluation(
        artifact=artifact, kind=kind, images=len(labels),
        top1=float(np.mean(scores.argmax(axis=-1) == labels)),
        top_k=float(metrics.top_k_accuracy_score(labels, scores, k=k, labels=everything)) if classes > 2 else 1.0,
        k=k, class_names=tuple(class_names),
        confusion=metrics.confusion_matrix(labels, scores.argmax(axis=-1), labels=everything), protocol=protocol,
    )


def summary_table(evaluations):
    """One row per artifact: top-1, top-k, images."""
    k = evaluations[0].k
    width = max(len("artifact"), *(len(evaluation.artifact) for evaluation in evaluations))
    lines = [f"{'artifact':<{width}}  {'top-1':>7}  {f'top-{k}':>7}  images",
             f"{'-' * width}  -------  -------  ------"]
    for evaluation in evaluations:
        lines.append(f"{evaluation.artifact:<{width}}  {evaluation.top1:>7.2%}  {evaluation.top_k:>7.2%}  "
                     f"{evaluation.images:>6}")
    return "\n".join(lines)


def per_class_table(evaluations):
    """One row per class: its test images and each artifact's accuracy on them."""
    names = evaluations[0].class_names
    counts = evaluations[0].confusion.sum(axis=1)
    columns = [f"#{index + 1}" for index in range(len(evaluations))]
    width = max(len("class"), *(len(name) for name in names))
    lines = [f"{'class':<{width}}  images  " + "  ".join(f"{column:>7}" for column in columns),
             f"{'-' * width}  ------  " + "  ".join("-------" for _ in columns)]
    for row, (name, count) in enumerate(zip(names, counts)):
        cells = ["      -" if count == 0 else f"{evaluation.per_class[row]:>7.1%}" for evaluation in evaluations]
        lines.append(f"{name:<{width}}  {count:>6}  " + "  ".join(cells))
    legend = [f"{column}: {evaluation.artifact}" for column, evaluation in zip(columns, evaluations)]
    return "\n".join(lines + legend)


def write_confusion_png(evaluation, path):
    """Draws the confusion matrix (scikit-learn's display, matplotlib's Agg canvas) to `path`."""
    Figure = require("matplotlib.figure", "evaluate").Figure
    ConfusionMatrixDisplay = require("sklearn.metrics", "evaluate").ConfusionMatrixDisplay

    classes = len(evaluation.class_names)
    labelled = classes <= LABELLED_CLASSES_MAX
    side = min(4 + 0.4 * classes, 20)
    figure = Figure(figsize=(side, side))
    axes = figure.subplots()
    display = ConfusionMatrixDisplay(evaluation.confusion,
                                     display_labels=evaluation.class_names if labelled else None)
    display.plot(ax=axes, include_values=labelled, cmap="Blues", colorbar=False,
                 xticks_rotation="vertical" if labelled and classes > 10 else "horizontal")
    if not labelled:
        axes.set_xticks([])
        axes.set_yticks([])
    axes.set_title(f"{evaluation.artifact}: top-1 {evaluation.top1:.2%} on {evaluation.images} images")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=100)
