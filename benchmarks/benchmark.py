"""Benchmarks our nets against what users would pick instead, on this machine, in one run.

    python benchmarks/benchmark.py                        # CPU: GoogLeNet, ResNet-50, Inception v3
    python benchmarks/benchmark.py --models=googlenet --batch_size=16
    python benchmarks/benchmark.py --smoke                # about 20 s: every measurement, tiny
    python benchmarks/benchmark.py --models=googlenet --largest_batch --memory_budget_mb=6000
    KERAS_BACKEND=jax python benchmarks/benchmark.py --platform=gpu   # a GPU machine, no TensorFlow

CPU: `model.fit` throughput against torchvision in PyTorch at its best of three settings (fed
from memory, and from the real JPEG pipeline), peak memory, achieved GFLOP/s against the
machine's matrix-multiply peak, the SavedModel's serving throughput against ONNX Runtime and
torchvision, and single-image latency of Keras, .tflite float32 and int8 against ONNX Runtime;
where the CPU has bfloat16 instructions, training in bfloat16 against our float32 and
torchvision's autocast. GPU: training in
mixed precision through Keras's JAX backend against torchvision with AMP and channels_last,
and each side's largest training batch that fits in the device's memory. Writes
benchmark_<platform>.json and .md to --output_dir and prints the table. The peers need the
`bench` extra: pip install -e ".[bench]".
"""

import dataclasses
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this folder as a package

import keras_inception_cli  # noqa: E402

keras_inception_cli.before_tensorflow()  # environment defaults, then TensorFlow

from absl import flags  # noqa: E402

from benchmarks import runner  # noqa: E402
from benchmarks.pairs import DEFAULT_PAIRS, PAIRS  # noqa: E402
from benchmarks.report import markdown, report_stem  # noqa: E402
from keras_inception import cli  # noqa: E402

flags.DEFINE_list("models", list(DEFAULT_PAIRS), f"Nets to measure, comma-separated, of: {', '.join(PAIRS)}.")
flags.DEFINE_enum("platform", "cpu", runner.PLATFORMS, "cpu (TensorFlow) or gpu (Keras on JAX).")
flags.DEFINE_integer("threads", 2, "Threads for every framework (CPU).", lower_bound=1)
flags.DEFINE_integer("batch_size", 32, "Training batch size, the same for both sides.", lower_bound=1)
flags.DEFINE_integer("image_size", None, "Input size; default: each net's (224, 299 for Inception v3).", lower_bound=1)
flags.DEFINE_integer("warmup_steps", 3, "Untimed training steps first.", lower_bound=1)
flags.DEFINE_integer("windows", 5, "Timed windows; the median is reported.", lower_bound=1)
flags.DEFINE_integer("window_steps", 2, "Training steps per window.", lower_bound=1)
flags.DEFINE_integer("fit_epochs", 2, "Epochs on the digits after the timing, so int8 agreement is "
                     "measured on a trained net (0: none).", lower_bound=0)
flags.DEFINE_enum("precision", "auto", runner.PRECISIONS,
                  "auto: float32 on the CPU, with bfloat16 rows (ours and torchvision's autocast) where the CPU "
                  "has bfloat16 instructions; mixed_bfloat16 on a GPU.")
flags.DEFINE_float("width_multiplier", None, "Scales our nets' widths (the peers stay as they are).")
flags.DEFINE_bool("peers", True, "Measure torchvision and ONNX Runtime too.")
flags.DEFINE_bool("compiled_peer", True, "Also train the peer through torch.compile (channels_last), "
                  "its third setting beside NCHW and channels_last; needs a C++ compiler.")
flags.DEFINE_bool("profile_blocks", False, "Also time each block of both nets (TFLite and ONNX Runtime), "
                  "to show where a latency gap lies.")
flags.DEFINE_integer("profile_steps", 2, "Training steps of ours traced by oneDNN after the warm-up, in "
                     "float32 and in bfloat16 where measured: where our step's time goes (0: none).",
                     lower_bound=0)
flags.DEFINE_bool("largest_batch", None, "Also search each side's largest training batch that fits "
                  "(default: on a GPU only, where the device's memory bounds the batch).")
flags.DEFINE_integer("max_batch", 4096, "Where the largest-batch search stops.", lower_bound=1)
flags.DEFINE_integer("memory_budget_mb", None, "CPU: the resident memory (MiB) a batch must fit in; "
                     "default: 90% of what the machine has available.", lower_bound=1)
flags.DEFINE_bool("smoke", False, "Every measurement on tiny inputs, in about 20 s: checks the "
                  "script, not speed.")
flags.DEFINE_string("output_dir", "saved_models/benchmarks", "Where the JSON and Markdown go "
                    "(written again after each net).")
flags.DEFINE_bool("resume", False, "Keep the nets that the report in --output_dir measured with the "
                  "same settings, machine and versions; measure the rest.")
FLAGS = flags.FLAGS
# The flag that sets a setting (`runner.BenchmarkConfig`), where their names differ.
FIELD_FLAGS = {"model_kwargs": "width_multiplier"}


def _given(setting):
    """Whether the command line gave the flag that sets `setting`."""
    flag = FIELD_FLAGS.get(setting, setting)
    return flag in FLAGS and FLAGS[flag].present


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    config = runner.BenchmarkConfig(
        models=tuple(FLAGS.models), platform=FLAGS.platform, threads=FLAGS.threads,
        batch_size=FLAGS.batch_size, image_size=FLAGS.image_size,
        warmup_steps=FLAGS.warmup_steps, windows=FLAGS.windows, window_steps=FLAGS.window_steps,
        fit_epochs=FLAGS.fit_epochs,
        precision=FLAGS.precision, peers=FLAGS.peers, compiled_peer=FLAGS.compiled_peer,
        profile_blocks=FLAGS.profile_blocks, profile_steps=FLAGS.profile_steps,
        largest_batch=FLAGS.largest_batch, max_batch=FLAGS.max_batch,
        memory_budget_mb=FLAGS.memory_budget_mb, resume=FLAGS.resume,
        output_dir=FLAGS.output_dir,
        model_kwargs=cli.set_flags(width_multiplier=FLAGS.width_multiplier),
    )
    if FLAGS.smoke:  # the smoke's settings, but for those given on the command line
        config = dataclasses.replace(config, **{
            setting: value for setting, value in runner.SMOKE.items() if not _given(setting)})
    results = runner.run_benchmark(config, log=lambda line: print(line, flush=True))
    print(markdown(results))
    print(f"Written: {report_stem(config.output_dir, config.platform)}.json/.md")
    errors = [model["errors"] for model in results["summary"].values() if model["errors"]]
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    cli.run(main)
