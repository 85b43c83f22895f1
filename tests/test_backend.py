"""Model code is backend-agnostic: no TensorFlow inside it, and it runs under JAX."""

import ast
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_inception
from keras_inception.layers import GOOGLENET_LRN
from tests.conftest import QUICK_XLA_FLAGS, SMALL_GOOGLENET

PACKAGE = pathlib.Path(keras_inception.__file__).parent
MODEL_CODE = [PACKAGE / "layers.py", PACKAGE / "registry.py", PACKAGE / "profile.py", PACKAGE / "validation.py",
              *sorted((PACKAGE / "models").glob("*.py"))]


@pytest.mark.parametrize("path", MODEL_CODE, ids=lambda p: p.name)
def test_model_code_imports_no_tensorflow(path):
    tree = ast.parse(path.read_text())
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in imported if name.split(".")[0] == "tensorflow"]


JAX_PROGRAM = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import keras_inception
    from keras_inception.layers import LocalResponseNormalization, GOOGLENET_LRN
    from keras_inception.training.speedups import fuse_batch_norms
    kwargs = json.loads(sys.argv[1])
    kwargs["input_shape"] = tuple(kwargs["input_shape"])
    keras.utils.set_random_seed(0)
    model = keras_inception.get_model("googlenet", **kwargs)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    images = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
    logs = model.train_on_batch(images, np.arange(4), return_dict=True)
    x = np.load(sys.argv[2])
    lrn = keras.ops.convert_to_numpy(LocalResponseNormalization(**GOOGLENET_LRN)(x))
    np.save(sys.argv[3], lrn)
    batch_norm = keras.layers.BatchNormalization(momentum=0.9)
    fuse_batch_norms([batch_norm])
    normalized = keras.ops.convert_to_numpy(batch_norm(x, training=True))
    np.savez(sys.argv[4], outputs=normalized,
             moving_variance=keras.ops.convert_to_numpy(batch_norm.moving_variance))
    print(json.dumps({"backend": keras.backend.backend(), "params": model.count_params(),
                      "logs": sorted(logs), "finite": bool(np.isfinite(logs["loss"]))}))
    """
)


@pytest.mark.slow
def test_googlenet_trains_under_jax_and_lrn_and_batch_norm_match_tensorflow(tmp_path):
    pytest.importorskip("jax")
    x = (np.random.default_rng(2).standard_normal((2, 5, 5, 32)) * 20).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    kwargs = dict(SMALL_GOOGLENET, input_shape=list(SMALL_GOOGLENET["input_shape"]))
    result = subprocess.run(
        [sys.executable, "-c", JAX_PROGRAM, json.dumps(kwargs), str(tmp_path / "x.npy"), str(tmp_path / "lrn.npy"),
         str(tmp_path / "bn.npz")],
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", XLA_FLAGS=QUICK_XLA_FLAGS),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "jax"
    assert report["params"] == keras_inception.get_model("googlenet", **SMALL_GOOGLENET).count_params()
    assert {"loss", "main_loss", "aux1_loss", "aux2_loss", "main_accuracy"} <= set(report["logs"])
    assert report["finite"]
    expected = tf.nn.local_response_normalization(x, **GOOGLENET_LRN).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "lrn.npy"), expected, rtol=1e-5, atol=1e-6)
    # Under JAX the fused batch norm is Keras's own layer: a training step as TensorFlow's.
    keras_batch_norm = keras.layers.BatchNormalization(momentum=0.9)
    expected = keras_batch_norm(x, training=True).numpy()
    under_jax = np.load(tmp_path / "bn.npz")
    np.testing.assert_allclose(under_jax["outputs"], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(under_jax["moving_variance"], keras_batch_norm.moving_variance.numpy(), rtol=1e-5)
