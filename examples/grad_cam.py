"""Grad-CAM on every head of a small GoogLeNet that learns which quadrant holds a bright patch.

    python3 examples/grad_cam.py docs/images/grad_cam.png

Writes a grid (one row per class: the image, then the overlays of main, aux1 and aux2) and
prints how often each head's hottest pixel lies in the patch's quadrant.
"""

import sys

import keras
import numpy as np

import keras_inception
from keras_inception.explain import grad_cam, overlay

HEADS = ("main", "aux1", "aux2")
PATCH = 8


def quadrant_images(count, seed):
    """Dim noise with a bright PATCH x PATCH square inside one quadrant; the label is the quadrant
    (0 top left, 1 top right, 2 bottom left, 3 bottom right)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.3, (count, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 4, count)
    for image, label in zip(images, labels):
        row = 16 * (label // 2) + rng.integers(0, 16 - PATCH + 1)
        column = 16 * (label % 2) + rng.integers(0, 16 - PATCH + 1)
        image[row:row + PATCH, column:column + PATCH] = 1.0
    return images, labels


def train_quadrant_net():
    """The training form (main, aux1, aux2) of a quarter-width GoogLeNet at 32x32, fitted."""
    keras.utils.set_random_seed(0)
    net = keras_inception.get_model("googlenet", stem="small", input_shape=(32, 32, 3), num_classes=4,
                                    width_multiplier=0.25)
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    images, labels = quadrant_images(512, seed=1)
    net.fit(images, labels, batch_size=32, epochs=4, verbose=0)
    return net


def peaks_in_quadrant(net, images, labels):
    """{head: the fraction of images whose heat map's hottest pixel lies in the patch's quadrant}."""
    found = {}
    for head in HEADS:
        heat = grad_cam(net, images, head=head)
        rows, columns = np.unravel_index(heat.reshape(len(heat), -1).argmax(axis=1), heat.shape[1:])
        found[head] = float(np.mean(2 * (rows // 16) + columns // 16 == labels))
    return found


def grid(net, images, labels, scale=4):
    """One row per class (its first image): the image, then each head's overlay; uint8 RGB."""
    rows = []
    for label in range(4):
        image = images[np.flatnonzero(labels == label)[0]]
        cells = [np.round(255 * image).astype(np.uint8)]
        cells += [overlay(image, grad_cam(net, image[None], head=head)[0]) for head in HEADS]
        rows.append(np.concatenate(cells, axis=1))
    return np.concatenate(rows, axis=0).repeat(scale, axis=0).repeat(scale, axis=1)


if __name__ == "__main__":
    net = train_quadrant_net()
    images, labels = quadrant_images(64, seed=2)
    keras.utils.save_img(sys.argv[1] if len(sys.argv) > 1 else "grad_cam.png", grid(net, images, labels))
    print({"accuracy": float(np.mean(np.argmax(net.predict(images, verbose=0)["main"], axis=-1) == labels)),
           **peaks_in_quadrant(net, images, labels)})
