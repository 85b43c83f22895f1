"""The .tflite files as mobile clients take them: TFLite Model Metadata that leaves the graph as it
was, RGB input for grayscale nets, MediaPipe Tasks refusing only what it cannot read, and graphs
that XNNPACK and the GPU delegate run whole."""

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import keras_inception
from keras_inception import data
from keras_inception.export import export_graph, tflite
from keras_inception.export.delegates import gpu_unsupported_ops, xnnpack_partitions
from keras_inception.export.graph import DelegateLocalResponseNormalization, rgb_input
from keras_inception.export.metadata import read_metadata, with_metadata
from keras_inception.layers import ALEXNET_LRN, GOOGLENET_LRN, LocalResponseNormalization
from keras_inception.export.verify import mediapipe_top1, run_tflite

NAMES = tuple(f"class {index}" for index in range(10))


def _small_googlenet(channels=3):
    return keras_inception.get_model("googlenet_bn", stem="small", input_shape=(32, 32, channels), num_classes=10,
                                     width_multiplier=0.25, aux_heads=False)


@pytest.fixture(scope="module")
def rgb_digits():
    source = data.from_arrays(*data.digits("test"))
    batches = data.make_dataset(source, image_size=32, channels=3, training=False, batch_size=16)
    return next(iter(batches))[0].numpy()


def _signature_and_outputs(path, images):
    return Interpreter(model_path=str(path)).get_signature_list(), run_tflite(str(path), images)


@pytest.mark.parametrize("mode, int8_io", [("float32", "none"), ("int8", "uint8")])
@pytest.mark.slow
def test_metadata_leaves_signature_and_outputs_bit_identical(mode, int8_io, rgb_digits, tmp_path):
    converted = tflite.convert(export_graph(_small_googlenet()), mode, representative_images=rgb_digits,
                               int8_io=int8_io)
    plain, path = tmp_path / "plain.tflite", tmp_path / "model.tflite"
    plain.write_bytes(converted)
    path.write_bytes(with_metadata(converted, class_names=NAMES, name="googlenet_bn", description="digits",
                                   version="2"))
    assert read_metadata(str(plain)) is None
    signature, expected = _signature_and_outputs(plain, rgb_digits)
    assert signature == {"serving_default": {"inputs": ["image"], "outputs": ["output_0"]}}
    signature_after, outputs = _signature_and_outputs(path, rgb_digits)
    assert signature_after == signature
    np.testing.assert_array_equal(outputs, expected)
    assert read_metadata(str(path)) == {
        "name": "googlenet_bn", "description": "digits", "version": "2", "min_parser_version": "1.0.0",
        "color_space": "RGB", "mean": [0.0], "std": [255.0], "label_file": "labels.txt", "labels": NAMES}
    # The names MediaPipe gives are the label file's, on the file alone.
    pixels = np.round(rgb_digits[:4] * 255).astype(np.uint8)
    picks = mediapipe_top1(str(path), pixels)
    assert list(picks) == list(run_tflite(str(plain), pixels.astype(np.float32) / 255).argmax(-1))


def test_metadata_needs_a_name_per_class():
    converted = tflite.convert(export_graph(_small_googlenet()), "float32")
    with pytest.raises(ValueError, match=r"^The model scores 10 classes; 3 names were given\. Received: class_names="):
        with_metadata(converted, class_names=("a", "b", "c"), name="net")
    with pytest.raises(ValueError, match="none with a line break"):
        with_metadata(converted, class_names=("a\nb",) * 10, name="net")


def test_a_grayscale_net_takes_rgb_converted_as_the_pipeline_does():
    graph = export_graph(_small_googlenet(channels=1))
    phone = rgb_input(graph)
    assert phone.input_shape == (None, 32, 32, 3) and phone.output_shape == graph.output_shape
    assert rgb_input(phone) is phone
    images = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(phone.predict(images, verbose=0),
                               graph.predict(tf.image.rgb_to_grayscale(images).numpy(), verbose=0), atol=1e-6)


def test_mediapipe_refuses_int8_input_as_the_export_says(rgb_digits, tmp_path):
    from keras_inception.export.verify import mediapipe_agreement

    converted = tflite.convert(export_graph(_small_googlenet()), "int8", representative_images=rgb_digits,
                               int8_io="int8")
    path = tmp_path / "int8_io.tflite"
    path.write_bytes(with_metadata(converted, class_names=NAMES, name="net"))
    with pytest.raises(Exception, match="INT8"):
        mediapipe_top1(str(path), np.zeros((1, 32, 32, 3), np.uint8))
    assert mediapipe_agreement(str(path), rgb_digits) is None


