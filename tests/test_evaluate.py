"""Evaluation of every artifact kind on the test split that training held out: the measures,
the files, the script and its errors."""

import json
import os
import shutil

import keras
import numpy as np
import pytest

from keras_inception import data
from keras_inception.evaluation import evaluate, evaluate_scores, open_artifact
from keras_inception.evaluation.report import per_class_table, summary_table
from keras_inception.export import export_model
from tests.conftest import once_per_run
from tests.script_forks import ScriptServer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_scores_give_exact_top1_top5_per_class_and_confusion():
    # Seven classes; image i's label is its i-th highest score (rank 0: the top), so only image 0
    # is right at top-1 and images 0-4 at top-5; images 1-6 all predict class 0.
    labels = np.arange(7)
    scores = np.zeros((7, 7), np.float32)
    for image, label in enumerate(labels):
        ranking = [other for other in range(7) if other != label]
        ranking.insert(image, label)
        scores[image, ranking] = 7 - np.arange(7)
    evaluation = evaluate_scores(scores, labels, tuple("abcdefg"), artifact="m.keras", kind="keras")
    assert evaluation.top1 == pytest.approx(1 / 7)
    assert evaluation.top_k == pytest.approx(5 / 7) and evaluation.k == 5
    np.testing.assert_array_equal(evaluation.per_class, [1, 0, 0, 0, 0, 0, 0])
    assert evaluation.confusion.sum() == 7 and evaluation.confusion[0, 0] == 1
    predicted = scores.argmax(-1)
    for image, label in enumerate(labels):
        assert evaluation.confusion[label, predicted[image]] == 1
    written = evaluation.to_json()
    assert written["top1"] == pytest.approx(1 / 7) and written["top5"] == pytest.approx(5 / 7)
    assert written["per_class"][1] == {"class": "b", "images": 1, "accuracy": 0.0}
    # A class without test images has no accuracy, not 0%.
    missing = evaluate_scores(scores[:3], labels[:3], tuple("abcdefg"))
    assert np.isnan(missing.per_class[6]) and missing.to_json()["per_class"][6]["accuracy"] is None
    assert per_class_table([missing]).splitlines()[2 + 6].split() == ["g", "0", "-"]


def test_scores_of_another_class_count_are_refused():
    with pytest.raises(ValueError, match=r"^m.tflite scores 10 classes; the dataset has 3\. "
                                         r"Received: scores.shape=\(4, 10\)$"):
        evaluate_scores(np.zeros((4, 10)), np.zeros(4, int), ("a", "b", "c"), artifact="m.tflite")


@pytest.fixture(scope="session")
def exported_run(digits_run, tmp_path_factory, worker_id):
    """A copy of the digits run (model.keras and run.json) with every artifact kind exported,
    so that the export tests' own files beside the original are left alone: made once per run
    (only `test_every_artifact_scores_the_split_training_held_out` writes into it)."""

    def export():
        run = tmp_path_factory.mktemp("evaluated_run")
        for name in ("model.keras", "run.json"):
            shutil.copy(os.path.join(digits_run.run_dir, name), run / name)
        export_model(str(run), modes=("float32", "int8"), calibration_images=64, verification_images=32)
        return run

    return once_per_run(tmp_path_factory, worker_id, "exported_run", export)


@pytest.mark.slow
def test_every_artifact_scores_the_split_training_held_out(digits_run, exported_run):
    evaluations = evaluate([str(exported_run)])
    by_name = {os.path.basename(evaluation.artifact): evaluation for evaluation in evaluations}
    assert list(by_name) == ["inference.keras", "saved_model", "model_float32.tflite", "model_int8.tflite"]
    assert [evaluation.kind for evaluation in evaluations] == ["keras", "saved_model", "tflite", "tflite"]
    for evaluation in evaluations:
        assert evaluation.images == digits_run.test_size == 360
        assert evaluation.confusion.sum() == 360
        assert evaluation.class_names == tuple("0123456789")
    # The training job's own test accuracy on the split it held out, to the image.
    assert by_name["inference.keras"].top1 == pytest.approx(digits_run.test_accuracy, abs=1e-6)  # float32
    for name in ("saved_model", "model_float32.tflite"):
        np.testing.assert_array_equal(by_name[name].confusion, by_name["inference.keras"].confusion)
    assert abs(by_name["model_int8.tflite"].top1 - by_name["inference.keras"].top1) <= 0.02
    assert by_name["inference.keras"].top_k >= by_name["inference.keras"].top1
    for stem in ("inference", "saved_model", "model_float32", "model_int8"):
        assert (exported_run / f"confusion_{stem}.png").read_bytes()[:8] == PNG_SIGNATURE
        saved = json.loads((exported_run / f"evaluation_{stem}.json").read_text())
        assert saved["top1"] == pytest.approx(by_name[next(n for n in by_name if n.startswith(stem))].top1)
    assert not [path for path in exported_run.iterdir() if ".partial" in path.name]
    assert summary_table(evaluations).splitlines()[0].split() == ["artifact", "top-1", "top-5", "images"]


