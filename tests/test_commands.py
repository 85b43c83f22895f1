"""The `keras-inception` command, as a wheel installs it: one subcommand per job, with the
scripts' flags and exit codes."""

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile

import pytest

import keras_inception_cli
from tests.conftest import ROOT

# The environment's own packages only: no checkout on PYTHONPATH.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
# A flag of each command, which its --help must list.
FLAG_OF = {"train": "--epochs", "tune": "--max_trials", "export": "--modes", "evaluate": "--batch_size",
           "predict": "--max_image_pixels", "convert": "--checkpoint", "profile": "--input_size"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A regular wheel built from a copy of the sources, installed into a fresh virtual
    environment that sees this one's packages (the dependencies) but not its editable install."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("setup.py", "README.md", "keras_inception_cli.py"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "keras_inception", source / "keras_inception",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(root / "dist"), str(source)], check=True, capture_output=True, cwd=root)
    (wheel,) = (root / "dist").glob("*.whl")
    environment = root / "venv"
    venv.create(environment, system_site_packages=True, with_pip=False)
    python = environment / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--force-reinstall",
                    "-q", str(wheel)], check=True, capture_output=True, cwd=root, env=ENV)
    return wheel, environment


def test_every_command_has_a_flag_its_help_must_list():
    assert list(FLAG_OF) == list(keras_inception_cli.COMMANDS)


def test_the_wheel_holds_the_package_and_the_launcher_but_no_scripts_or_tests(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "keras_inception_cli.py" in names
    assert {f"keras_inception/commands/{command}.py" for command in keras_inception_cli.COMMANDS} <= set(names)
    assert "keras_inception/pretrained/imagenet_classes.txt" in names
    assert not [name for name in names if name.startswith(("scripts/", "tests/", "benchmarks/"))]
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "keras-inception = keras_inception_cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def _run(environment, *args):
    return subprocess.run([str(environment / "bin" / "keras-inception"), *args], capture_output=True, text=True,
                          timeout=300, cwd=environment, env=ENV)


# Each command's `--help` through the wheel's launcher, in a fork of one process that imported
# TensorFlow as the launcher does: each command then costs its own module, not TensorFlow's import.
HELP_PROGRAM = """
import json, os, sys
import keras_inception_cli
keras_inception_cli.before_tensorflow(["keras-inception"])
helps = {}
for command in sys.argv[1:]:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        os.dup2(write, 1)
        os.dup2(write, 2)
        try:
            code = keras_inception_cli.main(["keras-inception", command, "--help"])
        except SystemExit as exit:
            code = exit.code
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)
    os.close(write)
    with os.fdopen(read) as pipe:
        output = pipe.read()
    helps[command] = [os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]), output]
print(json.dumps(helps))
"""


@pytest.mark.slow
def test_every_command_of_the_installed_wheel_shows_its_help(installed):
    _, environment = installed
    listing = _run(environment, "--help")
    assert listing.returncode == 0
    assert [line.split()[0] for line in listing.stdout.splitlines() if line.startswith("  ")] == list(
        keras_inception_cli.COMMANDS)
    done = subprocess.run([str(environment / "bin" / "python"), "-c", HELP_PROGRAM, *FLAG_OF], capture_output=True,
                          text=True, timeout=300, cwd=environment, env=ENV)
    assert done.returncode == 0, done.stderr[-2000:]
    helps = json.loads(done.stdout.strip().splitlines()[-1])
    assert list(helps) == list(FLAG_OF)
    for command, (returncode, output) in helps.items():
        assert returncode == 1, (command, output[-2000:])  # absl's --help exits with 1
        assert f"keras-inception {command}" in output, command  # its module's usage examples
        assert f"  {FLAG_OF[command]}" in output, command  # its own flags, not absl's alone
    where = subprocess.run([str(environment / "bin" / "python"), "-c",
                            "import keras_inception_cli, keras_inception.commands as c; print(c.__file__)"],
                           capture_output=True, text=True, timeout=300, cwd=environment, env=ENV)
    assert where.stdout.strip().startswith(str(environment)), where.stdout  # the wheel's, not the checkout's


def test_a_bad_flag_or_command_is_one_line_and_exit_code_2(installed):
    _, environment = installed
    unknown = _run(environment, "fly")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == ("error: unknown command 'fly'; commands: train, tune, export, evaluate, "
                                      "predict, convert, profile")
    bad = _run(environment, "train", "--epochs=0")
    assert bad.returncode == 2
    assert [line for line in bad.stderr.splitlines() if line.startswith("error:")] == [
        "error: flag --epochs=0: 0 is not a positive integer"]
