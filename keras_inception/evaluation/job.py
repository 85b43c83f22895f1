"""The evaluation job: artifacts of a run in; each one's top-1, top-5, per-class accuracy and
confusion matrix on the test split that training held out, out.

    evaluations = evaluate(["saved_models/googlenet_bn_digits"])  # every artifact of the run

A run directory stands for all its artifacts (`artifacts.run_artifacts`). Beside each artifact,
or in `output_dir`, go `evaluation_<name>.json` and `confusion_<name>.png`, each written
atomically.
"""

import os

from keras_inception import data
from keras_inception.evaluation import protocols
from keras_inception.evaluation.artifacts import open_artifact, run_artifacts
from keras_inception.evaluation.report import evaluate_scores, write_confusion_png
from keras_inception.files import check_writable, write_atomically, write_json_atomically
from keras_inception.runs import run_settings
from keras_inception.validation import UsageError, check_integer


def expand_artifacts(models):
    """`models` (paths of artifacts or run directories) as artifact paths, in order, once each."""
    paths = []
    for model in models:
        model = os.path.expanduser(model)
        if not os.path.exists(model):
            raise UsageError(f"The model path does not exist. Received: model={model!r}")
        is_saved_model = os.path.isfile(os.path.join(model, "saved_model.pb"))
        paths += run_artifacts(model) if os.path.isdir(model) and not is_saved_model else [model]
    return list(dict.fromkeys(paths))


def output_stem(path):
    """The name an artifact's evaluation files carry: its file name without the extension."""
    name = os.path.basename(os.path.normpath(path))
    return os.path.splitext(name)[0]


def evaluate(models, *, dataset=None, data_dir=None, output_dir=None, threads=None, batch_size=64,
             write_files=True, protocol=None, resize_size=None):
    """Evaluates each artifact in `models` on its run's test split; returns `Evaluation`s.

    dataset, data_dir: override the run's dataset (from the `run.json` beside the first
        artifact; the digits when there is none).
    output_dir: where the JSON and PNG files go; default: beside each artifact.
    threads: LiteRT interpreter threads for .tflite files.
    protocol: a paper's test protocol (`protocols.PROTOCOLS`) for .keras and .tflite files:
        scores averaged over its views; None: the view each artifact is served on.
    resize_size: the shorter side for the `center` and `ten_crop` protocols.
    """
    check_integer("batch_size", batch_size, 1)
    if protocol is not None:
        protocols.check_protocol(protocol)
    if resize_size is not None:
        check_integer("resize_size", resize_size, 1)
    paths = expand_artifacts(models)
    artifacts = [open_artifact(path, threads=threads) for path in paths]  # every path checked first
    folders = {path: output_dir or os.path.dirname(os.path.abspath(path)) for path in paths}
    for folder in dict.fromkeys(folders.values()) if write_files else ():
        check_writable(folder)  # before the evaluations, not after them
    for artifact in artifacts if protocol is not None else ():
        artifact.protocol_scorer(protocol, resize_size)  # a kind the protocol cannot run, refused before any work
    splits = data.splits_of_run(run_settings(paths[0]), dataset=dataset, data_dir=data_dir)
    evaluations = []
    for artifact in artifacts:
        scores, labels = artifact.predict(splits.test, batch_size=batch_size, protocol=protocol,
                                          resize_size=resize_size)
        evaluation = evaluate_scores(scores, labels, splits.class_names, artifact=artifact.path, kind=artifact.kind,
                                     protocol=protocol)
        evaluations.append(evaluation)
        if write_files:
            folder = folders[artifact.path]
            stem = output_stem(artifact.path)
            write_json_atomically(os.path.join(folder, f"evaluation_{stem}.json"), evaluation.to_json())
            write_atomically(os.path.join(folder, f"confusion_{stem}.png"),
                             lambda path, evaluation=evaluation: write_confusion_png(evaluation, path))
    return evaluations
