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


def recover_directory(path):
    """Puts back a directory that `write_directory_atomically` moved aside if a crash hit
    between its two renames."""
    previous = _partial(path, "previous")
    if not os.path.exists(path) and os.path.isdir(previous):
        os.replace(previous, path)
    elif os.path.isdir(previous):
        shutil.rmtree(previous)


def write_directory_atomically(path, write):
    """`write_atomically` for a directory (a SavedModel): written whole under a temporary
    name, then renamed into place. An existing directory is first renamed aside and deleted
    only once the new one is in place; `recover_directory` undoes an interrupted swap."""
    recover_directory(path)
    temporary, previous = _partial(path), _partial(path, "previous")
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        write(temporary)
        if os.path.exists(path):
            os.replace(path, previous)
        os.replace(temporary, path)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
