import keras
import pytest

import keras_inception


def _tiny():
    inputs = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", name="stem_conv")(inputs)  # 8*8*4*27 = 6912
    x = keras.layers.DepthwiseConv2D(3, padding="same", name="stem_dw")(x)  # 8*8*4*9 = 2304
    x = keras.layers.Conv2D(6, 1, strides=2, groups=2, name="block_a_conv")(x)  # 4*4*6*2 = 192
    x = keras.layers.Concatenate(name="block_a")([x, x])
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(5, name="main")(x)  # 12*5 = 60
    return keras.Model(inputs, outputs, name="tiny")


def test_layer_and_block_counts():
    profile = keras_inception.profile(_tiny())
    macs = {layer.name: layer.macs for layer in profile.layers}
    assert macs == {"image": 0, "stem_conv": 6912, "stem_dw": 2304, "block_a_conv": 192,
                    "block_a": 0, "pool": 0, "main": 60}
    blocks = profile.blocks
    assert list(blocks) == ["image", "stem", "block_a", "pool", "main"]
    assert blocks["stem"].macs == 6912 + 2304
    assert blocks["stem"].params == (27 * 4 + 4) + (9 * 4 + 4)
    assert blocks["block_a"].output_shape == (4, 4, 12)
    assert profile.params == _tiny().count_params()
    assert profile.macs == 6912 + 2304 + 192 + 60


def test_tables_print_totals(googlenet_paper_no_aux):
    profile = keras_inception.profile(googlenet_paper_no_aux)
    blocks = profile.block_table()
    assert "inception_4e" in blocks and "6,998,552" in blocks
    assert blocks.splitlines()[-1].split()[:2] == ["total", "6,998,552"]
    assert "inception_4e_pool_proj_conv" in profile.layer_table()
    assert str(profile) == blocks
    assert profile.macs / 1e9 == pytest.approx(1.58, abs=0.01)
