"""Throughput from step end times, and latency from repeated calls."""

import statistics
import time


def window_rates(step_end_times, start, *, skip, window_steps, batch_size):
    """Images per second in consecutive windows of `window_steps` steps, after `skip` steps.

    `step_end_times[i]` is when step i + 1 ended; `start` is when step 1 began.
    """
    times = [start, *step_end_times]
    return [
        window_steps * batch_size / (times[first + window_steps] - times[first])
        for first in range(skip, len(times) - window_steps, window_steps)
    ]


def summarize_rates(rates):
    """{images_per_second: the median window, window_rates}."""
    if not rates:
        raise ValueError("No timed window: raise the number of steps. Received: rates=[]")
    return {"images_per_second": statistics.median(rates), "window_rates": rates}


def median_latency_ms(call, *, warmup=5, runs=30):
    """Median wall time of `call()` in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)
