"""What is compared with what: each of our nets beside the torchvision net of the same form."""

from typing import NamedTuple


class Pair(NamedTuple):
    model: str  # our registered net, built with its auxiliary heads for training
    torchvision: str  # the torchvision.models builder
    torchvision_kwargs: dict
    image_size: int
    aux_outputs: tuple  # torchvision's auxiliary output fields, each weighted as ours (0.3)


PAIRS = {
    # torchvision's GoogLeNet: batch norm and a 3x3 kernel in the "5x5" branch; ours in that
    # form has the same 13,004,888 trainable parameters.
    "googlenet": Pair("googlenet_torchvision", "googlenet",
                      {"aux_logits": True, "init_weights": True}, 224,
                      ("aux_logits1", "aux_logits2")),
    "resnet50": Pair("resnet50", "resnet50", {}, 224, ()),
    "inception_v3": Pair("inception_v3", "inception_v3",
                         {"aux_logits": True, "init_weights": True}, 299, ("aux_logits",)),
}
