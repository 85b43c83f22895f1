"""Evaluates any artifact of a run on the test split that training held out: top-1, top-5,
per-class accuracy, and a confusion-matrix PNG.

    keras-inception evaluate                # every artifact of the run trained last
    keras-inception evaluate --model=saved_models/googlenet_bn_digits/model_int8.tflite
    keras-inception evaluate --model=model.keras,saved_model,model_int8.tflite --dataset=/data/flowers
    keras-inception evaluate --model=resnet50.keras --dataset=imagenet2012 --protocol=ten_crop

Several artifacts are compared side by side. Beside each go evaluation_<name>.json and
confusion_<name>.png.
"""

from absl import flags

from keras_inception import cli, runs
from keras_inception.evaluation import evaluate
from keras_inception.evaluation.job import output_stem
from keras_inception.evaluation.report import per_class_table, summary_table
from keras_inception.specs import PROTOCOLS

flags.DEFINE_list("model", None, "Artifacts, comma-separated: .keras files, SavedModel folders, .tflite files, "
                  "or run directories (all their artifacts); default: the run under saved_models/ trained last.")
flags.DEFINE_string("dataset", None, "The dataset; default: the training run's, else digits.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir for --dataset.")
flags.DEFINE_string("output_dir", None, "Where the JSON and PNG files go; default: beside each artifact.")
flags.DEFINE_integer("batch_size", 64, "Images per batch (.keras and SavedModel).", lower_bound=1)
flags.DEFINE_integer("threads", None, "LiteRT interpreter threads; default: LiteRT's.", lower_bound=1)
flags.DEFINE_string("protocol", None, "A paper's test protocol for .keras and .tflite files: " + ", ".join(PROTOCOLS)
                    + " (docs/evaluation.md); default: the view each artifact is served on.")
flags.DEFINE_integer("resize_size", None, "The shorter side for the center and ten_crop protocols; default: the "
                     "crop / 0.875.", lower_bound=1)
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    models = FLAGS.model
    if not models:
        models = [runs.latest_run()]
        print(f"Evaluating the run trained last: {models[0]}")
    evaluations = evaluate(models, dataset=FLAGS.dataset, data_dir=FLAGS.data_dir, output_dir=FLAGS.output_dir,
                           threads=FLAGS.threads, batch_size=FLAGS.batch_size, protocol=FLAGS.protocol,
                           resize_size=FLAGS.resize_size)
    if FLAGS.protocol:
        print(f"Protocol: {FLAGS.protocol}, the class probabilities averaged over its views")
    print(summary_table(evaluations))
    print()
    print(per_class_table(evaluations))
    print()
    for evaluation in evaluations:
        stem = output_stem(evaluation.artifact)
        print(f"{evaluation.artifact}: confusion_{stem}.png, evaluation_{stem}.json"
              + (f" in {FLAGS.output_dir}" if FLAGS.output_dir else " beside it"))
    return 0
