"""Property-based fuzzing of every command-line flag and every public builder argument.

A script run either succeeds or stops with one line naming the bad value and exit code 2, with
no traceback, no hang, and nothing written; each example is a real process forked from a
server that imported the script once (tests/script_forks.py). A builder call either returns a
model or raises a one-line ValueError or TypeError naming the argument. The examples are
derandomized, so CI runs the same ones every time.
"""

import ast
import math
import pathlib
import re
import shutil

import keras
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keras_inception
from keras_inception import registry
from tests.conftest import script_path
from tests.script_forks import ScriptServer

ROOT = pathlib.Path(__file__).resolve().parents[1]
# What users mistype: empty, negative, zero, fractional, non-finite, huge, words, lists, pairs,
# paths, blanks and non-ASCII.
VALUES = ["", "0", "-1", "1.5", "nan", "inf", "-inf", "1e400", "abc", "a,b", "=", "k=v", "stem=",
          ",", "none", "true", " ", "é", "../x", "9" * 25]
# Arguments put before the fuzzed ones (absl keeps the last value of a repeated flag) so that
# an accepted run is small; `{out}` is the case's output folder, `{model}` a saved LeNet-5.
BASES = {
    "train.py": ["--model=lenet5", "--epochs=1", "--steps_per_epoch=1", "--output_dir={out}"],
    "tune.py": ["--model_kwargs=stem=small", "--image_size=32", "--width_multipliers=0.0625",
                "--stage_multipliers=0.5", "--max_trials=1", "--epochs=1", "--steps_per_epoch=1",
                "--output_dir={out}"],
    "export.py": ["--model={model}", "--modes=float32", "--nosaved_model", "--calibration_images=4",
                  "--verification_images=4", "--output_dir={out}"],
    "benchmark.py": ["--smoke", "--nopeers", "--fit_epochs=0", "--output_dir={out}"],
}
# Flags not fuzzed, because a value they take turns the short run of BASES into a long one:
# the benchmark's full measurement, with or without the peers.
LONG_RUN_FLAGS = {"benchmark.py": {"smoke", "peers"}}
# Every run must have ended by then, accepted or refused; one still going has hung.
HUNG_AFTER_SECONDS = 300
EXAMPLES = 15


def script_flags(script):
    """The flag names a script defines (its `flags.DEFINE_*("name", ...)` calls), or, for a thin
    caller of a command, the command's module."""
    source = script_path(script).read_text()
    command = re.search(r'^COMMAND = "(\w+)"$', source, re.M)
    if command:
        source = (ROOT / "keras_inception" / "commands" / f"{command.group(1)}.py").read_text()
    tree = ast.parse(source)
    return sorted(
        node.args[0].value for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr.startswith("DEFINE_") and node.args and isinstance(node.args[0], ast.Constant)
    )


def _files_under(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.fixture(scope="module")
def saved_lenet(tmp_path_factory):
    path = tmp_path_factory.mktemp("lenet") / "lenet5.keras"
    keras.utils.set_random_seed(0)
    keras_inception.get_model("lenet5").save(path)
    return path


@pytest.mark.parametrize("script", sorted(BASES))
@pytest.mark.slow
def test_every_flag_takes_bad_values_with_a_one_line_error(script, saved_lenet, tmp_path):
    names = [name for name in script_flags(script) if name not in LONG_RUN_FLAGS.get(script, ())]
    assert len(names) >= 8, names  # the flags were found
    argument = st.sampled_from(names).flatmap(
        lambda name: st.sampled_from(VALUES).map(lambda value: f"--{name}={value}") | st.just(f"--no{name}"))
    work = tmp_path / "work"  # the server's working directory: relative paths land here
    work.mkdir()
    outcomes = {"accepted": 0, "refused": 0}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.lists(argument, min_size=1, max_size=3))
    def check(fuzzed):
        base = [part.format(out=work / "out", model=saved_lenet) for part in BASES[script]]
        result = server.run(base + fuzzed, timeout=HUNG_AFTER_SECONDS)
        try:
            assert not result["killed"], (fuzzed, "still running after", HUNG_AFTER_SECONDS, "s")
            if result["returncode"] == 0:
                outcomes["accepted"] += 1
                return
            outcomes["refused"] += 1
            stderr = result["stderr"]
            assert result["returncode"] == 2, (fuzzed, stderr[-3000:])
            assert "Traceback" not in stderr, (fuzzed, stderr[-3000:])
            errors = [line for line in stderr.splitlines() if line.startswith("error:")]
            assert len(errors) == 1, (fuzzed, stderr[-3000:])
            # The line names the flag or the value at fault (a repeated flag's last value).
            named = [part for arg in fuzzed for part in arg.lstrip("-").split("=", 1) if part.strip()]
            assert any(part in errors[0] for part in named), (fuzzed, errors[0])
            assert _files_under(work) == [], (fuzzed, _files_under(work))  # nothing written
        finally:
            for path in work.iterdir():
                shutil.rmtree(path) if path.is_dir() else path.unlink()

    with ScriptServer(script, cwd=work) as server:  # `check` runs each example through it
        check()
    print(script, outcomes)
    assert outcomes["refused"] >= EXAMPLES // 2, outcomes  # most fuzzed values are bad ones


# One net per builder function: the nets of a family share theirs, so these take every public
# builder argument there is.
BUILDER_FAMILIES = ["lenet5", "alexnet", "zfnet", "nin_cifar10", "vgg11", "resnet18", "googlenet", "inception_v3",
                    "inception_v4"]
# What callers mistype, as Python values.
PYTHON_VALUES = [-1, 0, 1.5, math.nan, math.inf, 10**25, "", "abc", "softmax", "imagenet", "../x.weights.h5", None,
                 True, False, [], {}, (1, 2), (32, 32, 3), (8, 8, 3), (None, None, 3), (0, 0, 3), [-1], {"x": 1},
                 {"inception_3a": {"ch1x1": 0}}, b"x"]
BUILDER_EXAMPLES = 40


@pytest.mark.slow
def test_every_builder_argument_takes_bad_values_with_a_one_line_error():
    outcomes = {"accepted": 0, "refused": 0}
    case = st.sampled_from(BUILDER_FAMILIES).flatmap(lambda name: st.tuples(st.just(name), st.dictionaries(
        st.sampled_from(registry.accepted_arguments(name)), st.sampled_from(PYTHON_VALUES), min_size=1, max_size=2)))

    @settings(max_examples=BUILDER_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case)
    def check(name_and_arguments):
        name, fuzzed = name_and_arguments
        # Built thin where the net allows it, so an accepted example costs seconds.
        small = {"width_multiplier": 0.0625} if "width_multiplier" in registry.accepted_arguments(name) else {}
        try:
            model = registry.get_model(name, **{**small, **fuzzed})
        except (ValueError, TypeError) as error:  # anything else fails the test
            outcomes["refused"] += 1
            message = str(error)
            assert "\n" not in message and "Received" in message, (name, fuzzed, message)
            assert any(argument in message for argument in fuzzed), (name, fuzzed, message)
        else:
            outcomes["accepted"] += 1
            assert isinstance(model, keras.Model)
        finally:
            keras.backend.clear_session()

    check()
    print("builders", outcomes)
    assert outcomes["refused"] >= BUILDER_EXAMPLES // 2, outcomes