@pytest.mark.slow
def test_the_keras_artifact_matches_the_model_on_each_class(digits_run, exported_run):
    model = keras.saving.load_model(exported_run / "inference.keras")
    test_images, test_labels = data.digits("test")
    batches = data.make_dataset(data.from_arrays(test_images, test_labels), image_size=32, channels=1,
                                training=False, batch_size=360)
    predicted = model.predict(next(iter(batches))[0], verbose=0).argmax(-1)
    (evaluation,) = evaluate([str(exported_run / "inference.keras")], write_files=False)
    for label in range(10):
        expected = np.mean(predicted[test_labels == label] == label)
        assert evaluation.per_class[label] == pytest.approx(expected)


@pytest.mark.slow
def test_the_script_compares_artifacts_and_writes_where_told(exported_run, tmp_path):
    models = f"{exported_run / 'inference.keras'},{exported_run / 'model_int8.tflite'}"
    with ScriptServer("evaluate.py", cwd=tmp_path) as server:
        done = server.run([f"--model={models}", f"--output_dir={tmp_path / 'out'}"], timeout=300)
    assert done["returncode"] == 0, done["stderr"][-2000:]
    lines = done["stdout"].splitlines()
    rows = [line.split() for line in lines if line.startswith(str(exported_run))]
    assert [row[0] for row in rows[:2]] == models.split(",")
    assert all(row[-1] == "360" for row in rows[:2])
    header = next(line for line in lines if line.startswith("class"))
    assert header.split() == ["class", "images", "#1", "#2"]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "confusion_inference.png", "confusion_model_int8.png", "evaluation_inference.json",
        "evaluation_model_int8.json"]


def test_a_saved_model_without_the_float_signature_is_refused(tmp_path):
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    model.export(str(tmp_path / "plain"), verbose=False)
    with pytest.raises(ValueError, match=r"has no 'serve_float' signature .* its signatures: \['serve', "
                                         r"'serving_default'\]\. Received: model="):
        open_artifact(str(tmp_path / "plain"))


@pytest.mark.parametrize("name, message", [
    ("missing.keras", r"^The model path does not exist\. Received: model='.*missing\.keras'$"),
    ("model.onnx", r"^Expected a \.keras file, a SavedModel folder \(holding saved_model\.pb\) or a \.tflite "
                   r"file\. Received: model='.*model\.onnx'$"),
    ("empty_run", r"^.*empty_run holds no model to evaluate \(\.keras, saved_model/ or \.tflite\)\. "
                  r"Received: model='.*empty_run'$"),
])
def test_paths_that_are_no_artifact_are_refused_in_one_line(tmp_path, name, message):
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(ValueError, match=message):
        evaluate([str(tmp_path / name)])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty_run", "model.onnx"]


def test_a_run_with_other_split_settings_is_evaluated_on_its_own_test_split(tmp_path):
    folder = tmp_path / "shapes"
    rng = np.random.default_rng(0)
    import PIL.Image

    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        for index in range(20):
            PIL.Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / name / f"{index}.png")
    run = {"dataset": str(folder), "test_fraction": 0.5, "validation_fraction": 0.2, "seed": 3}
    splits = data.splits_of_run(run)
    trained_on = data.load_splits(str(folder), test_fraction=0.5, validation_fraction=0.2, seed=3)
    assert splits.sizes == trained_on.sizes == {"train": 12, "validation": 8, "test": 20}
    assert splits.class_names == ("a", "b")
    test_of = [sorted(image.tobytes() for image, _ in split.test.as_numpy_iterator()) for split in (splits, trained_on)]
    assert test_of[0] == test_of[1]
    assert data.splits_of_run({"dataset": str(folder)}).sizes["test"] == 8


