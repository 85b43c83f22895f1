"""The largest training batch that fits in memory, found in as few training runs as it takes.

Each try trains a few steps at one batch size in a worker process of its own, so that a try
which runs out of memory costs that process only. On a GPU a batch fits when its steps end
without the framework's out-of-memory error. On the CPU nothing stops a process before the
machine swaps, so a batch fits when the process's resident memory stays within a budget; the
worker stops itself as soon as it goes over (`memory.stop_above`).
"""

# A try's steps: one warm-up window and one timed one. On the CPU the allocator's resident part
# still grows after the first step (Inception v3: 2,931, 3,566, 3,567, 3,631 MiB over steps
# 1-4), so one step would call a batch that fits only for a while a fit.
TRY_STEPS = {"warmup_steps": 2, "windows": 1, "window_steps": 2}
# The bisection stops once the gap between the largest size that fit and the smallest that did
# not is at most 1/8 of the former: each halving is one more process (a compile on a GPU).
RESOLUTION = 8

_OUT_OF_MEMORY_TYPES = {"OutOfMemoryError", "ResourceExhaustedError", "MemoryError"}
# JAX/XLA: "RESOURCE_EXHAUSTED: Out of memory ..."; CUDA in PyTorch: "CUDA out of memory";
# PyTorch on the CPU: "DefaultCPUAllocator: can't allocate memory", as a plain RuntimeError.
_OUT_OF_MEMORY_MESSAGES = ("resource_exhausted", "out of memory", "can't allocate memory")


class TryFailed(RuntimeError):
    """A try failed for a reason other than memory: the search cannot go on."""


def is_out_of_memory(error):
    """Whether `error`, or one it was raised from, is a framework's out-of-memory error. Told by
    the type's name and the message, so that no framework is imported to check."""
    while error is not None:
        names = {cls.__name__ for cls in type(error).__mro__}
        message = str(error).lower()
        if names & _OUT_OF_MEMORY_TYPES or any(part in message for part in _OUT_OF_MEMORY_MESSAGES):
            return True
        error = error.__cause__ or error.__context__
    return False


def largest_fitting(fits, start, limit):
    """The largest size n <= `limit` with `fits(n)`, for a `fits` that holds up to some size and
    not beyond: doubling from `start` until a size does not fit (or `limit` does), then halving
    the gap until it is at most 1/RESOLUTION of the size that fits (and at least 1).

    Returns {"fits": the largest size that fit (0: none), "fails": the smallest that did not
    (None: `limit` fit), "tries": [[size, fitted], ...] in the order tried}.
    """
    if not 1 <= start <= limit:
        raise ValueError(f"The search needs 1 <= start <= limit. Received: start={start}, "
                         f"limit={limit}")
    tries = []

    def attempt(size):
        fitted = bool(fits(size))
        tries.append([size, fitted])
        return fitted

    low, high, size = 0, None, start
    while high is None:
        if not attempt(size):
            high = size
        elif size == limit:
            return {"fits": size, "fails": None, "tries": tries}
        else:
            low, size = size, min(2 * size, limit)
    while high - low > max(1, low // RESOLUTION):
        middle = (low + high) // 2
        if attempt(middle):
            low = middle
        else:
            high = middle
    return {"fits": low, "fails": high, "tries": tries}
