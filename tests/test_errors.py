"""Every bad builder argument raises a one-line ValueError naming the value and what is allowed."""

import pytest

import keras_inception
from keras_inception.models import INCEPTION_WIDTHS
from keras_inception.validation import UsageError
from tests.script_forks import ScriptServer

TABLE = {block: tuple(row) for block, row in INCEPTION_WIDTHS.items()}
MISSING_BLOCK = {block: row for block, row in TABLE.items() if block != "5b"}

CASES = [
    # (model, kwargs, message fragment, bad value as printed)
    ("googlenet", dict(num_classes=0), "num_classes` must be an integer >= 1", "num_classes=0"),
    ("googlenet", dict(num_classes=-3), "num_classes` must be an integer >= 1", "num_classes=-3"),
    ("googlenet", dict(num_classes=10**25), "num_classes` must be an integer >= 1", f"num_classes={10**25}"),
    ("nin_cifar10", dict(num_classes=2.5), "num_classes` must be an integer >= 1", "num_classes=2.5"),
    ("googlenet", dict(input_shape=(64, 64, 3)), "at least 65", "input_shape=(64, 64, 3)"),
    ("googlenet", dict(input_shape=(16, 16, 3), aux_heads=False), "at least 17", "input_shape=(16, 16, 3)"),
    ("googlenet", dict(stem="small", input_shape=(16, 16, 3)), "at least 17", "input_shape=(16, 16, 3)"),
    ("nin_cifar10", dict(input_shape=(2, 2, 3)), "at least 4", "input_shape=(2, 2, 3)"),
    ("nin_imagenet", dict(input_shape=(28, 28, 3)), "at least 32", "input_shape=(28, 28, 3)"),
    ("googlenet", dict(input_shape=(224, 224)), "(height, width, channels)", "input_shape=(224, 224)"),
    ("googlenet", dict(input_shape=(224, -1, 3)), "positive integers", "input_shape=(224, -1, 3)"),
    ("googlenet", dict(input_shape=(None, None, 3)), "must be given when `include_top=True`", "input_shape=(None, None, 3)"),
    ("googlenet", dict(widths=MISSING_BLOCK), "must map every block", "widths="),
    ("googlenet", dict(widths={**TABLE, "3a": (64, 96, 128, 16, 32)}), "must be 6 widths", "widths['3a']="),
    ("googlenet", dict(widths={**TABLE, "4c": (128, 128, -256, 24, 64, 64)}), "must be an integer >= 1", "widths['4c']['ch3x3']=-256"),
    ("googlenet", dict(block_widths={"6a": (1, 1, 1, 1, 1, 1)}), "Unknown block '6a' in `block_widths`", "block_widths={'6a'"),
    ("googlenet", dict(block_widths={"3a": {"ch7x7": 3}}), "must map branches of 3a (ch1x1", "block_widths['3a']={'ch7x7': 3}"),
    ("googlenet", dict(block_widths={"3a": {"ch1x1": 0}}), "must be an integer >= 1", "block_widths['3a']['ch1x1']=0"),
    ("googlenet", dict(block_widths=[1, 2]), "must be a dict", "block_widths=[1, 2]"),
    ("googlenet", dict(width_multiplier=0), "width_multiplier` must be a number in (0, 16]", "width_multiplier=0"),
    ("googlenet", dict(stage_multipliers={"6": 0.5}), "Unknown stage '6' in `stage_multipliers`; stages: 3, 4, 5", "stage_multipliers={'6': 0.5}"),
    ("googlenet", dict(stage_multipliers={"4": 0}), "stage_multipliers['4']` must be a number in (0, 16]", "stage_multipliers['4']=0"),
    ("googlenet", dict(stage_multipliers=0.5), "must be a dict {stage: multiplier}", "stage_multipliers=0.5"),
    ("inception_v3", dict(block_widths={"mixed_8a": {}}), "Unknown block 'mixed_8a' in `block_widths`", "block_widths={'mixed_8a'"),
    ("inception_v3", dict(block_widths={"mixed_6b": {"b9_0_1x1": 8}}), "must map branches of mixed_6b (b0_0_1x1",
     "block_widths['mixed_6b']={'b9_0_1x1': 8}"),
    ("inception_v3", dict(block_widths={"mixed_6b": {"b0_0_1x1": 0}}), "block_widths['mixed_6b']['b0_0_1x1']` must be an integer >= 1",
     "block_widths['mixed_6b']['b0_0_1x1']=0"),
    ("inception_v3", dict(stage_multipliers={"3": 2.0}), "Unknown stage '3' in `stage_multipliers`; stages: 5, 6, 7", "stage_multipliers={'3': 2.0}"),
    ("googlenet", dict(width_multiplier=-0.5), "width_multiplier` must be a number in (0, 16]", "width_multiplier=-0.5"),
    # A multiplier too large would overflow deep inside Keras.
    ("lenet5", dict(width_multiplier=float("inf")), "width_multiplier` must be a number in (0, 16]", "width_multiplier=inf"),
    ("alexnet", dict(width_multiplier=10**25), "width_multiplier` must be a number in (0, 16]", "width_multiplier=1000"),
    ("googlenet", dict(include_top=True, pooling="avg"), "only when `include_top=False`", "pooling='avg'"),
    ("nin_cifar10", dict(include_top=True, pooling="max"), "only when `include_top=False`", "pooling='max'"),
    ("googlenet", dict(include_top=False, pooling="mean"), "one of None, 'avg', 'max'", "pooling='mean'"),
    ("googlenet", dict(variant="v9"), "'paper', 'bn'", "variant='v9'"),
    ("googlenet", dict(stem="tiny"), "'imagenet', 'small'", "stem='tiny'"),
    ("googlenet", dict(include_top=False, aux_heads=True), "need `include_top=True`", "aux_heads=True"),
    ("googlenet", dict(aux_heads="yes"), "True or False", "aux_heads='yes'"),
    ("googlenet", dict(include_top="yes"), "True or False", "include_top='yes'"),
    ("googlenet", dict(factorize_5x5=1), "True or False", "factorize_5x5=1"),
    ("googlenet", dict(kernel_5x5=7), "one of 5, 3", "kernel_5x5=7"),
    ("googlenet", dict(factorize_5x5=True, kernel_5x5=3), "must stay 5", "kernel_5x5=3"),
    ("googlenet", dict(dropout_rate=1.5), "in [0, 1)", "dropout_rate=1.5"),
    ("googlenet", dict(classifier_activation="sofmax"), "classifier_activation", "classifier_activation='sofmax'"),
    ("googlenet", dict(weights="imagenet"), "No ImageNet checkpoint is known for 'googlenet'", "weights='imagenet'"),
    ("resnet18", dict(bn_epsilon=0), "`bn_epsilon` must be a number in (0, 1)", "bn_epsilon=0"),
    ("resnet18", dict(symmetric_padding="yes"), "True or False", "symmetric_padding='yes'"),
    ("googlenet", dict(pool4_size=4), "one of 3, 2", "pool4_size=4"),
    ("googlenet", dict(ceil_mode=1), "True or False", "ceil_mode=1"),
    ("inception_v3", dict(count_include_pad=None), "True or False", "count_include_pad=None"),
    ("inception_v3", dict(bn_scale="no"), "True or False", "bn_scale='no'"),
    ("vgg16", dict(bn_epsilon=2.0), "`bn_epsilon` must be a number in (0, 1)", "bn_epsilon=2.0"),
    ("lenet5", dict(input_tensor=(32, 32, 1)), "`input_tensor` must be a Keras tensor of images", "input_tensor=(32, 32, 1)"),
    ("nin_cifar10", dict(weights="/nonexistent/nin.weights.h5"), "does not exist", "weights='/nonexistent/nin.weights.h5'"),
    ("nin_cifar10", dict(config="svhn"), "'cifar10', 'imagenet'", "config='svhn'"),
    ("lenet5", dict(input_shape=(28, 28, 1)), "at least 32", "input_shape=(28, 28, 1)"),
    ("alexnet", dict(input_shape=(66, 66, 3)), "at least 67", "input_shape=(66, 66, 3)"),
    ("alexnet", dict(two_towers="yes"), "True or False", "two_towers='yes'"),
    ("alexnet", dict(fc_units=[4096, 0]), "list of positive integers", "fc_units=[4096, 0]"),
    ("alexnet", dict(stem="cifar"), "'imagenet', 'small'", "stem='cifar'"),
    ("zfnet", dict(config="huge"), "'default', 'wide'", "config='huge'"),
    ("zfnet", dict(dropout_rate=-0.1), "in [0, 1)", "dropout_rate=-0.1"),
    ("vgg16", dict(config="F"), "'A', 'A-LRN', 'B', 'C', 'D', 'E'", "config='F'"),
    ("vgg16", dict(input_shape=(16, 16, 3)), "at least 32", "input_shape=(16, 16, 3)"),
    ("vgg19", dict(batch_norm="true"), "True or False", "batch_norm='true'"),
    ("resnet50", dict(depth=42), "one of 18, 34, 50, 101, 152", "depth=42"),
    ("resnet18", dict(stride_on_3x3=1), "True or False", "stride_on_3x3=1"),
    ("resnet18", dict(input_shape=(16, 16, 3)), "at least 32", "input_shape=(16, 16, 3)"),
    ("inception_v2", dict(width_multiplier=0), "width_multiplier` must be a number in (0, 16]", "width_multiplier=0"),
    ("inception_v3", dict(input_shape=(100, 100, 3)), "at least 107", "input_shape=(100, 100, 3)"),
    ("inception_v3", dict(input_shape=(74, 74, 3), aux_heads=False), "at least 75", "input_shape=(74, 74, 3)"),
    ("inception_v3", dict(include_top=False, aux_heads=True), "need `include_top=True`", "aux_heads=True"),
    ("inception_v4", dict(stem="tiny"), "'imagenet', 'small'", "stem='tiny'"),
    ("inception_v4", dict(input_shape=(74, 74, 3)), "at least 75", "input_shape=(74, 74, 3)"),
    ("inception_resnet_v2", dict(dropout_rate=1), "in [0, 1)", "dropout_rate=1"),
    ("inception_resnet_v1", dict(num_classes=0), "integer >= 1", "num_classes=0"),
]


