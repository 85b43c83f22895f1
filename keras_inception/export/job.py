"""The export job: a trained `.keras` model in; a SavedModel and .tflite files out, each checked
against the Keras model, with a parity report beside it.

    result = export_model("saved_models/googlenet_bn_digits/model.keras", modes=("float32", "int8"))

Files, beside the model unless `output_dir` says otherwise:

    inference.keras         the inference net in float32, auxiliary heads dropped: plain Keras
                            (nets with LRN need `import keras_inception.layers` to load it)
    saved_model/            serving signatures with the preprocessing inside (see savedmodel.py)
    model_<mode>.tflite     one per mode, RGB input, with the metadata MediaPipe reads (see
                            metadata.py);  model_<mode>.json: its report (parity, MediaPipe,
                            XNNPACK partitions, ops the GPU delegate refuses, size, latency and
                            the processor it was measured on)
    quantization_int8.csv   with int8: each quantized layer's error and whether it was kept in
                            float (see int8.py); with `qat_epochs` the int8 file comes from
                            quantization-aware training instead (see qat.py)
    export_report.json      all reports

Every artifact is written under a temporary name and renamed into place; existing artifacts are
kept unless `overwrite=True`.
"""

import csv
import dataclasses
import io
import math
import os

import numpy as np

import keras_inception
from keras_inception import cpu, data
from keras_inception.export import features as features_export
from keras_inception.export import int8, qat, tflite
from keras_inception.export.delegates import gpu_unsupported_ops, xnnpack_partitions
from keras_inception.export.graph import export_graph, rgb_input
from keras_inception.export.metadata import with_metadata
from keras_inception.export.savedmodel import write_saved_model
from keras_inception.export.verify import mediapipe_agreement, parity_report, top1_agreement
from keras_inception.files import (
    check_writable,
    locked,
    recover_directory,
    remove_stale_partials_in,
    write_atomically,
    write_bytes_atomically,
    write_directory_atomically,
    write_json_atomically,
)
from keras_inception.labels import label_names
from keras_inception.loading import load_model
from keras_inception.pretrained.classes import add_class_names
from keras_inception.runs import run_settings
from keras_inception.validation import UsageError, check_bool, check_choice, check_integer, check_number

# Verification targets: float32 answers like Keras; int8 picks the same class almost always;
# MediaPipe picks the interpreter's class on the same pixels.
FLOAT32_MAX_ABS_ERROR = 1e-4
INT8_MIN_TOP1_AGREEMENT = 0.98
MEDIAPIPE_MIN_TOP1_AGREEMENT = 0.99
MEDIAPIPE_CANNOT_READ = ("int8 input and output (--int8_io=int8) cannot be read by MediaPipe Tasks, which "
                         "takes uint8 or float32 tensors: for an app, export with --int8_io=uint8 or none")
# An int8 miss is only a warning when every image whose class changed had its top two Keras
# scores this close, as a share of the median image's gap or outright: rounding moves near
# ties, while a broken quantization also changes the classes the net is sure of.
NEAR_TIE_FRACTION = 0.1
NEAR_TIE_MARGIN = 0.05
INFERENCE_KERAS = "inference.keras"
# Quantization-aware training's batch: the training job's default recipe's.
QAT_BATCH_SIZE = 64
INT8_TABLE = "quantization_int8.csv"
# The summary names this many of the layers int8 hurts most.
WORST_LAYERS_SHOWN = 3


