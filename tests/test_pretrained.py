"""Converting torchvision's and timm's checkpoints: parity with the real source nets, safe
reading, strict accounting, class names and the script.

The source nets run in processes of their own (tests/torch_reference.py writes each checkpoint
and its outputs); this process never imports torchvision, which crashes beside TensorFlow."""

import json
import os
import pathlib
import pickle
import shutil
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

import keras_inception
from keras_inception import pretrained
from keras_inception.pretrained import channels, torch_files
from tests.script_forks import ScriptServer

ROOT = pathlib.Path(__file__).resolve().parents[1]
# The largest logit difference allowed, as a share of the logits' spread.
PARITY = 1e-4
torch = pytest.importorskip("torch")  # torch alone loads beside TensorFlow; it writes the crafted files


@pytest.fixture(scope="session")
def torch_server():
    """A tests/torch_reference.py process serving this worker's requests."""
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "torch_reference.py"), "--serve"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    yield server
    server.stdin.close()
    server.wait(timeout=60)


@pytest.fixture
def reference(torch_server):
    """reference(source, name, size, folder): the checkpoint and the source net's logits, from
    tests/torch_reference.py."""

    def generate(source, name, size, folder):
        torch_server.stdin.write(f"{source} {name} {size} {folder}\n")
        torch_server.stdin.flush()
        assert torch_server.stdout.readline().strip() == "done", "tests/torch_reference.py failed (its stderr above)"
        aux = folder / "aux.npy"
        checkpoint = folder / ("checkpoint.pth" if source == "torchvision" else "checkpoint")
        return (checkpoint, np.load(folder / "images.npy"), np.load(folder / "main.npy"),
                np.load(aux) if aux.exists() else None)

    return generate


def assert_parity(ours, theirs):
    spread = theirs.max() - theirs.min()
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= PARITY * spread, (np.abs(ours - theirs).max(), spread)
    if ours.ndim == 2:  # logits
        np.testing.assert_array_equal(np.argsort(-ours, axis=-1)[:, :5], np.argsort(-theirs, axis=-1)[:, :5])


def check_converted(reference, source, name, size, folder, **arguments):
    checkpoint, images, main, aux = reference(source, name, size, folder)
    if main.ndim == 4:  # the source's feature map (VGG below 224), as our net without the top gives it
        arguments["include_top"] = False
    converted = pretrained.load(name, str(checkpoint), input_shape=(size, size, 3), classifier_activation=None,
                                **arguments)
    outputs = converted.predict(images, verbose=0)
    if aux is not None and "aux_heads" not in arguments:
        assert sorted(converted.output_names) == ["aux", "main"]
        assert_parity(outputs["aux"], aux)
        outputs = outputs["main"]
    assert_parity(outputs, main)
    assert converted.layers[1].name == "preprocessing"
    return converted


# (net, input size): each family once at its source's size, the fully convolutional nets also
# smaller, one of them odd. VGG's flattened classifier needs 224: VGG-11 is checked whole there
# (with batch norm by timm's copy of the file), the others' convolutional trunks (without the
# top) smaller. A family's depths share their
# converter and differ in their table only, so the deepest stands for the ones between (ResNet-101
# by ResNet-152; VGG-13, -16 and -19 once each, with or without batch norm).
TORCHVISION_CASES = [
    ("resnet18", 224), ("resnet34", 65), ("resnet50", 64), ("resnet152", 33),
    ("googlenet", 224), ("googlenet", 67), ("inception_v3", 299), ("inception_v3", 99),
    ("alexnet", 224), ("vgg11", 224), ("vgg11_bn", 32), ("vgg13_bn", 32), ("vgg16", 32), ("vgg19_bn", 35),
]


@pytest.mark.parametrize("name, size", TORCHVISION_CASES)
@pytest.mark.slow
def test_torchvision_checkpoints_convert_to_the_same_function(name, size, tmp_path, reference):
    # Inception v3's trained auxiliary head converts at 299, where its 5x5 conv covers the pooled map.
    arguments = {"aux_heads": False} if name == "inception_v3" and size != 299 else {}
    check_converted(reference, "torchvision", name, size, tmp_path, **arguments)


@pytest.mark.parametrize("name, size", [("resnet50.a1_in1k", 65), ("vgg11_bn.tv_in1k", 224),
                                        ("inception_v3.tf_in1k", 101),
                                        ("inception_v4.tf_in1k", 299), ("inception_resnet_v2.tf_in1k", 107)])
