"""Resident memory of this process, and the machine's available memory, from /proc (Linux)."""


def _proc_mb(path, field):
    """A `field: N kB` line of a /proc file, in MiB."""
    with open(path) as lines:
        for line in lines:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{path} has no {field} line")


def rss_mb():
    """Resident set size now, in MiB."""
    return _proc_mb("/proc/self/status", "VmRSS")


def peak_rss_mb():
    """The largest resident set size so far (the high-water mark), in MiB."""
    return _proc_mb("/proc/self/status", "VmHWM")


def available_mb():
    """The memory the kernel could give processes now without swapping (MemAvailable), in MiB."""
    return _proc_mb("/proc/meminfo", "MemAvailable")


def stop_above(budget_mb, on_exceed, interval_s=0.01):
    """Calls `on_exceed(rss_mb)` from a daemon thread as soon as this process's resident set is
    above `budget_mb`, checking every `interval_s` seconds."""
    import threading
    import time

    def watch():
        while (rss := rss_mb()) <= budget_mb:
            time.sleep(interval_s)
        on_exceed(rss)

    threading.Thread(target=watch, name="memory budget", daemon=True).start()
