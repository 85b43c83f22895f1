"""The `keras-inception` command: one subcommand per job, with the flags and exit codes of the
scripts in scripts/, which call it.

    keras-inception train --epochs=3
    keras-inception export --modes=float32,int8
    keras-inception train --help

A module of its own, beside the keras_inception package rather than in it, because the
environment must be set before the package's import loads TensorFlow:

- `TF_ENABLE_ONEDNN_OPTS=1` unless set: TensorFlow leaves its oneDNN kernels off on some
  processors (AVX2-only EPYCs), where they train several times faster than its defaults, and
  it reads the variable only at import.
- `TF_CPP_MIN_LOG_LEVEL=2` unless set or `--verbosity` is given: TensorFlow's native INFO and
  WARNING lines off.
- TensorFlow is imported, on any backend but JAX, with JAX hidden for that import only
  (`import_tensorflow_without_jax`).
"""

import importlib
import importlib.util
import os
import sys

# Subcommand -> what it does; each is the module keras_inception.commands.<subcommand>.
COMMANDS = {
    "train": "train a net on a dataset with a paper's recipe",
    "tune": "search a net's widths with keras-tuner within a budget",
    "export": "export a model as a SavedModel and .tflite files, each verified",
    "evaluate": "evaluate a run's artifacts on the test split it held out",
    "predict": "print the top classes of image files",
    "convert": "convert a torchvision, timm or keras.applications checkpoint",
    "profile": "print a net's summary and its profile",
}
PROGRAM = "keras-inception"


def verbosity_given(argv):
    return any(arg in ("-v", "--verbosity") or arg.startswith(("-v=", "--verbosity="))
               for arg in argv[1:])


def import_tensorflow_without_jax():
    """TensorFlow's import of tf.lite also loads JAX wherever JAX is installed, for a converter
    of JAX functions that nothing here calls, and the process keeps its memory: JAX is hidden
    from that import (and importable after it), except where Keras runs on JAX."""
    if (os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow" or "jax" in sys.modules
            or importlib.util.find_spec("tensorflow") is None):  # a machine with Keras on JAX alone
        return
    sys.modules["jax"] = None  # the import system's mark of a module that cannot be imported
    try:
        import tensorflow  # noqa: F401
    finally:
        del sys.modules["jax"]


def before_tensorflow(argv=None):
    """The environment defaults, then TensorFlow's import; call it before anything imports
    TensorFlow."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    if not verbosity_given(sys.argv if argv is None else argv):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import_tensorflow_without_jax()


def load(command, argv=None):
    """The module of `command`, imported after `before_tensorflow`; its flags are defined."""
    before_tensorflow(argv)
    return importlib.import_module(f"keras_inception.commands.{command}")


def run(command, argv=None):
    """Runs `command` as `keras-inception COMMAND ARGS` does: `argv` is the program name
    followed by the command's arguments (sys.argv by default)."""
    argv = list(sys.argv if argv is None else argv)
    module = load(command, argv)
    from keras_inception import cli

    cli.run(module.main, argv)


def usage():
    width = max(map(len, COMMANDS))
    lines = [f"usage: {PROGRAM} COMMAND [flags]   ({PROGRAM} COMMAND --help: its flags)", "", "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, summary in COMMANDS.items()]
    return "\n".join(lines)


def main(argv=None):
    """The console entry point: `keras-inception COMMAND [flags]`."""
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2:
        print(usage(), file=sys.stderr)
        return 2
    if argv[1] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command = argv[1]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    run(command, [f"{PROGRAM} {command}", *argv[2:]])
    return 0