@pytest.mark.slow
def test_timm_hub_folders_convert_to_the_same_function(name, size, tmp_path, reference):
    check_converted(reference, "timm", name, size, tmp_path)
    folder = tmp_path / "checkpoint"
    assert (folder / "model.safetensors").exists() and (folder / "config.json").exists()
    assert pretrained.checkpoints.source_of(str(folder / "model.safetensors")) == "timm"


@pytest.mark.parametrize("name, size", [("googlenet", 67), ("resnet18", 64)])
@pytest.mark.slow
def test_a_gray_net_from_rgb_weights_answers_as_the_rgb_net_on_the_image_repeated(name, size, tmp_path,
                                                                                 reference):
    # GoogLeNet's file normalizes its channels alike, so its first kernels are summed; ResNet's
    # torch statistics differ per channel, so its gray channel is normalized into three.
    checkpoint, _, _, _ = reference("torchvision", name, size, tmp_path)
    rgb, gray, four = (pretrained.load(name, str(checkpoint), input_shape=(size, size, channels),
                                       classifier_activation=None) for channels in (3, 1, 4))
    images = np.random.default_rng(0).random((2, size, size, 1), dtype=np.float32)
    assert_parity(gray.predict(images, verbose=0), rgb.predict(np.repeat(images, 3, axis=-1), verbose=0))
    assert len(gray.class_names) == 1000
    kernel = channels.first_conv(rgb).get_weights()[0]
    if name == "googlenet":
        np.testing.assert_allclose(channels.first_conv(gray).get_weights()[0], kernel.sum(2, keepdims=True), rtol=1e-6)
    else:
        assert isinstance(gray.get_layer("preprocessing"), keras.layers.Conv2D)
    # RGB plus a fourth channel: the kernels repeated over it and scaled by 3/4, as timm does.
    np.testing.assert_allclose(channels.first_conv(four).get_weights()[0],
                               np.concatenate([kernel, kernel[:, :, :1]], axis=2) * 0.75, rtol=1e-6)
    assert four.input_shape == (None, size, size, 4)
    with pytest.raises(ValueError, match=r"^A converted net takes 1 or more input channels \(3: the checkpoint's "
                                         r"RGB\)\. Received: channels=0$"):
        pretrained.load(name, str(checkpoint), input_shape=(size, size, 0))


def test_pth_files_read_the_same_with_and_without_torch(tmp_path):
    torch.manual_seed(0)
    state = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Linear(4, 2)).state_dict()
    state["transposed"] = torch.randn(5, 6).t()  # a strided view
    state["half"] = torch.randn(3).half()
    for legacy in (False, True):
        path = tmp_path / f"{legacy}.pth"
        torch.save(state, path, _use_new_zipfile_serialization=not legacy)
        assert zipfile.is_zipfile(path) is not legacy
        without, with_torch = torch_files.read_pth(str(path), use_torch=False), torch_files.read_pth(str(path))
        assert list(without) == list(state) == list(with_torch)
        for key, tensor in state.items():
            assert without[key].dtype == with_torch[key].dtype == tensor.numpy().dtype
            np.testing.assert_array_equal(without[key], tensor.numpy())
            np.testing.assert_array_equal(with_torch[key], tensor.numpy())


