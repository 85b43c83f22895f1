"""`--distribution`: one device, several devices on one host, or several hosts.

- "none": one device.
- "mirrored": `tf.distribute.MirroredStrategy` over this host's devices (TensorFlow backend).
- "jax_data_parallel": Keras 3's distribution API on the JAX backend, also across hosts:
  `jax.distributed.initialize` then `keras.distribution.DataParallel`. Keras shards the
  tf.data pipeline across processes itself. Every process must use the same seed, so that the
  replicas start from identical weights.

`tf.distribute.MultiWorkerMirroredStrategy` is not offered: Keras 3's `model.fit` fails under
it (keras-team/keras#20585).
"""

import contextlib

import keras
import numpy as np

from keras_inception.validation import UsageError, check_choice, check_integer

DISTRIBUTIONS = ("none", "mirrored", "jax_data_parallel")


def _require_backend(distribution, backend):
    if keras.backend.backend() != backend:
        raise UsageError(
            f"distribution={distribution!r} needs the {backend} backend (KERAS_BACKEND={backend}); "
            f"this process runs {keras.backend.backend()!r}. Received: distribution={distribution!r}"
        )


def start_distribution(distribution, *, coordinator_address=None, num_processes=1, process_id=0):
    """Starts the chosen engine; returns the scope to build and compile the model in.

    Call it before anything else touches the backend (JAX initializes once per process).
    """
    check_choice("distribution", distribution, DISTRIBUTIONS)
    check_integer("num_processes", num_processes, 1)
    check_integer("process_id", process_id, 0)
    if process_id >= num_processes:
        raise UsageError(
            f"`process_id` must be below num_processes={num_processes}. Received: process_id={process_id}"
        )
    if num_processes > 1 and distribution != "jax_data_parallel":
        raise UsageError(
            "Several processes need distribution='jax_data_parallel'. "
            f"Received: distribution={distribution!r}, num_processes={num_processes}"
        )
    if distribution == "none":
        return contextlib.nullcontext()
    if distribution == "mirrored":
        _require_backend(distribution, "tensorflow")
        import tensorflow as tf

        return tf.distribute.MirroredStrategy().scope()
    _require_backend(distribution, "jax")
    import jax

    if num_processes > 1:
        if not coordinator_address:
            raise UsageError(
                "Several processes need the coordinator's host:port. "
                f"Received: coordinator_address={coordinator_address!r}"
            )
        # CPU processes need a collectives implementation to exchange gradients; GPUs ignore
        # it. (Asking JAX which platform it runs on would start it before `initialize`.)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address, num_processes, process_id)
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
    return contextlib.nullcontext()


def gather_from_processes(value, num_processes):
    """The integer `value` of every process of the run, in process order (a collective: every
    process must call it). A single process gets [value] without touching the backend."""
    if num_processes == 1:
        return [value]
    from jax.experimental import multihost_utils

    return [int(each) for each in multihost_utils.process_allgather(np.int32(value))]
