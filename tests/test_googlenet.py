"""GoogLeNet against the paper: Table 1 widths and ops, aux heads, variants, training, saving."""

import keras
import numpy as np
import pytest

import keras_inception
from keras_inception.layers import LocalResponseNormalization
from keras_inception.models import INCEPTION_WIDTHS, AuxiliaryHeadsModel, inference_model, resolve_widths
from keras_inception.training.speedups import fast_training
from tests.conftest import SMALL_GOOGLENET, count_step_traces

# Table 1's ops column (millions of multiply-adds) for each Inception block.
PAPER_OPS = {"3a": 128, "3b": 304, "4a": 73, "4b": 88, "4c": 100, "4d": 119, "4e": 170, "5a": 54, "5b": 71}
PAPER_OUTPUTS = {
    "3a": (28, 28, 256), "3b": (28, 28, 480), "4a": (14, 14, 512), "4b": (14, 14, 512),
    "4c": (14, 14, 512), "4d": (14, 14, 528), "4e": (14, 14, 832), "5a": (7, 7, 832),
    "5b": (7, 7, 1024),
}


@pytest.mark.parametrize("block", sorted(PAPER_OPS))
def test_block_multiply_adds_match_table_1(block, googlenet_paper_no_aux):
    blocks = keras_inception.profile(googlenet_paper_no_aux).blocks
    measured = blocks[f"inception_{block}"].macs / 1e6
    assert measured == pytest.approx(PAPER_OPS[block], rel=0.06)
    assert blocks[f"inception_{block}"].output_shape == PAPER_OUTPUTS[block]


def test_aux_heads_follow_the_paper(googlenet_paper):
    model = googlenet_paper
    assert isinstance(model, AuxiliaryHeadsModel)
    # 5x5/3 average pool: 14x14x512 -> 4x4x512 on 4a, 4x4x528 on 4d.
    assert tuple(model.get_layer("aux1_pool").output.shape[1:]) == (4, 4, 512)
    assert tuple(model.get_layer("aux2_pool").output.shape[1:]) == (4, 4, 528)
    assert model.get_layer("aux1_1x1_conv").filters == 128
    assert model.get_layer("aux1_fc").units == 1024
    assert model.get_layer("aux1_dropout").rate == 0.7
    assert model.get_layer("main_dropout").rate == 0.4
    assert keras_inception.aux_loss_weights(model) == {"aux1": 0.3, "aux2": 0.3, "main": 1.0}


def _count(model, layer_type):
    return sum(isinstance(layer, layer_type) for layer in model.layers)


def test_paper_variant_has_lrn_biases_and_true_5x5(googlenet_paper_no_aux):
    model = googlenet_paper_no_aux
    assert _count(model, LocalResponseNormalization) == 2
    assert _count(model, keras.layers.BatchNormalization) == 0
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(conv.use_bias for conv in convs)
    assert model.get_layer("inception_3a_5x5_conv").kernel_size == (5, 5)
    assert model.get_layer("stem_conv1_conv").kernel_size == (7, 7)


def test_bn_variant_has_batch_norm_after_every_conv_and_no_lrn():
    model = keras_inception.get_model("googlenet_bn", aux_heads=False)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert _count(model, LocalResponseNormalization) == 0
    assert _count(model, keras.layers.BatchNormalization) == len(convs)
    assert not any(conv.use_bias for conv in convs)
    assert model.get_layer("stem_conv1_bn").momentum == 0.9


def test_small_stem_keeps_cifar_resolution():
    model = keras_inception.get_model("googlenet", stem="small", aux_heads=False)
    assert tuple(model.get_layer("inception_3a").output.shape[1:3]) == (16, 16)
    assert tuple(model.get_layer("inception_5b").output.shape[1:3]) == (4, 4)


def test_factorized_5x5_uses_two_3x3():
    model = keras_inception.get_model("googlenet_cifar")
    assert model.get_layer("inception_3a_5x5a_conv").kernel_size == (3, 3)
    assert model.get_layer("inception_3a_5x5b_conv").kernel_size == (3, 3)
    assert "inception_3a_5x5_conv" not in [layer.name for layer in model.layers]


def test_torchvision_form_matches_torchvision_googlenet():
    # torchvision's counts: 6,624,904 trainable parameters, 13,004,888 with the
    # auxiliary heads; its "5x5" branch is a 3x3 conv.
    model = keras_inception.get_model("googlenet_torchvision", aux_heads=False)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 6_624_904
    assert model.get_layer("inception_3a_5x5_conv").kernel_size == (3, 3)
    assert model.get_layer("main_dropout").rate == 0.2


def _conv_widths(model, block):
    return {
        branch: model.get_layer(f"inception_{block}_{branch}_conv").filters
        for branch in ("1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj")
    }


def test_default_widths_are_table_1():
    assert resolve_widths() == INCEPTION_WIDTHS
    model = keras_inception.get_model("googlenet", stem="small", aux_heads=False)
    for block, row in INCEPTION_WIDTHS.items():
        assert list(_conv_widths(model, block).values()) == list(row)


