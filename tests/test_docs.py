"""The README and docs: every command they show runs and exits 0, the code they point to runs,
the README is a front page, and its table of nets is generated from the nets."""

import json
import os
import pathlib
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest

import keras_inception
from tests.script_forks import ScriptServer

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]
TEST_COMMAND = 'python3 -m pip install -e ".[test]" && python3 -m pytest -q'
MAIN_COMMAND = 'python3 -m pip install -e ".[train,mobile]" && python3 scripts/train.py && python3 scripts/export.py'
EVALUATE_COMMAND = "python3 scripts/evaluate.py --model=saved_models/googlenet_bn_digits"
UINT8_COMMAND = ("python3 scripts/export.py --model=saved_models/googlenet_bn_digits --modes=int8 --int8_io=uint8 "
                 "--nosaved_model --output_dir=saved_models/googlenet_bn_digits/uint8_io")
TUNE_COMMAND = ("python3 scripts/tune.py --model=googlenet_bn --model_kwargs=stem=small --image_size=32 "
                "--width_multipliers=0.25,0.5 --stage_multipliers=0.5,1,1.5 --max_macs=40e6 --max_trials=6 "
                "--epochs=5 --export_modes=float32,int8")
BENCHMARK_COMMAND = 'python3 -m pip install -e ".[bench]" && python3 benchmarks/benchmark.py --models=googlenet,resnet18'
# Every command the pages show, in the order the test runs them (the exports need the main job's
# run), with the flags it appends to its first step to cut the time (absl keeps a repeated flag's
# last value): the README's main training runs 5 of its 10 epochs, and the smoke runs of a few
# steps run them untraced.
# None: run as shown by another test, not here: the test command by CI
# (test_ci_runs_the_readme_test_command), the benchmark's by its smoke test
# (benchmarks/tests/test_benchmark.py), which checks what it measured.
SHOWN_COMMANDS = {
    MAIN_COMMAND: ["--epochs=5"],
    "python3 scripts/export.py --model=saved_models/googlenet_bn_digits --modes=float32,float16,dynamic,int8 "
    "--overwrite": [],
    EVALUATE_COMMAND: [],
    UINT8_COMMAND: [],
    "python3 scripts/train.py --model=resnet18 --epochs=5": ["--epochs=1", "--steps_per_epoch=2", "--run_eagerly"],
    TUNE_COMMAND: ["--max_trials=2", "--epochs=1", "--steps_per_epoch=2", "--run_eagerly"],
    BENCHMARK_COMMAND: None,
    TEST_COMMAND: None,
}
INSTALLS = ('python3 -m pip install -e ".[train,mobile]"', 'python3 -m pip install -e ".[bench]"',
            'python3 -m pip install -e ".[test]"')


def shown_commands(page):
    """The commands of a page's ```sh blocks, one per line."""
    return [line for block in re.findall(r"```sh\n(.*?)```", page.read_text(), re.S)
            for line in block.splitlines() if line.strip()]


def test_the_pages_show_only_commands_the_suite_runs():
    shown = {command for page in PAGES for command in shown_commands(page)}
    assert shown == set(SHOWN_COMMANDS)


def command_steps(command):
    """A shown command as the scripts to run, each as [script path relative to the root,
    arguments...]: its installs dropped (the suite runs in the installed package)."""
    steps = []
    for part in command.split(" && "):
        if part in INSTALLS:
            continue
        args = shlex.split(part)
        assert args[0] == "python3", part
        steps.append(args[1:])
    return steps


