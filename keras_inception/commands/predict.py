"""Prints the top classes, with names and scores, of image files, from any artifact.

    keras-inception predict --model=saved_models/googlenet_bn_digits/model_int8.tflite seven.png three.png
    keras-inception predict --model=resnet50.keras --top=3 cat.jpg   # a converted checkpoint: ImageNet names
    keras-inception predict --model=run/inference.keras --grad_cam=heat seven.png   # and heat/seven.main.png

--model is a .keras file, a SavedModel folder or a .tflite file. Names come from the training
run's dataset, or ImageNet's for a converted checkpoint. --grad_cam writes each image's Grad-CAM
overlay for its top class (keras_inception.explain), from a .keras file.
"""

from absl import flags

from keras_inception import cli
from keras_inception.data.image_files import MAX_IMAGE_PIXELS
from keras_inception.evaluation.predict import grad_cam_files, predict_files

flags.DEFINE_string("model", None, "The artifact: a .keras file, a SavedModel folder or a .tflite file.")
flags.DEFINE_integer("top", 5, "Classes to print per image.", lower_bound=1)
flags.DEFINE_string("dataset", None, "The dataset whose class names to print; default: the training run's.")
flags.DEFINE_string("data_dir", None, "TFDS data_dir for --dataset.")
flags.DEFINE_integer("threads", None, "LiteRT interpreter threads; default: LiteRT's.", lower_bound=1)
flags.DEFINE_integer("max_image_pixels", MAX_IMAGE_PIXELS, "Refuse images that declare more pixels than this "
                     "(a decompression bomb) before decoding them; Pillow's default limit.", lower_bound=1)
flags.DEFINE_string("grad_cam", None, "A folder to write each image's Grad-CAM overlay to, as "
                    "<image name>.<head>.png (a .keras model only).")
flags.DEFINE_string("grad_cam_head", "main", "The head Grad-CAM explains: main, or an auxiliary head where the model "
                    "has it (GoogLeNet's aux1 and aux2, Inception v3's aux).")
flags.DEFINE_string("grad_cam_layer", None, "The layer whose map Grad-CAM weights; default: the map entering the "
                    "head's pooling.")
flags.mark_flag_as_required("model")
FLAGS = flags.FLAGS


def main(argv):
    images = argv[1:]
    if not images:
        cli.fail("name at least one image file after the flags")
    overlays = [None] * len(images)
    if FLAGS.grad_cam:
        overlays = grad_cam_files(FLAGS.model, images, FLAGS.grad_cam, head=FLAGS.grad_cam_head,
                                  layer=FLAGS.grad_cam_layer, max_image_pixels=FLAGS.max_image_pixels)
    predictions = predict_files(FLAGS.model, images, top=FLAGS.top, dataset=FLAGS.dataset, data_dir=FLAGS.data_dir,
                                threads=FLAGS.threads, max_image_pixels=FLAGS.max_image_pixels)
    for (path, top), overlay in zip(predictions, overlays):
        print(path)
        width = max(len(f"{class_id} {name}") for class_id, name, _ in top)
        for rank, (class_id, name, score) in enumerate(top, start=1):
            label = name if class_id == name else f"{class_id} {name}"
            print(f"  {rank}. {label:<{width}}  {score:.4f}")
        if overlay:
            print(f"  Grad-CAM ({FLAGS.grad_cam_head}): {overlay}")
    return 0

