"""What the absl scripts share: one-line errors with exit code 2.

Scripts stay thin: `main(argv)` turns flags into library calls. This module only runs it.
"""

import ast
import errno
import logging as logging_module
import os
import sys

from absl import app, flags, logging

from keras_inception.extras import MissingExtra
from keras_inception.files import os_error_of
from keras_inception.validation import UsageError

USAGE_ERROR = 2
# A disk that filled (or a quota) is the machine's fault, not the command's.
MACHINE_ERROR = 1
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def fail(message, code=USAGE_ERROR):
    """Prints a one-line error and exits with `code` (2: bad usage)."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def fit_verbosity():
    """Keras `fit`'s verbosity for a command: a progress bar on a terminal, a line per epoch in
    a log."""
    return "auto" if sys.stdout.isatty() else 2


def os_error_line(error):
    """"PATH: Read-only file system": the file an OSError names and what its errno means."""
    meaning = error.strerror or (os.strerror(error.errno) if error.errno else str(error))
    return f"{error.filename}: {meaning}" if error.filename else meaning


def set_flags(**kwargs):
    """The keyword arguments whose flags were given: a flag left at None never overrides a
    builder's own default (timm's `create_model` convention)."""
    return {key: value for key, value in kwargs.items() if value is not None}


def parse_key_values(flag, items):
    """["stem=small", "aux_heads=false", "width=0.5"] -> {"stem": "small", "aux_heads": False,
    "width": 0.5}: Python literals and true/false/none are converted, anything else stays text."""
    kwargs = {}
    for item in items:
        key, equals, text = item.partition("=")
        if not equals or not key:
            raise UsageError(f"--{flag} takes key=value pairs. Received: {item!r}")
        words = {"true": True, "false": False, "none": None}
        if text.lower() in words:
            kwargs[key] = words[text.lower()]
            continue
        try:
            kwargs[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            kwargs[key] = text
    return kwargs


def _parse_flags(argv):
    try:
        argv = flags.FLAGS(argv)
    except flags.Error as error:
        fail(str(error).splitlines()[0])
    # absl takes integers of any size; past 64 bits NumPy and TensorFlow overflow.
    for name in flags.FLAGS:
        flag = flags.FLAGS[name]
        if isinstance(flag.parser, flags.IntegerParser) and flag.value is not None and abs(flag.value) >= 2**63:
            fail(f"flag --{name}={flag.value}: must be below 2**63")
    return argv


def _as_main_module(module_name, argv):
    """absl's --help prints the docstring of `__main__` and the flags of the module named
    `sys.argv[0]`: for a command whose main lives in the package, both are made its module's."""
    sys.argv = list(argv)
    module = sys.modules.get(module_name)
    if module_name == "__main__" or module is None:  # a script's own main (or one run by runpy)
        return
    sys.modules["__main__"].__doc__ = module.__doc__
    for flag in flags.FLAGS.get_key_flags_for_module(module_name):
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)


def run(main, argv=None):
    """`absl.app.run(main)` on `argv` (sys.argv by default), but a bad flag, or a UsageError that
    the library raises for a bad argument or input, is a one-line error with exit code 2 instead
    of a traceback, and so are a missing extra (naming the extra to install) and an OSError (a
    read-only or missing place), naming its path and its errno's meaning, or a TensorFlow error
    whose message names one; a disk that fills is the same line with exit code 1. Any other
    exception is a bug and keeps its traceback. INFO logging is off unless `--verbosity` is
    given."""

    def guarded_main(argv):
        if not flags.FLAGS["verbosity"].present:  # absl's INFO lines only when asked for
            logging.set_verbosity(logging.WARNING)
            logging_module.getLogger("tensorflow").setLevel(logging_module.WARNING)
        try:
            return main(argv)
        except (UsageError, MissingExtra) as error:
            fail(str(error).splitlines()[0] if str(error) else type(error).__name__)
        except Exception as error:
            os_error = os_error_of(error)
            if os_error is None:
                raise
            fail(os_error_line(os_error), MACHINE_ERROR if os_error.errno in DISK_FULL else USAGE_ERROR)

    _as_main_module(main.__module__, sys.argv if argv is None else argv)
    app.run(guarded_main, flags_parser=_parse_flags)