class Payload:
    """What a malicious checkpoint carries: unpickling it runs a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("use_torch", [False, True])
@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_a_malicious_pickle_is_refused_before_its_payload_runs(tmp_path, use_torch, layout):
    marker = tmp_path / "payload_ran"
    payload = pickle.dumps({"conv1.weight": Payload(marker)}, protocol=2)
    path = tmp_path / "model.pth"
    if layout == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", payload)
            archive.writestr("archive/version", "3\n")
    else:
        path.write_bytes(payload)
    with pytest.raises(ValueError, match=r"system|weights_only"):
        torch_files.read_pth(str(path), use_torch=use_torch)
    with pytest.raises(ValueError) as error:
        pretrained.load("resnet18", str(path))
    assert "\n" not in str(error.value) and "Received: checkpoint=" in str(error.value)
    assert not marker.exists()


@pytest.fixture(scope="module")
def resnet18_checkpoint(tmp_path_factory, torch_server):
    folder = tmp_path_factory.mktemp("checkpoint")
    torch_server.stdin.write(f"torchvision resnet18 64 {folder}\n")
    torch_server.stdin.flush()
    assert torch_server.stdout.readline().strip() == "done"
    path = folder / "checkpoint.pth"
    return path, torch_files.read_pth(str(path), use_torch=False)


def _broken(tmp_path, state, change):
    state = dict(state)
    change(state)
    path = tmp_path / "broken.pth"
    torch.save({key: torch.from_numpy(np.array(value)) for key, value in state.items()}, path)
    return str(path)


def _shrink(state):
    state["layer2.0.conv1.weight"] = state["layer2.0.conv1.weight"][:64]


@pytest.mark.parametrize("change, message", [
    (_shrink, r"^layer2\.0\.conv1\.weight \(64, 64, 3, 3\) does not fit conv3_block1_1_conv\.kernel "
              r"\(3, 3, 64, 128\)\. Received: checkpoint="),
    (lambda state: state.update({"extra.weight": np.zeros(3, np.float32)}),
     r"holds extra\.weight \(3,\), which maps to no layer of resnet18 \(1 such tensors\)\. Received: checkpoint="),
    (lambda state: state.pop("fc.bias"), r"has no tensor 'fc\.bias' for main\.bias \(1000,\)\. Received: checkpoint="),
])
def test_a_checkpoint_that_does_not_fit_is_refused_in_one_line(resnet18_checkpoint, tmp_path, change, message):
    _, state = resnet18_checkpoint
    path = _broken(tmp_path, state, change)
    output = tmp_path / "out.keras"
    with pytest.raises(ValueError, match=message) as error:
        pretrained.convert("resnet18", path, output)
    assert "\n" not in str(error.value)
    assert not output.exists() and not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("arguments, message", [
    (dict(name="resnet50"), r"holds a resnet18 \(layer4\.1\.conv2\.weight \(512, 512, 3, 3\)\), not a resnet50\. "
                            r"Received: model='resnet50'$"),
    (dict(name="nin_cifar10"), r"^No torchvision conversion for 'nin_cifar10'; converted: alexnet, googlenet, "
                               r"inception_v3, resnet18"),
    (dict(name="resnet18", source="caffe"), r"^`source` must be one of 'torchvision', 'timm', 'keras'\. "
                                            r"Received: source='caffe'$"),
    (dict(name="resnet18", checkpoint="missing.pth"), r"^The checkpoint file does not exist\. "
                                                      r"Received: checkpoint='missing.pth'$"),
    (dict(name="resnet18", checkpoint="notes.txt"), r"notes\.txt is no checkpoint this package reads"),
    (dict(name="resnet18", checkpoint="model.h5"), r"model\.h5 is not a readable HDF5 file"),
    (dict(name="resnet18", source="timm"), r"looks like a torchvision checkpoint, not a timm one"),
])
def test_wrong_names_sources_and_files_get_one_line_errors(resnet18_checkpoint, tmp_path, monkeypatch, arguments,
                                                           message):
    monkeypatch.chdir(tmp_path)
    pathlib.Path("notes.txt").write_text("not a checkpoint")
    pathlib.Path("model.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    arguments = {"checkpoint": str(resnet18_checkpoint[0]), **arguments}
    with pytest.raises(ValueError, match=message) as error:
        pretrained.convert(arguments.pop("name"), output="out.keras", **arguments)
    assert "\n" not in str(error.value)
    assert sorted(os.listdir()) == ["model.h5", "notes.txt"]


@pytest.mark.slow
def test_the_script_writes_a_file_plain_keras_loads(resnet18_checkpoint, tmp_path):
    checkpoint, _ = resnet18_checkpoint
    output = tmp_path / "resnet18.keras"
    with ScriptServer("convert_weights.py", cwd=tmp_path) as server:
        done = server.run(["--model=resnet18", f"--checkpoint={checkpoint}", f"--output={output}"], timeout=300)
        gray = server.run(["--model=resnet18", f"--checkpoint={checkpoint}", "--output=gray.keras",
                           "--input_channels=1"], timeout=300)
    assert done["returncode"] == 0, done["stderr"][-2000:]
    assert f"into {output}" in done["stdout"]
    assert gray["returncode"] == 0 and "into gray.keras: grayscale images in [0, 1]" in gray["stdout"], gray["stderr"]
    gray_net = keras.saving.load_model(tmp_path / "gray.keras", safe_mode=True)
    assert gray_net.input_shape == (None, 224, 224, 1)
    gray_images = np.random.default_rng(1).random((2, 224, 224, 1), dtype=np.float32)
    np.testing.assert_allclose(
        gray_net.predict(gray_images, verbose=0),
        pretrained.load("resnet18", str(checkpoint), input_channels=1).predict(gray_images, verbose=0), atol=1e-6)
    images = np.random.default_rng(0).random((2, 224, 224, 3), dtype=np.float32)
    np.save(tmp_path / "images.npy", images)
    load = ("import sys, keras, numpy as np; model = keras.saving.load_model(sys.argv[1], safe_mode=True); "
            "np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0)); "
            "assert 'keras_inception' not in sys.modules")
    loaded = subprocess.run([sys.executable, "-c", load, str(output), str(tmp_path / "images.npy"),
                             str(tmp_path / "out.npy")], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    expected = pretrained.load("resnet18", str(checkpoint)).predict(images, verbose=0)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)
    # The file carries the ImageNet names, which predict.py reads from it.
    with zipfile.ZipFile(output) as archive:
        assert len(json.loads(archive.read("class_names.json"))) == 1000
    from keras_inception.evaluation.artifacts import open_artifact
    from keras_inception.evaluation.predict import predict_files, read_image

    image = tmp_path / "image.png"
    keras.utils.save_img(image, (255 * images[0]).astype("uint8"))
    ((path, top),) = predict_files(str(output), [str(image)], top=2)
    artifact = open_artifact(str(output))
    scores = np.asarray(artifact.scores(artifact.view(read_image(str(image)))[None].numpy()))
    assert path == str(image) and top == keras_inception.decode_predictions(scores, top=2)[0]
    assert top[0][0].startswith("n") and top[0][1] in {name for _, name in pretrained.imagenet_classes()}
    before = output.stat().st_mtime_ns
    with pytest.raises(ValueError, match=r"exists; pass overwrite=True \(--overwrite\) to replace it"):
        pretrained.convert("resnet18", str(checkpoint), str(output))
    assert output.stat().st_mtime_ns == before


def test_imagenet_names_decode_predictions_offline():
    classes = pretrained.imagenet_classes()
    assert len(classes) == 1000 and len({wnid for wnid, _ in classes}) == 1000
    assert classes[0] == ("n01440764", "tench") and classes[999] == ("n15075141", "toilet tissue")
    assert [wnid for wnid, _ in classes] == sorted(wnid for wnid, _ in classes)  # the checkpoints' order
    assert len({name for _, name in classes}) == 1000  # torchvision's names, made unique there
    scores = np.zeros((2, 1000), np.float32)
    scores[0, [1, 0, 999]] = [0.6, 0.3, 0.1]
    scores[1, 207] = 1.0
    decoded = keras_inception.decode_predictions(scores, top=3)
    assert decoded[0] == [("n01443537", "goldfish", pytest.approx(0.6)), ("n01440764", "tench", pytest.approx(0.3)),
                          ("n15075141", "toilet tissue", pytest.approx(0.1))]
    assert decoded[1][0][1] == "golden retriever"
    digits = keras_inception.decode_predictions(np.eye(10)[[3]], top=1, class_names=[str(d) for d in range(10)])
    assert digits == [[("3", "3", 1.0)]]
    with pytest.raises(ValueError, match=r"^Scores of 10 classes need `class_names`"):
        keras_inception.decode_predictions(np.eye(10))


def test_the_class_names_are_in_a_regular_wheel(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                           str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("keras_inception-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "keras_inception/pretrained/imagenet_classes.txt" in names
        assert archive.read("keras_inception/pretrained/imagenet_classes.txt").decode().count("\n") == 1004
    assert not any(name.startswith(("benchmarks/", "tests/")) for name in names)


def test_every_builder_takes_an_input_tensor():
    inputs = keras.Input((65, 65, 3))
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(inputs)
    model = keras_inception.get_model("resnet18", input_tensor=x, width_multiplier=0.25)
    assert model.input is inputs and model.layers[1].name == "to_signed"
    with pytest.raises(ValueError, match=r"^`input_shape` differs from `input_tensor`'s shape \(65, 65, 3\)"):
        keras_inception.get_model("resnet18", input_tensor=x, input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match=r"^`input_tensor` must be a Keras tensor of images"):
        keras_inception.get_model("vgg11", input_tensor=np.zeros((1, 32, 32, 3)))


def test_build_options_default_to_the_nets_as_they_were():
    plain = keras_inception.get_model("resnet18", input_shape=(64, 64, 3))
    assert not [layer for layer in plain.layers if layer.name.endswith("_pad")]
    assert {layer.epsilon for layer in plain.layers if isinstance(layer, keras.layers.BatchNormalization)} == {1e-3}
    torch_form = keras_inception.get_model("resnet18", input_shape=(64, 64, 3), symmetric_padding=True,
                                           bn_epsilon=1e-5)
    assert [layer.name for layer in torch_form.layers if layer.name.endswith("_pad")] == [
        "conv1_pad", "pool1_pad", "conv3_block1_1_pad", "conv4_block1_1_pad", "conv5_block1_1_pad"]
    assert torch_form.count_params() == plain.count_params()
    saved = json.loads(json.dumps(torch_form.get_config()))  # what a .keras file records
    assert {layer["config"]["epsilon"] for layer in saved["layers"] if layer["class_name"] == "BatchNormalization"} == {1e-5}


def test_imagenet_weights_come_from_the_local_caches(resnet18_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    with pytest.raises(ValueError) as error:
        keras_inception.get_model("resnet18", weights="imagenet")
    assert str(error.value) == (
        f"No ImageNet checkpoint of resnet18 is on this machine, and none is downloaded: put resnet18-f37072fd.pth "
        f"in {tmp_path / 'torch' / 'hub' / 'checkpoints'}/ (fetch https://download.pytorch.org/models/"
        f"resnet18-f37072fd.pth where there is a network), or the Hugging Face hub's timm/resnet18.a1_in1k in "
        f"{tmp_path / 'hf'}/ (huggingface-cli download timm/resnet18.a1_in1k). Received: weights='imagenet'")
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "resnet18-f37072fd.pth").write_bytes(resnet18_checkpoint[0].read_bytes())
    images = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    found = keras_inception.get_model("resnet18", weights="imagenet", input_shape=(64, 64, 3))
    expected = pretrained.load("resnet18", str(resnet18_checkpoint[0]), input_shape=(64, 64, 3))
    np.testing.assert_array_equal(found.predict(images, verbose=0), expected.predict(images, verbose=0))
    assert len(found.class_names) == 1000
    # Without the top, the backbone alone; with other classes, a new head on it, said in a warning.
    backbone = keras_inception.get_model("resnet18", weights="imagenet", input_shape=(64, 64, 3),
                                         include_top=False, pooling="avg")
    assert backbone.output_shape == (None, 512)
    features = keras.Model(expected.input, expected.get_layer("main_pool").output)
    np.testing.assert_allclose(backbone.predict(images, verbose=0), features.predict(images, verbose=0), atol=1e-6)
    with pytest.warns(UserWarning, match=r"resnet18: the converted ImageNet backbone with a new 10-class head; "
                                         r"freshly initialized: main$"):
        ten = keras_inception.get_model("resnet18", weights="imagenet", input_shape=(64, 64, 3), num_classes=10)
    assert ten.output_shape == (None, 10)
    np.testing.assert_array_equal(ten.get_layer("conv5_block2_2_conv").kernel.numpy(),
                                  expected.get_layer("conv5_block2_2_conv").kernel.numpy())




@pytest.mark.slow
def test_imagenet_weights_come_from_the_hugging_face_cache(reference, tmp_path, monkeypatch):
    """A timm checkpoint in the hub cache's own layout (refs/main naming the snapshot), as the hub
    client leaves it; found by huggingface_hub's walk of it."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    generated = tmp_path / "generated"
    generated.mkdir()
    checkpoint, images, logits, _ = reference("timm", "resnet18.a1_in1k", 64, generated)
    repository = tmp_path / "hf" / "models--timm--resnet18.a1_in1k"
    shutil.copytree(checkpoint, repository / "snapshots" / "4567cdef")
    older = repository / "snapshots" / "0123abcd"  # first by name, but not the main revision
    older.mkdir()
    (older / "model.safetensors").write_bytes(b"not the main revision's weights")
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text("4567cdef")
    found = keras_inception.get_model("resnet18", weights="imagenet", input_shape=(64, 64, 3),
                                      classifier_activation=None)
    assert_parity(found.predict(images, verbose=0), logits)


