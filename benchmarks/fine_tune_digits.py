"""What fine-tuning gains, offline: a small GoogLeNet trained on the digits 0-4, then fine-tuned
on 5-9 (--weights), against the same net trained on 5-9 from scratch for as many epochs.

    python3 benchmarks/fine_tune_digits.py --epochs=3 --frozen_epochs=1

Prints a Markdown table of the held-out test accuracies; docs/pretrained.md keeps the latest.
"""

import os
import tempfile

import keras_inception_cli

keras_inception_cli.before_tensorflow()  # environment defaults, then TensorFlow

import numpy as np  # noqa: E402
import PIL.Image  # noqa: E402
from absl import flags  # noqa: E402

from keras_inception import cli, data, training  # noqa: E402

flags.DEFINE_integer("source_epochs", 5, "Epochs on the digits 0-4.", lower_bound=1)
flags.DEFINE_integer("frozen_epochs", 1, "Fine-tuning's epochs with the backbone frozen.", lower_bound=0)
flags.DEFINE_integer("epochs", 2, "Fine-tuning's epochs of the whole net; scratch trains frozen_epochs + epochs.",
                     lower_bound=1)
FLAGS = flags.FLAGS
SMALL_GOOGLENET = dict(model="googlenet_bn", model_kwargs={"stem": "small"}, image_size=32, width_multiplier=0.25)


def write_digits(folder, labels_wanted):
    images, labels = data.digits("all")
    for label in labels_wanted:
        os.makedirs(os.path.join(folder, str(label)))
        for index in np.flatnonzero(labels == label):
            PIL.Image.fromarray(images[index, ..., 0]).save(os.path.join(folder, str(label), f"{index}.png"))
    return folder


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    with tempfile.TemporaryDirectory() as root:
        low = write_digits(os.path.join(root, "digits_0_to_4"), range(5))
        high = write_digits(os.path.join(root, "digits_5_to_9"), range(5, 10))
        runs = os.path.join(root, "runs")
        source = training.train(training.TrainConfig(**SMALL_GOOGLENET, dataset=low, epochs=FLAGS.source_epochs,
                                                     output_dir=runs, verbose=0))
        total = FLAGS.frozen_epochs + FLAGS.epochs
        tuned = training.train(training.TrainConfig(weights=os.path.join(source.run_dir, "model.keras"), dataset=high,
                                                    frozen_epochs=FLAGS.frozen_epochs, epochs=FLAGS.epochs,
                                                    output_dir=runs, verbose=0))
        scratch = training.train(training.TrainConfig(**SMALL_GOOGLENET, dataset=high, epochs=total,
                                                      output_dir=runs, run_name="scratch", verbose=0))
    print(f"| run on the digits 5-9 | epochs | test accuracy ({tuned.test_size} images) |")
    print("|---|---|---|")
    print(f"| fine-tuned from the 0-4 net ({source.test_accuracy:.2%} on 0-4) | {FLAGS.frozen_epochs} frozen + "
          f"{FLAGS.epochs} | {tuned.test_accuracy:.2%} |")
    print(f"| from scratch | {total} | {scratch.test_accuracy:.2%} |")
    return 0


if __name__ == "__main__":
    cli.run(main)