def test_block_override_changes_exactly_one_width():
    table = resolve_widths(block_widths={"4e": {"pool_proj": 64}})
    for block, row in INCEPTION_WIDTHS.items():
        expected = row._replace(pool_proj=64) if block == "4e" else row
        assert table[block] == expected
    model = keras_inception.get_model(
        "googlenet", stem="small", aux_heads=False, block_widths={"4e": {"pool_proj": 64}}
    )
    assert model.get_layer("inception_4e").output.shape[-1] == 832 - 64


def test_whole_table_and_row_overrides():
    uniform = {block: (8, 8, 8, 8, 8, 8) for block in INCEPTION_WIDTHS}
    model = keras_inception.get_model(
        "googlenet", stem="small", aux_heads=False, widths=uniform,
        block_widths={"5b": (16, 8, 16, 8, 16, 16)},
    )
    assert model.get_layer("inception_3a").output.shape[-1] == 32
    assert model.get_layer("inception_5b").output.shape[-1] == 64


def test_width_multiplier_scales_every_width():
    table = resolve_widths(width_multiplier=0.5)
    assert table["3a"] == (32, 48, 64, 8, 16, 16)
    assert table["5b"] == (192, 96, 192, 24, 64, 64)
    model = keras_inception.get_model("googlenet", stem="small", width_multiplier=0.5)
    assert model.get_layer("stem_conv3_conv").filters == 96
    assert model.get_layer("aux1_fc").units == 512


def test_inference_model_shares_weights(small_googlenet, images):
    training = small_googlenet
    inference = inference_model(training)
    assert inference.output_names == ["main"]
    assert not any(layer.name.startswith("aux") for layer in inference.layers)
    np.testing.assert_allclose(
        inference.predict(images, verbose=0), training.predict(images, verbose=0)["main"], atol=1e-6
    )
    kernel = inference.get_layer("main").kernel
    kernel.assign(kernel.numpy() + 1.0)
    np.testing.assert_array_equal(training.get_layer("main").kernel.numpy(), kernel.numpy())
    np.testing.assert_allclose(
        inference.predict(images, verbose=0), training.predict(images, verbose=0)["main"], atol=1e-6
    )


def test_fit_reports_every_head_and_weighs_aux_losses(small_googlenet, images, labels):
    model = small_googlenet
    # Eager: the compiled path is the training job's (the digits_run fixture).
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  run_eagerly=True)
    history = model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    for key in ("loss", "main_loss", "aux1_loss", "aux2_loss", "main_accuracy"):
        assert np.isfinite(history.history[key][0]), key
    assert "aux1_accuracy" not in history.history
    result = model.evaluate(images, labels, batch_size=8, verbose=0, return_dict=True)
    weighted = result["main_loss"] + 0.3 * (result["aux1_loss"] + result["aux2_loss"])
    assert result["loss"] == pytest.approx(weighted, rel=1e-4)


def test_fit_on_a_dataset_with_one_label_per_image(small_googlenet, images, labels):
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    model = small_googlenet
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    traces = count_step_traces(model)
    with fast_training(model, dataset):
        history = model.fit(dataset, validation_data=dataset, epochs=2, verbose=0)
    assert {"val_main_loss", "val_aux1_loss", "val_aux2_loss", "val_main_accuracy"} <= set(history.history)
    # The optimizer's and metrics' variables were built before the first step, so the step was
    # traced once, not a second time to create them (speedups.build_training_state).
    assert traces["train"] == 1


def test_fit_on_an_empty_dataset_warns_as_keras_does(small_googlenet):
    import tensorflow as tf

    empty = tf.data.Dataset.from_tensor_slices((np.zeros((0, 32, 32, 3), "float32"), np.zeros((0,), "int64")))
    small_googlenet.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.warns(UserWarning, match="ran out of data"):
        small_googlenet.fit(empty.batch(4), epochs=1, verbose=0)


@pytest.mark.slow
def test_keras_save_and_reload_in_safe_mode(small_googlenet, images, labels, tmp_path):
    model = small_googlenet
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  run_eagerly=True)
    model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    path = tmp_path / "googlenet.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(reloaded, AuxiliaryHeadsModel)
    expected, actual = model.predict(images, verbose=0), reloaded.predict(images, verbose=0)
    for output in ("main", "aux1", "aux2"):
        np.testing.assert_array_equal(actual[output], expected[output])
    # The compile settings come back too: one label per image still reaches every head.
    assert reloaded.evaluate(images, labels, verbose=0, return_dict=True)["main_loss"] == pytest.approx(
        model.evaluate(images, labels, verbose=0, return_dict=True)["main_loss"], rel=1e-5
    )


def test_training_weights_load_into_the_net_without_aux_heads(small_googlenet, images, tmp_path):
    path = tmp_path / "trained.weights.h5"
    small_googlenet.save_weights(path)
    net = keras_inception.get_model("googlenet", aux_heads=False, weights=str(path), **SMALL_GOOGLENET)
    np.testing.assert_allclose(
        net.predict(images, verbose=0), small_googlenet.predict(images, verbose=0)["main"], atol=1e-6
    )
