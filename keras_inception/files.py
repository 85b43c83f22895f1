"""Writing artifacts so that a reader, a crash or a second process never meets half a file.

Everything is written beside its destination under a hidden `.partial` name and renamed into
place: a rename within one file system is atomic, so the destination holds the old artifact or
the new one. A write killed before its rename leaves the `.partial` behind; the next job on the
same destination deletes it first (`remove_stale_partials`). A job holds an OS lock on its
directory for its whole run (`locked`), so two processes never write one run.
"""

import contextlib
import errno
import glob
import json
import os
import re
import shutil
import socket
import tempfile

from keras_inception.validation import UsageError


def _partial(path, suffix="partial"):
    directory, name = os.path.split(os.path.abspath(path))
    stem, extension = os.path.splitext(name)
    return os.path.join(directory, f".{stem}.{suffix}{extension}")


def write_atomically(path, write):
    """Calls `write(temporary_path)` and renames the result to `path`."""
    temporary = _partial(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    except Exception as error:
        os_error = os_error_of(error, path)
        if os_error is None or os_error is error:
            raise
        raise os_error from error
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


# What TensorFlow's file writers (SavedModel, TensorBoard summaries) report in their messages
# alone: their errors carry no errno.
FILE_SYSTEM_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES)


def os_error_of(error, path=None):
    """`error` as an OSError, named by `path` when given (the destination, which the user knows,
    rather than a hidden file): an OSError with an errno renamed, one without as it is, and a
    TensorFlow error whose message names a file-system failure (a full disk, a read-only file
    system) rebuilt on the path it names; None for any other error."""
    if isinstance(error, OSError):
        return OSError(error.errno, error.strerror, path) if path and error.errno else error
    if not type(error).__module__.startswith("tensorflow"):
        return None
    message = str(error)
    code = next((code for code in FILE_SYSTEM_ERRNOS if os.strerror(code) in message), None)
    if code is None:
        return None
    named = re.search(r"(/\S*?);?\s+" + re.escape(os.strerror(code)), message)
    return OSError(code, os.strerror(code), path or (named and named.group(1)))


def write_bytes_atomically(path, content):
    def write(temporary):
        with open(temporary, "wb") as file:
            file.write(content)

    write_atomically(path, write)


def write_text_atomically(path, text):
    write_bytes_atomically(path, text.encode("utf-8"))


def write_json_atomically(path, content):
    write_text_atomically(path, json.dumps(content, indent=2))


def remove_stale_partials(path):
    """Deletes what a killed `write_atomically(path)` or `write_directory_atomically(path)` left
    beside `path`; call it while holding `path`'s lock, so that no live write is deleted."""
    _remove(_partial(path))


def remove_stale_partials_in(directory):
    """`remove_stale_partials` for every artifact of a folder (its hidden `.*.partial*` files and
    folders)."""
    for temporary in glob.glob(os.path.join(glob.escape(directory), ".*.partial*")):
        _remove(temporary)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def check_room(directory, needed_bytes):
    """Raises an OSError (ENOSPC) naming `directory` unless its file system has `needed_bytes`
    free: HDF5, which writes Keras's `.weights.h5`, crashes the process (a segfault in h5py's
    close) when the disk fills during its write, so such a file is started only with room for it."""
    free = shutil.disk_usage(directory).free
    if free < needed_bytes:
        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({free:,} bytes free, a weights file needs "
                                    f"{needed_bytes:,})", directory)


def check_writable(directory):
    """Creates `directory` if needed and writes a file in it now, so that a read-only file
    system, a missing permission or a full disk is reported (an OSError naming the directory)
    before a long job, not after it."""
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory) as probe:
            probe.write(b"0")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as error:
        raise OSError(error.errno, error.strerror, directory) from None


class DirectoryInUse(UsageError):
    """Another live process holds the lock of a job's folder or file."""


def lock_path(path):
    """The hidden file beside `path` that `locked` locks: `.NAME.lock`."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.lock")


@contextlib.contextmanager
def locked(path, job):
    """Holds an exclusive OS lock (`fcntl.flock`) on the job at `path` (a run directory, a tuning
    project, an export folder, an output file) while the block runs. The lock is on a hidden
    file beside `path` (`lock_path`) that names its holder and its `job` ("a training run"); a
    second process gets a `DirectoryInUse` naming them at once. The kernel releases the lock
    when its process dies, so a killed job never blocks the next. Written with fcntl rather than
    the filelock package, which truncates its file on every attempt and so would erase the
    holder's name."""
    import fcntl  # POSIX, as TensorFlow's supported systems are

    lock_file = lock_path(path)
    while True:
        try:
            os.makedirs(os.path.dirname(lock_file), exist_ok=True)
            descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:  # named by the folder the job writes in, not the hidden file
            raise OSError(error.errno, error.strerror, os.path.dirname(lock_file)) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(descriptor)
            raise DirectoryInUse(f"{path} is in use by {holder}; wait for it to end or choose another name. "
                                 f"Received: path={path!r}") from None
        if _same_file(descriptor, lock_file):
            break
        os.close(descriptor)  # its holder removed the file as we opened it: lock the new one
    try:
        os.ftruncate(descriptor, 0)
        holder = f"process {os.getpid()} on {socket.gethostname()}, which runs {job} there"
        os.pwrite(descriptor, holder.encode(), 0)
        yield
    finally:
        os.remove(lock_file)  # while still locked, so no other process holds a removed file's lock
        os.close(descriptor)