@dataclasses.dataclass
class ExportResult:
    output_dir: str
    saved_model: str  # None when not written
    reports: dict  # mode -> parity report
    keras_file: str = None  # the inference net as plain Keras
    feature_files: tuple = ()  # the feature extractor's .tflite and SavedModel, where asked for

    def failures(self):
        """Missed targets, one line each."""
        missed = []
        float32 = self.reports.get("float32")
        if float32 and float32["max_abs_error"] > FLOAT32_MAX_ABS_ERROR:
            missed.append(f"float32 max abs error {float32['max_abs_error']:.2e} > {FLOAT32_MAX_ABS_ERROR:g}")
        if self._int8_missed() and not self._int8_flips_are_near_ties():
            missed.append(self._int8_miss())
        for mode, report in self.reports.items():
            agreement = report.get("mediapipe_top1_agreement")
            if agreement is not None and agreement < MEDIAPIPE_MIN_TOP1_AGREEMENT:
                missed.append(f"{mode}: MediaPipe's top-1 agrees with the interpreter's on {agreement:.1%} "
                              f"< {MEDIAPIPE_MIN_TOP1_AGREEMENT:.0%} of the images")
        return missed

    def notes(self):
        """What the files cannot do, one line each."""
        unreadable = [mode for mode, report in self.reports.items()
                      if "mediapipe_top1_agreement" in report and report["mediapipe_top1_agreement"] is None]
        return [f"{', '.join(unreadable)}: {MEDIAPIPE_CANNOT_READ}"] if unreadable else []

    def warnings(self):
        """Misses that are the net's, not the export's, one line each: int8 changed the class
        only of images that the Keras model itself scores as near ties."""
        if self._int8_missed() and self._int8_flips_are_near_ties():
            return [self._int8_miss() + f", each a near tie (within {NEAR_TIE_MARGIN:g}, or "
                    f"{NEAR_TIE_FRACTION:g} of the median gap): the net is undertrained for this check, "
                    "not badly quantized"]
        return []

    def _int8_missed(self):
        int8 = self.reports.get("int8")
        return bool(int8) and int8["top1_agreement"] < INT8_MIN_TOP1_AGREEMENT

    def _int8_flips_are_near_ties(self):
        int8 = self.reports["int8"]
        widest = int8["widest_flipped_margin"]
        return widest <= NEAR_TIE_MARGIN or widest <= NEAR_TIE_FRACTION * int8["median_margin"]

    def _int8_miss(self):
        # How near a tie the changed images were says whether the net or int8 is to blame.
        int8 = self.reports["int8"]
        return (f"int8 top-1 agreement {int8['top1_agreement']:.1%} < {INT8_MIN_TOP1_AGREEMENT:.0%}; "
                f"where it differs, the Keras model's top two scores were at most "
                f"{int8['widest_flipped_margin']:.3g} apart (the median image's: {int8['median_margin']:.3g})")

    def table(self):
        lines = ["mode      max abs error  top-1 agreement  MediaPipe agreement  XNNPACK partitions  size (KiB)  "
                 "latency (ms)",
                 "--------  -------------  ---------------  -------------------  ------------------  ----------  "
                 "------------"]
        for mode, report in self.reports.items():
            mediapipe = report.get("mediapipe_top1_agreement")
            mediapipe = "cannot read" if mediapipe is None else f"{mediapipe:.2%}"
            lines.append(f"{mode:<8}  {report['max_abs_error']:>13.2e}  {report['top1_agreement']:>15.2%}  "
                         f"{mediapipe:>19}  {report['xnnpack_partitions']:>18}  {report['size_bytes'] / 1024:>10.1f}  "
                         f"{report['latency_ms']:>12.3f}")
        verdicts = {}
        for mode, report in self.reports.items():
            refused = report["gpu_unsupported_ops"]
            verdict = "runs every op" if not refused else "cannot run " + ", ".join(
                f"{reason} (x{count})" for reason, count in refused.items())
            verdicts.setdefault(verdict, []).append(mode)
        for verdict, modes in verdicts.items():
            lines.append(f"The GPU delegate {verdict} of {', '.join(modes)}")
        int8_report = self.reports.get("int8", {})
        if int8_report.get("worst_layers"):
            worst = ", ".join(f"{layer} ({snr:.1f} dB)" for layer, snr in int8_report["worst_layers"])
            lines.append(f"int8's worst layers (signal to quantization noise): {worst}")
        if int8_report.get("float_layers"):
            kept = ", ".join(f"{layer} ({why})" for layer, why in int8_report["float_layers"].items())
            count = len(int8_report["float_layers"])
            lines.append(f"int8 keeps {count} layer{'s' if count > 1 else ''} in float: {kept}")
        if int8_report.get("qat_epochs"):
            epochs = int8_report["qat_epochs"]
            lines.append(f"int8 comes from quantization-aware training: {epochs} epoch{'s' if epochs > 1 else ''} "
                         f"on the training split; checked against the trained copy, it picks the model's class "
                         f"from before training on {int8_report['top1_agreement_before_qat']:.2%} of the images")
        if int8_report.get("top1_agreement_all_int8") is not None:
            lines.append(f"int8's top-1 agreement before layers were kept in float for min_agreement: "
                         f"{int8_report['top1_agreement_all_int8']:.2%}")
        if self.reports:
            measured_on = next(iter(self.reports.values()))["cpu"]
            lines.append(f"Measured on {cpu.summary(measured_on)}")
            if "int8" in self.reports:
                float32 = self.reports.get("float32")
                ratio = float32 and float32["latency_ms"] / self.reports["int8"]["latency_ms"]
                lines.append(cpu.int8_speed_note(measured_on, ratio))
        return "\n".join(lines)