def _write_keras_applications(model, path):
    """The published weights format (Keras 2's legacy `.h5`), written by Keras's own writer for
    it: no public function writes it any more."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, model)
    return path


def _perturb(model, seed=0):
    """Batch-norm statistics, scales and shifts, and conv biases, away from their initial values."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            values = []
            for variable, value in zip(layer.weights, layer.get_weights()):
                kind = variable.name
                noise = rng.standard_normal(value.shape).astype("float32")
                values.append(1 + 0.2 * noise if kind == "gamma" else 0.1 * noise if kind in ("beta", "moving_mean")
                              else rng.uniform(0.5, 1.5, value.shape).astype("float32"))
            layer.set_weights(values)
        elif isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, 0.1 * rng.standard_normal(bias.shape).astype("float32")])


# (keras.applications net, input size, with the top): each family at its source's size once;
# ResNet-152 also stands for ResNet-101, which differs from it in its table only.
KERAS_CASES = [("ResNet50", 224, True), ("ResNet152", 35, True), ("VGG16", 224, True),
               ("VGG19", 32, False), ("InceptionV3", 299, True), ("InceptionResNetV2", 299, True)]
KERAS_PREPROCESSING = {"ResNet": "resnet", "VGG16": "vgg16", "VGG19": "vgg19", "InceptionV3": "inception_v3",
                       "InceptionResNetV2": "inception_resnet_v2"}


