"""Runs one command-line script many times, each run in its own forked process.

    python tests/script_forks.py SCRIPT     # a case per stdin line, a result per stdout line

A case is {"argv": [...], "timeout": seconds, "kill_on": glob}: the child is killed with
SIGKILL after `timeout` seconds, or as soon as a path matching `kill_on` is written, say a
half-written file (both are optional). The script is
imported once (its flags defined, TensorFlow imported), then each case runs in a child forked
from that process (`benchmarks.forked.run_forked`, which the benchmark's smoke uses too): a real
process with its own exit code, stdout and stderr, without importing TensorFlow again. No
TensorFlow op runs before the fork, so each child starts from a clean runtime. The child leads
its own process group, so a timeout kills whatever it started.

A result is {"returncode", "killed", "seconds", "stdout", "stderr"}; returncode is None for a
child that was killed. `ScriptServer` runs the server from a test.
"""

import glob
import importlib
import json
import os
import pathlib
import runpy
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # the repo root, when run as a script
from benchmarks.forked import run_forked  # noqa: E402


def _child_main(script, argv, main, cli):
    """In the forked child: the script's main under `cli.run`, as `python SCRIPT ARGV...` runs it."""
    cli.run(main, [script, *argv])


def script_main(script):
    """The main of `script` and the cli module that runs it, imported as `python SCRIPT` does:
    a command's thin caller names its COMMAND, whose module holds main; another script (the
    benchmark) holds main itself."""
    namespace = runpy.run_path(script, run_name="script_forks_target")  # not "__main__"
    if "COMMAND" not in namespace:
        return namespace["main"], namespace["cli"]
    import keras_inception_cli

    command = keras_inception_cli.load(namespace["COMMAND"], [script])
    return command.main, importlib.import_module("keras_inception.cli")


def _written_since(pattern, since):
    """Whether a path matching `pattern` was written after `since` (a leftover of a run killed
    earlier does not count until it is written again)."""
    for path in glob.glob(pattern):
        try:
            if os.stat(path).st_mtime >= since:
                return True
        except FileNotFoundError:  # renamed away since the glob
            pass
    return False


def run_case(script, main, cli, argv, scratch, timeout=None, kill_on=None):
    paths = {name: os.path.join(scratch, name) for name in ("stdout", "stderr")}
    started_at = time.time()
    code, seconds = run_forked(lambda: _child_main(script, argv, main, cli),
                               stdout_path=paths["stdout"], stderr_path=paths["stderr"], timeout=timeout,
                               kill_when=kill_on and (lambda: _written_since(kill_on, started_at)))
    result = {"returncode": code, "killed": code is None, "seconds": seconds}
    for name, path in paths.items():
        with open(path, errors="replace") as file:
            result[name] = file.read()
    return result


def main():
    (script,) = sys.argv[1:]
    protocol = os.fdopen(os.dup(1), "w")  # the script's own prints go to stderr, not the protocol
    os.dup2(2, 1)
    sys.path.insert(0, os.path.dirname(script))  # as Python does for a script it runs
    main, cli = script_main(script)
    with tempfile.TemporaryDirectory() as scratch:
        for line in sys.stdin:
            case = json.loads(line)
            result = run_case(script, main, cli, case["argv"], scratch, case.get("timeout"), case.get("kill_on"))
            protocol.write(json.dumps(result) + "\n")
            protocol.flush()


class ScriptServer:
    """Runs the server for `scripts/<script>` in `cwd`; `run(argv, ...)` gives one case's result."""

    def __init__(self, script, cwd):
        from tests.conftest import script_path

        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        self.log = tempfile.TemporaryFile("w+")  # the server's own stderr, shown if it stops
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(script_path(script))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=cwd, env=env,
        )

    def run(self, argv, timeout=None, kill_on=None):
        self.process.stdin.write(json.dumps({"argv": [str(arg) for arg in argv], "timeout": timeout,
                                             "kill_on": kill_on and str(kill_on)}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.log.seek(0)
            raise RuntimeError("the fork server stopped:\n" + self.log.read()[-3000:])
        return json.loads(line)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


if __name__ == "__main__":
    main()
