"""What a benchmark ran on: the processor, and which optional packages are here."""

import os


def describe_cpu():
    """The processor's model name and the cores this process may use."""
    name = "unknown"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    return {"model": name, "cores": len(os.sched_getaffinity(0))}


def is_available(*modules):
    import importlib.util

    return all(importlib.util.find_spec(module) is not None for module in modules)


def versions(*distributions):
    from importlib import metadata

    found = {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found