def _images(graph, dataset, count):
    batches = data.for_model(graph, dataset, training=False, batch_size=64, cache=False)
    images = np.concatenate([batch for batch, _ in batches.take(-(-count // 64)).as_numpy_iterator()])
    return images[:count]


def _description(run, model, dataset, classes, logits):
    """The metadata's one-line description of the net."""
    source = dataset or run.get("dataset")
    trained = f" trained on {source}" if source else ""
    scores = "logits" if logits else "probabilities"
    return (f"{run.get('model', model.name)}{trained}: {scores} of {classes} classes for an RGB image "
            f"in [0, 1] (keras_inception {keras_inception.__version__}).")


def load_for_export(model_path):
    """A `.keras` file (or a run directory holding `model.keras`), checked and loaded in safe
    mode (see `keras_inception.loading`)."""
    if os.path.isdir(model_path):
        model_path = os.path.join(model_path, "model.keras")
    if model_path.endswith(".keras") and not os.path.isfile(model_path):
        raise UsageError(f"Expected a .keras model file or a training run directory. Received: model={model_path!r}")
    return model_path, load_model(model_path, compile=False)  # inference only: no optimizer state to restore


def export_model(model_path, *, output_dir=None, modes=("float32", "int8"), saved_model=True,
                 dataset=None, data_dir=None, calibration_images=200, verification_images=200,
                 int8_io="none", logits=False, overwrite=False, threads=None, min_agreement=None, qat_epochs=None,
                 features=False, verbose=0):
    """Exports and verifies; see the module docstring. Returns an `ExportResult`.

    dataset, data_dir: where calibration images (training split) and verification images
        (test split) come from; default: the training run's dataset, else the digits.
    min_agreement: int8 keeps the fewest of its worst layers in float (`int8.choose`) that make
        its top-1 class the Keras model's on this share of the verification images; where only
        an all-float file would, nothing is written and a `UsageError` says how far it got.
    qat_epochs: the int8 file comes from this many epochs of quantization-aware training
        (`qat.quantization_aware_training`) on the run's training split, or `dataset`'s, instead
        of post-training calibration, and is verified against the trained copy, whose function
        it computes. A `.keras` file without a run needs `dataset`.
    features: also write the net's feature extractor (`features.export_feature_extractor`: every
        map of the net the run trained, by its run.json) as a .tflite and a SavedModel.
    verbose: Keras's `fit` verbosity for the quantization-aware training.
    """
    for mode in modes:
        check_choice("mode", mode, tflite.MODES)
    check_choice("int8_io", int8_io, tflite.INT8_IO)
    check_integer("calibration_images", calibration_images, 1)
    check_integer("verification_images", verification_images, 1)
    check_bool("overwrite", overwrite)
    if min_agreement is not None:
        check_number("min_agreement", min_agreement, "in (0, 1]")
        if "int8" not in modes or int8_io != "none":
            raise UsageError("min_agreement keeps layers of the int8 file in float, which needs mode 'int8' with "
                             f"float input and output (int8_io='none'). Received: modes={list(modes)}, "
                             f"int8_io={int8_io!r}")
    if qat_epochs is not None:
        check_integer("qat_epochs", qat_epochs, 1)
        if "int8" not in modes or int8_io != "none" or min_agreement is not None:
            raise UsageError("qat_epochs trains the int8 file, which needs mode 'int8' with float input and output "
                             f"(int8_io='none') and no min_agreement. Received: modes={list(modes)}, "
                             f"int8_io={int8_io!r}, min_agreement={min_agreement!r}")
    check_bool("features", features)
    model_path, model = load_for_export(model_path)
    endpoints = _endpoints_of_run(model_path) if features else ()
    output_dir = output_dir or os.path.dirname(os.path.abspath(model_path))
    with locked(output_dir, "an export"):
        remove_stale_partials_in(output_dir)  # what a killed export left; the lock keeps live ones out
        saved_model_path = os.path.join(output_dir, "saved_model")
        keras_path = os.path.join(output_dir, INFERENCE_KERAS)
        tflite_paths = {mode: os.path.join(output_dir, f"model_{mode}.tflite") for mode in modes}
        recover_directory(saved_model_path)
        targets = [keras_path, *tflite_paths.values()] + ([saved_model_path] if saved_model else [])
        targets += [os.path.join(output_dir, name) for name in (features_export.TFLITE, features_export.SAVED_MODEL)
                    if features]
        existing = [path for path in targets if os.path.exists(path)]
        if existing and not overwrite:
            raise UsageError(f"{existing[0]} exists; pass overwrite=True (--overwrite) to replace it. "
                             f"Received: overwrite={overwrite!r}")

        check_writable(output_dir)  # before the conversions, not after them
        run = run_settings(model_path)
        if qat_epochs is not None and dataset is None and "dataset" not in run:
            raise UsageError(f"qat_epochs trains on the training split of the model's run, and {model_path} has no "
                             f"run.json beside it: give the dataset it was trained on (--dataset). "
                             f"Received: qat_epochs={qat_epochs!r}")
        splits = data.splits_of_run(run, dataset=dataset, data_dir=data_dir)
        graph = export_graph(model, logits=logits)
        class_names = label_names(model_path, graph.output_shape[-1], dataset=dataset, data_dir=data_dir)
        phone_graph = rgb_input(graph)
        calibration = _images(phone_graph, splits.train, calibration_images)
        verification = _images(phone_graph, splits.test, verification_images)
        keras_outputs = phone_graph.predict(verification, verbose=0)

        choices = {}

        def choose_int8(quantizer):
            choices["int8"] = int8.choose(
                quantizer, min_agreement=min_agreement,
                agreement=lambda converted: top1_agreement(converted, keras_outputs, verification, threads=threads))
            return choices["int8"].model

        # Every file converted before any is written: an int8 target missed, or a kill during
        # quantization-aware training, writes nothing.
        calibrated = [mode for mode in modes if not (mode == "int8" and qat_epochs)]
        converted = dict(tflite.convert_modes(phone_graph, calibrated, representative_images=calibration,
                                              int8_io=int8_io, choose_int8=choose_int8))
        references = {mode: keras_outputs for mode in modes}
        if qat_epochs:
            trained = _quantization_aware_training(model, graph, splits, run, qat_epochs, logits, verbose)
            converted["int8"], trained, choice = _qat_runnable_by_xnnpack(trained, qat_epochs)
            if choice:
                choices["int8"] = choice
            # The file computes the trained copy, so that copy is what it is checked against.
            references["int8"] = rgb_input(trained).predict(verification, verbose=0)

        def write_inference_keras(path):
            export_graph(model, logits=logits, form="keras").save(path)
            add_class_names(path, class_names)

        write_atomically(keras_path, write_inference_keras)
        if saved_model:
            serving_graph = export_graph(model, logits=logits, form="tensorflow")
            write_directory_atomically(saved_model_path,
                                       lambda path: write_saved_model(serving_graph, path, logits=logits))
        description = _description(run, model, dataset, len(class_names), logits)
        processor = cpu.describe_cpu()
        reports = {}
        for mode in modes:
            path = tflite_paths[mode]
            write_bytes_atomically(path, with_metadata(converted.pop(mode), class_names=class_names, name=model.name,
                                                       description=description, version=keras_inception.__version__,
                                                       logits=logits))
            reports[mode] = parity_report(path, references[mode], verification, threads=threads)
            reports[mode].update(mediapipe_top1_agreement=mediapipe_agreement(path, verification, threads=threads),
                                 xnnpack_partitions=xnnpack_partitions(path),
                                 gpu_unsupported_ops=gpu_unsupported_ops(path), cpu=processor)
            if mode == "int8" and qat_epochs:
                reports[mode].update(qat_epochs=qat_epochs, top1_agreement_before_qat=top1_agreement(
                    path, keras_outputs, verification, threads=threads))
            if mode in choices:
                reports[mode].update(_int8_layers_report(choices[mode], min_agreement))
            if mode in choices and _measured(choices[mode]):
                write_bytes_atomically(os.path.join(output_dir, INT8_TABLE), _int8_table(choices[mode]))
            elif mode == "int8" and os.path.exists(os.path.join(output_dir, INT8_TABLE)):
                os.remove(os.path.join(output_dir, INT8_TABLE))  # another int8 file's table
            write_json_atomically(path[: -len(".tflite")] + ".json", reports[mode])
        write_json_atomically(os.path.join(output_dir, "export_report.json"), reports)
        feature_files = features_export.export_feature_extractor(model, output_dir, endpoints) if features else ()
        return ExportResult(output_dir, saved_model_path if saved_model else None, reports, keras_path,
                            tuple(feature_files))


def _endpoints_of_run(model_path):
    """The feature maps of the net a run trained, named by the run.json beside `model_path`."""
    from keras_inception.registry import endpoint_names

    net = run_settings(model_path).get("model")
    if net is None:
        raise UsageError(f"features exports the maps of the net a run trained, named by the run.json beside the "
                         f"model, and {model_path} has none. Received: features=True")
    return endpoint_names(net)


def _quantization_aware_training(model, graph, splits, run, epochs, logits, verbose):
    """`model`'s quantization-aware copy (`qat`) after `epochs` on the training split, augmented
    as the run trained."""
    batches = data.for_model(graph, splits.train, training=True, augmentation=run.get("augmentation", "auto"),
                             flip=data.training_flip(splits, run.get("flip")), seed=run.get("seed", 0),
                             batch_size=QAT_BATCH_SIZE, cache=False)
    return qat.quantization_aware_training(model, batches, epochs=epochs, logits=logits, verbose=verbose)


def _qat_runnable_by_xnnpack(trained, qat_epochs):
    """The int8 file of the trained quantization-aware copy and the copy it computes, with the
    layers XNNPACK cannot run in int8 kept in float (`qat.keep_in_float`), and an
    `int8.Int8Choice` naming them (None where there are none)."""
    from keras_inception.export.delegates import xnnpack_refused_tensors  # the mobile extra

    file = qat.convert(rgb_input(trained))
    refused = xnnpack_refused_tensors(file)
    if not refused:
        return file, trained, None
    errors = int8.unmeasured(refused, int8.layer_names(trained))
    layers = sorted({error.layer for error in errors})
    floatable = qat.rounded_layers(trained)
    copy = qat.keep_in_float(trained, [layer for layer in layers if layer in floatable])
    file = qat.convert(rgb_input(copy))
    if not set(layers) <= floatable or xnnpack_refused_tensors(file):
        raise UsageError(f"XNNPACK cannot run {', '.join(layers)} in int8 (its output in training was all or nearly "
                         f"all zero), and the quantization-aware file cannot keep it in float: export without "
                         f"qat_epochs (post-training int8 keeps it in float). Received: qat_epochs={qat_epochs!r}")
    return file, copy, int8.Int8Choice(file, errors, tuple(refused))


def _float_reasons(choice):
    """{tensor: why its op is kept in float}."""
    return {**{tensor: "XNNPACK cannot run it in int8" for tensor in choice.xnnpack_float},
            **{tensor: "min_agreement" for tensor in choice.agreement_float}}


def _measured(choice):
    """`choice`'s errors that were measured (a quantization-aware file's are not)."""
    return [error for error in choice.errors if not math.isnan(error.snr_db)]


def _int8_layers_report(choice, min_agreement):
    reasons = _float_reasons(choice)
    by_tensor = {error.tensor: error for error in choice.errors}
    worst = [(error.layer, error.snr_db) for error in _measured(choice)[:WORST_LAYERS_SHOWN]]
    return {**({"worst_layers": worst} if worst else {}),
            "float_layers": {by_tensor[tensor].layer: why for tensor, why in reasons.items()},
            "min_agreement": min_agreement, "top1_agreement_all_int8": choice.agreement_all_int8}


def _int8_table(choice):
    """`INT8_TABLE`'s bytes: a row per quantized op, worst first."""
    reasons = _float_reasons(choice)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["layer", "op", "snr_db", "kept_in_float", "tensor"])
    for error in choice.errors:
        writer.writerow([error.layer, error.op, f"{error.snr_db:.2f}", reasons.get(error.tensor, ""), error.tensor])
    return text.getvalue().encode()
