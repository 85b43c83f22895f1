import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_inception  # noqa: E402

# Small GoogLeNet used wherever a test trains or saves: 32x32 input, a quarter of the widths.
SMALL_GOOGLENET = dict(stem="small", input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def googlenet_paper():
    """The full paper GoogLeNet with both aux heads, at 224x224: built once per run."""
    return keras_inception.get_model("googlenet")


@pytest.fixture(scope="session")
def googlenet_paper_no_aux():
    return keras_inception.get_model("googlenet", aux_heads=False)


@pytest.fixture
def small_googlenet():
    return keras_inception.get_model("googlenet", **SMALL_GOOGLENET)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.random((8, 32, 32, 3), dtype=np.float32)


@pytest.fixture
def labels():
    return np.arange(8) % 10
