"""The optional packages, each imported where it is used: a missing one is a one-line error that
names the pip extra installing it (`setup.py`'s `extras_require` has the same names).

    metrics = extras.require("sklearn.metrics", "evaluate")
"""

import importlib

# The extras and what each installs; setup.py reads this table.
EXTRAS = {
    # The offline digits (the default dataset), TensorBoard's logs and the training curves' plot.
    "train": ["scikit-learn", "tensorboard", "matplotlib"],
    # .tflite files with MediaPipe's metadata, checked with LiteRT and MediaPipe.
    "mobile": ["ai-edge-litert", "mediapipe>=0.10.30"],
    # Image files read from disk (predict, image folders): Pillow reads their headers first.
    "images": ["pillow"],
    # Evaluation reports: top-k accuracy, the confusion matrix and its plot.
    "evaluate": ["scikit-learn", "matplotlib"],
    # timm's .safetensors checkpoints.
    "pretrained": ["safetensors"],
}

# Importable name -> the distribution that provides it, where the two differ.
DISTRIBUTIONS = {"sklearn": "scikit-learn", "PIL": "pillow", "ai_edge_litert": "ai-edge-litert"}


class MissingExtra(ImportError):
    """An optional package is not installed; the message names the extra that installs it."""


def all_extras():
    """Every optional distribution, once: the `all` extra."""
    return sorted({requirement for requirements in EXTRAS.values() for requirement in requirements})


def require(module, extra):
    """`importlib.import_module(module)`, or MissingExtra naming `extra` when the package that
    provides `module` is not installed. A package that is installed but lacks a dependency of its
    own keeps its own error: that is a broken install, not a missing extra."""
    if extra not in EXTRAS:
        raise ValueError(f"`extra` must be one of {sorted(EXTRAS)}. Received: extra={extra!r}")
    package = module.partition(".")[0]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is None or error.name.partition(".")[0] != package:
            raise
        distribution = DISTRIBUTIONS.get(package, package)
        raise MissingExtra(
            f"{distribution} is not installed; it comes with: pip install 'keras_inception[{extra}]'"
        ) from None
