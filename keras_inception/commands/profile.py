"""Builds a registered net and prints its Keras summary and its profile.

    keras-inception profile --model=googlenet
    keras-inception profile --model=googlenet_bn --stem=small --input_size=32 --layers
"""

from absl import flags

import keras_inception
from keras_inception import cli

flags.DEFINE_enum("model", "googlenet", keras_inception.list_models(), "Registered net to build.")
flags.DEFINE_integer("input_size", None, "Height and width of the input; default: the net's.", lower_bound=1)
flags.DEFINE_integer("channels", 3, "Input channels.", lower_bound=1)
flags.DEFINE_integer("num_classes", None, "Number of classes; default: the net's.", lower_bound=1)
flags.DEFINE_float("width_multiplier", None, "Scales the net's widths.")
flags.DEFINE_enum("stem", None, ["imagenet", "small"], "GoogLeNet stem.")
flags.DEFINE_bool("summary", True, "Print the Keras summary.")
flags.DEFINE_bool("layers", False, "Print the per-layer profile as well as the per-block one.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    input_shape = None
    if FLAGS.input_size is not None:
        input_shape = (FLAGS.input_size, FLAGS.input_size, FLAGS.channels)
    model = keras_inception.get_model(
        FLAGS.model,
        **cli.set_flags(
            input_shape=input_shape,
            num_classes=FLAGS.num_classes,
            width_multiplier=FLAGS.width_multiplier,
            stem=FLAGS.stem,
        ),
    )
    if FLAGS.summary:
        model.summary(line_length=110)
    profile = keras_inception.profile(keras_inception.inference_model(model))
    print(profile.layer_table() if FLAGS.layers else profile.block_table())
    return 0

