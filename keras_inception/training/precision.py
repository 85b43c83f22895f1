"""`--precision`: the Keras dtype policy for a run, with the classifier heads kept in float32.

The builders put the heads in float32 under a mixed policy (`models.common.head_dtype`), and
`Model.compile` wraps the optimizer in a `LossScaleOptimizer` under "mixed_float16".

"auto" is mixed_float16 with a GPU or TPU; on a CPU it is mixed_bfloat16 where the processor
has bfloat16 instructions (AVX-512 BF16 or AMX) and the backend is TensorFlow, whose oneDNN
kernels use them, and float32 elsewhere: without them bfloat16 is emulated and several times
slower. `describe_auto` says which, and why.

mixed_bfloat16 on a CPU under TensorFlow is TensorFlow's oneDNN auto-mixed-precision graph
rewrite of a float32 model (`ONEDNN_BFLOAT16_REWRITE`), not Keras's policy: the rewrite runs
the convolutions, matrix products and the ops between them in bfloat16 and leaves the losses,
the softmax and the variables in float32, as the policy does, with fewer casts.
"""

import contextlib
import warnings

import keras

from keras_inception.cpu import bfloat16_instructions
from keras_inception.validation import check_choice

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
# The Grappler option of `tf.config.optimizer.set_experimental_options` that turns the rewrite on.
ONEDNN_BFLOAT16_REWRITE = "auto_mixed_precision_onednn_bfloat16"


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


def describe_auto(cpu=None):
    """(policy, reason): what "auto" picks here (see the module docstring), and why in words."""
    if has_accelerator():
        return "mixed_float16", "a GPU or TPU is here"
    found = bfloat16_instructions(cpu)
    if not found:
        return "float32", "this CPU has no bfloat16 instructions (AVX-512 BF16 or AMX)"
    if keras.backend.backend() != "tensorflow":
        return "float32", (f"this CPU has {', '.join(found)}, but only TensorFlow's kernels are known to use "
                           f"them, not {keras.backend.backend()}'s")
    return "mixed_bfloat16", f"this CPU has {', '.join(found)}"


def resolve_precision(precision, *, cpu=None):
    """The policy name for `precision`; "auto" as `describe_auto` picks it."""
    check_choice("precision", precision, PRECISIONS)
    if precision == "auto":
        return describe_auto(cpu)[0]
    if precision == "mixed_float16" and not has_accelerator():
        warnings.warn(
            "precision=mixed_float16 on a machine without a GPU: CPUs have no fast float16 "
            "arithmetic, so this trains several times slower than float32. Use float32 here."
        )
    if precision == "mixed_bfloat16" and not has_accelerator() and not bfloat16_instructions(cpu):
        warnings.warn(
            "precision=mixed_bfloat16 on a CPU without bfloat16 instructions (AVX-512 BF16 or AMX): "
            "it is emulated there and trains several times slower than float32. Use float32 here."
        )
    return precision


def precision_words(precision, cpu=None):
    """The policy `precision` resolves to, in words: "auto" says why."""
    if precision != "auto":
        return resolve_precision(precision, cpu=cpu)
    policy, reason = describe_auto(cpu)
    return f"{policy} (auto: {reason})"


def uses_bfloat16_rewrite(policy):
    """Whether `policy` runs as TensorFlow's oneDNN bfloat16 rewrite here (the module docstring)."""
    return policy == "mixed_bfloat16" and keras.backend.backend() == "tensorflow" and not has_accelerator()


@contextlib.contextmanager
def precision_policy(precision):
    """Runs the block in `precision`, and restores the previous policy and rewrite setting after:
    the global dtype policy, or for mixed_bfloat16 on a CPU under TensorFlow float32 and the
    oneDNN bfloat16 rewrite. Build and train the model inside the block. Yields the policy name
    (`resolve_precision`)."""
    policy = resolve_precision(precision)
    rewrite = uses_bfloat16_rewrite(policy)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32" if rewrite else policy)
    if rewrite:
        import tensorflow as tf

        rewriting = tf.config.optimizer.get_experimental_options().get(ONEDNN_BFLOAT16_REWRITE, False)
        tf.config.optimizer.set_experimental_options({ONEDNN_BFLOAT16_REWRITE: True})
    try:
        yield policy
    finally:
        keras.mixed_precision.set_global_policy(previous)
        if rewrite:
            tf.config.optimizer.set_experimental_options({ONEDNN_BFLOAT16_REWRITE: rewriting})
