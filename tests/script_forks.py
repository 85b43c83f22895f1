"""Runs one command-line script many times, each run in its own forked process.

    python tests/script_forks.py SCRIPT CASES.json RESULTS.json
    python tests/script_forks.py SCRIPT --serve     # a case per stdin line, a result per stdout line

A case is an argument list (with --serve: {"argv": [...], "timeout": seconds}). The script is
imported once (its flags defined, TensorFlow imported), then each case runs in a child forked
from that process: a real process with its own exit code, stdout and stderr, without the ~8 s
of importing TensorFlow again. No TensorFlow op runs before the fork, so each child starts from
a clean runtime. The child leads its own process group, so a timeout kills whatever it started.

A result is {"returncode", "timed_out", "seconds", "stdout", "stderr"}; returncode is None
for a child killed at its timeout.
"""

import json
import os
import runpy
import signal
import sys
import tempfile
import time
import traceback


def _child_main(script, argv, namespace):
    """In the forked child: runs the script's main under `cli.run`, returns the exit code."""
    sys.argv = [script, *argv]
    try:
        namespace["cli"].run(namespace["main"])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
    except BaseException:  # as an uncaught exception ends Python: a traceback, code 1
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def run_case(script, namespace, argv, scratch, timeout=None):
    paths = {name: os.path.join(scratch, name) for name in ("stdout", "stderr")}
    sys.stdout.flush()
    sys.stderr.flush()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setsid()
            for fd, name in ((1, "stdout"), (2, "stderr")):
                with open(paths[name], "w") as file:
                    os.dup2(file.fileno(), fd)
            code = _child_main(script, argv, namespace)
        finally:
            os._exit(code)
    timed_out, status = False, None
    while status is None:
        done, raw_status = os.waitpid(pid, os.WNOHANG)
        if done:
            status = raw_status
        elif timeout is not None and time.monotonic() - start > timeout:
            os.killpg(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            timed_out = True
        else:
            time.sleep(0.02)
    result = {"returncode": None if timed_out else os.waitstatus_to_exitcode(status),
              "timed_out": timed_out, "seconds": time.monotonic() - start}
    for name, path in paths.items():
        with open(path, errors="replace") as file:
            result[name] = file.read()
    return result


def main():
    script, *rest = sys.argv[1:]
    protocol = os.fdopen(os.dup(1), "w")  # the script's own prints go to stderr, not the protocol
    os.dup2(2, 1)
    namespace = runpy.run_path(script, run_name="script_forks_target")  # not "__main__"
    with tempfile.TemporaryDirectory() as scratch:
        if rest == ["--serve"]:
            for line in sys.stdin:
                case = json.loads(line)
                result = run_case(script, namespace, case["argv"], scratch, case.get("timeout"))
                protocol.write(json.dumps(result) + "\n")
                protocol.flush()
            return
        cases_path, results_path = rest
        with open(cases_path) as file:
            cases = json.load(file)
        results = [run_case(script, namespace, argv, scratch) for argv in cases]
        with open(results_path, "w") as file:
            json.dump(results, file)


if __name__ == "__main__":
    main()
