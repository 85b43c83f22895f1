"""Every touch of a library's private API, in one place: each has no public way in, was checked
on the releases `CHECKED_ON` names, and tests/test_compat.py fails loudly when a release moves
or renames one.
"""

import contextlib
import os

CHECKED_ON = {"keras": "3.15.1", "tensorflow": "2.21.0", "keras-tuner": "1.4.8", "ai-edge-litert": "2.3.0"}

# keras.callbacks.BackupAndRestore: the method it saves with, which AtomicBackupAndRestore
# replaces to write the backup folder whole, and the attributes that method reads.
BACKUP_SAVE_METHOD = "_save_model"
BACKUP_ATTRIBUTES = ("_weights_path", "_training_metadata_path", "_current_epoch", "_last_batch_seen")
# keras_tuner.Oracle: the methods that write its state files, which tuning/tuners.py's oracles
# replace with atomic writes, and the paths they write to.
ORACLE_WRITE_METHODS = ("save", "_save_trial")
ORACLE_PATH_METHODS = ("_get_oracle_fname", "_get_trial_dir")


def build_training_state(model, element_spec):
    """Keras's own symbolic build of a compiled model's optimizer, losses and metrics
    (`Model._symbolic_build`), which its TensorFlow trainer runs only under a strategy: no
    public method builds them without running a step."""
    model._symbolic_build(data_batch=element_spec)


def optimizer_slots(optimizer, variable, *names):
    """The slot variables of `variable` that the optimizer keeps in the lists `names` (Adam's
    `_momentums` and `_velocities`, SGD's `momentums`), found as Keras's own update steps find
    them (`_get_variable_index`): no public method looks a slot up by its variable."""
    index = optimizer._get_variable_index(variable)
    return [getattr(optimizer, name)[index] for name in names]


def backup_file_names(callback):
    """(weights file, metadata file): the names `BackupAndRestore` restores from in its folder."""
    return os.path.basename(callback._weights_path), os.path.basename(callback._training_metadata_path)


def backup_position(callback):
    """{"epoch", "batch"}: the metadata `BackupAndRestore` writes beside the weights."""
    return {"epoch": callback._current_epoch, "batch": callback._last_batch_seen}


def freeze_variables(concrete_function):
    """The concrete function with its variables turned into constants: the TFLite converter's
    own freezing pass, which has no public name in TensorFlow 2."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(concrete_function)


def interpreter_ops(interpreter):
    """The LiteRT interpreter's nodes after delegation, delegate nodes among them: it lists
    them only through `Interpreter._get_ops_details`."""
    return interpreter._get_ops_details()


@contextlib.contextmanager
def keras_tuner_tracebacks_off():
    """keras-tuner prints the traceback of every failed trial unless its DEBUG setting is off,
    which has no public switch (`keras_tuner.src.config.DEBUG`)."""
    from keras_tuner.src import config

    debug = config.DEBUG
    config.DEBUG = False
    try:
        yield
    finally:
        config.DEBUG = debug
