"""Fine-tuning with --weights: a new head where the classes differ, the frozen phase then the
whole net, and resuming after a kill in either phase."""

import json

import keras
import numpy as np
import PIL.Image
import pytest

import keras_inception
from keras_inception import data, training
from keras_inception.training import callbacks as run_callbacks
from keras_inception.training import fine_tune, job, resume
from tests.script_forks import ScriptServer


@pytest.fixture(scope="module")
def lenet_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("weights") / "lenet5.keras"
    keras_inception.get_model("lenet5").save(path)
    return path


@pytest.fixture(scope="module")
def five_digits(tmp_path_factory):
    """A folder dataset of the digits 5-9 (32x32 grayscale files)."""
    folder = tmp_path_factory.mktemp("digits_5_to_9")
    images, labels = data.digits("all")
    for label in range(5, 10):
        (folder / str(label)).mkdir()
        for index in np.flatnonzero(labels == label)[:40]:
            PIL.Image.fromarray(np.kron(images[index, ..., 0], np.ones((4, 4), np.uint8))).save(
                folder / str(label) / f"{index}.png")
    return folder


def test_other_classes_get_a_new_head_on_the_same_backbone(lenet_file):
    original = keras.saving.load_model(lenet_file)
    model, note = fine_tune.model_from_weights(str(lenet_file), 5)
    assert note == f"Fine-tuning {lenet_file}: a new 5-class classifier replaces its 10-class one."
    assert model.output_shape == (None, 5) and model.get_layer("main").activation.__name__ == "softmax"
    for layer in original.layers[:-1]:
        for ours, theirs in zip(model.get_layer(layer.name).get_weights(), layer.get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    kept, note = fine_tune.model_from_weights(str(lenet_file), 10)
    assert note.endswith("its 10-class classifier is kept.")
    np.testing.assert_array_equal(kept.get_layer("main").kernel.numpy(), original.get_layer("main").kernel.numpy())


def test_the_frozen_phase_trains_the_classifier_alone_with_batch_norm_in_inference_mode():
    model = keras_inception.get_model("resnet18", stem="small", width_multiplier=0.125, num_classes=5)
    fine_tune.freeze_backbone(model, True)
    assert [layer.name for layer in model.layers if layer.trainable and layer.weights] == ["main"]
    model.compile("sgd", "sparse_categorical_crossentropy")
    norm = model.get_layer("conv1_bn")
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers if layer.weights}
    images = np.random.default_rng(0).random((8, 32, 32, 3), dtype=np.float32)
    model.fit(images, np.arange(8) % 5, epochs=1, verbose=0)
    for layer in model.layers:
        if layer.weights and layer.name != "main":
            for after, earlier in zip(layer.get_weights(), before[layer.name]):
                np.testing.assert_array_equal(after, earlier)  # batch norm's moving statistics too
    assert not np.array_equal(model.get_layer("main").kernel.numpy(), before["main"][0])
    assert norm.moving_mean.numpy().tolist() == before["conv1_bn"][2].tolist()
    fine_tune.freeze_backbone(model, False)
    assert all(layer.trainable for layer in model.layers)


@pytest.mark.slow
def test_fine_tuning_resumes_after_a_kill_in_either_phase(lenet_file, five_digits, tmp_path):
    command = [f"--weights={lenet_file}", f"--dataset={five_digits}", "--frozen_epochs=3", "--epochs=3",
               "--steps_per_epoch=2", f"--output_dir={tmp_path}"]
    run_dir = tmp_path / "lenet5_digits_5_to_90"
    with ScriptServer("train.py", cwd=tmp_path) as server:
        # Killed while writing a backup of the frozen phase, then of the whole net's.
        for partial, backup in ((".backup_frozen.partial", fine_tune.FROZEN_BACKUP), (".backup.partial", "backup")):
            result = server.run(command, timeout=120, kill_on=run_dir / partial)
            assert result["killed"], result["stderr"][-2000:]
            assert (run_dir / backup).exists() or (run_dir / partial).exists()
        assert resume.backup_epoch(str(run_dir / "backup")) >= 3 or (run_dir / ".backup.partial").exists()
        final = server.run(command, timeout=300)
    assert final["returncode"] == 0, final["stderr"][-3000:]
    assert "a new 5-class classifier replaces its 10-class one" in final["stdout"]
    assert [row["epoch"] for row in run_callbacks.read_history(run_dir / "history.csv")] == list(range(6))
    assert json.loads((run_dir / "results.json").read_text())["epochs_completed"] == 6
    settings = json.loads((run_dir / "run.json").read_text())
    assert settings["weights"] == str(lenet_file) and settings["frozen_epochs"] == 3


def test_fine_tuning_settings_are_checked(lenet_file):
    with pytest.raises(ValueError, match=r"^`frozen_epochs` applies to fine-tuning, with `weights`\. "
                                         r"Received: frozen_epochs=2$"):
        training.TrainConfig(frozen_epochs=2)
    with pytest.raises(ValueError, match=r"^`image_size` comes from the weights file when fine-tuning\. "
                                         r"Received: image_size=64$"):
        training.TrainConfig(weights=str(lenet_file), image_size=64)
    with pytest.raises(ValueError, match=r"^Expected an existing \.keras model file\. Received: weights='none\.keras'$"):
        training.TrainConfig(weights="none.keras")
    assert training.TrainConfig(weights=str(lenet_file)).frozen_epochs == job.DEFAULT_FROZEN_EPOCHS