@pytest.mark.parametrize("model, kwargs, fragment, received", CASES, ids=[str(c[1])[:60] for c in CASES])
def test_bad_argument_raises_a_clear_error(model, kwargs, fragment, received):
    with pytest.raises(ValueError) as error:
        keras_inception.get_model(model, **kwargs)
    message = str(error.value)
    assert "\n" not in message
    assert fragment in message
    assert "Received: " in message
    assert received in message.split("Received: ", 1)[1]


def test_weights_for_another_net_are_refused(tmp_path):
    path = tmp_path / "nin.weights.h5"
    keras_inception.get_model("nin_cifar10").save_weights(path)
    with pytest.raises(ValueError, match="does not fit this net.*Received: weights="):
        keras_inception.get_model("googlenet", stem="small", aux_heads=False, width_multiplier=0.25, weights=str(path))


# A command whose main raises the given exception, run as the commands run it.
RAISING_COMMAND = """
import sys
from keras_inception import cli
from keras_inception.validation import UsageError

def main(argv):
    raise {"usage": UsageError("`epochs` must be an integer >= 1. Received: epochs=0"),
           "bug": KeyError("a bug"), "value": ValueError("a bug's ValueError")}[argv[1]]

if __name__ == "__main__":
    cli.run(main, ["command", *sys.argv[1:]])
"""


