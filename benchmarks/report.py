"""The benchmark's rows: each measure, ours beside the peer's, their ratio and its target."""

import json
import operator
import os

from benchmarks.batch_search import RESOLUTION
from keras_inception.cpu import int8_dot_product, int8_speed_note
from keras_inception.files import write_json_atomically, write_text_atomically

# measure -> (comparison, target): the goals, as ratios (ours / peer unless noted).
TARGETS = {
    "training throughput": (">=", 1.25),
    "training throughput (GPU)": (">=", 1.0),
    "training peak memory": ("<=", 1.0),
    "pipeline cost": ("<=", 0.05),
    "TFLite float32 latency": ("<=", 1.0),
    "TFLite int8 speed-up": (">=", 1.5),
    "TFLite int8 top-1 agreement": (">=", 0.98),
    "bfloat16 training throughput": (">=", 1.3),
}
_COMPARE = {">=": operator.ge, "<=": operator.le}
# Targets on a fraction (of throughput lost, of images agreeing): missed by points, where the
# others, ratios of two sides, are missed by a share of the target.
FRACTION_TARGETS = {"pipeline cost", "TFLite int8 top-1 agreement"}
# Training costs about three forward passes (forward, and the two products of the backward).
TRAINING_FLOPS_PER_MAC = 6


def _row(measure, ours, peer, ratio, unit, peer_name, note="", why=None, targeted=True):
    """A row of the table. A missed target's row also gives `shortfall`, by how much it is
    missed (points for a fraction, else a share of the target), and `evidence`: the figures,
    from what was measured, that say where the gap lies, with `why` saying it in words.

    why: None, or (evidence dict, sentence). targeted: False drops the measure's target on
    this machine (the note says why).
    """
    comparison, target = TARGETS.get(measure, (None, None)) if targeted else (None, None)
    met = None if ratio is None or target is None else _COMPARE[comparison](ratio, target)
    missed = met is False
    shortfall = _shortfall(measure, ratio, target) if missed else None
    evidence, sentence = why if missed and why else (None, None)
    return {"measure": measure, "unit": unit, "ours": ours, "peer": peer, "peer_name": peer_name,
            "ratio": ratio, "target": f"{comparison} {target:g}" if target else "", "met": met,
            "note": note, "shortfall": shortfall,
            "gap": _gap(measure, shortfall, comparison) if missed else None,
            "evidence": evidence, "why": sentence}


def _shortfall(measure, ratio, target):
    if measure in FRACTION_TARGETS:
        return abs(ratio - target)
    return abs(ratio / target - 1)


def _gap(measure, shortfall, comparison):
    """By how much a ratio misses its target, in words: in points for a fraction, else relative."""
    side = "short" if comparison == ">=" else "over"
    if measure in FRACTION_TARGETS:
        return f"{shortfall:.3g} {side}"
    return f"{100 * shortfall:.2g}% {side}"  # 2 digits: 45%, 0.3%


def _ratio(a, b):
    return a / b if a is not None and b else None


def lookup(result, *keys):
    """result[keys[0]][keys[1]]..., or None where a level is missing (a failed measurement)."""
    for key in keys:
        if not isinstance(result, dict) or key not in result:
            return None
        result = result[key]
    return result


def _gflops(train):
    rate = lookup(train, "memory_fed", "images_per_second")
    return rate * TRAINING_FLOPS_PER_MAC * train["macs"] / 1e9 if rate else None


def model_errors(model):
    """Every measurement's error, joined."""
    return "; ".join(result["error"] for result in model.values()
                     if isinstance(result, dict) and "error" in result)


def _int8_speed_note(cpu, ratio):
    note = int8_speed_note(cpu, ratio)
    if not note:
        return ""
    return f"; {note}" + ("" if int8_dot_product(cpu) else ", and the speed target applies where those instructions are")


