"""The nets beyond GoogLeNet against their papers: feature-map shapes at the default size,
the structural choices each paper makes, multiply-adds against torchvision's figures, and the
feature extractor."""

import keras
import numpy as np
import pytest

import keras_inception
from keras_inception.layers import LocalResponseNormalization


def _shapes(size_channels):
    return [(size, size, channels) for size, channels in size_channels]


# Feature-map shapes at the default input, from the papers' tables and figures.
ENDPOINT_SHAPES = {
    "lenet5": _shapes([(28, 6), (14, 6), (10, 16), (5, 16), (1, 120)]),
    "alexnet": _shapes([(27, 96), (13, 256), (13, 384), (13, 384), (6, 256)]),
    "alexnet_torchvision": _shapes([(27, 64), (13, 192), (13, 384), (13, 256), (6, 256)]),
    "zfnet": _shapes([(55, 96), (13, 256), (13, 384), (13, 384), (6, 256)]),
    "zfnet_wide": _shapes([(55, 96), (13, 256), (13, 512), (13, 1024), (6, 512)]),
    **{vgg: _shapes([(112, 64), (56, 128), (28, 256), (14, 512), (7, 512)])
       for vgg in ("vgg11", "vgg11_lrn", "vgg13", "vgg16_c", "vgg16", "vgg19")},
    "resnet18": _shapes([(112, 64), (56, 64), (28, 128), (14, 256), (7, 512)]),
    "resnet50": _shapes([(112, 64), (56, 256), (28, 512), (14, 1024), (7, 2048)]),
    "resnet152": _shapes([(112, 64), (56, 256), (28, 512), (14, 1024), (7, 2048)]),
    # BN-Inception, figure 5.
    "inception_v2": _shapes([(28, 256), (28, 320), (14, 576), (14, 576), (14, 576), (14, 608),
                             (14, 608), (7, 1056), (7, 1024), (7, 1024)]),
    # Inception v3: 35x35x288 -> 17x17x768 -> 8x8x2048 (paper, Table 1).
    "inception_v3": _shapes([(35, 256), (35, 288), (35, 288)] + [(17, 768)] * 5
                            + [(8, 1280), (8, 2048), (8, 2048)]),
    # Inception v4, figure 9: 4 x A at 35x35x384, 7 x B at 17x17x1024, 3 x C at 8x8x1536.
    "inception_v4": _shapes([(35, 384)] * 4 + [(17, 1024)] * 8 + [(8, 1536)] * 4),
    # Inception-ResNet v1: 5 x A at 35x35x256, 10 x B at 17x17x896, 5 x C at 8x8x1792.
    "inception_resnet_v1": _shapes([(35, 256)] * 5 + [(17, 896)] * 11 + [(8, 1792)] * 6),
    "inception_resnet_v2": _shapes([(35, 320)] * 11 + [(17, 1088)] * 21 + [(8, 2080)] * 11
                                   + [(8, 1536)]),
}


@pytest.mark.parametrize("name", sorted(ENDPOINT_SHAPES))
def test_endpoint_shapes_follow_the_papers(name, zoo_summaries):
    assert list(zoo_summaries[name].endpoints.values()) == ENDPOINT_SHAPES[name]


# torchvision's GFLOPS column (multiply-adds) at the default size; ours count conv and dense
# layers the same way.
@pytest.mark.parametrize("name, kwargs, giga_macs", [
    ("vgg16", {}, 15.47), ("vgg19", {}, 19.63), ("inception_v3", {}, 5.71),
    ("resnet50", dict(stride_on_3x3=True), 4.09),
])
def test_multiply_adds_match_torchvision(name, kwargs, giga_macs, zoo_summaries):
    if kwargs:
        model = keras_inception.get_model(name, **kwargs)
        macs = keras_inception.profile(model).macs
    else:
        macs = zoo_summaries[name].macs
    assert macs / 1e9 == pytest.approx(giga_macs, abs=0.005)


def _layers_of(model, layer_type):
    return [layer for layer in model.layers if isinstance(layer, layer_type)]


def test_alexnet_towers_are_grouped_convolutions():
    model = keras_inception.get_model("alexnet", include_top=False)
    groups = {layer.name: layer.groups for layer in _layers_of(model, keras.layers.Conv2D)}
    # conv3 reads both towers; conv2, conv4 and conv5 only their own (paper, figure 2).
    assert groups == {"conv1_conv": 1, "conv2_conv": 2, "conv3_conv": 1, "conv4_conv": 2,
                      "conv5_conv": 2}
    merged = keras_inception.get_model("alexnet", two_towers=False)
    assert merged.count_params() == 62_378_344
    assert {layer.groups for layer in _layers_of(merged, keras.layers.Conv2D)} == {1}