@pytest.fixture(scope="module")
def raising_command(tmp_path_factory):
    """The command's server: each case runs in a process forked from it."""
    script = tmp_path_factory.mktemp("raising") / "raising_command.py"
    script.write_text(RAISING_COMMAND)
    with ScriptServer(script, cwd=script.parent) as server:
        yield server


@pytest.mark.parametrize("raised, code, one_line", [("usage", 2, True), ("bug", 1, False), ("value", 1, False)])
def test_commands_print_a_usage_error_in_one_line_and_a_bug_with_its_traceback(raising_command, raised, code,
                                                                              one_line):
    result = raising_command.run([raised], timeout=300)
    assert result["returncode"] == code, result["stderr"][-2000:]
    assert ("Traceback" in result["stderr"]) is not one_line
    assert ("a bug" in result["stderr"]) is not one_line
    if one_line:
        assert [line for line in result["stderr"].splitlines() if line.startswith("error:")] == [
            "error: `epochs` must be an integer >= 1. Received: epochs=0"]


def test_a_keyword_a_builder_does_not_take_is_a_type_error_and_a_usage_error():
    with pytest.raises(TypeError) as error:
        keras_inception.get_model("nin_cifar10", width_multiplier=0.5)
    assert isinstance(error.value, UsageError) and isinstance(error.value, ValueError)
