"""Argument checks shared by the builders, layers and pipelines.

Each raises a one-line UsageError (a ValueError) that names the argument, says what is allowed,
and ends with `Received: name=value` (keras.applications' style). No backend code: models
import this too.
"""

import math


class UsageError(ValueError):
    """A bad argument, flag or input file: the message names the value and what is allowed. The
    commands print it as one line and exit with 2; any other exception keeps its traceback."""


class UnexpectedArgument(UsageError, TypeError):
    """A keyword the builder does not take: a TypeError, as Python's own is, and a usage error."""


# A width or stage multiplier of the nets, at most 16 (GoogLeNet 16 times as wide has ~1.7
# billion parameters); a huge one overflowed deep inside Keras.
MULTIPLIER_INTERVAL = "in (0, 16]"
_INTERVALS = {
    MULTIPLIER_INTERVAL: lambda value: 0 < value <= 16,
    "> 0": lambda value: value > 0,
    ">= 0": lambda value: value >= 0,
    "in [0, 1)": lambda value: 0 <= value < 1,
    "in (0, 1)": lambda value: 0 < value < 1,
    "in (0, 1]": lambda value: 0 < value <= 1,
}


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_integer(argument, value, minimum):
    # Below 2**63: larger ones overflow in NumPy and TensorFlow.
    if not _is_integer(value) or not minimum <= value < 2**63:
        raise UsageError(
            f"`{argument}` must be an integer >= {minimum} (and below 2**63). Received: {argument}={value!r}"
        )


def check_number(argument, value, interval):
    """`interval` is one of `_INTERVALS`; infinities and NaN are refused whatever the interval."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    finite = is_number and (isinstance(value, int) or math.isfinite(value))
    if not finite or not _INTERVALS[interval](value):
        raise UsageError(f"`{argument}` must be a number {interval}. Received: {argument}={value!r}")


def check_bool(argument, value):
    if not isinstance(value, bool):
        raise UsageError(f"`{argument}` must be True or False. Received: {argument}={value!r}")


def check_choice(argument, value, choices):
    if value not in choices:
        allowed = ", ".join(repr(choice) for choice in choices)
        raise UsageError(f"`{argument}` must be one of {allowed}. Received: {argument}={value!r}")
