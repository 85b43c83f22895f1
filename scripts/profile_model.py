"""Builds a registered net and prints its Keras summary and its profile.

The `keras-inception profile` command (keras_inception/commands/profile.py), for a checkout:
`python3 scripts/profile_model.py --help` lists its flags.
"""

import keras_inception_cli

COMMAND = "profile"

if __name__ == "__main__":
    keras_inception_cli.run(COMMAND)
