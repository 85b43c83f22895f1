"""Prints the README's table of nets from their specs (`keras_inception.get_spec`):
parameters, multiply-adds, default input and auxiliary heads. `--write_readme` replaces the
table in README.md (between its model-table markers), and `--write_docs` the spec tables of
docs/nets.md, so nobody types the figures by hand.

    python scripts/model_table.py --write_readme --write_docs
"""

import os

import keras_inception_cli

keras_inception_cli.before_tensorflow()  # environment defaults, then TensorFlow

from absl import flags  # noqa: E402

import keras_inception  # noqa: E402
from keras_inception import cli, files, specs  # noqa: E402
from keras_inception.profile import zoo_table  # noqa: E402
from keras_inception.validation import UsageError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
NETS_PAGE = os.path.join(ROOT, "docs", "nets.md")
START, END = "<!-- model-table:start -->", "<!-- model-table:end -->"

flags.DEFINE_bool("write_readme", False, "Replace the table in README.md as well as printing it.")
flags.DEFINE_bool("write_docs", False, "Replace the spec tables in docs/nets.md (between their markers) too.")
FLAGS = flags.FLAGS


def replace_block(text, block, marker="model-table", path=README):
    """`text` with the lines between its `<!-- marker:start -->` and `<!-- marker:end -->`
    replaced by `block`."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    first, last = text.find(start), text.find(end)
    if first < 0 or last < first:
        raise UsageError(f"{os.path.basename(path)} has no {start} ... {end} block. Received: {path!r}")
    return text[: first + len(start)] + "\n" + block + "\n" + text[last:]


def page_blocks():
    """{marker: table} of docs/nets.md's generated tables."""
    all_specs = [keras_inception.get_spec(name) for name in keras_inception.list_models()]
    return {"spec-nets": specs.nets_table(all_specs), "spec-checkpoints": specs.checkpoints_table(all_specs)}


def _rewrite(path, blocks):
    with open(path, encoding="utf-8") as file:
        text = file.read()
    for marker, block in blocks.items():
        text = replace_block(text, block, marker, path)
    files.write_text_atomically(path, text)


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    table = zoo_table(keras_inception.get_spec(name) for name in keras_inception.list_models())
    print(table)
    if FLAGS.write_readme:
        _rewrite(README, {"model-table": table})
    if FLAGS.write_docs:
        _rewrite(NETS_PAGE, page_blocks())
    return 0


if __name__ == "__main__":
    cli.run(main)
