"""Prints the top classes, with names and scores, of image files, from any artifact.

The `keras-inception predict` command (keras_inception/commands/predict.py), for a checkout:
`python3 scripts/predict.py --help` lists its flags.
"""

import keras_inception_cli

COMMAND = "predict"

if __name__ == "__main__":
    keras_inception_cli.run(COMMAND)
