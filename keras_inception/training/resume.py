"""Where a training run resumes, in one place.

A run directory keeps, for each phase of the run (`fine_tune.phases`), a Keras
`BackupAndRestore` folder that `AtomicBackupAndRestore` replaces whole at the end of every
epoch, and `history.csv` with one row per epoch. Running the same job again, before each phase:

1. a phase is skipped when the backup of the run's last phase has begun: its weights already
   hold what the earlier phases trained;
2. a backup that a crash left between the two renames of its swap is put back;
3. with several processes, all go back to the newest epoch every one of them holds (each keeps
   the backup before its last), since a crash can land between two processes' writes;
4. history.csv loses the rows of the epochs after that one, which run again;
5. then `fit` restores the weights, the optimizer and the epoch from the backup (Keras's own
   BackupAndRestore), given the callback of `Resumed.backup`.

    for resumed in resume.resumed_phases(run_dir, phases, num_processes):
        model.fit(..., initial_epoch=resumed.phase.first_epoch, epochs=resumed.phase.last_epoch,
                  callbacks=[..., resumed.backup])   # the backup last
"""

import json
import os
import shutil
from typing import NamedTuple

import keras

from keras_inception import _compat
from keras_inception.files import (
    previous_directory,
    read_json_object,
    recover_directory,
    roll_back_directory,
    write_directory_atomically,
    write_text_atomically,
)
from keras_inception.training import callbacks as run_callbacks
from keras_inception.training.distribution import gather_from_processes
from keras_inception.validation import UsageError

HISTORY = "history.csv"


class Resumed(NamedTuple):
    """A phase about to run: `done` epochs of the run are behind it (its backup's, or the
    phase's first epoch), `history` holds their rows, and `backup` is the callback that
    restores the phase's backup and writes the next ones."""

    index: int
    phase: object  # fine_tune.Phase
    done: int
    history: list
    backup: "AtomicBackupAndRestore"


def resumed_phases(run_dir, phases, num_processes=1):
    """Yields a `Resumed` for each phase of `phases` still to run. Each is worked out only when
    the generator is advanced, after the phase before it has trained: run each before taking
    the next. With several processes, every process must advance it alike (a collective)."""
    for index, phase in enumerate(phases):
        if index < len(phases) - 1 and backup_epoch(os.path.join(run_dir, phases[-1].backup)) > 0:
            continue
        backup_dir = os.path.join(run_dir, phase.backup)
        done = max(agree_on_backup(backup_dir, num_processes), phase.first_epoch)
        history = trim_history(os.path.join(run_dir, HISTORY), done)
        yield Resumed(index, phase, done, history, AtomicBackupAndRestore(backup_dir, keep_previous=num_processes > 1))


def backup_epoch(backup_dir):
    """The number of epochs a BackupAndRestore backup holds (0 without one)."""
    path = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.exists(path):
        return 0
    epoch = read_json_object(path, "the backup's epoch").get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise UsageError(f"{path} (the backup's epoch) holds no epoch number ({epoch!r}); delete "
                         f"{os.path.dirname(path)} to start over. Received: file={path!r}")
    return epoch


def resumed_epoch(backup_dir, keep_previous=False):
    """`backup_epoch`, once a backup that a crash left mid-swap is put back."""
    recover_directory(backup_dir, keep_previous)
    return backup_epoch(backup_dir)


def agree_on_backup(backup_dir, num_processes):
    """The epoch every process of the run resumes from, the same for all (a collective).

    Each process writes its own backup at the end of each epoch, so a crash can land between
    two processes' writes and leave them one epoch apart; resumed as they are, they would run
    different epochs with collectives that no longer match (the restart fails;
    tests/test_training.py). Each process keeps its backup from the epoch before
    (`AtomicBackupAndRestore(keep_previous=True)`), so all can go back to the oldest epoch any
    of them holds.
    """
    done = resumed_epoch(backup_dir, keep_previous=num_processes > 1)
    epochs = gather_from_processes(done, num_processes)
    agreed = min(epochs)
    if done == agreed:
        return done
    previous = previous_directory(backup_dir)
    if agreed == 0:  # another process has no backup yet: this one starts over too
        shutil.rmtree(previous, ignore_errors=True)
    elif backup_epoch(previous) != agreed:
        raise RuntimeError(
            f"The processes' backups hold epochs {epochs} and this one cannot go back to epoch "
            f"{agreed}; delete every process's {os.path.basename(backup_dir)}/ to start over."
        )
    roll_back_directory(backup_dir)
    return agreed


def trim_history(csv_path, epochs):
    """Keeps the first `epochs` rows of the CSV history: rows of an epoch whose backup was not
    written (a crash between the two) are dropped, since that epoch runs again."""
    rows = run_callbacks.read_history(csv_path)
    if len(rows) <= epochs:
        return rows
    with open(csv_path) as file:
        lines = file.readlines()
    write_text_atomically(csv_path, "".join(lines[: epochs + 1]))
    return rows[:epochs]


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` (restoring is Keras's), saving at the end of each
    epoch into a new directory that then replaces `backup_dir` whole: Keras's writes its weights
    and its epoch number as two files in place, so a kill mid-write would leave a torn file or
    weights one epoch ahead of the epoch they are restored as. The backup is kept after the run
    ends, so that running the job again does not start over.

    keep_previous: the backup it replaces is kept beside it (`files.previous_directory`), so
    that processes of one run that crashed one epoch apart can resume from the same epoch.
    """

    def __init__(self, backup_dir, keep_previous=False):
        self.keep_previous = keep_previous
        recover_directory(backup_dir, keep_previous)  # a crash between the swap's two renames
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)

    def _save_model(self):  # BackupAndRestore's save (_compat.BACKUP_SAVE_METHOD)
        run_callbacks.check_room_for_weights(self.model, os.path.dirname(os.path.abspath(self.backup_dir)))
        weights_name, metadata_name = _compat.backup_file_names(self)

        def write(directory):
            os.makedirs(directory)
            self.model.save_weights(os.path.join(directory, weights_name))
            with open(os.path.join(directory, metadata_name), "w") as file:
                json.dump(_compat.backup_position(self), file)

        write_directory_atomically(self.backup_dir, write, self.keep_previous)

