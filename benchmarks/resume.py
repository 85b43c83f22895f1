"""Resuming a benchmark: the nets that an earlier run, cut short, had already measured.

The report is written again after each net (`runner.run_benchmark`); with `resume`, a run keeps
the nets in it that were measured without an error by a run with the same settings, on the
same machine and versions, and measures the rest.
"""

import json
import os

from benchmarks.report import MATMUL_PEAKS, model_errors, report_stem
from keras_inception.validation import UsageError

# Settings that do not change what is measured: an earlier run may differ in them and resume.
NOT_MEASURED = ("models", "output_dir", "timeout_s", "resume")


def earlier_results(results, config, log):
    """The nets of `config.models` that the run in `config.output_dir` measured without an
    error, with its matrix-multiply peaks; refused where that run's settings, machine or
    versions differ from this one's."""
    path = report_stem(config.output_dir, config.platform) + ".json"
    if not os.path.exists(path):
        log(f"Nothing to resume in {path}: measuring every net.")
        return {}
    with open(path) as file:
        try:
            earlier = json.load(file)
        except json.JSONDecodeError as error:
            raise UsageError(f"{path} is not a benchmark report ({error}). Received: "
                             "resume=True") from None
    for section in ("config", "machine"):
        now, then = json.loads(json.dumps(results[section])), earlier.get(section, {})
        for key in sorted(set(now) | set(then)):
            if key not in NOT_MEASURED and now.get(key) != then.get(key):
                raise UsageError(
                    f"{path} was measured with {key}={then.get(key)!r}; this run has "
                    f"{key}={now.get(key)!r}. Resume with the same settings, machine and "
                    f"versions, or measure without `resume`. Received: resume=True")
    kept = {name: model for name, model in earlier.get("models", {}).items()
            if name in config.models and not model_errors(model)}
    log(f"Resuming {path}: keeping {', '.join(kept) or 'no net'}.")
    resumed = {"models": kept}
    for key in MATMUL_PEAKS:
        peak = earlier.get(key)
        if peak and "error" not in peak:
            resumed[key] = peak
    return resumed
