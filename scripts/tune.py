"""Searches GoogLeNet's or Inception v3's widths with keras-tuner, within a compute budget.

The `keras-inception tune` command (keras_inception/commands/tune.py), for a checkout:
`python3 scripts/tune.py --help` lists its flags.
"""

import keras_inception_cli

COMMAND = "tune"

if __name__ == "__main__":
    keras_inception_cli.run(COMMAND)
