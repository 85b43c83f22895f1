"""Imported once by the fork server that `tests/script_forks.py` starts its script servers from:
TensorFlow and the package, imported as the scripts import them."""

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
# The lines TensorFlow's import writes before its log settings apply stay out of pytest's output.
_stderr = os.dup(2)
os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
try:
    import keras_inception_cli

    keras_inception_cli.before_tensorflow(["script"])
    import keras_inception  # noqa: F401
finally:
    os.dup2(_stderr, 2)
    os.close(_stderr)
