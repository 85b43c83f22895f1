"""The papers' test protocols: torchvision's crops to the pixel, GoogLeNet's 144 crops where the
paper puts them, VGG's dense evaluation against the plain forward pass, and the evaluation
script's flag."""

import importlib.util
import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_inception
from keras_inception.evaluation import protocols
from keras_inception.evaluation.protocols import protocol_scores, protocol_views, vgg_dense_scores
from keras_inception.export import tflite
from keras_inception.export.graph import export_graph
from tests.script_forks import ScriptServer


def _coordinates(height, width):
    """A batch of one image whose channels hold each pixel's row, its column, and their sum."""
    rows, columns = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return np.stack([rows, columns, rows + columns], -1)[None].astype(np.float32)


# torchvision's TenCrop and CenterCrop of each image in a .npz, in a process of their own
# (torchvision's import beside TensorFlow's can crash the process).
TORCHVISION_CROPS = """
import sys
import numpy as np
import torch
from torchvision import transforms

images = dict(np.load(sys.argv[1]))
crops = {}
for name, image in images.items():
    tensor = torch.from_numpy(image.transpose(2, 0, 1))
    crops[name + "_ten"] = np.stack([view.numpy().transpose(1, 2, 0) for view in transforms.TenCrop(224)(tensor)])
    crops[name + "_center"] = transforms.CenterCrop(224)(tensor).numpy().transpose(1, 2, 0)
np.savez(sys.argv[2], **crops)
"""
SIZES = [(256, 300), (301, 257), (256, 256)]


