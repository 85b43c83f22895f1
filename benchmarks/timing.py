"""Rates from measured times: training throughput from the times at which steps end, serving
and matrix-multiply rates from a timed call."""

import statistics
import timeit


def window_rates(step_end_times, start, *, skip, window_steps, batch_size):
    """Images per second in consecutive windows of `window_steps` steps, after `skip` steps.

    `step_end_times[i]` is when step i + 1 ended; `start` is when step 1 began.
    """
    times = [start, *step_end_times]
    return [
        window_steps * batch_size / (times[first + window_steps] - times[first])
        for first in range(skip, len(times) - window_steps, window_steps)
    ]


def images_per_second(batch_ms, batch_size):
    """The rate of a batch of `batch_size` images that took `batch_ms` milliseconds."""
    return batch_size / (batch_ms / 1000)


def summarize_rates(rates):
    """{images_per_second: the median window, window_rates}."""
    if not rates:
        raise ValueError("No timed window: raise the number of steps. Received: rates=[]")
    return {"images_per_second": statistics.median(rates), "window_rates": rates}


def median_ms(call, *, warmup=5, runs=30, timer=timeit.default_timer):
    """Median wall time of `call()` over `runs` timed calls, in milliseconds, after `warmup`
    untimed ones: the timer of every side. It is timeit's, here rather than the package's, so
    that the peers' processes load neither Keras nor TensorFlow; `timer` is timeit's clock."""
    for _ in range(warmup):
        call()
    return 1000 * statistics.median(timeit.repeat(call, repeat=runs, number=1, timer=timer))


def time_products(product_of_size, sizes, runs):
    """{n: the fastest of `runs` timed calls of `product_of_size(n)` (an n x n matrix product),
    in milliseconds} for each n of `sizes`: what both libraries' peaks are measured with."""
    ms_by_size = {}
    for n in sizes:
        product = product_of_size(n)
        ms_by_size[n] = min(median_ms(product, warmup=2, runs=1) for _ in range(runs))
    return ms_by_size


def matmul_peak(ms_by_size, dtype):
    """The fastest of n x n matrix products that took `ms_by_size[n]` milliseconds:
    {gflops, n, dtype, gflops_by_size}."""
    by_size = {n: 2 * n**3 / (ms / 1000) / 1e9 for n, ms in ms_by_size.items()}
    n = max(by_size, key=by_size.get)
    return {"gflops": by_size[n], "n": n, "dtype": dtype, "gflops_by_size": by_size}
