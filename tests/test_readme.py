"""The README's example and set-up commands are what CI and users run."""

import pathlib
import re

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_fit_example_trains_every_head():
    section = README.split("## Train GoogLeNet with `model.fit`", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert {"main_loss", "aux1_loss", "aux2_loss", "main_accuracy"} <= set(namespace["history"].history)
    probabilities = namespace["probabilities"]
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_ci_runs_the_readme_test_command():
    test_command = 'python3 -m pip install -e ".[test]" && python3 -m pytest -q tests'
    assert test_command in README
    assert test_command in (ROOT / ".ci" / "run").read_text()