def test_alexnet_and_zfnet_layer_order():
    alexnet = [layer.name for layer in keras_inception.get_model("alexnet").layers]
    # AlexNet normalises before pooling; ZFNet pools first.
    assert alexnet.index("norm1") < alexnet.index("pool1") < alexnet.index("conv2_conv")
    assert keras_inception.get_model("alexnet").get_layer("fc6_dropout").rate == 0.5
    zfnet = keras_inception.get_model("zfnet")
    names = [layer.name for layer in zfnet.layers]
    assert names.index("pool1") < names.index("norm1")
    conv1, conv2 = zfnet.get_layer("conv1_conv"), zfnet.get_layer("conv2_conv")
    assert (conv1.kernel_size, conv1.strides) == ((7, 7), (2, 2))
    assert (conv2.kernel_size, conv2.strides) == ((5, 5), (2, 2))
    assert len(_layers_of(zfnet, LocalResponseNormalization)) == 2


def test_vgg_c_adds_three_1x1_convs_to_b(zoo_summaries):
    model = keras_inception.get_model("vgg16_c", include_top=False)
    one_by_one = [layer.name for layer in _layers_of(model, keras.layers.Conv2D)
                  if layer.kernel_size == (1, 1)]
    assert one_by_one == ["block3_conv3_conv", "block4_conv3_conv", "block5_conv3_conv"]
    added = (256 * 256 + 256) + 2 * (512 * 512 + 512)
    assert zoo_summaries["vgg16_c"].params == zoo_summaries["vgg13"].params + added


def test_vgg_a_lrn_has_one_lrn_after_the_first_conv():
    model = keras_inception.get_model("vgg11_lrn", include_top=False)
    names = [layer.name for layer in model.layers]
    assert [layer.name for layer in _layers_of(model, LocalResponseNormalization)] == ["block1_lrn"]
    assert names.index("block1_conv1_relu") < names.index("block1_lrn") < names.index("block1_pool")


def test_vgg_batch_norm_form(zoo_summaries):
    model = keras_inception.get_model("vgg16", batch_norm=True)
    assert model.name == "vgg16_bn"
    convs = _layers_of(model, keras.layers.Conv2D)
    assert len(_layers_of(model, keras.layers.BatchNormalization)) == len(convs) == 13
    channels = sum(conv.filters for conv in convs)
    # Each conv loses its bias and gains four batch-norm weights per channel.
    assert model.count_params() == zoo_summaries["vgg16"].params - channels + 4 * channels


def test_resnet_blocks_and_initialisation():
    basic = keras_inception.get_model("resnet18", include_top=False)
    assert basic.get_layer("conv2_block1_2_conv").kernel_size == (3, 3)
    assert "conv2_block1_3_conv" not in [layer.name for layer in basic.layers]
    assert "conv2_block1_0_conv" not in [layer.name for layer in basic.layers]  # identity
    assert basic.get_layer("conv3_block1_0_conv").strides == (2, 2)  # projection
    convs = _layers_of(basic, keras.layers.Conv2D)
    assert len(_layers_of(basic, keras.layers.BatchNormalization)) == len(convs)
    assert not any(conv.use_bias for conv in convs)
    assert all(isinstance(conv.kernel_initializer, keras.initializers.HeNormal) for conv in convs)


@pytest.mark.parametrize("stride_on_3x3, strided", [(False, "conv3_block1_1_conv"),
                                                     (True, "conv3_block1_2_conv")])
def test_resnet_stride_on_the_first_1x1_or_on_the_3x3(stride_on_3x3, strided, zoo_summaries):
    model = keras_inception.get_model("resnet50", stride_on_3x3=stride_on_3x3)
    strides = {name: model.get_layer(name).strides for name in ("conv3_block1_1_conv", "conv3_block1_2_conv")}
    assert strides[strided] == (2, 2)
    assert sorted(strides.values()) == [(1, 1), (2, 2)]
    assert model.count_params() == zoo_summaries["resnet50"].params


def test_inception_v3_without_aux_equals_keras_applications():
    model = keras_inception.get_model("inception_v3", aux_heads=False)
    assert model.output_names == ["main"]
    assert model.count_params() == 23_851_784


