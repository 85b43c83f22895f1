"""Fine-tuning a trained or converted net, in the two phases of Keras's transfer-learning guide:
the backbone frozen (its batch norm then runs in inference mode) while the classifier learns,
then the whole net at a lower learning rate.

    model = model_from_weights("resnet50.keras", num_classes=5)
    freeze_backbone(model, True)   # phase 1;  freeze_backbone(model, False): phase 2
"""

import os
from typing import NamedTuple

import keras

from keras_inception.loading import load_model
from keras_inception.models.multi_output import MAIN_OUTPUT, inference_model
from keras_inception.validation import UsageError

BACKUP = "backup"  # the whole net's phase (and every run without --weights)
FROZEN_BACKUP = "backup_frozen"


class Phase(NamedTuple):
    backup: str  # the BackupAndRestore folder's name in the run directory
    first_epoch: int
    last_epoch: int  # exclusive
    learning_rate_scale: float
    frozen: bool


def phases(*, epochs, frozen_epochs, learning_rate_scale):
    """The phases of a run: one without fine-tuning (frozen_epochs None); else the frozen one,
    then `epochs` more of the whole net."""
    if frozen_epochs is None:
        return [Phase(BACKUP, 0, epochs, 1.0, False)]
    return [Phase(FROZEN_BACKUP, 0, frozen_epochs, 1.0, True),
            Phase(BACKUP, frozen_epochs, frozen_epochs + epochs, learning_rate_scale, False)]


def model_from_weights(path, num_classes):
    """(the inference net of the `.keras` file at `path`, a line saying what was done to its
    head): its classifier kept when it has `num_classes` outputs, else a new one."""
    model = inference_model(load_model(os.path.expanduser(path), compile=False))
    classes = model.output_shape[-1]
    if classes == num_classes:
        return model, f"Fine-tuning {path}: its {classes}-class classifier is kept."
    try:
        head = model.get_layer(MAIN_OUTPUT)
    except ValueError:
        head = None
    if not isinstance(head, keras.layers.Dense):
        raise UsageError(f"{path} has {classes} classes, the dataset {num_classes}, and no Dense layer named "
                         f"{MAIN_OUTPUT!r} to replace. Received: weights={path!r}")
    config = head.get_config()
    new_head = keras.layers.Dense(num_classes, activation=config["activation"], dtype=config.get("dtype"),
                                  name=MAIN_OUTPUT)(head.input)
    return (keras.Model(model.input, new_head, name=model.name),
            f"Fine-tuning {path}: a new {num_classes}-class classifier replaces its {classes}-class one.")


def freeze_backbone(model, frozen):
    """Every layer but the classifier untrainable (`frozen`), or all trainable again."""
    for layer in model.layers:
        layer.trainable = not frozen or layer.name == MAIN_OUTPUT
