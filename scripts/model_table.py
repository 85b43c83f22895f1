"""Builds every registered net at its default size and prints the README's table of nets:
parameters, multiply-adds, default input and auxiliary heads. `--write_readme` replaces the
table in README.md (between its model-table markers), so nobody types the figures by hand.

    python scripts/model_table.py --write_readme
"""

import os

import keras_inception_cli

keras_inception_cli.before_tensorflow()  # environment defaults, then TensorFlow

from absl import flags  # noqa: E402

import keras_inception  # noqa: E402
from keras_inception import cli, files  # noqa: E402
from keras_inception.profile import summarize, zoo_table  # noqa: E402
from keras_inception.validation import UsageError  # noqa: E402

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
START, END = "<!-- model-table:start -->", "<!-- model-table:end -->"

flags.DEFINE_bool("write_readme", False, "Replace the table in README.md as well as printing it.")
FLAGS = flags.FLAGS


def replace_table(text, table):
    """The README text with the block between the markers replaced by `table`."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise UsageError(f"README.md has no {START} ... {END} block. Received: {README!r}")
    return text[: start + len(START)] + "\n" + table + "\n" + text[end:]


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    import keras

    summaries = []
    for name in keras_inception.list_models():
        summaries.append(summarize(name))
        keras.backend.clear_session()  # one full-size net in memory at a time
    table = zoo_table(summaries)
    print(table)
    if FLAGS.write_readme:
        with open(README, encoding="utf-8") as file:
            text = file.read()
        files.write_text_atomically(README, replace_table(text, table))
    return 0


if __name__ == "__main__":
    cli.run(main)
