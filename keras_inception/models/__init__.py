"""The nets. Importing this package registers every builder with `keras_inception.registry`."""

from keras_inception.models.googlenet import INCEPTION_WIDTHS, InceptionWidths, googlenet, resolve_widths
from keras_inception.models.multi_output import (
    AUX_LOSS_WEIGHT,
    AuxiliaryHeadsModel,
    aux_loss_weights,
    inference_model,
)
from keras_inception.models.nin import nin

__all__ = [
    "AUX_LOSS_WEIGHT",
    "AuxiliaryHeadsModel",
    "INCEPTION_WIDTHS",
    "InceptionWidths",
    "aux_loss_weights",
    "googlenet",
    "inference_model",
    "nin",
    "resolve_widths",
]
