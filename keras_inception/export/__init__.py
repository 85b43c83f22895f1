"""Export for serving and mobile: SavedModel and TFLite, verified with the LiteRT interpreter.

The names below are imported on first use (PEP 562), so that the SavedModel and TFLite writers
import without the `mobile` extra, which only the verified export job (`export_model`) needs.
"""

import importlib

_MODULE_OF = {"export_graph": "graph", "ExportResult": "job", "export_model": "job", "MODES": "tflite",
              "convert": "tflite"}

__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)


def __dir__():
    return sorted([*globals(), *__all__])
