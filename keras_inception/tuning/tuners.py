"""keras-tuner's own tuners, with their state files written atomically.

keras-tuner writes `oracle.json` and each `trial_*/trial.json` in place (`utils.save_json`), so
a search killed mid-write leaves a file that the resumed search cannot parse. The tuners here
are keras-tuner's (`RandomSearch`, `Hyperband`, `BayesianOptimization`, their oracles and their
search logic unchanged); only those two writes go beside the file and are renamed into place.
"""

import os

import keras_tuner

from keras_inception.files import write_json_atomically


class _AtomicStateFiles:
    """Oracle mixin: `save` and `_save_trial` as keras-tuner writes them, but atomic (the
    methods _compat.ORACLE_WRITE_METHODS and ORACLE_PATH_METHODS list, checked there)."""

    def save(self):
        write_json_atomically(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        write_json_atomically(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"), trial.get_state())


class _AtomicOracleTuner(keras_tuner.Tuner):
    """Placed after a keras-tuner tuner in the bases, it receives the oracle that tuner built and
    makes it write atomically before `Tuner.__init__` runs (on a chief, that starts serving it)."""

    def __init__(self, oracle=None, hypermodel=None, **kwargs):
        oracle.__class__ = type(f"Atomic{type(oracle).__name__}", (_AtomicStateFiles, type(oracle)), {})
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)


class RandomSearch(keras_tuner.RandomSearch, _AtomicOracleTuner):
    pass


class Hyperband(keras_tuner.Hyperband, _AtomicOracleTuner):
    pass


class BayesianOptimization(keras_tuner.BayesianOptimization, _AtomicOracleTuner):
    pass
