"""Runs one command-line script many times, each run in its own forked process.

A case is {"argv": [...], "timeout": seconds, "kill_on": glob, "kill_on_output": text, "mount":
{...}}: the child is killed with SIGKILL after `timeout` seconds, as soon as a path matching
`kill_on` is written, say a half-written file, or as soon as it prints `kill_on_output`; with
`mount` it runs where a folder is mounted read-only or small (all optional). Each
`ScriptServer` is a process started from multiprocessing's fork server, which imported
TensorFlow and the package once for the pytest worker (`tests/script_preload.py`); the server imports its script (its flags defined), then
each case runs in a child forked from it (`benchmarks.forked.run_forked`, which the benchmark's
smoke uses too): a real process with its own exit code, stdout and stderr, without importing
TensorFlow again. No TensorFlow op runs before a fork, so each child starts from a clean
runtime. The child leads its own process group, so a timeout kills whatever it started.

A result is {"returncode", "killed", "seconds", "stdout", "stderr"} (and "listing" with
`mount`); returncode is None for a child that was killed.
"""

import glob
import importlib
import multiprocessing
import os
import runpy
import sys
import tempfile
import time

from benchmarks.forked import run_forked

FORK_SERVER = multiprocessing.get_context("forkserver")
FORK_SERVER.set_forkserver_preload(["tests.script_preload"])


# unshare(2)'s flag for a mount namespace of the process's own.
CLONE_NEWNS = 0x00020000


def _enter_mount(mount):
    """In the child: a mount namespace of its own, in which `mount["folder"]` is mounted
    read-only ("read_only") or as a file system of `mount["size"]` ("full"). Python 3.11 has no
    os.unshare, hence libc's."""
    import ctypes
    import subprocess

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    folder = mount["folder"]
    command = {"read_only": ["mount", "-o", "bind,ro", folder, folder],
               "full": ["mount", "-t", "tmpfs", "-o", f"size={mount['size']}", "tmpfs", folder]}[mount["kind"]]
    for step in (["mount", "--make-rprivate", "/"], command):  # the mounts stay in this namespace
        subprocess.run(step, check=True, capture_output=True)


def _listing(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, directories, names in os.walk(folder) for name in directories + names)


def _child_main(script, argv, main, cli, mount=None, listing_path=None):
    """In the forked child: the script's main under `cli.run`, as `python SCRIPT ARGV...` runs it;
    with `mount`, in a mount namespace of its own, and what the run left in the mounted folder
    written to `listing_path` as it ends (a mount made here is gone with the process)."""
    if mount is None:
        return cli.run(main, [script, *argv])
    _enter_mount(mount)
    try:
        cli.run(main, [script, *argv])
    finally:
        with open(listing_path, "w") as file:
            file.write("\n".join(_listing(mount["folder"])))


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


def _printed(path, text):
    try:
        with open(path, errors="replace") as file:
            return text in file.read()
    except FileNotFoundError:  # the child has not opened it yet
        return False


def run_case(script, main, cli, argv, scratch, timeout=None, kill_on=None, kill_on_output=None, mount=None):
    paths = {name: os.path.join(scratch, name) for name in ("stdout", "stderr", "listing")}
    for path in paths.values():  # the last case's output
        if os.path.exists(path):
            os.remove(path)
    started_at = time.time()

    def kill_when():
        return bool((kill_on and _written_since(kill_on, started_at))
                    or (kill_on_output and _printed(paths["stdout"], kill_on_output)))

    code, seconds = run_forked(lambda: _child_main(script, argv, main, cli, mount, paths["listing"]),
                               stdout_path=paths["stdout"], stderr_path=paths["stderr"], timeout=timeout,
                               kill_when=kill_when)
    result = {"returncode": code, "killed": code is None, "seconds": seconds}
    for name in ("stdout", "stderr"):
        with open(paths[name], errors="replace") as file:
            result[name] = file.read()
    if mount is not None:
        with open(paths["listing"]) as file:
            result["listing"] = [line for line in file.read().splitlines() if line]
    return result


def serve(script, cwd, env, connection, log_path):
    """The server of one script, in a process from the fork server: in `cwd` with `env`, as
    `python SCRIPT` starts; a case per message on `connection`, until it is closed."""
    with open(log_path, "w") as log:  # the server's own output, shown if it stops
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.path.insert(0, os.path.dirname(script))  # as Python does for a script it runs
    main, cli = script_main(script)
    with tempfile.TemporaryDirectory() as scratch:
        while True:
            try:
                case = connection.recv()
            except EOFError:
                return
            connection.send(run_case(script, main, cli, scratch=scratch, **case))


class ScriptServer:
    """Runs the server for `scripts/<script>` (or the script at an absolute path) in `cwd`, with
    this process's environment and `env`; `run(argv, ...)` gives one case's result."""

    def __init__(self, script, cwd, env=None):
        from tests.conftest import script_path

        self.script = script
        self.log = tempfile.NamedTemporaryFile("r", suffix=".log")
        self.connection, server_end = FORK_SERVER.Pipe()
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
        self.process = FORK_SERVER.Process(target=serve, daemon=True, args=(
            str(script_path(script)), str(cwd), environment, server_end, self.log.name))
        self.process.start()
        server_end.close()

    def run(self, argv, timeout=None, kill_on=None, kill_on_output=None, mount=None):
        """One case; `mount`: {"folder", "kind": "read_only" or "full", "size"} runs it in a
        mount namespace of its own, and the result's "listing" is what it left in the folder."""
        self.connection.send({"argv": [str(arg) for arg in argv], "timeout": timeout,
                              "kill_on": kill_on and str(kill_on), "kill_on_output": kill_on_output,
                              "mount": mount and {**mount, "folder": str(mount["folder"])}})
        try:
            return self.connection.recv()
        except EOFError:
            raise RuntimeError(f"the server of {self.script} stopped:\n" + self.log.read()[-3000:]) from None

    def close(self):
        self.connection.close()
        self.process.join(timeout=60)
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
