"""What every script does before it imports TensorFlow: environment defaults, and native log
lines kept off the terminal.

    import script_setup

    script_setup.before_tensorflow()

- `TF_ENABLE_ONEDNN_OPTS=1` unless set: TensorFlow leaves its oneDNN kernels off on some
  processors (AVX2-only EPYCs), where they train several times faster than its defaults, and
  it reads the variable only at import.
- TensorFlow's and LiteRT's native INFO lines (absl's "I0000 ... port.cc:153] ...", LiteRT's
  "INFO: Created TensorFlow Lite XNNPACK delegate") and a few lines of the same kind that no
  user can act on (the converter's "fully_quantize: ..." and a CPU machine's failed cuInit)
  are dropped from stderr; every other line passes. TensorFlow writes the first of them during
  its import, before `TF_CPP_MIN_LOG_LEVEL` or absl's logging can reach them, so only the
  file descriptor can be filtered: a process forked here, before any thread exists, reads the
  script's stderr through a pipe, and it outlives a crash of the script, so no line is lost.
- `--verbosity` (or `-v`) on the command line leaves stderr and the log levels alone.
- TensorFlow is imported here, on any backend but JAX, with JAX hidden for that import only
  (`import_tensorflow_without_jax`).
"""

import atexit
import importlib.util
import os
import re
import sys
import time

NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] "  # absl's INFO lines, native and Python
    rb"|INFO: |INFO:tensorflow:"
    rb"|fully_quantize: \d+, inference_type"
    rb"|E\d{4} \d\d:\d\d:\d+\.\d+ +\d+ cuda_platform\.cc:\d+\] failed call to cuInit)"
)


DRAIN_WAITS = 300  # of 10 ms


def verbosity_given(argv):
    return any(arg in ("-v", "--verbosity") or arg.startswith(("-v=", "--verbosity="))
               for arg in argv[1:])


def _pump(read_end):
    """In the forked reader: stderr lines in, the ones that are not noise out, until every
    writer has closed the pipe."""
    with os.fdopen(read_end, "rb") as pipe:
        for line in pipe:
            if not NOISE.match(line):
                os.write(2, line)


def filter_native_logs():
    read_end, write_end = os.pipe()
    sys.stderr.flush()
    reader = os.fork()
    if reader == 0:
        os.close(write_end)
        try:
            _pump(read_end)
        finally:
            os._exit(0)
    os.close(read_end)
    os.dup2(write_end, 2)
    os.close(write_end)

    def drain():
        # The shell's prompt should follow the script's last line, not precede it; a process
        # the script started may still hold the pipe, so the wait is bounded.
        sys.stderr.flush()
        os.close(2)
        for _ in range(DRAIN_WAITS):
            if os.waitpid(reader, os.WNOHANG)[0]:
                return
            time.sleep(0.01)

    atexit.register(drain)


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
    """The environment defaults and the log filter, then TensorFlow's import; call it before
    anything imports TensorFlow."""
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    if not verbosity_given(sys.argv if argv is None else argv):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        filter_native_logs()
    import_tensorflow_without_jax()
