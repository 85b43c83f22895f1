"""Runs a function in a process forked from this one: a real process, with its own exit code and
output files, that does not import the frameworks again. The benchmark's smoke runs its tasks so,
and the tests run the command-line scripts so (tests/script_forks.py).

The caller must run no framework op before forking, so that the child starts from a clean
runtime: TensorFlow and JAX make their thread pools at the first op, and threads do not survive
a fork.
"""

import os
import signal
import sys
import time
import traceback


def run_forked(function, *, stdout_path, stderr_path, timeout=None, kill_when=None):
    """Runs `function()` in a forked child that leads its own process group, with its stdout
    and stderr (the file descriptors, and Python's streams) in the two files.

    The child's exit code is what `function` returns (0 for None), a `SystemExit`'s code, or 1
    with the traceback on stderr for any other exception, as when Python ends on one. It is
    killed, with everything it started, after `timeout` seconds or as soon as `kill_when()`
    is true (polled every 10 ms).

    Returns:
        (exit code, or None when it was killed; seconds it ran).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setsid()
            for fd, path in ((1, stdout_path), (2, stderr_path)):
                with open(path, "w") as file:
                    os.dup2(file.fileno(), fd)
            # Python's own streams too, wherever this process had pointed them (pytest does).
            sys.stdout, sys.stderr = open(1, "w", closefd=False), open(2, "w", closefd=False)
            code = _exit_code(function)
        finally:
            os._exit(code)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.monotonic() - start
        if (timeout is not None and time.monotonic() - start > timeout) or (kill_when and kill_when()):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:  # killed before it led its own group
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, time.monotonic() - start
        time.sleep(0.01)


def _exit_code(function):
    try:
        returned = function()
        code = 0 if returned is None else returned
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
