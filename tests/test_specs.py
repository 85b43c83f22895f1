"""Every registered net's spec (`keras_inception.get_spec`), held to the built net and to the
converters that read its checkpoints."""

import re

import pytest

import keras_inception
from keras_inception import pretrained, registry
from keras_inception.pretrained import keras_applications, timm, torchvision
from keras_inception.specs import PROTOCOLS, SOURCES

NAMES = keras_inception.list_models()


def test_every_registered_net_has_a_spec_under_its_name():
    assert keras_inception.list_specs() == NAMES
    assert all(keras_inception.get_spec(name).name == name for name in NAMES)


def test_an_unknown_name_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"^Unknown model name\. Known models: alexnet, alexnet_torchvision, .*, "
                                         r"zfnet_wide\. Received: name='googlenet_v9'$"):
        keras_inception.get_spec("googlenet_v9")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.slow
def test_the_spec_has_the_built_nets_size_cost_and_outputs(name, zoo_summaries):
    spec, built = keras_inception.get_spec(name), zoo_summaries[name]
    assert spec.input_shape == built.input_shape
    assert (spec.params, spec.trainable_params, spec.macs) == (built.params, built.trainable_params, built.macs)
    assert built.outputs == {output: (spec.num_classes,) for output in ("main", *spec.aux_heads)}
    assert spec.aux_loss_weight == (0.3 if spec.aux_heads else None)
    # The feature maps: the extractor's endpoints, with the built net's channels and strides.
    assert [feature.name for feature in spec.feature_maps] == list(registry.endpoint_names(name))
    assert {feature.name: feature.channels for feature in spec.feature_maps} == {
        endpoint: shape[-1] for endpoint, shape in built.endpoints.items()}
    assert {feature.name: feature.stride for feature in spec.feature_maps} == built.endpoint_strides


@pytest.mark.parametrize("name", NAMES)
def test_the_smallest_input_builds_and_one_pixel_less_is_refused(name):
    spec = keras_inception.get_spec(name)
    smallest, channels = spec.smallest_input, spec.input_shape[-1]
    assert 1 < smallest <= spec.input_shape[0]
    with pytest.raises(ValueError, match=rf"height and width must be at least {smallest} "):
        keras_inception.get_model(name, input_shape=(smallest - 1, smallest, channels))
    narrow = {"width_multiplier": 0.125} if "width_multiplier" in registry.accepted_arguments(name) else {}
    model = keras_inception.get_model(name, input_shape=(smallest, smallest, channels), num_classes=10, **narrow)
    assert model.input_shape == (None, smallest, smallest, channels)


def _conversion(checkpoint):
    """The converter's `Conversion` for a spec's checkpoint, as `scripts/convert_weights.py
    --source=... --model=...` finds it."""
    if checkpoint.source == "keras":
        return keras_applications.CONVERSIONS[checkpoint.source_net]
    if checkpoint.source == "timm":
        architecture = checkpoint.source_net.split(".")[0]
        return torchvision.CONVERSIONS.get(architecture) or timm.INCEPTION_V4_FAMILY[architecture]
    return torchvision.CONVERSIONS[checkpoint.source_net]


@pytest.mark.parametrize("name", [name for name in NAMES if keras_inception.get_spec(name).checkpoints])
def test_each_checkpoint_converts_into_the_net_with_the_preprocessing_the_spec_gives(name):
    for checkpoint in keras_inception.get_spec(name).checkpoints:
        assert checkpoint.source in SOURCES
        supported = pretrained.supported("keras" if checkpoint.source == "keras" else checkpoint.source)
        assert checkpoint.source_net.split(".")[0] in supported, checkpoint
        conversion = _conversion(checkpoint)
        assert conversion.model == name, checkpoint
        assert conversion.build.get("batch_norm", False) == checkpoint.build.get("batch_norm", False)
        assert conversion.bgr == checkpoint.bgr
        if checkpoint.source != "timm":  # timm's folder gives its own normalization and size
            assert conversion.preprocessing == checkpoint.preprocessing, checkpoint
            assert conversion.source_size == checkpoint.crop, checkpoint
        assert checkpoint.crop <= checkpoint.resize and checkpoint.interpolation in ("bilinear", "bicubic")
        assert checkpoint.url.startswith("https://") and checkpoint.class_offset == 0
        assert checkpoint.top1 is None or 50 < checkpoint.top1 < 90
        if checkpoint.source == "torchvision":
            assert re.fullmatch(rf"{checkpoint.source_net}[-_][-\w]+\.pth", checkpoint.file), checkpoint


@pytest.mark.parametrize("name", NAMES)
def test_the_paper_names_its_table_and_a_protocol_the_package_runs(name):
    paper = keras_inception.get_spec(name).paper
    assert paper.reference and paper.table
    for error in (paper.top1_error, paper.top5_error):
        assert error is None or 0 < error < 50
    if paper.top1_error is not None or paper.top5_error is not None:
        assert paper.protocol in PROTOCOLS and paper.results
