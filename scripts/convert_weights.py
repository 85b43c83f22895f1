"""Converts a public ImageNet checkpoint into our net, as a .keras file that plain Keras loads.

The `keras-inception convert` command (keras_inception/commands/convert.py), for a checkout:
`python3 scripts/convert_weights.py --help` lists its flags.
"""

import keras_inception_cli

COMMAND = "convert"

if __name__ == "__main__":
    keras_inception_cli.run(COMMAND)
