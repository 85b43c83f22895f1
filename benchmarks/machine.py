"""What a benchmark ran on: the processor, and which optional packages are here."""

import os


# The vector instructions that decide these ratios: XNNPACK's int8 kernels and oneDNN's
# convolutions run far faster with AVX-512 and VNNI (int8 dot products) than with AVX2 alone.
VECTOR_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile")


def describe_cpu():
    """The processor's model name, family/model numbers, vector features and the cores this
    process may use."""
    fields = {}
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {"model": fields.get("model name", "unknown"),
            "family_model": f"{fields.get('cpu family', '?')}/{fields.get('model', '?')}",
            "vector": [feature for feature in VECTOR_FEATURES if feature in flags],
            "cores": len(os.sched_getaffinity(0))}


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
