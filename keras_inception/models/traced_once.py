"""The model class of every net: a functional `keras.Model` whose first `fit` traces its
training step once."""

import keras


@keras.saving.register_keras_serializable(package="keras_inception")
class TracedOnceModel(keras.Model):
    """Built and used exactly like `keras.Model(inputs, outputs)`.

    On TensorFlow with no distribution strategy, Keras leaves the optimizer's and the metrics'
    variables to be created inside the first traced step, and tf.function then traces that
    step a second time: ~8 s of a ResNet-50's first `fit` on 2 CPU cores, ~13 s of a
    GoogLeNet's. This class builds them from the first batch beforehand, as Keras does on JAX
    and under a strategy; `evaluate` and `train_on_batch` likewise.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Called by TensorFlow's trainer only.
        if self._distribute_strategy is None:
            try:
                self._symbolic_build(iterator=iterator, data_batch=data_batch)
            except StopIteration:  # no batch: Keras's own loop then warns that the data ran out
                pass
        else:
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
