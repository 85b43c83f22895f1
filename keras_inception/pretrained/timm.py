"""timm's hub checkpoints (a folder with `model.safetensors` and `config.json`) in our nets.

timm's ResNets and Inception v3 keep torchvision's key names, so their conversions are
torchvision's with the normalization that `config.json` gives; its VGGs store the first two
fully connected layers as convs (`pre_logits.fc1`, `pre_logits.fc2`) and the classifier as
`head.fc`.
"""

import functools

from keras_inception.pretrained import torchvision
from keras_inception.pretrained.torchvision import Conversion, Preprocessing

VGG_CLASSIFIER = ("pre_logits.fc1", "pre_logits.fc2", "head.fc")


def conversion(architecture, config, state):
    """The `Conversion` of timm's `architecture` ("resnet50", "vgg16_bn", "inception_v3"),
    normalized as its `config.json` says; None for an architecture we do not convert."""
    base = torchvision.CONVERSIONS.get(architecture)
    if base is None or architecture == "googlenet":  # timm has no GoogLeNet
        return None
    pretrained = config.get("pretrained_cfg", config)
    preprocessing = Preprocessing(tuple(pretrained.get("mean", base.preprocessing.mean)),
                                  tuple(pretrained.get("std", base.preprocessing.std)))
    changes = {"preprocessing": preprocessing}
    if architecture.startswith("vgg"):
        changes.update(layer_map=functools.partial(torchvision.vgg_map, classifier=VGG_CLASSIFIER), flattened_from=None,
                       head=("pre_logits.*", "head.*"))
    if architecture == "inception_v3":
        # tf_in1k, a TF-slim port, has no auxiliary head; tv_in1k has torchvision's trained one.
        changes["build"] = {**base.build, "aux_heads": "AuxLogits.fc.weight" in state}
    input_size = pretrained.get("input_size")
    if input_size:
        changes["source_size"] = int(input_size[-1])
    return Conversion(**{**base._asdict(), **changes})
