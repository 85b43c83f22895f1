"""The optional packages: `import keras_inception` loads none of them, and a job whose extra is
missing stops with one line naming the extra."""

import json
import subprocess
import sys

import numpy as np
import pytest

from keras_inception import extras
from keras_inception.evaluation.report import evaluate_scores
from tests.conftest import ROOT, script_path

OPTIONAL_MODULES = ("mediapipe", "cv2", "matplotlib", "keras_tuner", "tensorflow_datasets", "sklearn", "torch", "jax",
                    "ai_edge_litert", "safetensors", "tensorboard", "PIL")

LOADED_BY_THE_IMPORT = """
import json, sys
import keras
before = set(sys.modules)
import keras_inception
print(json.dumps(sorted({name.partition(".")[0] for name in set(sys.modules) - before})))
"""


def test_import_loads_no_optional_package_beyond_what_keras_loads():
    result = subprocess.run([sys.executable, "-c", LOADED_BY_THE_IMPORT], capture_output=True, text=True, check=True,
                            cwd=ROOT)
    added = json.loads(result.stdout)
    assert added == ["keras_inception"]


def test_setup_installs_only_the_mission_packages_and_names_every_extra():
    setup = (ROOT / "setup.py").read_text()
    required = setup.split("install_requires=[", 1)[1].split("]", 1)[0]
    assert [line.split('"')[1] for line in required.splitlines() if line.strip().startswith('"')] == [
        "tensorflow>=2.16", "keras>=3.14", "tensorflow-datasets", "keras-tuner", "absl-py"]
    assert set(extras.EXTRAS) == {"train", "mobile", "images", "evaluate", "pretrained"}
    assert "mediapipe>=0.10.30" in extras.all_extras() and len(extras.all_extras()) == 7


@pytest.mark.parametrize("blocked, extra", [("sklearn", "evaluate"), ("scipy", None)])
def test_a_missing_package_names_its_extra_and_a_broken_one_keeps_its_error(monkeypatch, blocked, extra):
    """sklearn missing is the evaluate extra; scipy missing under an installed sklearn is a broken
    install, whose own error stays."""
    for name in [name for name in sys.modules if name.partition(".")[0] in ("sklearn", blocked)]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, blocked, None)  # the import system's mark of a module it cannot import
    scores = np.eye(3, dtype="float32")
    if extra is None:
        with pytest.raises(ModuleNotFoundError) as error:
            evaluate_scores(scores, np.arange(3), ["a", "b", "c"])
        assert not isinstance(error.value, extras.MissingExtra) and error.value.name.startswith("scipy")
        return
    with pytest.raises(extras.MissingExtra) as error:
        evaluate_scores(scores, np.arange(3), ["a", "b", "c"])
    assert str(error.value) == ("scikit-learn is not installed; it comes with: "
                                "pip install 'keras_inception[evaluate]'")


def test_an_unknown_extra_is_refused():
    with pytest.raises(ValueError, match=r"`extra` must be one of \['evaluate', .*Received: extra='plots'"):
        extras.require("matplotlib", "plots")


# A script run with one package made unimportable, as on a machine without its extra.
WITHOUT = """
import runpy, sys
sys.modules[sys.argv[1]] = None
script = sys.argv[2]
sys.argv = sys.argv[2:]
sys.path.insert(0, script.rsplit("/", 1)[0])
runpy.run_path(script, run_name="__main__")
"""


@pytest.mark.parametrize("blocked, script, argv, extra", [
    ("ai_edge_litert", "export.py", ["--model=model.keras"], "mobile"),
    ("PIL", "predict.py", ["--model=model.keras", "image.png"], "images"),
], ids=["export", "predict"])
def test_a_script_without_its_extra_stops_with_one_line(tmp_path, blocked, script, argv, extra):
    (tmp_path / "model.keras").write_bytes(b"")
    (tmp_path / "image.png").write_bytes(b"")
    result = subprocess.run([sys.executable, "-c", WITHOUT, blocked, str(script_path(script)), *argv],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    distribution = extras.DISTRIBUTIONS[blocked]
    assert lines == [f"error: {distribution} is not installed; it comes with: pip install 'keras_inception[{extra}]'"]
    assert "Traceback" not in result.stderr
