"""Exports a trained model as a SavedModel and .tflite files, verified with the LiteRT interpreter.

The `keras-inception export` command (keras_inception/commands/export.py), for a checkout:
`python3 scripts/export.py --help` lists its flags.
"""

import keras_inception_cli

COMMAND = "export"

if __name__ == "__main__":
    keras_inception_cli.run(COMMAND)
