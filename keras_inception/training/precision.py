"""`--precision`: the Keras dtype policy for a run, with the classifier heads kept in float32.

The builders put the heads in float32 under a mixed policy (`models.common.head_dtype`), and
`Model.compile` wraps the optimizer in a `LossScaleOptimizer` under "mixed_float16".
"""

import contextlib
import warnings

import keras

from keras_inception.validation import check_choice

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def has_accelerator():
    """Whether the current Keras backend sees a GPU or TPU."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return any(tf.config.list_physical_devices(kind) for kind in ("GPU", "TPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def resolve_precision(precision):
    """"auto" is mixed_float16 with a GPU or TPU and float32 without one."""
    check_choice("precision", precision, PRECISIONS)
    if precision == "auto":
        return "mixed_float16" if has_accelerator() else "float32"
    if precision == "mixed_float16" and not has_accelerator():
        warnings.warn(
            "precision=mixed_float16 on a machine without a GPU: CPUs have no fast float16 "
            "arithmetic, so this trains several times slower than float32. Use float32 here."
        )
    return precision


@contextlib.contextmanager
def precision_policy(precision):
    """Sets the global dtype policy inside the block and restores the previous one after.
    Build the model inside the block."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(resolve_precision(precision))
    try:
        yield keras.mixed_precision.global_policy().name
    finally:
        keras.mixed_precision.set_global_policy(previous)
