"""One measurement in a process of its own:

    python -m keras_inception.benchmarks.worker TASK '{"spec": ...}'

prints `RESULT_PREFIX` and the result as JSON on its last line. The runner sets the thread
variables and the Keras backend in the environment before the process starts: the platform's
for our side, "torch" for the peers (importing PyTorch after TensorFlow crashes the process,
and the package's import of Keras would load TensorFlow first).
"""

import importlib
import json
import sys

RESULT_PREFIX = "BENCHMARK_RESULT "

# task -> (module, function, Keras backend; None: the platform's)
TASKS = {
    "keras_train": ("keras_inception.benchmarks.keras_side", "train_throughput", None),
    "keras_latency": ("keras_inception.benchmarks.keras_side", "inference_latency", None),
    "interleaved_latency": ("keras_inception.benchmarks.latency", "interleaved_latency", None),
    "matmul_peak": ("keras_inception.benchmarks.keras_side", "matmul_peak_gflops", None),
    "keras_blocks": ("keras_inception.benchmarks.keras_side", "block_files", None),
    "onnx_blocks": ("keras_inception.benchmarks.torch_side", "block_files", "torch"),
    "torch_train": ("keras_inception.benchmarks.torch_side", "train_throughput", "torch"),
    "onnx_latency": ("keras_inception.benchmarks.torch_side", "onnx_latency", "torch"),
}


def main(argv):
    if len(argv) != 3 or argv[1] not in TASKS:
        raise SystemExit(f"usage: worker TASK SPEC_JSON with TASK one of {', '.join(TASKS)}. "
                         f"Received: {argv[1:]!r}")
    module, function, _ = TASKS[argv[1]]
    result = getattr(importlib.import_module(module), function)(json.loads(argv[2]))
    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv)
