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