@pytest.mark.parametrize("name, size, include_top", KERAS_CASES)
@pytest.mark.slow
def test_keras_applications_files_convert_to_the_same_function(name, size, include_top, tmp_path):
    keras.utils.set_random_seed(0)
    top = {"classifier_activation": None} if include_top else {}
    reference = getattr(keras.applications, name)(weights=None, input_shape=(size, size, 3), include_top=include_top,
                                                  **top)
    _perturb(reference)
    checkpoint = _write_keras_applications(reference, tmp_path / f"{name}.h5")
    converted = pretrained.load(name, str(checkpoint), input_shape=(size, size, 3), include_top=include_top, **top)
    images = np.random.default_rng(1).random((2, size, size, 3), dtype=np.float32)
    module = getattr(keras.applications, KERAS_PREPROCESSING[name.rstrip("0123456789") if name.startswith("ResNet")
                                                             else name])
    expected = reference.predict(module.preprocess_input(255 * images), verbose=0)
    assert_parity(converted.predict(images, verbose=0), expected)


def test_a_keras_applications_file_of_another_net_is_refused(tmp_path):
    keras.utils.set_random_seed(0)
    checkpoint = _write_keras_applications(keras.applications.ResNet50(weights=None), tmp_path / "resnet50.h5")
    with pytest.raises(ValueError, match=r"resnet50\.h5 holds a ResNet50, not a VGG16\. Received: model='vgg16'$"):
        pretrained.load("vgg16", str(checkpoint))