def _bfloat16_rows(model, float32_rate):
    """Ours in bfloat16 against ours in float32 and against torchvision's CPU autocast."""
    measured, reason = model.get("bfloat16_rows", (False, None))
    if reason is None:
        return []
    if not measured:
        return [_row("bfloat16 training throughput", None, None, None, "images/s",
                     "torchvision (autocast bfloat16, channels_last)", note=f"not measured: {reason}")]
    rate = lookup(model, "keras_train_bfloat16", "memory_fed", "images_per_second")
    torch_rate = lookup(model, "torch_train_bfloat16", "memory_fed", "images_per_second")
    return [
        _row("bfloat16 training vs our float32", rate, float32_rate, _ratio(rate, float32_rate), "images/s",
             "ours in float32", note=f"mixed_bfloat16, fed from memory; {reason}"),
        _row("bfloat16 training throughput", rate, torch_rate, _ratio(rate, torch_rate), "images/s",
             "torchvision (autocast bfloat16, channels_last)", note=reason),
    ]


def _cpu_rows(model, peak, cpu=None):
    ours, torch = model.get("keras_train", {}), model.get("torch_train")
    torch_cl, latency, onnx = (model.get("torch_train_channels_last"),
                               model.get("keras_latency"), model.get("onnx_latency"))
    rate = lookup(ours, "memory_fed", "images_per_second")
    piped = lookup(ours, "pipeline_fed", "images_per_second")
    torch_rate = lookup(torch, "memory_fed", "images_per_second")
    torch_cl_rate = lookup(torch_cl, "memory_fed", "images_per_second")
    # Measured in alternating rounds in one process where that ran; else each on its own.
    rounds = model.get("interleaved_latency") or {}
    float32_ms = lookup(rounds, "float32", "ms") or lookup(latency, "float32", "latency_ms")
    int8_ms = lookup(rounds, "int8", "ms") or lookup(latency, "int8", "latency_ms")
    onnx_ms = lookup(rounds, "onnxruntime", "ms") or lookup(onnx, "ms")
    gflops = _gflops(ours) if ours.get("macs") else None
    torch_gflops = _gflops(torch) if torch and "macs" in torch else None
    peak_gflops = lookup(peak, "gflops")
    flipped = _flipped(lookup(latency, "int8"))
    flipped_words = flipped and flipped[1]
    return [
        _row("training throughput", rate, torch_rate, _ratio(rate, torch_rate), "images/s",
             "torchvision (NCHW, PyTorch's default)",
             note=f"TensorFlow's oneDNN kernels {'on' if ours.get('onednn') else 'off'}",
             why=_peak_why(_ratio(gflops, peak_gflops), _ratio(torch_gflops, peak_gflops))),
        _row("training throughput vs channels_last", rate, torch_cl_rate,
             _ratio(rate, torch_cl_rate), "images/s", "torchvision (channels_last)"),
        *_bfloat16_rows(model, rate),
        _row("training peak memory", lookup(ours, "peak_rss_mb"), lookup(torch, "peak_rss_mb"),
             _ratio(lookup(ours, "peak_rss_mb"), lookup(torch, "peak_rss_mb")), "MiB RSS",
             "torchvision",
             note="the whole process; above the process before training: "
                  f"{_delta(ours)} vs {_delta(torch)} MiB; between steps, after the first and "
                  f"after the last: {_between_steps(ours)} vs {_between_steps(torch)} MiB",
             why=_memory_why(ours, torch)),
        _row("pipeline cost", piped, rate, None if not piped or not rate else 1 - piped / rate,
             "images/s", "the same batches in memory",
             note="JPEG decode + GoogLeNet augmentation each step; ratio = throughput lost",
             why=_pipeline_why(lookup(ours, "pipeline_fed", "window_rates"),
                               lookup(ours, "memory_fed", "window_rates"))),
        _row("achieved GFLOP/s", gflops, torch_gflops, _ratio(gflops, torch_gflops), "GFLOP/s",
             "torchvision",
             note=f"{TRAINING_FLOPS_PER_MAC} x multiply-adds per image; matmul peak "
                  f"{_fmt(peak_gflops)} GFLOP/s: ours at {_percent(_ratio(gflops, peak_gflops))},"
                  f" torchvision at {_percent(_ratio(torch_gflops, peak_gflops))}"),
        _row("inference multiply-adds", lookup(latency, "macs"), lookup(onnx, "macs"),
             _ratio(lookup(latency, "macs"), lookup(onnx, "macs")), "MACs", "torchvision"),
        _row("Keras latency", lookup(latency, "keras_ms"), onnx_ms,
             _ratio(lookup(latency, "keras_ms"), onnx_ms), "ms", "ONNX Runtime",
             note="one image, tf.function"),
        _row("TFLite float32 latency", float32_ms, onnx_ms, _ratio(float32_ms, onnx_ms), "ms",
             "ONNX Runtime", note="one image, LiteRT with XNNPACK; " + (
                 f"median of {len(lookup(rounds, 'float32', 'round_ms') or [])} alternating rounds"
                 if rounds else "measured apart"),
             why=_slowest_block(model.get("block_latency"))),
        _row("TFLite int8 speed-up", int8_ms, float32_ms, _ratio(float32_ms, int8_ms), "ms",
             "TFLite float32",
             note="ratio = float32 time / int8 time" + _convolution_note(latency)
                  + _int8_speed_note(cpu, _ratio(float32_ms, int8_ms)),
             why=_int8_kernels_why(latency), targeted=int8_dot_product(cpu) != []),
        _row("TFLite int8 top-1 agreement", lookup(latency, "int8", "top1_agreement"), None,
             lookup(latency, "int8", "top1_agreement"), "fraction", "Keras",
             note=f"on {lookup(latency, 'test_images')} held-out images; the net's own accuracy "
                  f"there: {_percent(lookup(latency, 'keras_test_accuracy'))}, after the timed "
                  f"steps and {lookup(ours, 'fit', 'epochs') or 0} epochs on the digits"
                  + (f"; {flipped_words}" if flipped else ""),
             why=flipped),
        *_largest_batch_rows(model, "torchvision (NCHW, PyTorch's default)"),
    ]


