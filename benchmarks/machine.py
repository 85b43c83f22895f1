"""What a benchmark ran on: the processor, and which optional packages are here."""

from keras_inception.cpu import describe_cpu  # noqa: F401  (the benchmark report's machine)


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
