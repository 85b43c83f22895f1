"""One record per registered net, readable without building it: `get_spec("googlenet")`.

A `NetSpec` holds what a user needs to use a net faithfully: its default and smallest input,
its size and cost at the default input, the input range it takes, its auxiliary heads, the
public checkpoints the converters read (with the publisher's own evaluation transform) and the
paper it reproduces with the error the paper reports. The README's table of nets, the
training job's default input size, `get_model(..., weights="imagenet")`'s lookup and the tests
read these records; a test holds every figure to the built net.
"""

import dataclasses
import os
import re
from typing import NamedTuple, Optional

from keras_inception.models.multi_output import AUX_LOSS_WEIGHT
from keras_inception.pretrained.checkpoints import SOURCES  # noqa: F401 (the converter's sources)
from keras_inception.pretrained.torchvision import Preprocessing
from keras_inception.validation import UsageError

PROTOCOLS = ("center", "ten_crop", "googlenet_144", "vgg_dense")
TORCH_DOWNLOADS = "https://download.pytorch.org/models/"
KERAS_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclasses.dataclass(frozen=True)
class CheckpointSpec:
    """A published ImageNet checkpoint of the net and the publisher's evaluation transform.

    source: the converter's `--source` ("torchvision", "timm" or "keras").
    source_net: the converter's `--model`: the source's name of the net, or timm's hub ID.
    file: the file people have: its name in torch hub's cache, timm's hub ID, or its path under
        KERAS_APPLICATIONS (its name in Keras's cache).
    top1: the publisher's top-1 accuracy (%), at its own evaluation; None where unpublished.
    preprocessing: what the source's net expects of RGB in [0, 1]: (x - mean) / std
        (`bgr`: then with the channels reversed); the converted net holds it as its first layer.
    resize, crop, interpolation: the shorter side is resized to `resize`, then the central
        `crop` x `crop` is taken.
    build: the builder arguments that give the source's net (VGG's `batch_norm`).
    class_offset: 1 for a 1001-class file whose class 0 is "background".
    """

    source: str
    source_net: str
    file: str
    top1: Optional[float]
    preprocessing: Preprocessing
    resize: int = 256
    crop: int = 224
    interpolation: str = "bilinear"
    bgr: bool = False
    build: dict = dataclasses.field(default_factory=dict)
    class_offset: int = 0

    @property
    def crop_fraction(self):
        return self.crop / self.resize

    @property
    def url(self):
        """Where the publisher serves the file."""
        if self.source == "torchvision":
            return TORCH_DOWNLOADS + self.file
        if self.source == "timm":
            return f"https://huggingface.co/timm/{self.file}"
        return KERAS_APPLICATIONS + self.file


@dataclasses.dataclass(frozen=True)
class Paper:
    """The paper a net reproduces, and the error it reports for the net.

    table: where the paper gives the architecture.
    top1_error, top5_error: in %, None where the paper gives none; `results` says where.
    protocol: how the paper evaluated (`PROTOCOLS`, or a phrase for one the package does not run).
    """

    reference: str
    table: str
    top1_error: Optional[float] = None
    top5_error: Optional[float] = None
    protocol: Optional[str] = None
    dataset: str = "ILSVRC-2012 validation"
    results: str = ""

    @property
    def cite(self):
        """"Szegedy et al. 2015", "Simonyan and Zisserman 2015": the authors and the year."""
        authors = [author.strip() for author in self.reference.split(". ")[0].split(",")]
        if len(authors) == 2:
            names = " and ".join(authors)
        else:
            names = authors[0].removesuffix(" et al") + (" et al." if len(authors) > 1 or "et al" in authors[0] else "")
        year = re.findall(r"\b(?:19|20)\d\d\b", self.reference)[0]
        return f"{names} {year}"


class FeatureMap(NamedTuple):
    """A map the net's feature extractor gives (`get_feature_extractor`): its layer, its channels
    at the default widths, and its stride: input pixels per step of the map, the product of the
    strides before it (timm's `reduction`)."""

    name: str
    channels: int
    stride: int


