"""Grad-CAM on a small GoogLeNet that the test trains to name the quadrant holding a bright patch:
the method's definition computed independently, the net nested in other models, JAX, bad input."""

import os
import runpy
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_inception
from keras_inception.explain import grad_cam
from keras_inception.models import inference_model
from keras_inception.validation import UsageError
from tests.conftest import QUICK_XLA_FLAGS, ROOT, SMALL_GOOGLENET, once_per_run

# The example's data and training: docs/explain.md's figure comes from the same net.
EXAMPLE = runpy.run_path(str(ROOT / "examples" / "grad_cam.py"))


@pytest.fixture(scope="session")
def trained_file(tmp_path_factory, worker_id):
    """The example's net, trained by the first worker to ask and saved for the others."""
    def train():
        path = tmp_path_factory.mktemp("quadrants") / "net.keras"
        EXAMPLE["train_quadrant_net"]().save(path)
        return path

    return once_per_run(tmp_path_factory, worker_id, "quadrant_net", train)


@pytest.fixture(scope="session")
def trained(trained_file):
    return keras.saving.load_model(trained_file)


@pytest.fixture(scope="session")
def held_out():
    return EXAMPLE["quadrant_images"](64, seed=2)


def definition(net, images, head, map_name):
    """Grad-CAM as its paper defines it, on a twin of `net` whose heads give logits."""
    twin = keras_inception.get_model("googlenet", **{**SMALL_GOOGLENET, "num_classes": 4},
                                     classifier_activation=None)
    twin.set_weights(net.get_weights())
    probe = keras.Model(twin.input, [twin.get_layer(map_name).output, twin.get_layer(head).output])
    images = tf.constant(images)
    with tf.GradientTape() as tape:
        maps, logits = probe(images, training=False)
        score = tf.reduce_sum(tf.reduce_max(logits, axis=-1))
    weights = tf.reduce_mean(tape.gradient(score, maps), axis=(1, 2), keepdims=True)
    heat = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))[..., None]
    return tf.image.resize(heat, images.shape[1:3], method="bilinear").numpy()[..., 0]


def test_the_model_learned_the_quadrants(trained, held_out):
    images, labels = held_out
    accuracy = np.mean(np.argmax(trained.predict(images, verbose=0)["main"], axis=-1) == labels)
    assert accuracy >= 0.9


@pytest.mark.parametrize("head, map_name", [("main", "inception_5b"), ("aux1", "inception_4a")])
def test_heat_maps_follow_the_definition(trained, held_out, head, map_name):
    images = held_out[0]
    heat = grad_cam(trained, images, head=head)
    assert heat.shape == (64, 32, 32) and heat.min() >= 0.0 and heat.max() <= 1.0
    np.testing.assert_allclose(heat.max(axis=(1, 2)), 1.0, atol=1e-6)
    expected = definition(trained, images, head, map_name)
    for ours, theirs in zip(heat, expected):
        assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] >= 0.99
    np.testing.assert_allclose(grad_cam(trained, images, head=head, layer=map_name), heat, atol=1e-6)


def test_a_net_nested_in_other_models_gives_the_same_heat_maps(trained, held_out):
    images = held_out[0]
    sequential = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Rescaling(1.0),
                                   inference_model(trained)])
    np.testing.assert_allclose(grad_cam(sequential, images), grad_cam(trained, images), atol=1e-5)

    inputs = keras.Input((32, 32, 3))
    outputs = trained(keras.layers.Rescaling(1.0)(inputs))
    functional = keras.Model(inputs, keras.layers.Dense(2, name="users_head")(outputs["main"]))
    wrapped = keras.Model(inputs, functional(inputs))  # two levels deep
    np.testing.assert_allclose(grad_cam(wrapped, images, head="aux1"), grad_cam(trained, images, head="aux1"),
                               atol=1e-5)


def test_the_class_explained_can_be_chosen(trained, held_out):
    images, labels = held_out
    wrong = (labels + 1) % 4
    ours = grad_cam(trained, images, class_index=wrong)
    twin_top = grad_cam(trained, images)
    assert not np.allclose(ours, twin_top)
    np.testing.assert_allclose(grad_cam(trained, images[:1], class_index=int(wrong[0])), ours[:1], atol=1e-6)


def test_jax_gives_the_heat_maps_tensorflow_gives(trained_file, trained, held_out, tmp_path):
    images = held_out[0][:8]
    np.save(tmp_path / "images.npy", images)
    program = (
        "import sys, numpy as np, keras\n"
        "from keras_inception.explain import grad_cam\n"
        "folder = sys.argv[1]\n"
        "net = keras.saving.load_model(sys.argv[2])\n"
        "images = np.load(folder + '/images.npy')\n"
        "for head in ('main', 'aux1'):\n"
        "    np.save(f'{folder}/{head}.npy', grad_cam(net, images, head=head))\n"
        "print(keras.backend.backend())\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT),
           "XLA_FLAGS": QUICK_XLA_FLAGS}
    done = subprocess.run([sys.executable, "-c", program, str(tmp_path), str(trained_file)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "jax"
    for head in ("main", "aux1"):
        np.testing.assert_allclose(np.load(tmp_path / f"{head}.npy"), grad_cam(trained, images, head=head),
                                   atol=1e-4)


@pytest.mark.parametrize("arguments, message", [
    (dict(head="aux3"), "The model has no head 'aux3'; its heads: aux1, aux2, main. Received: head='aux3'"),
    (dict(layer="aux1_flatten"), "Grad-CAM weights a 4-D feature map; 'aux1_flatten' gives shape (None, 128). "
                                 "Received: layer='aux1_flatten'"),
    (dict(layer="no_such_layer"), "has no layer 'no_such_layer'. Received: layer='no_such_layer'"),
    (dict(head="aux1", layer="inception_5b"), "The layer 'inception_5b' does not feed the head 'aux1'. "
                                              "Received: layer='inception_5b'"),
    (dict(class_index=4), "`class_index` must be None, a class in [0, 4) or one per image (2). "
                          "Received: class_index=4"),
])
def test_bad_arguments_are_one_line(trained, held_out, arguments, message):
    with pytest.raises(UsageError) as raised:
        grad_cam(trained, held_out[0][:2], **arguments)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_the_inference_form_has_no_auxiliary_head(trained, held_out):
    with pytest.raises(UsageError, match=r"has no head 'aux1'; its heads: main\. Received"):
        grad_cam(inference_model(trained), held_out[0][:2], head="aux1")


def test_the_docs_figure_and_where_the_peaks_land(trained, held_out):
    """docs/explain.md's grid, and what it says of how often each head's hottest pixel lies in the
    patch's quadrant: the auxiliary heads' 8x8 maps find it, the main head's 4x4 map does not."""
    images, labels = held_out
    figure = EXAMPLE["grid"](trained, images, labels, scale=1)
    assert figure.shape == (4 * 32, 4 * 32, 3) and figure.dtype == np.uint8
    found = EXAMPLE["peaks_in_quadrant"](trained, images, labels)
    assert found["aux1"] >= 0.8 and found["aux2"] >= 0.5 and found["main"] <= 0.25, found
