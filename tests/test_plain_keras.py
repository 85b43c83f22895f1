"""Files others can open: the inference model of every registered net, saved as `.keras`, loads
with plain Keras in a process that never imports keras_inception, and answers as ours does."""

import json
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

import keras_inception
from keras_inception.layers import LocalResponseNormalization
from keras_inception.models import inference_model
from tests.test_models import SMALL_FORMS

# Loads each file in safe mode, with only Keras imported (or, for the nets with LRN, the one
# line that registers our layer), and writes its outputs.
LOADER = """
import json, sys
import numpy as np
import keras
jobs = json.loads(sys.argv[1])
outputs, modules = {}, {}
for lrn in (False, True):
    if lrn:
        import keras_inception.layers  # registers LocalResponseNormalization
    for name, (path, images) in jobs[str(lrn).lower()].items():
        model = keras.saving.load_model(path, safe_mode=True)
        outputs[name] = keras.ops.convert_to_numpy(model(np.load(images), training=False))
    modules[str(lrn).lower()] = sorted(name.split(".")[0] for name in sys.modules)
np.savez(sys.argv[2], **outputs)
print(json.dumps(modules))
"""


def _has_lrn(model):
    return any(isinstance(layer, LocalResponseNormalization) for layer in model.layers)


def _save_inference_nets(tmp_path, images):
    """{name: (path, expected outputs, has LRN)} for every registered net's small form."""
    saved = {}
    for name in keras_inception.list_models():
        keras.utils.set_random_seed(0)
        model = keras_inception.get_model(name, **{"num_classes": 10, **SMALL_FORMS[name]})
        net = inference_model(model)
        path = tmp_path / f"{name}.keras"
        net.save(path)
        batch = images[..., : net.input_shape[-1]]
        saved[name] = (str(path), keras.ops.convert_to_numpy(net(batch, training=False)), _has_lrn(net))
    return saved


def _load_elsewhere(jobs, outputs_path):
    """Loads {"false": {name: (path, images path)}, "true": ...} in a fresh process, the nets
    without LRN before the one line that registers our layer; returns their outputs and the
    modules it had imported by the end of each part."""
    result = subprocess.run([sys.executable, "-c", LOADER, json.dumps(jobs), str(outputs_path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    modules = json.loads(result.stdout.strip().splitlines()[-1])
    return np.load(outputs_path), {lrn == "true": set(names) for lrn, names in modules.items()}


@pytest.mark.slow
def test_every_inference_net_loads_with_plain_keras_in_a_fresh_process(tmp_path):
    images = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    saved = _save_inference_nets(tmp_path, images)
    for name, (path, _, _) in saved.items():
        config = zipfile.ZipFile(path).read("config.json").decode()
        assert "TracedOnceModel" not in config and "FusedBatchNormalization" not in config, name
        # Every class the file names is Keras's, except our LRN layer.
        assert set(_registered_names(json.loads(config))) <= {"keras_inception>LocalResponseNormalization"}, name
    assert sorted(name for name, (_, _, lrn) in saved.items() if lrn) == [
        "alexnet", "googlenet", "vgg11_lrn", "zfnet", "zfnet_wide"]
    jobs = {"false": {}, "true": {}}
    for name, (path, _, lrn) in saved.items():
        channels = _input_channels(name)
        images_path = tmp_path / f"images_{channels}.npy"
        np.save(images_path, images[..., :channels])
        jobs[str(lrn).lower()][name] = (path, str(images_path))
    outputs, modules = _load_elsewhere(jobs, tmp_path / "outputs.npz")
    assert "keras_inception" not in modules[False]
    assert set(outputs) == set(keras_inception.list_models())
    for name in saved:
        np.testing.assert_allclose(outputs[name], saved[name][1], rtol=0, atol=1e-6, err_msg=name)


def _input_channels(name):
    return (SMALL_FORMS[name].get("input_shape") or keras_inception.get_spec(name).input_shape)[-1]


def _registered_names(config):
    """Every `registered_name` in a saved config that names a registered (non-Keras) class."""
    if isinstance(config, dict):
        name = config.get("registered_name")
        own = [name] if isinstance(name, str) and ">" in name else []
        return own + [found for value in config.values() for found in _registered_names(value)]
    if isinstance(config, list):
        return [found for value in config for found in _registered_names(value)]
    return []