def _largest_batch_rows(model, peer_name):
    """The largest training batch of each side that fits (`batch_search`), where searched."""
    found = model.get("largest_batch")
    if not found:
        return []
    ours, peer = found.get("ours", {}), found.get("peer")
    where = (f"within {found['budget_mb']:,} MiB of resident memory" if found["budget_mb"]
             else "in the device's memory")

    def bound(side):
        if not side or "fits" not in side:
            return "-"
        if side["fails"] is None:
            return f"all up to the search's cap of {found['limit']:,}"
        return f"{side['fails']:,} did not"

    return [_row("largest training batch", lookup(ours, "fits"), lookup(peer, "fits"),
                 _ratio(lookup(ours, "fits"), lookup(peer, "fits")), "images", peer_name,
                 note=f"{where}; ours: {bound(ours)}, torchvision: {bound(peer)} (searched "
                      f"from {found['start']} by doubling, then bisecting to 1/{RESOLUTION})")]


# Each `_..._why` gives (evidence, sentence) for a row whose target may be missed, or None
# where nothing was measured to tell.


def _peak_why(ours_share, peer_share):
    """Training throughput: each side's share of the machine's matmul peak."""
    evidence = {"ours_share_of_peak": ours_share, "peer_share_of_peak": peer_share}
    return evidence, (f"of the matmul peak, ours reached {_percent(ours_share)} and torchvision "
                      f"{_percent(peer_share)}")


def _memory_why(ours, torch):
    """Where the memory of the two sides parts: before training, in training's growth, or in
    what each allocator keeps between steps."""
    if not torch or "peak_rss_mb" not in torch or "peak_rss_mb" not in ours:
        return None
    evidence = {"ours_before_mb": ours["base_rss_mb"], "peer_before_mb": torch["base_rss_mb"],
                "ours_added_mb": ours["peak_rss_mb"] - ours["base_rss_mb"],
                "peer_added_mb": torch["peak_rss_mb"] - torch["base_rss_mb"]}
    why = (f"before training ours held {ours['base_rss_mb']:,.0f} MiB and torchvision "
           f"{torch['base_rss_mb']:,.0f}; training added {_delta(ours)} and {_delta(torch)} MiB")
    ours_rss, torch_rss = (lookup(train, "memory_fed", "step_end_rss_mb")
                           for train in (ours, torch))
    if ours_rss and torch_rss:
        evidence["ours_held_after_last_step"] = ours_rss[-1] / ours["peak_rss_mb"]
        evidence["peer_held_after_last_step"] = torch_rss[-1] / torch["peak_rss_mb"]
        why += (f"; after the last step ours held {evidence['ours_held_after_last_step']:.0%} of its "
                f"peak and torchvision {evidence['peer_held_after_last_step']:.0%}")
    return evidence, why


