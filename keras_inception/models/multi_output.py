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

from typing import NamedTuple

import keras
from keras import layers, tree

from keras_inception.layers import conv_block
from keras_inception.models import common
from keras_inception.validation import UsageError


MAIN_OUTPUT = "main"
# The paper adds each auxiliary loss with a discount weight of 0.3 (section 5).
AUX_LOSS_WEIGHT = 0.3


class AuxHead(NamedTuple):
    """An auxiliary classifier, as GoogLeNet (section 5) and Inception v3 (section 7) build
    theirs: a 5x5/3 average pool, a 1x1 conv, a fully connected layer, then the classifier."""

    tap: str  # the layer whose output feeds the head
    conv: int = 128  # the 1x1 conv's width
    fc: int = 1024  # the fully connected layer's width
    # Inception v3's "BN-auxiliary": the fully connected layer as a conv over the whole pooled
    # map, batch-normalised like every conv; GoogLeNet's is a Dense layer with a ReLU.
    fc_as_conv: bool = False
    dropout_rate: float = 0.0  # after the fully connected layer
    pool: int = 5  # the valid average pool: its map at `tap` must be at least this large
    pool_strides: int = 3


def aux_classifier(x, head, *, name, num_classes, classifier_activation, block_options, scale):
    """The auxiliary classifier `head` on `x` (its tap's output); layers named `{name}_...`."""
    x = layers.AveragePooling2D(head.pool, strides=head.pool_strides, name=f"{name}_pool")(x)
    x = conv_block(x, scale(head.conv), 1, name=f"{name}_1x1", **block_options)
    if head.fc_as_conv:
        x = conv_block(x, scale(head.fc), tuple(x.shape[1:3]), padding="valid", name=f"{name}_fc",
                       **block_options)
        x = layers.Flatten(name=f"{name}_flatten")(x)
    else:
        x = layers.Flatten(name=f"{name}_flatten")(x)
        x = layers.Dense(scale(head.fc), activation="relu", name=f"{name}_fc")(x)
    if head.dropout_rate:
        x = layers.Dropout(head.dropout_rate, name=f"{name}_dropout")(x)
    return common.classifier(x, num_classes, classifier_activation, name=name)


def aux_input_rule(heads):
    """What the heads need of the input, for `tables.build_trunk`: (minimum_at, reason), the
    smallest map each head's valid pool needs at its tap, and the sentence saying so."""
    first = heads[0]
    return ({head.tap: head.pool for head in heads},
            f"the auxiliary head's {first.pool}x{first.pool} pool needs a map that large at {first.tap}")


def build_with_aux_heads(with_aux_heads, *, trunk, trunk_options, main_top, heads, head_options, name):
    """A table's net: its trunk (`tables.build_trunk(trunk, **trunk_options)`), the main top
    `main_top(x)`, and with `with_aux_heads` a classifier for each {name: AuxHead} of `heads` on
    its tap (`aux_classifier(..., **head_options)`), as an AuxiliaryHeadsModel; without them, a
    plain keras.Model. GoogLeNet and Inception v3 are built this way (`common.build_and_load`)."""
    from keras_inception.models.tables import build_trunk

    minimum_at, reason = aux_input_rule(list(heads.values())) if with_aux_heads else (None, None)
    inputs, taps, x = build_trunk(trunk, minimum_at=minimum_at, reason=reason, **trunk_options)
    main = main_top(x)
    if not with_aux_heads:
        return keras.Model(inputs, main, name=name)
    outputs = {MAIN_OUTPUT: main}
    for head_name, head in heads.items():
        outputs[head_name] = aux_classifier(taps[head.tap], head, name=head_name, **head_options)
    return AuxiliaryHeadsModel(inputs, outputs, name=name)


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
        raise UsageError(
            f"The model has several outputs but none named {MAIN_OUTPUT!r}. "
            f"Received: output_names={model.output_names!r}"
        )
    main = model.get_layer(MAIN_OUTPUT).output
    # One input stays one tensor, not a list of one, so that calling the model on a batch
    # matches its input structure.
    return keras.Model(model.input, main, name=model.name)