@pytest.fixture(scope="module")
def torchvision_crops(tmp_path_factory):
    """({name: image}, {name + "_ten" / "_center": torchvision's crops of it})."""
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("needs torchvision")
    folder = tmp_path_factory.mktemp("crops")
    rng = np.random.default_rng(0)
    images = {f"{height}x{width}": rng.random((height, width, 3), dtype=np.float32) for height, width in SIZES}
    np.savez(folder / "images.npz", **images)
    result = subprocess.run([sys.executable, "-c", TORCHVISION_CROPS, str(folder / "images.npz"),
                             str(folder / "crops.npz")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return images, dict(np.load(folder / "crops.npz"))


@pytest.mark.parametrize("height, width", SIZES)
def test_ten_crop_and_center_give_torchvisions_views_of_the_resized_image(torchvision_crops, height, width):
    images, crops = torchvision_crops
    name = f"{height}x{width}"
    image = images[name][None]
    shorter = min(height, width)  # already resized: the protocols resize it no further
    ours = protocol_views(image, "ten_crop", crop_size=224, resize_size=shorter).numpy()
    assert ours.shape == (10, 1, 224, 224, 3)
    np.testing.assert_array_equal(ours[:, 0], crops[f"{name}_ten"])
    center = protocol_views(image, "center", crop_size=224, resize_size=shorter).numpy()
    np.testing.assert_array_equal(center[0, 0], crops[f"{name}_center"])


def test_googlenet_144_crops_sit_where_the_paper_puts_them():
    assert protocols.googlenet_scales(224) == (256, 288, 320, 352)
    image = _coordinates(256, 400)  # the first scale keeps it as it is
    views = protocol_views(image, "googlenet_144", crop_size=224).numpy()
    assert views.shape == (144, 1, 224, 224, 3)
    first_scale = views[:36, 0]  # 3 squares x (5 crops + the square resized) x 2 (mirrored)
    for square, left in enumerate((0, 72, 144)):  # the left, centre and right 256x256 squares
        six = first_scale[12 * square: 12 * square + 12]
        corners = [(0, 0), (0, 32), (32, 0), (32, 32), (16, 16)]  # in the square: tl, tr, bl, br, centre
        for crop, (top, inner_left) in zip(six, corners):
            assert (crop[0, 0, 0], crop[0, 0, 1]) == (top, left + inner_left)
            assert (crop[-1, -1, 0], crop[-1, -1, 1]) == (top + 223, left + inner_left + 223)
        whole = tf.image.resize(image[:, :, left:left + 256], (224, 224), antialias=True).numpy()[0]
        np.testing.assert_allclose(six[5], whole, atol=1e-4)
        for view, mirror in zip(six[:6], six[6:]):
            np.testing.assert_array_equal(mirror, view[:, ::-1])
    # A portrait image: the top, centre and bottom squares.
    tall = protocol_views(_coordinates(400, 256), "googlenet_144", crop_size=224).numpy()
    assert [tall[12 * square, 0, 0, 0, 0] for square in range(3)] == [0, 72, 144]


def test_scores_are_the_mean_of_each_views_softmax():
    images = np.random.default_rng(1).random((3, 40, 50, 3), dtype=np.float32)

    def logits(views):  # three "classes": each channel's mean over the view
        assert isinstance(views, np.ndarray)  # as LiteRT's runner takes them
        return views.mean(axis=(1, 2)) * 5

    averaged = protocol_scores(logits, images, "ten_crop", crop_size=32, views_per_call=4)
    views = protocol_views(images, "ten_crop", crop_size=32).numpy()
    expected = np.mean([protocols.softmax(logits(view)) for view in views], axis=0)
    np.testing.assert_allclose(averaged, expected, rtol=1e-6)
    np.testing.assert_allclose(averaged.sum(-1), 1.0, rtol=1e-6)


def test_vgg_dense_at_the_nets_input_size_is_the_plain_forward_pass():
    keras.utils.set_random_seed(0)
    model = keras_inception.get_model("vgg11", input_shape=(32, 32, 3), width_multiplier=0.125, num_classes=10)
    images = np.random.default_rng(2).random((2, 32, 32, 3), dtype=np.float32)
    dense = vgg_dense_scores(model, images, scales=(32,), flip=False)
    np.testing.assert_allclose(dense, model.predict(images, verbose=0), atol=1e-6)
    # Larger scales give a class score map, still one distribution per image.
    multi = vgg_dense_scores(model, images, scales=(32, 48, 64))
    assert multi.shape == (2, 10) and np.allclose(multi.sum(-1), 1.0, atol=1e-5)
    assert protocols.vgg_scales(224) == (256, 384, 512)


def test_bad_protocols_and_crops_are_one_line():
    images = np.zeros((1, 64, 64, 3), np.float32)
    with pytest.raises(ValueError, match=r"^Unknown protocol; protocols: center, ten_crop, googlenet_144\. "
                                         r"Received: protocol='five_crop'$"):
        protocol_views(images, "five_crop")
    with pytest.raises(ValueError, match=r"^The crop \(224x224\) is larger than the image resized to a shorter side "
                                         r"of 200 \(200x200\)\. Received: crop_size=224$"):
        protocol_views(images, "ten_crop", crop_size=224, resize_size=200)
    googlenet = keras_inception.get_model("googlenet", stem="small", input_shape=(32, 32, 3), width_multiplier=0.125)
    with pytest.raises(ValueError, match=r"^googlenet has no `flatten` before dense layers"):
        protocols.fully_convolutional(googlenet)


@pytest.mark.slow
def test_the_script_evaluates_with_a_protocol_and_records_it(digits_run, tmp_path):
    model = digits_run.run_dir + "/model.keras"
    graph = export_graph(keras.saving.load_model(model))
    (tmp_path / "model_float32.tflite").write_bytes(tflite.convert(graph, "float32"))
    with ScriptServer("evaluate.py", cwd=tmp_path) as server:
        ten = server.run([f"--model={model},{tmp_path / 'model_float32.tflite'}", "--protocol=ten_crop",
                          f"--output_dir={tmp_path}"], timeout=300)
        unknown = server.run([f"--model={model}", "--protocol=144"], timeout=300)
        dense_on_tflite = server.run([f"--model={tmp_path / 'model_float32.tflite'}", "--protocol=vgg_dense"],
                                     timeout=300)
        keras.utils.set_random_seed(0)
        keras_inception.get_model("vgg11", input_shape=(32, 32, 1), width_multiplier=0.125,
                                  num_classes=10).save(tmp_path / "vgg11.keras")
        dense = server.run([f"--model={tmp_path / 'vgg11.keras'}", "--protocol=vgg_dense", f"--output_dir={tmp_path}"],
                           timeout=300)
        too_large = server.run([f"--model={model}", "--protocol=center", "--resize_size=20"], timeout=300)
    assert ten["returncode"] == 0, ten["stderr"][-3000:]
    assert "Protocol: ten_crop, the class probabilities averaged over its views" in ten["stdout"]
    saved = json.loads((tmp_path / "evaluation_model.json").read_text())
    assert saved["protocol"] == "ten_crop" and saved["images"] == 360
    # The digits net trained on central views; ten shifted and mirrored crops keep most of it.
    assert saved["top1"] >= digits_run.test_accuracy - 0.15
    # LiteRT's float32 file, fed the same views, scores as Keras does (to an image).
    litert = json.loads((tmp_path / "evaluation_model_float32.json").read_text())
    assert litert["protocol"] == "ten_crop" and abs(litert["top1"] - saved["top1"]) <= 1 / 360
    # VGG's dense evaluation runs a .keras file of a net that ends in dense layers (a file no run
    # made is evaluated on the digits), and refuses a .tflite before any work.
    assert dense["returncode"] == 0, dense["stderr"][-3000:]
    scored = json.loads((tmp_path / "evaluation_vgg11.json").read_text())
    assert scored["protocol"] == "vgg_dense" and scored["images"] == 360
    for result, line in ((unknown, "error: Unknown protocol; protocols: center, ten_crop, googlenet_144, vgg_dense. "
                                    "Received: protocol='144'"),
                         (dense_on_tflite, "error: vgg_dense runs .keras files, whose dense layers become "
                                           "convolutions; model_float32.tflite is a tflite file. "
                                           "Received: protocol='vgg_dense'"),
                         (too_large, "error: The crop (32x32) is larger than the image resized to a shorter side of "
                                     "20 (20x20). Received: crop_size=32")):
        assert result["returncode"] == 2
        assert [line for line in result["stderr"].splitlines() if line.startswith("error:")] == [line]