def _pipeline_why(pipeline_rates, memory_rates):
    """The pipeline-fed windows' spread against the in-memory ones'."""
    evidence = {"pipeline_window_rates": _range(pipeline_rates), "memory_window_rates": _range(memory_rates)}
    return evidence, (f"its windows ran at {_spread(pipeline_rates)} images/s, from memory at "
                      f"{_spread(memory_rates)}")


def _range(rates):
    return [min(rates), max(rates)] if rates else None


def _spread(rates):
    return f"{min(rates):.3g} to {max(rates):.3g}" if rates else "-"


def _slowest_block(blocks):
    """The block of the per-block profile furthest behind ONNX Runtime's."""
    if not blocks or "error" in blocks:
        return {}, "where the time goes: --profile_blocks times each block of both nets"
    name, timed = max(blocks.items(), key=lambda item: item[1]["tflite_ms"] / item[1]["onnx_ms"])
    evidence = {"slowest_block": name, "tflite_ms": timed["tflite_ms"], "onnx_ms": timed["onnx_ms"]}
    return evidence, (f"the block furthest behind, up to {name}: {timed['tflite_ms']:.2f} against "
                      f"{timed['onnx_ms']:.2f} ms")


def _int8_kernels_why(latency):
    probes = lookup(latency, "int8_convolutions")
    if not probes:
        return None
    best = max(probe["speedup"] for probe in probes.values())
    evidence = {"best_convolution_speedup": best}
    if best < TARGETS["TFLite int8 speed-up"][1]:
        return evidence, (f"LiteRT's int8 kernels give at most {best:.2f}x on one convolution alone on "
                          "this processor, so no change to the net reaches the target")
    return evidence, f"one convolution alone reaches {best:.2f}x: what is lost lies in the net around it"


def _flipped(int8):
    """How near a tie in Keras the images were whose top-1 class int8 changed (None where it
    changed none)."""
    widest = lookup(int8, "widest_flipped_margin")
    if widest is None:
        return None
    evidence = {"widest_flipped_margin": widest, "median_margin": int8["median_margin"]}
    return evidence, (f"where int8 differs, Keras's top two scores were at most {_fmt(widest)} apart "
                      f"(the median image's: {_fmt(int8['median_margin'])})")


def _convolution_note(latency):
    """int8's speed-up on one convolution alone: what LiteRT's kernels give on this processor."""
    probes = lookup(latency, "int8_convolutions")
    if not probes:
        return ""
    speedups = ", ".join(f"{kernel} {probe['speedup']:.2f}x" for kernel, probe in probes.items())
    height, width, channels = next(iter(probes.values()))["input_shape"]
    return f"; one convolution alone ({height}x{width}, {channels} channels in and out): {speedups}"


def _gpu_rows(model):
    ours, torch = model.get("keras_train", {}), model.get("torch_train_channels_last")
    rate = lookup(ours, "memory_fed", "images_per_second")
    torch_rate = lookup(torch, "memory_fed", "images_per_second")
    memory, torch_memory = lookup(ours, "peak_device_mb"), lookup(torch, "peak_device_mb")
    return [
        _row("training throughput (GPU)", rate, torch_rate, _ratio(rate, torch_rate), "images/s",
             "torchvision (AMP, channels_last)", note=f"Keras on JAX, {lookup(ours, 'precision')}"),
        _row("training peak memory", memory, torch_memory, _ratio(memory, torch_memory),
             "MiB on the device", "torchvision (AMP, channels_last)"),
        *_largest_batch_rows(model, "torchvision (AMP, channels_last)"),
    ]


def summarize(results):
    """{model: [rows]} from the raw results."""
    platform = results["config"]["platform"]
    summary = {}
    for name, model in results["models"].items():
        cpu = lookup(results, "machine", "cpu")
        rows = _cpu_rows(model, results.get("matmul_peak"), cpu) if platform == "cpu" else _gpu_rows(model)
        summary[name] = {"rows": rows, "errors": model_errors(model)}
    return summary