@pytest.mark.slow
def test_imagenet_weights_come_from_the_keras_cache_too(tmp_path, monkeypatch):
    for variable, folder in (("TORCH_HOME", "torch"), ("HF_HUB_CACHE", "hf"), ("KERAS_HOME", "keras")):
        monkeypatch.setenv(variable, str(tmp_path / folder))
    with pytest.raises(ValueError, match=r"^No ImageNet checkpoint of inception_resnet_v2 is on this machine, and none "
                                         r"is downloaded: put the Hugging Face hub's timm/inception_resnet_v2\.tf_in1k "
                                         r"in .*hf/ \(huggingface-cli download timm/inception_resnet_v2\.tf_in1k\), or "
                                         r"inception_resnet_v2_weights_tf_dim_ordering_tf_kernels\.h5 "
                                         r"in .*keras/models/ \(fetch https://storage\.googleapis\.com/tensorflow/"
                                         r"keras-applications/inception_resnet_v2/"):
        keras_inception.get_model("inception_resnet_v2", weights="imagenet")
    (tmp_path / "keras" / "models").mkdir(parents=True)
    keras.utils.set_random_seed(0)
    reference = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3))
    _perturb(reference)
    path = _write_keras_applications(reference, tmp_path / "keras" / "models" /
                                     "resnet50_weights_tf_dim_ordering_tf_kernels.h5")
    found = keras_inception.get_model("resnet50", weights="imagenet", input_shape=(64, 64, 3))
    images = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    np.testing.assert_allclose(found.predict(images, verbose=0),
                               reference.predict(keras.applications.resnet.preprocess_input(255 * images), verbose=0),
                               atol=1e-5)
    assert path.exists()
