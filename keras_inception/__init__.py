"""keras_inception: GoogLeNet, the Inception line and the nets it grew from, for Keras 3."""

from keras_inception import explain, layers, metrics
from keras_inception.models import (
    AuxiliaryHeadsModel,
    alexnet,
    aux_loss_weights,
    googlenet,
    inception_resnet_v1,
    inception_resnet_v2,
    inception_v2,
    inception_v3,
    inception_v4,
    inference_model,
    lenet5,
    nin,
    resnet,
    vgg,
    zfnet,
)
from keras_inception.pretrained.classes import decode_predictions
from keras_inception.profile import Profile, profile
from keras_inception.specs import FeatureMap, NetSpec, get_spec, list_specs
from keras_inception.registry import (
    endpoint_names,
    get_feature_extractor,
    get_model,
    list_models,
    register_model,
)

__version__ = "0.1.0"

__all__ = [
    "AuxiliaryHeadsModel",
    "FeatureMap",
    "NetSpec",
    "Profile",
    "alexnet",
    "aux_loss_weights",
    "decode_predictions",
    "endpoint_names",
    "get_feature_extractor",
    "get_model",
    "get_spec",
    "googlenet",
    "inception_resnet_v1",
    "inception_resnet_v2",
    "inception_v2",
    "inception_v3",
    "inception_v4",
    "inference_model",
    "layers",
    "lenet5",
    "list_models",
    "list_specs",
    "nin",
    "profile",
    "register_model",
    "resnet",
    "vgg",
    "zfnet",
]
