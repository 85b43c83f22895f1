"""What the delegate-friendly export gains on this CPU: each net's .tflite as TFLite converts it
directly (LRN as TFLite's op, six-way concatenations, int8 fully quantized) against our export
(LRN as delegate ops, nested concatenations, int8's softmax and average pools in float), with
XNNPACK's partitions, the ops the GPU delegate refuses and the single-image latency in LiteRT.

    python3 benchmarks/delegates.py                       # GoogLeNet (paper) and Inception v3
    python3 benchmarks/delegates.py --nets=googlenet@224:float32+int8 --threads=1

The files take turns in alternating rounds in one process (`latency.interleaved_latency`), so a
slower spell of a shared machine falls on all of them. Random weights: the latency does not
depend on them; the int8 agreement of each form is what the export checks on trained nets.
Prints a Markdown table, with the processor and its int8 instructions.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import keras_inception_cli  # noqa: E402

keras_inception_cli.before_tensorflow()  # environment defaults, then TensorFlow

import numpy as np  # noqa: E402
from absl import flags  # noqa: E402

import keras_inception  # noqa: E402
from benchmarks.latency import interleaved_latency  # noqa: E402
from keras_inception import cli, cpu  # noqa: E402
from keras_inception.export import export_graph, tflite  # noqa: E402
from keras_inception.export.delegates import gpu_unsupported_ops, xnnpack_partitions  # noqa: E402
from keras_inception.validation import UsageError  # noqa: E402

flags.DEFINE_list("nets", ["googlenet@224:float32+int8", "inception_v3@299:float32+int8"],
                  "NET@SIZE:MODE+MODE, comma-separated.")
flags.DEFINE_integer("threads", None, "LiteRT threads; default: this process's cores.", lower_bound=1)
flags.DEFINE_integer("rounds", 5, "Alternating rounds.", lower_bound=1)
flags.DEFINE_integer("runs", 10, "Timed invokes per file and round.", lower_bound=1)
flags.DEFINE_integer("calibration_images", 8, "Random images that calibrate int8.", lower_bound=1)
FLAGS = flags.FLAGS
# Before: the graph as TFLite converts it directly; after: ours.
CONVERSIONS = {"direct": ("tensorflow", ()), "ours": ("delegates", tflite.FLOAT_OPS_IN_INT8)}


def parse_net(text):
    """"googlenet@224:float32+int8" -> ("googlenet", 224, ("float32", "int8")); one line otherwise."""
    try:
        name_size, modes = text.split(":")
        name, size = name_size.split("@")
        size, modes = int(size), tuple(modes.split("+"))
    except ValueError:
        raise UsageError(f"Expected NET@SIZE:MODE+MODE, e.g. googlenet@224:float32+int8. Received: nets={text!r}") from None
    for mode in modes:
        if mode not in tflite.MODES:
            raise UsageError(f"Expected modes among {', '.join(tflite.MODES)}. Received: nets={text!r}")
    return name, size, modes


def measure(nets, *, threads, rounds, runs, calibration_images, directory):
    rows, files = [], {}
    for name, size, modes in nets:
        net = keras_inception.get_model(name, input_shape=(size, size, 3))  # export drops aux heads
        images = np.random.default_rng(0).random((calibration_images, size, size, 3), dtype=np.float32)
        for form, (graph_form, float_ops) in CONVERSIONS.items():
            graph = export_graph(net, form=graph_form)
            for mode, converted in tflite.convert_modes(graph, modes, representative_images=images,
                                                        float_ops=float_ops):
                path = os.path.join(directory, f"{name}_{size}_{mode}_{form}.tflite")
                with open(path, "wb") as file:
                    file.write(converted)
                files[(name, size, mode, form)] = path
                rows.append({"net": f"{name} @ {size}", "mode": mode, "form": form,
                             "partitions": xnnpack_partitions(path), "gpu_refused": gpu_unsupported_ops(path)})
    latency = interleaved_latency({"files": {key: path for key, path in files.items()}, "image_size": None,
                                   "threads": threads, "rounds": rounds, "runs": runs})
    for row, key in zip(rows, files):
        row["ms"] = latency[key]["ms"]
    return rows


def table(rows):
    lines = ["| net | mode | form | XNNPACK partitions | ops the GPU delegate refuses | latency (ms) | direct / ours |",
             "|---|---|---|---|---|---|---|"]
    direct = {(row["net"], row["mode"]): row["ms"] for row in rows if row["form"] == "direct"}
    for row in rows:
        refused = ", ".join(f"{reason} x{count}" for reason, count in row["gpu_refused"].items()) or "none"
        ratio = f"{direct[row['net'], row['mode']] / row['ms']:.2f}x" if row["form"] == "ours" else ""
        lines.append(f"| {row['net']} | {row['mode']} | {row['form']} | {row['partitions']} | {refused} | "
                     f"{row['ms']:.2f} | {ratio} |")
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        cli.fail(f"unexpected arguments: {' '.join(argv[1:])}")
    nets = [parse_net(text) for text in FLAGS.nets]
    processor = cpu.describe_cpu()
    threads = FLAGS.threads or processor["cores"]
    with tempfile.TemporaryDirectory(prefix="keras_inception_delegates_") as directory:
        rows = measure(nets, threads=threads, rounds=FLAGS.rounds, runs=FLAGS.runs,
                       calibration_images=FLAGS.calibration_images, directory=directory)
    print(table(rows))
    print(f"\nLiteRT with {threads} threads on {cpu.summary(processor)}; {cpu.int8_speed_note(processor)}.")
    return 0


if __name__ == "__main__":
    cli.run(main)
