"""One measurement in a process of its own:

    python -m benchmarks.worker TASK '{"spec": ...}'

prints `RESULT_PREFIX` and the result as JSON on its last line (a smoke run calls `main` in
a process forked from the runner's instead: `BenchmarkConfig.fork_workers`). The runner sets
the thread variables and the Keras backend in the environment before the process starts: the
platform's for our side, "torch" for the peers (importing PyTorch after TensorFlow crashes the
process, and the package's import of Keras would load TensorFlow first).

A try of the largest-batch search (`largest_batch_try` in its spec) that runs out of memory
gives `{"out_of_memory": ...}` as its result: on a framework's out-of-memory error, or on the
CPU as soon as its resident memory goes over `rss_budget_mb`. Any other task's error ends the
worker with its traceback.
"""

import importlib
import json
import os
import sys

from benchmarks import memory
from benchmarks.batch_search import is_out_of_memory

RESULT_PREFIX = "BENCHMARK_RESULT "

# task -> (module, function, Keras backend; None: the platform's)
TASKS = {
    "keras_train": ("benchmarks.keras_side", "train_throughput", None),
    "keras_step_window": ("benchmarks.keras_side", "step_window", None),
    "keras_latency": ("benchmarks.keras_side", "inference_latency", None),
    "interleaved_latency": ("benchmarks.latency", "interleaved_latency", None),
    "matmul_peak": ("benchmarks.keras_side", "matmul_peak_gflops", None),
    "keras_blocks": ("benchmarks.keras_side", "block_files", None),
    "onnx_blocks": ("benchmarks.torch_side", "block_files", "torch"),
    "keras_serving": ("benchmarks.keras_side", "serving_throughput", None),
    "torch_train": ("benchmarks.torch_side", "train_throughput", "torch"),
    "torch_serving": ("benchmarks.torch_side", "serving_throughput", "torch"),
    "torch_matmul_peak": ("benchmarks.torch_side", "matmul_peak_gflops", "torch"),
    "onnx_latency": ("benchmarks.torch_side", "onnx_latency", "torch"),
}


def main(argv):
    if len(argv) != 3 or argv[1] not in TASKS:
        raise SystemExit(f"usage: worker TASK SPEC_JSON with TASK one of {', '.join(TASKS)}. "
                         f"Received: {argv[1:]!r}")
    module, function, _ = TASKS[argv[1]]
    spec = json.loads(argv[2])
    _import_tensorflow_as_the_scripts_do()
    if spec.get("rss_budget_mb"):
        memory.stop_above(spec["rss_budget_mb"], _over_budget(spec["rss_budget_mb"]))
    try:
        result = getattr(importlib.import_module(module), function)(spec)
    except Exception as error:
        if not (spec.get("largest_batch_try") and is_out_of_memory(error)):
            raise
        result = {"out_of_memory": (str(error).strip().splitlines() or [repr(error)])[0][:300]}
    _print_result(result)


def _import_tensorflow_as_the_scripts_do():
    """TensorFlow imported as the training and export jobs import it, where the task's backend
    is TensorFlow (`keras_inception_cli.import_tensorflow_without_jax`); nothing for the peers."""
    import keras_inception_cli

    keras_inception_cli.import_tensorflow_without_jax()


def _print_result(result):
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def _over_budget(budget_mb):
    def stop(rss_mb):
        _print_result({"out_of_memory": f"resident memory {rss_mb:.0f} MiB went over the "
                                        f"budget of {budget_mb:.0f} MiB"})
        os._exit(0)  # now, from the watching thread: the step in progress would go on growing

    return stop


if __name__ == "__main__":
    main(sys.argv)
