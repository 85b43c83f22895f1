"""keras_inception: GoogLeNet, the Inception line and the nets it grew from, for Keras 3."""

from keras_inception import layers
from keras_inception.models import (
    AuxiliaryHeadsModel,
    aux_loss_weights,
    googlenet,
    inference_model,
    nin,
)
from keras_inception.profile import Profile, profile
from keras_inception.registry import get_model, list_models, register_model

__version__ = "0.1.0"

__all__ = [
    "AuxiliaryHeadsModel",
    "Profile",
    "aux_loss_weights",
    "get_model",
    "googlenet",
    "inference_model",
    "layers",
    "list_models",
    "nin",
    "profile",
    "register_model",
]
