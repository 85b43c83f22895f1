"""Training models with auxiliary classifiers, and the inference model that drops them.

GoogLeNet (and later Inception v3) train with a `main` output plus auxiliary classifiers
whose losses are added with weight 0.3 (Szegedy et al. 2014, section 5). A user should still
write the usual

    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images_and_labels)

with one label per image. `AuxiliaryHeadsModel` makes that work: one loss is applied to every
head with the paper's weights, one label is fanned out to every head, and the metrics are the
main head's unless given per output.
"""

import keras
from keras import tree


MAIN_OUTPUT = "main"
# The paper adds each auxiliary loss with a discount weight of 0.3 (section 5).
AUX_LOSS_WEIGHT = 0.3


def aux_loss_weights(model):
    """Loss weights by output name: 1.0 for `main`, 0.3 for each auxiliary head."""
    return {
        name: 1.0 if name == MAIN_OUTPUT else AUX_LOSS_WEIGHT for name in model.output_names
    }


@keras.saving.register_keras_serializable(package="keras_inception")
class AuxiliaryHeadsModel(keras.Model):
    """A functional model whose outputs are a dict: `main` plus auxiliary classifiers.

    Built exactly like `keras.Model(inputs, {"main": ..., "aux1": ...})`. It differs only in
    `compile` and in how labels reach the heads:

    - a single `loss` is applied to every output; `loss_weights` default to
      `aux_loss_weights(model)`;
    - `metrics` given as a list are tracked on `main` only (a dict is used as given);
    - one label (and sample weight) per image is given to every head.
    """

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, **kwargs):
        if loss is not None and not tree.is_nested(loss):
            loss = {name: loss for name in self.output_names}
        if loss_weights is None and loss is not None:
            loss_weights = aux_loss_weights(self)
        super().compile(
            optimizer=optimizer,
            loss=loss,
            loss_weights=loss_weights,
            metrics=self._on_main(metrics),
            weighted_metrics=self._on_main(weighted_metrics),
            **kwargs,
        )

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(
            x, self._fan_out(y), y_pred, self._fan_out(sample_weight), training=training
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, self._fan_out(y), y_pred, self._fan_out(sample_weight))

    def compile_from_config(self, config):
        # Keras skips re-compiling models whose `compile` is overridden; ours only fills in
        # defaults, so the saved (already expanded) arguments can go straight back through it.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if hasattr(self, "optimizer") and self.built:
            self.optimizer.build(self.trainable_variables)

    def _fan_out(self, value):
        if value is None or tree.is_nested(value):
            return value
        return {name: value for name in self.output_names}

    @staticmethod
    def _on_main(metrics):
        if metrics is None or isinstance(metrics, dict):
            return metrics
        return {MAIN_OUTPUT: metrics}


def inference_model(model):
    """The model with its `main` output only, sharing the given model's layers and weights.

    This is the graph to evaluate and export: auxiliary heads exist only for training.
    A single-output model is returned as it is.
    """
    if len(model.outputs) == 1:
        return model
    if MAIN_OUTPUT not in model.output_names:
        raise ValueError(
            f"The model has several outputs but none named {MAIN_OUTPUT!r}. "
            f"Received: output_names={model.output_names!r}"
        )
    main = model.get_layer(MAIN_OUTPUT).output
    return keras.Model(model.inputs, main, name=model.name)
