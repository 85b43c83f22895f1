"""Evaluates any artifact of a run on the test split that training held out: top-1, top-5,

The `keras-inception evaluate` command (keras_inception/commands/evaluate.py), for a checkout:
`python3 scripts/evaluate.py --help` lists its flags.
"""

import keras_inception_cli

COMMAND = "evaluate"

if __name__ == "__main__":
    keras_inception_cli.run(COMMAND)
