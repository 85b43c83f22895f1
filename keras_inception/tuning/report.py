"""The search's results: a table of trials (CSV and Markdown) and a scatter of accuracy against
multiply-adds with the Pareto front marked (PNG)."""

import csv
import io
import os

from keras_inception.extras import require
from keras_inception.files import write_bytes_atomically, write_text_atomically
from keras_inception.tuning.budget import OVER_BUDGET

STATUSES = {"COMPLETED": "completed", "FAILED": "failed", "INVALID": "failed", "RUNNING": "running",
            "IDLE": "running", "STOPPED": "stopped"}


def trial_rows(tuner, hypermodel):
    """One dict per trial, in the order the trials started."""
    rows = []
    for trial_id in tuner.oracle.start_order:
        trial = tuner.oracle.trials[trial_id]
        hp = trial.hyperparameters
        cost = hypermodel.cost(hp)
        status = STATUSES.get(trial.status, trial.status.lower())
        if status == "failed" and OVER_BUDGET in (trial.message or ""):
            status = "rejected"
        row = {
            "trial": trial_id,
            "status": status,
            "val_main_accuracy": None if trial.score is None or status != "completed" else float(trial.score),
            "parameters": cost.params,
            "multiply_adds": cost.macs,
        }
        if cost.latency_ms is not None:
            row["latency_ms"] = round(cost.latency_ms, 3)
        row.update({name: value for name, value in hp.values.items() if not name.startswith("tuner/")})
        row.update({f"widths_{block}": "-".join(map(str, widths))
                    for block, widths in hypermodel.widths(hp).items()})
        if status in ("rejected", "failed"):
            last_line = (trial.message or "").strip().splitlines()[-1:] or [""]
            row["note"] = last_line[0].split(OVER_BUDGET)[-1]
        rows.append(row)
    return rows


def pareto_front(rows):
    """The completed trials no other beats on both counts (fewer multiply-adds and higher
    accuracy), by increasing multiply-adds."""
    done = sorted((row for row in rows if row["val_main_accuracy"] is not None),
                  key=lambda row: (row["multiply_adds"], -row["val_main_accuracy"]))
    front, best = [], -1.0
    for row in done:
        if row["val_main_accuracy"] > best:
            front.append(row)
            best = row["val_main_accuracy"]
    return front


def _columns(rows):
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    return columns


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def to_csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
    return out.getvalue()


def to_markdown(rows):
    columns = _columns(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{row[c]:,}" if isinstance(row.get(c), int) and c in ("parameters", "multiply_adds")
                 else _cell(row.get(c)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def pareto_png(rows, title):
    """The scatter as PNG bytes: every completed trial, the Pareto front joined and marked."""
    require("matplotlib", "train").use("Agg")
    pyplot = require("matplotlib.pyplot", "train")

    done = [row for row in rows if row["val_main_accuracy"] is not None]
    front = pareto_front(rows)
    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    axes.scatter([r["multiply_adds"] / 1e6 for r in done], [r["val_main_accuracy"] for r in done],
                 color="tab:blue", label="trial")
    axes.step([r["multiply_adds"] / 1e6 for r in front], [r["val_main_accuracy"] for r in front],
              where="post", color="tab:red")
    axes.scatter([r["multiply_adds"] / 1e6 for r in front], [r["val_main_accuracy"] for r in front],
                 s=90, facecolors="none", edgecolors="tab:red", label="Pareto front")
    for row in done:
        axes.annotate(row["trial"], (row["multiply_adds"] / 1e6, row["val_main_accuracy"]),
                      textcoords="offset points", xytext=(4, 4), fontsize=8)
    axes.set_xlabel("multiply-adds (millions, inference net)")
    axes.set_ylabel("validation accuracy (main head)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    pyplot.close(figure)
    return out.getvalue()


def write_report(rows, directory, title):
    """trials.csv, trials.md and pareto.png in `directory`; returns their paths."""
    paths = {name: os.path.join(directory, name) for name in ("trials.csv", "trials.md", "pareto.png")}
    write_text_atomically(paths["trials.csv"], to_csv(rows))
    write_text_atomically(paths["trials.md"], to_markdown(rows))
    write_bytes_atomically(paths["pareto.png"], pareto_png(rows, title))
    return paths