@pytest.mark.slow
def test_predict_names_the_digits_from_every_artifact_kind(exported_run, tmp_path):
    import PIL.Image

    images, labels = data.digits("test")
    paths = []
    for index in range(12):
        path = tmp_path / f"digit_{index}.png"
        PIL.Image.fromarray(images[index, ..., 0]).save(path)  # grayscale files, as a user has them
        paths.append(str(path))
    named = {}
    with ScriptServer("predict.py", cwd=tmp_path) as server:
        runs = {artifact: server.run([f"--model={exported_run / artifact}", "--top=3", *paths], timeout=300)
                for artifact in ("inference.keras", "saved_model", "model_int8.tflite")}
        overlaid = server.run([f"--model={exported_run / 'model.keras'}", "--top=1", "--grad_cam=heat",
                               "--grad_cam_head=aux1", *paths[:2]], timeout=300)
        refused = server.run([f"--model={exported_run / 'model_int8.tflite'}", "--grad_cam=refused", paths[0]])
        no_head = server.run([f"--model={exported_run / 'inference.keras'}", "--grad_cam=heat",
                              "--grad_cam_head=aux1", paths[0]])
    for artifact, done in runs.items():
        assert done["returncode"] == 0, done["stderr"][-2000:]
        lines = done["stdout"].splitlines()
        assert lines[0] == paths[0] and len(lines) == 12 * 4
        named[artifact] = [int(lines[4 * index + 1].split()[1]) for index in range(12)]
        scores = [float(lines[4 * index + rank].split()[-1]) for index in range(12) for rank in (1, 2, 3)]
        assert all(0 <= score <= 1 for score in scores)
        assert all(scores[3 * index] >= scores[3 * index + 1] >= scores[3 * index + 2] for index in range(12))
    assert named["inference.keras"] == named["saved_model"] == named["model_int8.tflite"]
    # Mostly right: the tiny 3-epoch net's test accuracy moves with the float rounding of its
    # training (threads, kernels), by more than one of 12 images.
    assert np.mean(np.array(named["inference.keras"]) == labels[:12]) >= 0.75

    # --grad_cam: each image's overlay for the head named, from the training form's .keras file.
    assert overlaid["returncode"] == 0, overlaid["stderr"][-2000:]
    assert overlaid["stdout"].splitlines()[2::3] == [f"  Grad-CAM (aux1): heat/digit_{index}.aux1.png" for index in (0, 1)]
    overlay = keras.utils.img_to_array(keras.utils.load_img(tmp_path / "heat" / "digit_0.aux1.png"))
    assert overlay.shape == (32, 32, 3)
    assert refused["returncode"] == 2 and not (tmp_path / "refused").exists()
    assert refused["stderr"].strip().splitlines()[-1].endswith(
        f"Grad-CAM needs a .keras file's gradients; {exported_run / 'model_int8.tflite'} is a tflite artifact. "
        f"Received: model='{exported_run / 'model_int8.tflite'}'")
    assert no_head["returncode"] == 2  # the inference net has dropped the auxiliary heads
    assert no_head["stderr"].strip().splitlines()[-1].endswith(
        "The model has no head 'aux1'; its heads: main. Received: head='aux1'")


def test_predict_refuses_a_file_that_is_no_image(exported_run, tmp_path):
    from keras_inception.evaluation.predict import predict_files

    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match=r"notes\.png is not an image TensorFlow decodes \(PNG, JPEG, GIF or BMP\)\. "
                                         r"Received: image="):
        predict_files(str(exported_run / "inference.keras"), [str(tmp_path / "notes.png")])
    with pytest.raises(ValueError, match=r"^The image file does not exist\. Received: image='missing.png'$"):
        predict_files(str(exported_run / "inference.keras"), ["missing.png"])
