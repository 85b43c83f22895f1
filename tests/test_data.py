"""Input pipelines: sources, the training and evaluation views, and a real short fit."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_inception import data


def _first_batch(dataset):
    images, labels = next(iter(dataset))
    return images.numpy(), labels.numpy()


def test_digits_split_is_stratified_disjoint_and_offline():
    train_x, train_y = data.digits("train")
    test_x, test_y = data.digits("test")
    all_x, _ = data.digits("all")
    assert (train_x.shape, test_x.shape, all_x.shape) == ((1437, 8, 8, 1), (360, 8, 8, 1), (1797, 8, 8, 1))
    assert train_x.dtype == np.uint8 and train_x.max() == 255
    assert np.bincount(test_y).min() >= 35  # every class held out
    train_rows = {row.tobytes() for row in train_x}
    assert sum(row.tobytes() in train_rows for row in test_x) < 5  # only exact duplicate images
    np.testing.assert_array_equal(data.digits("test")[1], test_y)  # the split is fixed


@pytest.mark.parametrize("training, augmentation", [(True, "cifar"), (True, "inception"), (False, "auto")])
def test_views_have_the_model_shape_dtype_and_range(training, augmentation):
    train_x, train_y = data.digits("train")
    dataset = data.make_dataset(
        data.from_arrays(train_x[:64], train_y[:64]), image_size=32, channels=3,
        training=training, batch_size=16, augmentation=augmentation,
    )
    images, labels = _first_batch(dataset)
    assert images.shape == (16, 32, 32, 3) and images.dtype == np.float32
    assert labels.shape == (16,) and labels.dtype == np.int32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.max() > 0.5
    np.testing.assert_array_equal(images[..., 0], images[..., 2])  # grayscale -> RGB


@pytest.mark.parametrize("augmentation", ["cifar", "inception"])
def test_training_is_random_and_evaluation_deterministic(augmentation):
    # A global seed, as a reproducible training run sets it: epochs must still differ.
    keras.utils.set_random_seed(1234)
    images = np.random.default_rng(0).integers(0, 256, (8, 48, 48, 3), dtype=np.uint8)
    source = data.from_arrays(images, np.arange(8))
    train = data.make_dataset(source, image_size=32, training=True, batch_size=8, shuffle_buffer=1,
                              augmentation=augmentation)
    first, second = _first_batch(train)[0], _first_batch(train)[0]
    assert not np.allclose(first, second)
    evaluation = data.make_dataset(source, image_size=32, training=False, batch_size=8)
    np.testing.assert_array_equal(_first_batch(evaluation)[0], _first_batch(evaluation)[0])


def test_a_seed_makes_the_training_views_reproducible():
    images = np.random.default_rng(0).integers(0, 256, (8, 48, 48, 3), dtype=np.uint8)

    def first_epoch(seed):
        source = data.from_arrays(images, np.arange(8))
        return _first_batch(data.make_dataset(source, image_size=32, training=True, batch_size=8, seed=seed))

    (images_a, labels_a), (images_b, labels_b) = first_epoch(7), first_epoch(7)
    np.testing.assert_array_equal(images_a, images_b)
    np.testing.assert_array_equal(labels_a, labels_b)
    assert not np.allclose(first_epoch(8)[0], images_a)


def test_evaluation_view_is_the_central_crop_for_large_images():
    image = np.zeros((1, 256, 256, 3), np.uint8)
    image[:, 16:240, 16:240] = 255  # the central 224x224 is white, the border black
    images, _ = _first_batch(data.make_dataset(data.from_arrays(image, [0]), image_size=224, training=False, batch_size=1))
    assert images.min() > 0.99


@pytest.mark.parametrize("height, width, shown", [(224, 224, 196), (200, 300, 175), (512, 448, 392)])
def test_evaluation_view_antialiases_only_a_downscale(height, width, shown):
    images = tf.constant(np.random.default_rng(0).random((2, height, width, 3), dtype=np.float32))
    view = data.preprocessing.center_crop_and_resize(images, 224).numpy()
    top, left = (height - shown) // 2, (width - shown) // 2
    crop = images[:, top : top + shown, left : left + shown]
    antialiased = tf.image.resize(crop, (224, 224), antialias=True).numpy()
    if shown > 224:
        np.testing.assert_array_equal(view, antialiased)
    else:
        # Bilinear interpolation either way: the two kernels differ in rounding and at the edges.
        np.testing.assert_array_equal(view, tf.image.resize(crop, (224, 224)).numpy())
        np.testing.assert_allclose(view, antialiased, atol=1e-4)


def test_inception_augmentation_uses_the_paper_ranges_and_varies():
    assert data.preprocessing.CROP_AREA_RANGE == (0.08, 1.0)
    assert data.preprocessing.CROP_ASPECT_RATIO_RANGE == (3 / 4, 4 / 3)
    # A horizontal ramp: crops and flips change the mean and the left-right order.
    ramp = tf.tile(tf.reshape(tf.linspace(0.0, 1.0, 96), (1, 96, 1)), (96, 1, 3))
    views = [data.preprocessing.inception_augment(ramp, 32, tf.constant([0, seed])).numpy()
             for seed in range(12)]
    assert all(view.shape == (32, 32, 3) and 0 <= view.min() and view.max() <= 1 for view in views)
    assert np.std([view.mean() for view in views]) > 0.02
    assert {bool(view[:, 0].mean() < view[:, -1].mean()) for view in views} == {True, False}


def test_tfds_source_through_mock_data():
    with tfds.testing.mock_data(num_examples=12):
        dataset, num_classes = data.from_tfds("cifar10", "train")
        images, labels = _first_batch(data.make_dataset(dataset, image_size=32, training=True, batch_size=4))
    assert num_classes == 10
    assert images.shape == (4, 32, 32, 3) and labels.dtype == np.int32


def test_missing_tfds_data_is_a_clear_error_not_a_download(tmp_path):
    with pytest.raises(ValueError, match="not prepared.*downloads are off.*Received: name='cifar10'"):
        data.from_tfds("cifar10", "train", data_dir=str(tmp_path))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: data.from_arrays(np.zeros((4, 8)), np.zeros(4, int)), "images.shape=(4, 8)"),
        (lambda: data.from_arrays(np.zeros((4, 8, 8)), np.zeros(3, int)), "labels.shape=(3,)"),
        (lambda: data.from_arrays(np.zeros((4, 8, 8)), np.zeros(4)), "labels.dtype=float64"),
        (lambda: data.make_dataset(data.from_arrays(np.zeros((1, 8, 8)), [0]), image_size=0, training=True), "image_size=0"),
        (lambda: data.make_dataset(data.from_arrays(np.zeros((1, 8, 8)), [0]), image_size=8, training=True, augmentation="mixup"), "augmentation='mixup'"),
        (lambda: data.digits("valid"), "split='valid'"),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match="Received: " + message.replace("(", r"\(").replace(")", r"\)")):
        call()


def _write_image_folder(root, classes=("cat", "dog"), per_class=6):
    """Real image files of varied sizes, formats and channel counts, one folder per class."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(classes):
        os.makedirs(root / name, exist_ok=True)
        for index in range(per_class):
            image = rng.integers(0, 256, (20 + index, 24, 3), dtype=np.uint8)
            image[..., label] = 255  # a class colour, so the label is visible in the pixels
            encoded = tf.io.encode_png(image[..., :1]) if index == 0 else tf.io.encode_jpeg(image)
            tf.io.write_file(str(root / name / f"{index}.{'png' if index == 0 else 'jpg'}"), encoded)
    return root


