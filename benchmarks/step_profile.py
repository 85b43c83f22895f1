"""Where our training step's time goes on the CPU: each net's `model.fit` step as the benchmark
times it, split by oneDNN's own account of the primitives it ran (convolutions, fully connected
layers, batch norm, the rest of oneDNN) and the time outside oneDNN (TensorFlow's other ops),
with the convolutions' rate against this machine's matrix-multiply peak.

    python3 benchmarks/step_profile.py                    # the benchmark's four nets
    python3 benchmarks/step_profile.py --models=resnet50 --steps=3

It tells a training row's miss in `benchmark.py` apart: kernels below the peak, or time spent
in memory-bound ops whose multiply-adds are none. Writes step_profile_cpu.json and .md to
--output_dir and prints the table. TensorFlow only: oneDNN is its CPU backend.
"""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this folder as a package

import keras_inception_cli  # noqa: E402

keras_inception_cli.before_tensorflow()  # environment defaults, then TensorFlow

import os  # noqa: E402

from absl import flags  # noqa: E402

from benchmarks import machine, runner  # noqa: E402
from benchmarks.pairs import PAIRS  # noqa: E402
from benchmarks.report import step_table_header, step_table_row  # noqa: E402
from keras_inception import cli  # noqa: E402
from keras_inception.files import write_json_atomically, write_text_atomically  # noqa: E402

flags.DEFINE_list("models", ["googlenet", "resnet18", "resnet50", "inception_v3"],
                  f"Nets to profile, comma-separated, of: {', '.join(PAIRS)}.")
flags.DEFINE_integer("threads", 2, "TensorFlow's threads.", lower_bound=1)
flags.DEFINE_integer("batch_size", 32, "Training batch size.", lower_bound=1)
flags.DEFINE_integer("image_size", None, "Input size; default: each net's (224, 299 for Inception v3).", lower_bound=1)
flags.DEFINE_integer("warmup_steps", 3, "Untimed training steps first.", lower_bound=1)
flags.DEFINE_integer("steps", 2, "Profiled training steps.", lower_bound=1)
flags.DEFINE_enum("precision", "float32", ("float32", "mixed_bfloat16"), "float32, or mixed_bfloat16 "
                  "as the training job runs it on a CPU (TensorFlow's oneDNN bfloat16 rewrite).")
flags.DEFINE_list("matmul_sizes", ["1024", "2048", "4096"], "The n x n matrix products whose "
                  "fastest is the matrix-multiply peak.")
flags.DEFINE_string("output_dir", "saved_models/benchmarks", "Where the JSON and Markdown go.")
FLAGS = flags.FLAGS


def markdown(results):
    """The run's table: a row per net (`report.step_table_row`), the machine and peak above it."""
    peak = results["matmul_peak"].get("gflops")
    cpu = results["cpu"]
    lines = [f"{cpu['model']} (family/model {cpu['family_model']}; {' '.join(cpu['vector']) or 'no AVX2'}), "
             f"{cpu['cores']} cores; {results['threads']} threads, batch {results['batch_size']}; "
             f"each net's `model.fit` over {results['steps']} steps after {results['warmup_steps']} "
             f"untimed ones, in {results['precision']}, per step: ms, and share of the step.",
             "Versions: " + ", ".join(f"{name} {version}" for name, version in results["versions"].items()) + ".",
             f"oneDNN's CPU kernels: {results['instruction_set']}. Matrix-multiply peak in "
             f"{results['matmul_peak'].get('dtype', '?')}: "
             + (f"{peak:,.0f} GFLOP/s (TensorFlow's {results['matmul_peak']['n']} x "
                f"{results['matmul_peak']['n']})." if peak else "not measured."), "",
             *step_table_header("net")]
    for name, net in results["nets"].items():
        label = f"{name} @ {net['image_size']}" if "image_size" in net else name
        lines.append(step_table_row(label, net, peak))
    return "\n".join(lines) + "\n"


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    unknown = [name for name in FLAGS.models if name not in PAIRS]
    if unknown:
        cli.fail(f"--models: {', '.join(unknown)} is not a net here. Allowed: {', '.join(PAIRS)}")
    if not all(size.isdigit() and int(size) > 0 for size in FLAGS.matmul_sizes):
        cli.fail(f"--matmul_sizes={','.join(FLAGS.matmul_sizes)}: each must be a positive whole number")
    config = runner.BenchmarkConfig(models=tuple(FLAGS.models), threads=FLAGS.threads,
                                    batch_size=FLAGS.batch_size, warmup_steps=FLAGS.warmup_steps,
                                    matmul_sizes=tuple(int(size) for size in FLAGS.matmul_sizes),
                                    peers=False)
    log = lambda line: print(line, flush=True)  # noqa: E731
    dtype = "bfloat16" if FLAGS.precision == "mixed_bfloat16" else "float32"
    peak = runner.matmul_peak(dtype, config, log)  # TensorFlow's: no peers here
    nets = {name: runner.step_profile(name, config, FLAGS.image_size, FLAGS.steps, FLAGS.precision, log)
            for name in FLAGS.models}
    sets = {net.get("instruction_set") for net in nets.values()} - {None}
    results = {"cpu": machine.describe_cpu(), "versions": machine.versions("tensorflow", "keras"),
               "threads": config.threads,
               "batch_size": config.batch_size, "warmup_steps": config.warmup_steps,
               "steps": FLAGS.steps, "precision": FLAGS.precision, "instruction_set": ", ".join(sorted(sets)) or "not reported",
               "matmul_peak": peak, "nets": nets}
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    stem = os.path.join(FLAGS.output_dir, "step_profile_cpu" + ("_bfloat16" if dtype == "bfloat16" else ""))
    write_json_atomically(stem + ".json", results)
    write_text_atomically(stem + ".md", markdown(results))
    print(markdown(results))
    print(f"Written: {stem}.json/.md")
    return 1 if any("error" in net for net in nets.values()) else 0


if __name__ == "__main__":
    cli.run(main)
