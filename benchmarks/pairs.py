"""What is compared with what: each of our nets beside the torchvision net of the same form."""

from typing import NamedTuple


class Pair(NamedTuple):
    model: str  # our registered net, built with its auxiliary heads for training
    torchvision: str  # the torchvision.models builder
    torchvision_kwargs: dict
    image_size: int
    aux_outputs: tuple  # torchvision's auxiliary output fields, each weighted as ours (0.3)
    model_kwargs: dict = {}  # what makes our net the same form as torchvision's
    # Where both nets are cut for the per-block latency profile: (our layer, torchvision's
    # child module) whose outputs are the same tensor. A block runs from one cut to the next.
    blocks: tuple = ()


PAIRS = {
    # torchvision's GoogLeNet: batch norm and a 3x3 kernel in the "5x5" branch; ours in that
    # form has the same 13,004,888 trainable parameters.
    "googlenet": Pair("googlenet_torchvision", "googlenet",
                      {"aux_logits": True, "init_weights": True}, 224,
                      ("aux_logits1", "aux_logits2"),
                      blocks=(("stem_maxpool2", "maxpool2"), ("inception_3b", "inception3b"),
                              ("inception_4e", "inception4e"), ("inception_5b", "inception5b"))),
    # torchvision's ResNet-50 is "v1.5": the stride on the bottleneck's 3x3 (4.09 G MACs), not
    # on its first 1x1 as in the paper (3.86 G).
    "resnet50": Pair("resnet50", "resnet50", {}, 224, (), {"stride_on_3x3": True},
                     blocks=(("pool1", "maxpool"), ("conv2_block3_out", "layer1"),
                             ("conv3_block4_out", "layer2"), ("conv4_block6_out", "layer3"),
                             ("conv5_block3_out", "layer4"))),
    # The smallest pair, 69 layers to GoogLeNet's 213 (tracing and conversion take time by the
    # layer): what the smoke run measures (`runner.SMOKE`). Its basic blocks put the stride on
    # the first 3x3 in both forms.
    "resnet18": Pair("resnet18", "resnet18", {}, 224, (),
                     blocks=(("pool1", "maxpool"), ("conv2_block2_out", "layer1"),
                             ("conv3_block2_out", "layer2"), ("conv4_block2_out", "layer3"),
                             ("conv5_block2_out", "layer4"))),
    "inception_v3": Pair("inception_v3", "inception_v3",
                         {"aux_logits": True, "init_weights": True}, 299, ("aux_logits",),
                         blocks=(("pool_5a", "maxpool2"), ("mixed_5d", "Mixed_5d"),
                                 ("mixed_6a", "Mixed_6a"), ("mixed_6e", "Mixed_6e"),
                                 ("mixed_7a", "Mixed_7a"), ("mixed_7c", "Mixed_7c"))),
}

# What a run measures unless told (`--models`): the nets the comparison is for.
DEFAULT_PAIRS = ("googlenet", "resnet50", "inception_v3")