def test_inception_v3_factorises_and_has_a_batch_normed_aux_head():
    model = keras_inception.get_model("inception_v3")
    assert keras_inception.aux_loss_weights(model) == {"aux": 0.3, "main": 1.0}
    kernels = {layer.kernel_size for layer in _layers_of(model, keras.layers.Conv2D)
               if layer.name.startswith("mixed_6b_")}
    assert kernels == {(1, 1), (1, 7), (7, 1)}  # no 7x7: factorised into 1x7 and 7x1
    # 17x17x768 -> 5x5/3 pool -> 5x5x768 -> 1x1 (128) -> 5x5 conv (768, the batch-normed FC).
    assert tuple(model.get_layer("aux_pool").output.shape[1:]) == (5, 5, 768)
    assert model.get_layer("aux_fc_conv").kernel_size == (5, 5)
    assert tuple(model.get_layer("aux_fc_relu").output.shape[1:]) == (1, 1, 768)
    assert isinstance(model.get_layer("aux_fc_bn"), keras.layers.BatchNormalization)
    # Figure 7's expanded 8x8 module: parallel 1x3 and 3x1 convs, concatenated.
    assert model.get_layer("mixed_7b_b1_1a_1x3_conv").kernel_size == (1, 3)
    assert model.get_layer("mixed_7b_b1_1b_3x1_conv").kernel_size == (3, 1)


def test_inception_v4_has_the_paper_size(zoo_summaries):
    assert zoo_summaries["inception_v4"].params == pytest.approx(42.7e6, rel=0.005)


@pytest.mark.parametrize("block, scale", [("block35_1", 0.17), ("block17_20", 0.1), ("block8_9", 0.2)])
@pytest.mark.slow
def test_inception_resnet_scales_its_residuals(block, scale):
    model = keras_inception.get_model("inception_resnet_v2", include_top=False)
    assert model.get_layer(f"{block}_scale").scale == pytest.approx(scale)
    up = model.get_layer(f"{block}_up_conv")
    assert up.use_bias and up.kernel_size == (1, 1)
    assert isinstance(model.get_layer(block), keras.layers.Activation)
    # The last block is added unscaled, without its ReLU.
    assert isinstance(model.get_layer("block8_10"), keras.layers.Add)
    assert model.get_layer("block8_10_scale").scale == 1.0


def test_inception_resnet_v1_follows_figure_15():
    model = keras_inception.get_model("inception_resnet_v1", include_top=False)
    names = [layer.name for layer in model.layers]
    for prefix, count in (("block35_", 5), ("block17_", 10), ("block8_", 5)):
        assert sum(1 for name in names if name.startswith(prefix) and name.endswith("_add")) == count
    assert tuple(model.get_layer("conv_4b_relu").output.shape[1:]) == (35, 35, 256)


@pytest.mark.slow
def test_small_stems_keep_cifar_resolution():
    for name, layer, size in (("inception_v3", "mixed_5b", 32), ("inception_v4", "mixed_6a", 15),
                              ("inception_resnet_v2", "mixed_7a", 7), ("resnet18", "conv5_block2_out", 4),
                              ("alexnet", "pool5", 3), ("inception_v2", "inception_3a", 16)):
        model = keras_inception.get_model(name, stem="small", include_top=False, width_multiplier=0.125)
        assert model.get_layer(layer).output.shape[1] == size, name


def test_feature_extractor_returns_every_endpoint():
    extractor = keras_inception.get_feature_extractor("resnet18", input_shape=(64, 64, 3))
    names = keras_inception.endpoint_names("resnet18")
    assert names == ("conv1_relu", "conv2_block2_out", "conv3_block2_out", "conv4_block2_out",
                     "conv5_block2_out")
    maps = extractor(np.zeros((1, 64, 64, 3), np.float32))
    assert {name: tuple(maps[name].shape) for name in names} == {
        "conv1_relu": (1, 32, 32, 64), "conv2_block2_out": (1, 16, 16, 64),
        "conv3_block2_out": (1, 8, 8, 128), "conv4_block2_out": (1, 4, 4, 256),
        "conv5_block2_out": (1, 2, 2, 512)}
    chosen = keras_inception.get_feature_extractor(
        "inception_v3", ["mixed_5d", "mixed_7c"], stem="small", width_multiplier=0.125,
        input_shape=(None, None, 3))
    assert sorted(chosen.output) == ["mixed_5d", "mixed_7c"]


def test_feature_extractor_refuses_unknown_endpoints_and_the_top():
    with pytest.raises(ValueError, match=r"conv1_relu, conv2_block2_out.*Received: endpoints=\['fc'\]"):
        keras_inception.get_feature_extractor("resnet18", ["fc"])
    with pytest.raises(ValueError, match="without the top. Received: include_top=True"):
        keras_inception.get_feature_extractor("resnet18", include_top=True)
