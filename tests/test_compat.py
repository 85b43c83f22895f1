"""The private APIs keras_inception/_compat.py touches are still where it reaches them: a
release that moves one fails here, by name, instead of deep inside a training run or export."""

import importlib.metadata
import inspect

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

from keras_inception import _compat


def test_the_versions_checked_on_are_named_and_the_installed_ones_printed():
    installed = {name: importlib.metadata.version(name) for name in _compat.CHECKED_ON}
    print("checked on", _compat.CHECKED_ON, "installed", installed)
    assert set(installed) == {"keras", "tensorflow", "keras-tuner", "ai-edge-litert"}


def test_keras_still_builds_the_training_state_symbolically():
    assert "data_batch" in inspect.signature(keras.Model._symbolic_build).parameters
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    data = tf.data.Dataset.from_tensor_slices((np.zeros((8, 4), "float32"), np.zeros(8, "int32"))).batch(4)
    _compat.build_training_state(model, data.element_spec)
    assert model.optimizer.built and len(model.optimizer.variables) > 1


@pytest.mark.parametrize("optimizer, names", [(keras.optimizers.AdamW(), ("_momentums", "_velocities")),
                                              (keras.optimizers.SGD(momentum=0.9), ("momentums",))])
def test_optimizers_still_keep_their_slots_in_the_lists_we_read(optimizer, names):
    variables = [keras.Variable(np.zeros((2, 3), "float32")), keras.Variable(np.zeros(4, "float32"))]
    optimizer.build(variables)
    found = [_compat.optimizer_slots(optimizer, variable, *names) for variable in variables]
    for variable, slots in zip(variables, found):
        assert [slot.shape for slot in slots] == [variable.shape] * len(names)
    assert len({id(slot) for slots in found for slot in slots}) == len(names) * len(variables)


def test_backup_and_restore_still_saves_with_the_method_and_attributes_we_replace(tmp_path):
    assert callable(getattr(keras.callbacks.BackupAndRestore, _compat.BACKUP_SAVE_METHOD, None))
    callback = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    for attribute in _compat.BACKUP_ATTRIBUTES:
        assert hasattr(callback, attribute), attribute
    assert _compat.backup_file_names(callback) == ("latest.weights.h5", "training_metadata.json")
    assert set(_compat.backup_position(callback)) == {"epoch", "batch"}


def test_keras_tuner_oracles_still_write_their_state_with_the_methods_we_replace():
    for name in (*_compat.ORACLE_WRITE_METHODS, *_compat.ORACLE_PATH_METHODS):
        assert callable(getattr(keras_tuner.Oracle, name, None)), name
    with _compat.keras_tuner_tracebacks_off():
        from keras_tuner.src import config

        assert config.DEBUG is False


def test_tensorflow_still_freezes_a_concrete_function():
    variable = tf.Variable(2.0)
    function = tf.function(lambda x: x * variable).get_concrete_function(tf.TensorSpec((), tf.float32))
    frozen = _compat.freeze_variables(function)
    result = frozen(tf.constant(3.0))
    assert not frozen.variables
    assert float(result[0] if isinstance(result, (list, tuple)) else result) == 6.0


def test_litert_still_lists_its_nodes_after_delegation(tmp_path):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    path = tmp_path / "dense.tflite"
    path.write_bytes(converter.convert())
    interpreter = interpreter_module.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    ops = _compat.interpreter_ops(interpreter)
    assert ops and all("op_name" in op for op in ops)
