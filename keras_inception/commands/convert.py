"""Converts a public ImageNet checkpoint into our net, as a .keras file that plain Keras loads.

    keras-inception convert --model=resnet50 --checkpoint=~/.cache/torch/hub/checkpoints/resnet50-11ad3fa6.pth
    keras-inception convert --source=timm --model=inception_v3.tf_in1k --checkpoint=inception_v3.tf_in1k/
    keras-inception convert --model=InceptionV3 --checkpoint=~/.keras/models/inception_v3_weights_tf_dim_ordering_tf_kernels.h5
    keras-inception convert --model=resnet50 --checkpoint=resnet50-11ad3fa6.pth --input_channels=1

The source (torchvision .pth, timm hub folder or .safetensors, keras.applications .h5) is
recognised from the file when --source is not given. Nothing is downloaded, and nothing in the
file runs.
"""

from absl import flags

from keras_inception import cli, pretrained

flags.DEFINE_enum("source", None, list(pretrained.SOURCES), "Where the checkpoint comes from; default: from the file.")
flags.DEFINE_string("model", None, "The source's name of the net: " + ", ".join(pretrained.supported())
                    + " (torchvision; timm's hub IDs of the same), " + ", ".join(pretrained.supported("keras"))
                    + " (keras.applications).")
flags.DEFINE_string("checkpoint", None, "The checkpoint: a .pth file, a timm hub folder or .safetensors file, "
                    "or a keras.applications .h5 file.")
flags.DEFINE_string("output", None, "The .keras file to write; default: <model>.keras here.")
flags.DEFINE_bool("overwrite", False, "Replace an existing output file.")
flags.DEFINE_integer("input_channels", 3, "Channels of the images the net takes: 1 (grayscale) or 4 (RGB plus "
                     "depth or infrared) adapt the first convolution, as timm does.", lower_bound=1)
flags.mark_flags_as_required(["model", "checkpoint"])
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    output = pretrained.convert(FLAGS.model, FLAGS.checkpoint, FLAGS.output, FLAGS.source, overwrite=FLAGS.overwrite,
                                input_channels=FLAGS.input_channels)
    channels = FLAGS.input_channels
    images = {1: "grayscale images", 3: "RGB images"}.get(channels, f"{channels}-channel images")
    print(f"Converted {FLAGS.checkpoint} into {output}: {images} in [0, 1], the source's normalization inside, "
          f"1000 ImageNet classes (keras_inception.decode_predictions names them)")
    return 0

