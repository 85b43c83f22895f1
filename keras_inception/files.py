"""Writing artifacts so that a reader, or a crash, never meets half a file.

Everything is written beside its destination under a hidden `.partial` name and renamed into
place: a rename within one file system is atomic, so the destination holds the old artifact or
the new one.
"""

import json
import os
import shutil


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
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_bytes_atomically(path, content):
    def write(temporary):
        with open(temporary, "wb") as file:
            file.write(content)

    write_atomically(path, write)


def write_text_atomically(path, text):
    write_bytes_atomically(path, text.encode("utf-8"))


def write_json_atomically(path, content):
    write_text_atomically(path, json.dumps(content, indent=2))


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
        with open(settings_path) as file:
            saved = json.load(file)
        if saved != settings:
            key, was, now = _first_difference(saved, settings)
            raise ValueError(
                f"{directory} holds a {job} with other settings ({key}: {was!r} there, {now!r} now). "
                f"Pass overwrite=True (--overwrite) to start over or choose another run_name. "
                f"Received: {key}={now!r}"
            )
    elif os.path.isdir(directory) and os.listdir(directory):
        raise ValueError(f"{directory} exists and is not a {job}; choose another run_name or output_dir. "
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