def _same_file(descriptor, path):
    try:
        return os.path.samestat(os.fstat(descriptor), os.stat(path))
    except FileNotFoundError:
        return False


def read_json_object(path, what):
    """The JSON object (a dict) in the file `path`; a one-line ValueError naming the file and
    what is wrong with it otherwise. `what` says what the file is ("the run's settings")."""
    try:
        with open(path, encoding="utf-8") as file:
            content = json.load(file)
    except (ValueError, UnicodeDecodeError) as error:
        raise UsageError(f"{path} ({what}) is not valid JSON: {error}; delete it to start over. "
                         f"Received: file={path!r}") from None
    if not isinstance(content, dict):
        raise UsageError(f"{path} ({what}) holds a JSON {type(content).__name__}, not an object; delete it "
                         f"to start over. Received: file={path!r}")
    return content


def previous_directory(path):
    """Where `write_directory_atomically(path, ..., keep_previous=True)` keeps the directory it
    replaced."""
    return _partial(path, "previous")


def recover_directory(path, keep_previous=False):
    """Puts back a directory that `write_directory_atomically` (or `roll_back_directory`) moved
    aside if a crash hit between its two renames; otherwise deletes the moved-aside one, unless
    `keep_previous`."""
    previous = previous_directory(path)
    shutil.rmtree(_partial(path, "discarded"), ignore_errors=True)  # see roll_back_directory
    if not os.path.exists(path) and os.path.isdir(previous):
        os.replace(previous, path)
    elif os.path.isdir(previous) and not keep_previous:
        shutil.rmtree(previous)


def write_directory_atomically(path, write, keep_previous=False):
    """`write_atomically` for a directory (a SavedModel): written whole under a temporary
    name, then renamed into place. An existing directory is first renamed aside
    (`previous_directory(path)`) and deleted once the new one is in place, or kept there until
    the next write with `keep_previous`; `recover_directory` undoes an interrupted swap."""
    recover_directory(path, keep_previous)
    temporary, previous = _partial(path), previous_directory(path)
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        write(temporary)
        if os.path.exists(path):
            shutil.rmtree(previous, ignore_errors=True)
            os.replace(path, previous)
        os.replace(temporary, path)
        if not keep_previous:
            shutil.rmtree(previous, ignore_errors=True)
    except Exception as error:
        os_error = os_error_of(error, path)
        if os_error is None or os_error is error:
            raise
        raise os_error from error
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def roll_back_directory(path):
    """Replaces `path` by the directory `write_directory_atomically(..., keep_previous=True)`
    kept beside it, or removes `path` when none was kept. A crash between the two renames
    leaves no `path` and the kept one beside it, which `recover_directory` then puts back: the
    state this is heading to."""
    discarded = _partial(path, "discarded")
    shutil.rmtree(discarded, ignore_errors=True)
    os.replace(path, discarded)
    if os.path.isdir(previous_directory(path)):
        os.replace(previous_directory(path), path)
    shutil.rmtree(discarded)


def claim_job_directory(directory, settings, *, settings_file, overwrite, job):
    """Creates a job's directory, or checks that an existing one holds this job: its
    `settings_file` (JSON) must equal `settings`, else a one-line ValueError names the first
    difference. `overwrite` deletes the directory first. `job` names the job in errors
    ("training run", "search"). Writes `settings` and returns `directory`."""
    settings_path = os.path.join(directory, settings_file)
    if overwrite and os.path.exists(directory):
        shutil.rmtree(directory)
    if os.path.exists(settings_path):
        saved = read_json_object(settings_path, f"the {job}'s settings")
        if saved != settings:
            key, was, now = _first_difference(saved, settings)
            raise UsageError(
                f"{directory} holds a {job} with other settings ({key}: {was!r} there, {now!r} now). "
                f"Pass overwrite=True (--overwrite) to start over or choose another run_name. "
                f"Received: {key}={now!r}"
            )
    elif os.path.isdir(directory) and os.listdir(directory):
        raise UsageError(f"{directory} exists and is not a {job}; choose another run_name or output_dir. "
                         f"Received: directory={directory!r}")
    os.makedirs(directory, exist_ok=True)
    write_json_atomically(settings_path, settings)
    return directory


def _first_difference(saved, settings, prefix=""):
    """(dotted key, saved value, new value) of the first setting that differs."""
    for key in sorted(set(saved) | set(settings)):
        was, now = saved.get(key), settings.get(key)
        if isinstance(was, dict) and isinstance(now, dict) and was != now:
            return _first_difference(was, now, f"{prefix}{key}.")
        if was != now:
            return f"{prefix}{key}", was, now
    return prefix.rstrip("."), saved, settings
