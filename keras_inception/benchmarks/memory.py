"""Resident memory of this process, from /proc (Linux)."""


def _status_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field} line")


def rss_mb():
    """Resident set size now, in MiB."""
    return _status_mb("VmRSS")


def peak_rss_mb():
    """The largest resident set size so far (the high-water mark), in MiB."""
    return _status_mb("VmHWM")


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
