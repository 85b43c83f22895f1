"""TensorFlow kernels that Keras 3 does not reach by itself, for layers to use on the TensorFlow
backend only. The model code imports this module lazily, so the nets still build and run
under other backends without TensorFlow installed.
"""

import tensorflow as tf


def fused_batch_norm_training(x, gamma, beta, epsilon):
    """Batch norm of a 4-D, channels-last float32 batch by its own statistics, in one
    FusedBatchNormV3 op (oneDNN's when TensorFlow's oneDNN kernels are on).

    Returns:
        (outputs, batch mean, batch variance), the variance biased as Keras's moments are.
    """
    outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
        x, gamma, beta, epsilon=epsilon, is_training=True
    )
    # The kernel returns the variance with Bessel's correction, n / (n - 1) for n > 1 values
    # per channel.
    count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), "float32")
    return outputs, mean, variance * tf.maximum(count - 1.0, 1.0) / count
