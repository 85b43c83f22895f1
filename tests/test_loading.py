"""Model files from others: crafted archives are refused before Keras builds anything."""

import json
import os
import zipfile

import keras
import numpy as np
import pytest

from keras_inception import loading, registry


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A small registered net (it holds one of our own registered classes) saved as .keras."""
    model = registry.get_model("googlenet_bn", input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25,
                               stem="small")
    path = tmp_path_factory.mktemp("model") / "model.keras"
    model.save(path)
    return path, model


def rewrite_archive(source, target, edit_config=None, extra_members=()):
    """A copy of the .keras archive `source`, its config passed through `edit_config`, with
    `extra_members` ((ZipInfo or name, bytes)) added."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as crafted:
        for member in original.infolist():
            content = original.read(member)
            if member.filename == "config.json" and edit_config:
                content = json.dumps(edit_config(json.loads(content))).encode()
            crafted.writestr(member, content)
        for member, content in extra_members:
            crafted.writestr(member, content)
    return target


def test_a_keras_file_of_ours_loads_in_safe_mode_and_answers_the_same(model_file):
    path, model = model_file
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    reloaded = loading.load_model(path)
    assert type(reloaded) is type(model)
    for new, old in zip(keras.tree.flatten(reloaded.predict(images, verbose=0)),
                        keras.tree.flatten(model.predict(images, verbose=0)), strict=True):
        np.testing.assert_allclose(new, old, atol=1e-6)


def test_legacy_h5_model_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = str(tmp_path / "legacy.h5")
    model.save(path)  # Keras 3 still writes the legacy format
    assert os.path.getsize(path) > 0
    with pytest.raises(ValueError, match=r"Legacy HDF5 .*model.keras.*Received: model='.*legacy\.h5'$"):
        loading.load_model(path)


def test_lambda_layer_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2)])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ValueError, match=r"lambda\.keras holds a Lambda layer, which carries Python code"):
        loading.load_model(path)


@pytest.mark.parametrize("name", ["../../escaped.txt", "/tmp/absolute.txt", "assets/../../escaped.txt"])
def test_member_leaving_the_archive_folder_is_refused(model_file, tmp_path, name):
    crafted = rewrite_archive(model_file[0], tmp_path / "crafted.keras", extra_members=[(name, b"x")])
    with pytest.raises(ValueError, match=r"leaves the archive's folder \(" + repr(name).replace(".", r"\.") + r"\)"):
        loading.load_model(crafted)
    assert not (tmp_path.parent / "escaped.txt").exists()


def test_symbolic_link_member_is_refused(model_file, tmp_path):
    link = zipfile.ZipInfo("assets/link")
    link.external_attr = (0o120777 << 16)  # S_IFLNK
    crafted = rewrite_archive(model_file[0], tmp_path / "crafted.keras", extra_members=[(link, b"/etc/passwd")])
    with pytest.raises(ValueError, match=r"symbolic link \('assets/link'\)"):
        loading.load_model(crafted)


@pytest.mark.parametrize("module, class_name, registered_name", [
    ("os", "system", None),                       # a module outside Keras
    ("builtins", "eval", None),
    ("keras.layers", "Dense", "Attacker>Dense"),   # a Keras module, someone else's registration
    ("keras_inception_evil.layers", "Conv", None),  # a look-alike of this package's name
])
def test_unexpected_config_class_is_refused(model_file, tmp_path, module, class_name, registered_name):
    def swap_first_conv(config):
        layers = config["config"]["layers"]
        conv = next(layer for layer in layers if layer["class_name"] == "Conv2D")
        conv.update(module=module, class_name=class_name, registered_name=registered_name)
        return config

    crafted = rewrite_archive(model_file[0], tmp_path / "crafted.keras", edit_config=swap_first_conv)
    with pytest.raises(ValueError, match=rf"neither Keras's nor keras_inception's \(module={module!r}, "
                                         rf"class_name={class_name!r}"):
        loading.load_model(crafted)


@pytest.mark.parametrize("content, message", [
    (b"not a zip", "not a zip file"),
    (None, "has no config.json"),
])
def test_damaged_archive_is_refused_in_one_line(model_file, tmp_path, content, message):
    path = tmp_path / "damaged.keras"
    if content is None:
        with zipfile.ZipFile(model_file[0]) as original, zipfile.ZipFile(path, "w") as damaged:
            damaged.writestr("metadata.json", original.read("metadata.json"))
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as error:
        loading.load_model(path)
    assert "\n" not in str(error.value)


def test_builders_refuse_a_crafted_keras_file_as_weights(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2)])
    path = tmp_path / "weights.keras"
    model.save(path)
    with pytest.raises(ValueError, match=r"holds a Lambda layer.*Received: weights='.*weights\.keras'$"):
        registry.get_model("lenet5", weights=str(path))
