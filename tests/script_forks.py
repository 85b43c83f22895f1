"""Runs one command-line script many times, each run in its own forked process.

    python tests/script_forks.py SCRIPT CASES.json RESULTS.json

CASES.json is a list of argument lists. The script is imported once (its flags defined,
TensorFlow imported), then each case runs in a child forked from that process: a real process
with its own exit code, stdout and stderr, without the ~8 s of importing TensorFlow again. No
TensorFlow op runs before the fork, so the children start from a clean runtime.

RESULTS.json gets, for each case, {"returncode", "stdout", "stderr"}.
"""

import json
import os
import runpy
import sys
import tempfile
import traceback


def _run_child(script, argv, namespace):
    """In the forked child: runs the script's main under `cli.run`, returns the exit code."""
    sys.argv = [script, *argv]
    try:
        namespace["cli"].run(namespace["main"])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def run_cases(script, cases):
    namespace = runpy.run_path(script, run_name="script_forks_target")  # not "__main__"
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for index, argv in enumerate(cases):
            paths = {name: os.path.join(scratch, f"{index}.{name}") for name in ("stdout", "stderr")}
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                for fd, name in ((1, "stdout"), (2, "stderr")):
                    with open(paths[name], "w") as file:
                        os.dup2(file.fileno(), fd)
                code = 1
                try:
                    code = _run_child(script, argv, namespace)
                except BaseException:  # as an uncaught exception ends Python: a traceback, code 1
                    traceback.print_exc()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            result = {"returncode": os.waitstatus_to_exitcode(status)}
            for name, path in paths.items():
                with open(path, errors="replace") as file:
                    result[name] = file.read()
            results.append(result)
    return results


if __name__ == "__main__":
    script, cases_path, results_path = sys.argv[1:]
    with open(cases_path) as file:
        cases = json.load(file)
    results = run_cases(script, cases)
    with open(results_path, "w") as file:
        json.dump(results, file)
