"""Trains a registered net on a dataset with a paper's recipe and keeps the best model.

The `keras-inception train` command (keras_inception/commands/train.py), for a checkout:
`python3 scripts/train.py --help` lists its flags.
"""

import keras_inception_cli

COMMAND = "train"

if __name__ == "__main__":
    keras_inception_cli.run(COMMAND)