def missed_targets(results):
    """One line per target a measured ratio misses: by how much, and where the gap lies."""
    return [f"{name}: {row['measure']} {row['ratio']:.3g} (target {row['target']}, "
            f"{row['gap']})" + (f": {row['why']}" if row.get("why") else "")
            for name, model in results["summary"].items() for row in model["rows"]
            if row["met"] is False]


def _delta(train):
    if not train or "peak_rss_mb" not in train:
        return "-"
    return f"{train['peak_rss_mb'] - train['base_rss_mb']:,.0f}"


def _between_steps(train):
    """RSS after the first training step -> after the last: how much of its peak a side's
    allocator holds between steps, and how that grows once every tensor has had a place."""
    rss = lookup(train, "memory_fed", "step_end_rss_mb")
    return f"{rss[0]:,.0f} -> {rss[-1]:,.0f}" if rss else "-"


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float) and abs(value) < 10:
        return f"{value:.3g}"
    return f"{value:,.0f}"


def _percent(value):
    return "-" if value is None else f"{value:.1%}"


def markdown(results):
    config, cpu = results["config"], results["machine"]["cpu"]
    lines = [
        f"# Benchmark ({config['platform']})", "",
        f"{cpu['model']} (family/model {cpu.get('family_model', '?')}; "
        f"{' '.join(cpu.get('vector', [])) or 'no AVX2'}), {cpu['cores']} cores; "
        f"{config['threads']} threads for every "
        f"framework; batch {config['batch_size']}; {config['windows']} windows of "
        f"{config['window_steps']} steps after {config['warmup_steps']} warm-up steps, median.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in results["machine"]["versions"].items()),
    ]
    for name, model in results["summary"].items():
        size = results["models"][name].get("image_size")
        lines += ["", f"## {name} ({size}x{size})", "",
                  "| measure | ours | peer | peer is | ratio | target | met | note |",
                  "| --- | ---: | ---: | --- | ---: | --- | --- | --- |"]
        for row in model["rows"]:
            met = {True: "yes", False: "**no**", None: ""}[row["met"]]
            lines.append(f"| {row['measure']} ({row['unit']}) | {_fmt(row['ours'])} | "
                         f"{_fmt(row['peer'])} | {row['peer_name']} | {_fmt(row['ratio'])} | "
                         f"{row['target']} | {met} | {row['note']} |")
        lines += block_table(results["models"][name].get("block_latency"))
        if model["errors"]:
            lines += ["", f"Errors: {model['errors']}"]
    missed = missed_targets(results)
    lines += ["", "## Missed targets", ""] + ([f"- {line}" for line in missed] or ["none"])
    return "\n".join(lines) + "\n"


def block_table(blocks):
    """The per-block latency profile (--profile_blocks): each block up to the named layer."""
    if not blocks or "error" in blocks:
        return []
    lines = ["", "Per block, one image (each block from the previous cut to this layer):", "",
             "| block | TFLite float32 (ms) | ONNX Runtime (ms) | ratio | MACs ours | MACs torchvision |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for block, timed in blocks.items():
        lines.append(f"| {block} | {timed['tflite_ms']:.2f} | {timed['onnx_ms']:.2f} | "
                     f"{_ratio(timed['tflite_ms'], timed['onnx_ms']):.3g} | "
                     f"{_fmt(timed['macs'])} | {_fmt(timed['onnx_macs'])} |")
    return lines


def report_stem(output_dir, platform):
    """The report's path without its extension (.json, .md)."""
    return os.path.join(output_dir, f"benchmark_{platform}")


def write_report(results, output_dir, platform):
    """`benchmark_<platform>.json` and `.md` in `output_dir` (empty: the current directory, as
    a path is read), each written atomically."""
    os.makedirs(output_dir or os.curdir, exist_ok=True)
    stem = report_stem(output_dir, platform)
    write_json_atomically(stem + ".json", json.loads(json.dumps(results, default=str)))
    write_text_atomically(stem + ".md", markdown(results))
