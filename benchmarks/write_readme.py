"""Puts a benchmark run's report into benchmarks/README.md, between its results markers.

    python3 benchmarks/write_readme.py benchmarks/results/benchmark_cpu.json

The section is `report.markdown` of the run's JSON, its headings one level down, so the figures
in the README are the run's, with the machine and versions it ran on.
"""

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this folder as a package

from benchmarks.report import markdown  # noqa: E402
from keras_inception.files import write_text_atomically  # noqa: E402

README = ROOT / "benchmarks" / "README.md"
START, END = "<!-- results:start -->\n", "<!-- results:end -->"


def results_section(results, source):
    lines = [f"From `{source}`:", ""]
    for line in markdown(results).splitlines():
        lines.append("##" + line if line.startswith("#") else line)
    return "\n".join(lines) + "\n"


def with_results(readme, section):
    before, rest = readme.split(START, 1)
    return before + START + section + END + rest.split(END, 1)[1]


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: write_readme.py RESULTS_JSON")
    path = pathlib.Path(argv[1]).resolve()
    results = json.loads(path.read_text())
    section = results_section(results, path.relative_to(ROOT))
    write_text_atomically(str(README), with_results(README.read_text(), section))


if __name__ == "__main__":
    main(sys.argv)
