"""Exports a trained model as a SavedModel and .tflite files, verified with the LiteRT interpreter.

    keras-inception export                # the run trained last, under saved_models/
    keras-inception export --model=saved_models/googlenet_bn_digits/model.keras
    keras-inception export --model=saved_models/googlenet_bn_digits --modes=float32,float16,dynamic,int8
    keras-inception export --min_agreement=0.995 --overwrite   # int8 keeps its worst layers float
    keras-inception export --qat_epochs=1 --overwrite          # int8 from quantization-aware training
    keras-inception export --features --overwrite              # and the net's feature maps

Prints the parity table (max abs error and top-1 agreement against Keras, MediaPipe's agreement
with the interpreter, size, latency) and writes it as JSON beside the artifacts. Exit code 1
when a verification target is missed.
"""

import os
import sys

from absl import flags

from keras_inception import cli, runs
from keras_inception.export import tflite

flags.DEFINE_string("model", None, "A .keras file, or a training run directory holding model.keras; "
                    "default: the run under saved_models/ trained last.")
flags.DEFINE_string("output_dir", None, "Where the artifacts go; default: beside the model.")
flags.DEFINE_list("modes", ["float32", "int8"], f"TFLite modes, comma-separated: {', '.join(tflite.MODES)}.")
flags.DEFINE_bool("saved_model", True, "Write the SavedModel for serving.")
flags.DEFINE_string("dataset", None, "Calibration and verification data; default: the training run's, else digits.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir for --dataset.")
flags.DEFINE_integer("calibration_images", 200, "Training images that calibrate int8.", lower_bound=1)
flags.DEFINE_integer("verification_images", 200, "Test images the .tflite files are checked on.", lower_bound=1)
flags.DEFINE_enum("int8_io", "none", tflite.INT8_IO, "int8 mode: quantized input and output types.")
flags.DEFINE_bool("logits", False, "Export logits instead of probabilities.")
flags.DEFINE_integer("threads", None, "Interpreter threads for verification and latency; default: LiteRT's.", lower_bound=1)
flags.DEFINE_float("min_agreement", None, "int8: keep the fewest of its worst layers in float that make its top-1 "
                   "class the Keras model's on this share (in (0, 1]) of the verification images; exit 2, "
                   "writing nothing, where only all-float would.")
flags.DEFINE_integer("qat_epochs", None, "int8: this many epochs of quantization-aware training on the run's "
                     "training split (or --dataset's) make the int8 file, instead of post-training calibration.",
                     lower_bound=1)
flags.DEFINE_bool("features", False, "Also export the net's feature maps (every endpoint of the net the run "
                  "trained) as features_float32.tflite and features_saved_model, outputs named NN_<map>.")
flags.DEFINE_bool("overwrite", False, "Replace existing artifacts.")
FLAGS = flags.FLAGS


def main(argv):
    from keras_inception.export import job  # the mobile extra: a one-line error under cli.run where it is missing

    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    model = FLAGS.model
    if model is None:
        model = runs.latest_run()
        print(f"Exporting the run trained last: {model}")
    result = job.export_model(
        os.path.expanduser(model), output_dir=FLAGS.output_dir, modes=tuple(dict.fromkeys(FLAGS.modes)),
        saved_model=FLAGS.saved_model, dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
        calibration_images=FLAGS.calibration_images, verification_images=FLAGS.verification_images,
        int8_io=FLAGS.int8_io, logits=FLAGS.logits, overwrite=FLAGS.overwrite, threads=FLAGS.threads,
        min_agreement=FLAGS.min_agreement, qat_epochs=FLAGS.qat_epochs, features=FLAGS.features,
        verbose=cli.fit_verbosity(),
    )
    print(result.table())
    if result.saved_model:
        print(f"SavedModel: {result.saved_model}  (signatures serving_default: uint8, serve_float: float32)")
    print(f"Keras inference net: {result.keras_file}  (keras.saving.load_model loads it)")
    print(f"TFLite and reports: {result.output_dir}")
    for path in result.feature_files:
        print(f"Feature maps: {path}  (signature serving_default: image -> NN_<map>)")
    for failure in result.failures():
        print(f"error: verification target missed: {failure}", file=sys.stderr)
    for warning in result.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    for note in result.notes():
        print(f"note: {note}")
    return 1 if result.failures() else 0