@dataclasses.dataclass(frozen=True)
class NetSpec:
    """A registered net at its defaults. `params` counts every weight (batch-norm moving
    statistics included, Keras's count), `trainable_params` what PyTorch counts, `macs` the
    multiply-adds of the inference net (conv and dense layers, auxiliary heads dropped) for
    one image at `input_shape`."""

    name: str
    input_shape: tuple
    smallest_input: int
    num_classes: int
    params: int
    trainable_params: int
    macs: int
    aux_heads: tuple = ()  # output names; each loss weighs `aux_loss_weight`
    input_range: tuple = (0.0, 1.0)
    checkpoints: tuple = ()
    paper: Optional[Paper] = None
    variant: str = ""  # how it departs from the paper's net, where it does
    feature_maps: tuple = ()  # FeatureMap each, in network order; auxiliary heads' taps included

    @property
    def aux_loss_weight(self):
        return AUX_LOSS_WEIGHT if self.aux_heads else None


_SPECS = {}


def register_spec(spec):
    """Registers `spec` under its name; a name is registered once."""
    if not isinstance(spec, NetSpec):
        raise UsageError(f"A spec must be a NetSpec. Received: spec={spec!r}")
    if spec.name in _SPECS:
        raise UsageError(f"A spec named {spec.name!r} is already registered. Received: name={spec.name!r}")
    _SPECS[spec.name] = spec
    return spec


def get_spec(name):
    """The `NetSpec` of the registered net `name`."""
    if name not in _SPECS:
        raise UsageError(f"Unknown model name. Known models: {', '.join(sorted(_SPECS))}. Received: name={name!r}")
    return _SPECS[name]


def list_specs():
    """The names that have a spec, sorted."""
    return sorted(_SPECS)


def _error(value):
    return "—" if value is None else f"{value:g}"


def _triple(values):
    """Three channel values; 1/255 (Caffe's unscaled pixels) as such."""
    return ", ".join(f"1/{1 / value:.0f}" if value < 0.01 else f"{value:.3f}".rstrip("0").rstrip(".")
                     for value in values)


def nets_table(specs):
    """A Markdown table of the specs' inputs and papers."""
    lines = ["| net | input | smallest | paper | architecture | top-1 / top-5 error (%) | protocol |",
             "|---|---|--:|---|---|---|---|"]
    for spec in specs:
        paper = spec.paper
        size = "×".join(str(dim) for dim in spec.input_shape)
        lines.append(f"| `{spec.name}` | {size} | {spec.smallest_input} | {paper.cite} | {paper.table} "
                     f"| {_error(paper.top1_error)} / {_error(paper.top5_error)} | {paper.protocol or '—'} |")
    return "\n".join(lines)


def checkpoints_table(specs):
    """A Markdown table of the specs' checkpoints and their publishers' evaluation transforms."""
    lines = ["| net | `--source` | `--model` | file | top-1 (%) | mean | std | resize → crop |",
             "|---|---|---|---|--:|---|---|---|"]
    for spec in specs:
        for checkpoint in spec.checkpoints:
            build = "".join(f", {key}={value}" for key, value in checkpoint.build.items())
            order = " (BGR)" if checkpoint.bgr else ""
            lines.append(
                f"| `{spec.name}`{build} | {checkpoint.source} | `{checkpoint.source_net}` "
                f"| `{os.path.basename(checkpoint.file)}` "
                f"| {_error(checkpoint.top1)} | {_triple(checkpoint.preprocessing.mean)}{order} "
                f"| {_triple(checkpoint.preprocessing.std)} | {checkpoint.resize} → {checkpoint.crop} "
                f"{checkpoint.interpolation} |")
    return "\n".join(lines)


# The specs themselves, one module of data.
from keras_inception import net_specs  # noqa: E402,F401