@pytest.mark.slow
def test_every_shown_command_runs_and_exits_0(tmp_path):
    """In a fresh folder, as a user would type them there, one after the other. The README's
    main command runs as new processes of this interpreter; the pages' other commands run in
    processes forked from script servers, which spares each a TensorFlow import."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    outputs, servers = {}, {}
    try:
        for command, extra in SHOWN_COMMANDS.items():
            if extra is None:
                continue
            for index, (script, *arguments) in enumerate(command_steps(command)):
                arguments += extra if index == 0 else []
                if command == MAIN_COMMAND:
                    result = subprocess.run([sys.executable, str(ROOT / script), *arguments], cwd=tmp_path,
                                            env=env, capture_output=True, text=True, timeout=900)
                    returncode, stdout, stderr = result.returncode, result.stdout, result.stderr
                else:
                    name = pathlib.Path(script).name
                    server = servers.get(name) or servers.setdefault(name, ScriptServer(name, cwd=tmp_path))
                    result = server.run(arguments, timeout=900)
                    returncode, stdout, stderr = result["returncode"], result["stdout"], result["stderr"]
                assert returncode == 0, (command, stderr[-3000:])
                assert "Traceback" not in stderr, (command, stderr[-3000:])
                outputs.setdefault(command, []).append(stdout)
    finally:
        for server in servers.values():
            server.close()
    train_output, export_output = outputs[MAIN_COMMAND]
    accuracy = float(re.search(r"Test accuracy \(main head\) on 360 held-out images: ([\d.]+)%", train_output).group(1))
    assert accuracy >= 95.0
    assert "small form at 32x32 (stem=small, width_multiplier=0.25)" in train_output
    assert "Exporting the run trained last: saved_models/googlenet_bn_digits" in export_output
    run_dir = tmp_path / "saved_models" / "googlenet_bn_digits"
    for artifact in ("model.keras", "inference.keras", "saved_model/saved_model.pb", "model_float32.tflite",
                     "model_float16.tflite", "model_dynamic.tflite", "model_int8.tflite"):
        assert (run_dir / artifact).exists(), artifact
    assert (tmp_path / "saved_models" / "tune_googlenet_bn_digits" / "best" / "model_int8.tflite").exists()
    # Every artifact of the main job, side by side: the Keras file and the float32 ones score the
    # test split as training did: exactly in float32; where training ran in bfloat16 (a CPU with
    # bfloat16 instructions) it also tested in bfloat16, and the float32 files may differ by an image.
    trained_in = json.loads((run_dir / "results.json").read_text())["precision"]
    one_image = 0.0 if trained_in == "float32" else 100 / 360 + 0.01
    (evaluate_output,) = outputs[EVALUATE_COMMAND]
    top1 = {os.path.basename(path): float(share) for path, share in
            re.findall(r"^(saved_models/\S+)\s+([\d.]+)%\s+[\d.]+%\s+360$", evaluate_output, re.M)}
    assert list(top1) == ["inference.keras", "saved_model", "model_dynamic.tflite", "model_float16.tflite",
                          "model_float32.tflite", "model_int8.tflite"]
    for artifact in ("inference.keras", "saved_model", "model_float32.tflite"):
        assert abs(top1[artifact] - accuracy) <= one_image, (artifact, trained_in, evaluate_output)
    assert (run_dir / "confusion_model_int8.png").exists()

    # The app of docs/export.md, on the main job's int8 file.
    app = subprocess.run([sys.executable, str(ROOT / "examples" / "tflite_app.py")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert app.returncode == 0, app.stderr[-3000:]
    share = float(re.search(r"([\d.]+)% of 360 test digits", app.stdout).group(1))
    assert share >= 95.0
    _check_mediapipe_runs_the_files(run_dir, tmp_path, env)


def _check_mediapipe_runs_the_files(run_dir, tmp_path, env):
    """MediaPipe's ImageClassifier, given each of the main job's files alone and the 360 test
    digits as 0-255 RGB at the net's size, names the digits and picks the LiteRT interpreter's
    class; the app of docs/export.md names the same digits from image files."""
    import mediapipe as mp
    import tensorflow as tf
    from mediapipe.tasks.python import BaseOptions, vision

    from keras_inception import data
    from keras_inception.export.verify import run_tflite

    images, labels = data.digits("test")
    pixels = np.round(data.preprocessing.evaluation_view(images, 32, 3).numpy() * 255).astype(np.uint8)
    picks = {}
    for name in ("model_float32.tflite", "model_float16.tflite", "model_dynamic.tflite", "model_int8.tflite",
                 "uint8_io/model_int8.tflite"):
        options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=str(run_dir / name)),
                                                max_results=1)
        with vision.ImageClassifier.create_from_options(options) as classifier:
            picks[name] = np.array([classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=image))
                                    .classifications[0].categories[0].category_name for image in pixels])
        interpreter = run_tflite(str(run_dir / name), pixels.astype(np.float32) / 255).argmax(-1)
        assert np.mean(picks[name] == interpreter.astype(str)) >= 0.99, name
        assert np.mean(picks[name] == labels.astype(str)) >= 0.95, name
    files = [f"digit_{index}.png" for index in range(3)]
    for index, file in enumerate(files):
        (tmp_path / file).write_bytes(tf.io.encode_png(pixels[index]).numpy())
    app = subprocess.run([sys.executable, str(ROOT / "examples" / "mediapipe_app.py"), *files],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert app.returncode == 0, app.stderr[-3000:]
    named = re.findall(r"^digit_\d\.png (\d):[\d.]+ \d:[\d.]+ \d:[\d.]+$", app.stdout, re.M)
    assert named == list(picks["model_int8.tflite"][:3]), app.stdout


def _run_example(name):
    namespace = {"__name__": "__main__"}
    path = ROOT / "examples" / name
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


@pytest.mark.slow
def test_the_quickstart_is_the_readmes_and_trains_every_head():
    quickstart = (ROOT / "examples" / "quickstart.py").read_text()
    assert f"```python\n{quickstart}```" in README
    namespace = _run_example("quickstart.py")
    assert {"main_loss", "aux1_loss", "aux2_loss", "main_accuracy"} <= set(namespace["history"].history)
    probabilities = namespace["probabilities"]
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_the_tf_data_example_trains_on_the_digits():
    history = _run_example("tf_data.py")["history"].history
    assert len(history["val_main_accuracy"]) == 2 and history["main_loss"][1] < history["main_loss"][0]


def test_the_nets_example_builds_by_name():
    namespace = _run_example("nets.py")
    assert namespace["model"].output_names == ["aux", "main"]
    assert namespace["net"].input_shape == (None, 32, 32, 3)
    assert list(namespace["maps"]) == list(keras_inception.endpoint_names("vgg16"))
    assert tuple(namespace["maps"]["block5_pool"].shape) == (2, 2, 2, 512)


def test_every_page_links_to_files_that_exist():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#]+)[^)]*\)", page.read_text()):
            if "://" not in target:
                assert (page.parent / target).exists(), (page.name, target)


def test_every_test_the_reliability_page_names_exists():
    named = set(re.findall(r"`(test_\w+)`", (ROOT / "docs" / "reliability.md").read_text()))
    defined = set(re.findall(r"^def (test_\w+)\(", "\n".join(path.read_text() for path in
                                                        (ROOT / "tests").glob("test_*.py")), re.MULTILINE))
    assert len(named) >= 20 and named <= defined, sorted(named - defined)


def test_the_readme_is_a_front_page_without_a_diary():
    assert len(README.splitlines()) <= 150
    headings = [line for line in README.splitlines() if line.startswith("## ")]
    assert headings == ["## Set up", "## Quickstart", "## The nets", "## Jobs", "## Layout"]
    diary = re.compile(r"slower day|later day|this session|VM [AB]\b|been lent|on 2 CPU cores|about \d+ minutes")
    for page in PAGES:
        assert not diary.search(page.read_text()), page.name


def test_ci_runs_the_readme_test_command():
    assert f"```sh\n{TEST_COMMAND}\n```" in README
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text()


def test_readme_table_of_nets_is_generated_from_the_specs():
    from keras_inception.profile import zoo_table

    start, end = "<!-- model-table:start -->\n", "\n<!-- model-table:end -->"
    in_readme = README[README.index(start) + len(start): README.index(end)]
    expected = zoo_table(keras_inception.get_spec(name) for name in keras_inception.list_models())
    assert in_readme == expected, "regenerate it: python3 scripts/model_table.py --write_readme"


def test_the_nets_pages_spec_tables_are_generated_from_the_specs():
    from keras_inception import specs

    page = (ROOT / "docs" / "nets.md").read_text()
    every = [keras_inception.get_spec(name) for name in keras_inception.list_models()]
    for marker, table in (("spec-nets", specs.nets_table(every)), ("spec-checkpoints", specs.checkpoints_table(every))):
        start, end = f"<!-- {marker}:start -->\n", f"\n<!-- {marker}:end -->"
        assert page[page.index(start) + len(start): page.index(end)] == table, (
            "regenerate it: python3 scripts/model_table.py --write_docs")