@pytest.mark.parametrize("params", [GOOGLENET_LRN, ALEXNET_LRN, {**ALEXNET_LRN, "beta": 0.5, "depth_radius": 3}])
def test_lrn_in_delegate_ops_equals_our_layer(params):
    # Activations after a ReLU, at the scale where LRN's sum matters against its bias.
    inputs = np.maximum(np.random.default_rng(1).normal(0, 60, (2, 7, 7, 64)), 0).astype("float32")
    expected = LocalResponseNormalization(**params)(inputs).numpy()
    np.testing.assert_allclose(DelegateLocalResponseNormalization(**params)(inputs).numpy(), expected,
                               rtol=1e-5, atol=1e-5)
    assert np.abs(expected - inputs).max() > 1e-2  # the normalization does something here


@pytest.fixture(scope="module")
def paper_googlenet():
    return keras_inception.get_model("googlenet", stem="small", input_shape=(32, 32, 3), num_classes=10,
                                     width_multiplier=0.25, aux_heads=False)


@pytest.mark.parametrize("form, partitions, gpu_refused", [
    ("delegates", {"float32": 1, "int8": 1}, {}),
    ("tensorflow", {"float32": 2, "int8": 3}, {"not supported op LOCAL_RESPONSE_NORMALIZATION": 1}),
])
@pytest.mark.slow
def test_lrn_and_int8_float_ops_keep_the_graph_whole(form, partitions, gpu_refused, paper_googlenet, rgb_digits,
                                                      tmp_path):
    """The paper GoogLeNet's LRN written as delegate ops, and int8's softmax in float: XNNPACK runs
    each file in one piece and the GPU delegate takes every op; TFLite's LRN op splits both."""
    graph = export_graph(paper_googlenet, form=form)
    keras_outputs = graph.predict(rgb_digits, verbose=0)
    float_ops = tflite.FLOAT_OPS_IN_INT8 if form == "delegates" else ()
    for mode, converted in tflite.convert_modes(graph, ("float32", "int8"), representative_images=rgb_digits,
                                                float_ops=float_ops):
        path = str(tmp_path / f"{mode}.tflite")
        with open(path, "wb") as file:
            file.write(converted)
        assert xnnpack_partitions(path) == partitions[mode], mode
        assert gpu_unsupported_ops(path) == gpu_refused
        outputs = run_tflite(path, rgb_digits)
        np.testing.assert_allclose(outputs, keras_outputs, atol=1e-4 if mode == "float32" else 0.05)


@pytest.mark.slow
def test_inception_v3_runs_whole_in_xnnpack(tmp_path):
    """Its six-way concatenations nested, its 3x3 stride-1 average pools and softmax in float
    inside the int8 graph: one piece each; as TFLite converts it directly, several."""
    net = keras_inception.get_model("inception_v3", input_shape=(75, 75, 3), num_classes=10, width_multiplier=0.125,
                                    aux_heads=False)
    images = np.random.default_rng(0).random((4, 75, 75, 3), dtype=np.float32)
    counts = {}
    for form, float_ops in (("delegates", tflite.FLOAT_OPS_IN_INT8), ("tensorflow", ())):
        graph = export_graph(net, form=form)
        keras_outputs = graph.predict(images, verbose=0)
        for mode, converted in tflite.convert_modes(graph, ("float32", "int8"), representative_images=images,
                                                    float_ops=float_ops):
            path = str(tmp_path / f"{form}_{mode}.tflite")
            with open(path, "wb") as file:
                file.write(converted)
            counts[form, mode] = xnnpack_partitions(path)
            if mode == "float32":
                np.testing.assert_allclose(run_tflite(path, images), keras_outputs, atol=1e-5)
    assert counts["delegates", "float32"] == counts["delegates", "int8"] == 1
    assert counts["tensorflow", "float32"] == 3  # the two six-way concatenations
    assert counts["tensorflow", "int8"] > 10  # and each average pool, and the softmax


def test_the_label_file_names_the_dataset_or_the_converted_checkpoints_classes(tmp_path):
    import json
    import zipfile

    import PIL.Image

    from keras_inception.labels import label_names
    from keras_inception.pretrained.classes import add_class_names, imagenet_classes

    folder, run = tmp_path / "pets", tmp_path / "run"
    for name in ("cat", "dog"):
        (folder / name).mkdir(parents=True)
        for index in range(6):
            PIL.Image.new("RGB", (8, 8), (index * 40, 0, 0)).save(folder / name / f"{index}.png")
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"dataset": str(folder)}))
    assert label_names(str(run / "model.keras"), 2) == ("cat", "dog")
    assert label_names(str(tmp_path / "model.keras"), 10) == tuple("0123456789")  # no run: the indices
    converted = tmp_path / "converted.keras"
    with zipfile.ZipFile(converted, "w") as archive:
        archive.writestr("config.json", "{}")
    add_class_names(str(converted), [name for _, name in imagenet_classes()])
    names = label_names(str(converted), 1000)
    assert len(names) == 1000 and names[0] == imagenet_classes()[0][1]
    with pytest.raises(ValueError, match=r"scores 3 classes; its dataset names 2"):
        label_names(str(run / "model.keras"), 3)
