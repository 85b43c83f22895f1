"""The nets. Importing this package registers every builder with `keras_inception.registry`."""

from keras_inception.models.alexnet import alexnet, zfnet
from keras_inception.models.googlenet import INCEPTION_WIDTHS, InceptionWidths, googlenet, resolve_widths
from keras_inception.models.inception_v2 import inception_v2
from keras_inception.models.inception_v3 import inception_v3
from keras_inception.models.inception_v4 import (
    inception_resnet_v1,
    inception_resnet_v2,
    inception_v4,
)
from keras_inception.models.lenet import lenet5
from keras_inception.models.multi_output import (
    AUX_LOSS_WEIGHT,
    AuxiliaryHeadsModel,
    aux_loss_weights,
    inference_model,
)
from keras_inception.models.nin import nin
from keras_inception.models.resnet import resnet
from keras_inception.models.vgg import vgg

__all__ = [
    "AUX_LOSS_WEIGHT",
    "AuxiliaryHeadsModel",
    "INCEPTION_WIDTHS",
    "InceptionWidths",
    "alexnet",
    "aux_loss_weights",
    "googlenet",
    "inception_resnet_v1",
    "inception_resnet_v2",
    "inception_v2",
    "inception_v3",
    "inception_v4",
    "inference_model",
    "lenet5",
    "nin",
    "resnet",
    "resolve_widths",
    "vgg",
    "zfnet",
]