def test_folder_source_skips_counts_and_names_unreadable_files(tmp_path):
    root = _write_image_folder(tmp_path / "pets")
    (root / "cat" / "zero.jpg").write_bytes(b"")
    good = (root / "cat" / "1.jpg").read_bytes()
    (root / "cat" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (root / "dog" / "notes.png").write_text("not an image")
    tf.io.write_file(str(root / "dog" / "png_named.jpg"), tf.io.encode_png(np.zeros((9, 9, 3), np.uint8)))
    (root / "dog" / "readme.txt").write_text("ignored: not an image extension")
    with pytest.warns(UserWarning, match=r"skipped 3 of 16 files") as caught:
        source = data.from_folder(str(root))
    message = str(caught[0].message)
    assert all(name in message for name in ("zero.jpg", "truncated.jpg", "notes.png"))
    assert source.class_names == ("cat", "dog")
    assert sorted(os.path.basename(path) for path in source.skipped) == ["notes.png", "truncated.jpg", "zero.jpg"]
    examples = list(source.splits["train"].as_numpy_iterator())  # a whole pass, no crash
    assert len(examples) == source.sizes["train"] == 13
    assert all(image.shape[-1] == 3 and image.dtype == np.uint8 for image, _ in examples)  # PNG gray -> RGB
    assert sorted(np.bincount([label for _, label in examples])) == [6, 7]
    # Through the training pipeline as well: every image arrives, resized and batched.
    batches = data.make_dataset(source.splits["train"], image_size=16, training=True, batch_size=5)
    assert sum(len(labels) for _, labels in batches) == 13
    # A random crop of a decoded file loses the static shape; the pipeline restores it (with
    # an unknown channel count the training step ran about 25% slower).
    for augmentation in ("inception", "cifar", "none"):
        spec = data.make_dataset(source.splits["train"], image_size=16, training=True,
                                 augmentation=augmentation).element_spec[0]
        assert spec.shape.as_list() == [None, 16, 16, 3]


def test_folder_source_converts_cmyk_and_grayscale_jpegs_to_rgb(tmp_path):
    from PIL import Image  # Pillow comes with matplotlib; TensorFlow cannot write CMYK

    colours = {"cmyk_red.jpg": ("CMYK", (0, 255, 255, 0), (255, 0, 0)),  # print scans, Photoshop files
               "gray.jpg": ("L", 128, (128, 128, 128)),
               "rgb_blue.jpg": ("RGB", (0, 0, 255), (0, 0, 255))}
    os.makedirs(tmp_path / "only")
    for name, (mode, colour, _) in colours.items():
        Image.new(mode, (12, 10), colour).save(tmp_path / "only" / name, "JPEG", quality=95)
    assert Image.open(tmp_path / "only" / "cmyk_red.jpg").mode == "CMYK"
    source = data.from_folder(str(tmp_path))
    assert source.skipped == () and source.sizes["train"] == 3
    images = list(source.splits["train"].as_numpy_iterator())
    by_colour = sorted(tuple(image[5, 6]) for image, _ in images)
    assert all(image.shape == (10, 12, 3) for image, _ in images)
    for decoded, (_, _, expected) in zip(by_colour, sorted(colours.values(), key=lambda entry: entry[2])):
        np.testing.assert_allclose(decoded, expected, atol=3)  # JPEG rounding


def test_folder_split_is_stratified_disjoint_and_fixed(tmp_path):
    root = _write_image_folder(tmp_path / "pets", per_class=10)
    os.makedirs(root / "empty_class")
    with pytest.warns(UserWarning, match="no images in class folder.*empty_class"):
        source = data.from_folder(str(root), validation_fraction=0.2, test_fraction=0.3, seed=1)
    assert source.sizes == {"train": 10, "test": 6, "validation": 4}
    assert source.class_names == ("cat", "dog", "empty_class")  # labels do not shift
    labels = {name: [label for _, label in split.as_numpy_iterator()] for name, split in source.splits.items()}
    assert np.bincount(labels["test"]).tolist() == [3, 3]
    pixels = {name: {image.tobytes() for image, _ in split.as_numpy_iterator()} for name, split in source.splits.items()}
    assert not (pixels["train"] & pixels["test"]) and not (pixels["train"] & pixels["validation"])
    with pytest.warns(UserWarning):
        again = data.from_folder(str(root), validation_fraction=0.2, test_fraction=0.3, seed=1)
    assert {image.tobytes() for image, _ in again.splits["test"].as_numpy_iterator()} == pixels["test"]


def test_load_splits_uses_train_and_test_folders(tmp_path):
    _write_image_folder(tmp_path / "pets" / "train", per_class=10)
    _write_image_folder(tmp_path / "pets" / "test", per_class=3)
    splits = data.load_splits(str(tmp_path / "pets"), validation_fraction=0.2)
    assert (splits.name, splits.num_classes, splits.channels) == ("pets", 2, 3)
    assert splits.sizes == {"train": 16, "validation": 4, "test": 6}


def test_load_splits_digits_holds_out_validation_from_train_only():
    splits = data.load_splits("digits", validation_fraction=0.1)
    assert splits.sizes == {"train": 1295, "validation": 142, "test": 360}  # 10% of each class
    assert (splits.num_classes, splits.channels) == (10, 1)
    test = {image.tobytes() for image, _ in splits.test.as_numpy_iterator()}
    validation = {image.tobytes() for image, _ in splits.validation.as_numpy_iterator()}
    assert len(validation & test) < 3  # only the few exact duplicate digits in the data


def test_load_splits_tfds_through_mock_data():
    with tfds.testing.mock_data(num_examples=20):
        splits = data.load_splits("mnist")
        image, label = next(iter(splits.train))
    assert (splits.num_classes, splits.channels) == (10, 1)
    assert image.shape == (28, 28, 1) and splits.sizes["train"] > 0


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist. Received: dataset="):
        data.load_splits(str(tmp_path / "nowhere"))
    (tmp_path / "flat").mkdir()
    with pytest.raises(ValueError, match="one sub-folder per class"):
        data.from_folder(str(tmp_path / "flat"))
