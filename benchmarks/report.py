"""The benchmark's rows: each measure, ours beside the peer's, their ratio and its target."""

import json
import operator
import os

from benchmarks.batch_search import RESOLUTION
from benchmarks.onednn_trace import CONTRACTIONS, GROUP_NAMES, GROUPS, OTHER_ONEDNN, OUTSIDE_ONEDNN
from keras_inception.cpu import int8_dot_product, int8_speed_note
from keras_inception.files import write_json_atomically, write_text_atomically

# measure -> (comparison, target): the benchmark's goals, as ratios (ours / peer unless noted).
TARGETS = {
    "training throughput": (">=", 1.3),
    "training throughput (GPU)": (">=", 1.0),
    "training peak memory": ("<=", 0.9),
    "pipeline cost": ("<=", 0.05),
    "TFLite float32 latency": ("<=", 0.9),  # 10% ahead of the peer
    "TFLite int8 speed-up": (">=", 1.5),
    "TFLite int8 top-1 agreement": (">=", 0.98),
    "bfloat16 training throughput": (">=", 1.3),
    "serving throughput": (">=", 1.0),
    "serving throughput vs torchvision": (">=", 1.0),
}
# measure -> (share of a matmul peak, which peak, whether only in place of a ratio that would
# need more than the peak): the other way a training target is met, where a
# faster peer leaves no room below the machine's arithmetic rate (float32), or outright
# (bfloat16, whose peak the peer may be far from too).
PEAK_SHARE_TARGETS = {"training throughput": (0.95, "matmul peak", True),
                      "bfloat16 training throughput": (0.85, "bfloat16 matmul peak", False)}
_COMPARE = {">=": operator.ge, "<=": operator.le}
# Targets on a fraction (of throughput lost, of images agreeing): missed by points, where the
# others, ratios of two sides, are missed by a share of the target.
FRACTION_TARGETS = {"pipeline cost", "TFLite int8 top-1 agreement"}
# The run's matrix-multiply peaks by dtype: the float32 one, and the bfloat16 one that the
# bfloat16 rows' share is of (measured where those rows are).
MATMUL_PEAKS = {"matmul_peak": "float32", "matmul_peak_bfloat16": "bfloat16"}
# The rest of a training step beside its convolutions and fully connected layers, as the report
# names it: the groups of memory-bound work.
STEP_REST = (GROUPS["batch_normalization"], OTHER_ONEDNN, OUTSIDE_ONEDNN)
# Training costs about three forward passes (forward, and the two products of the backward).
TRAINING_FLOPS_PER_MAC = 6


def _row(measure, ours, peer, ratio, unit, peer_name, note="", why=None, targeted=True, shares=None):
    """A row of the table. A missed target's row also gives `shortfall`, by how much it is
    missed (points for a fraction, else a share of the target), and `evidence`: the figures,
    from what was measured, that say where the gap lies, with `why` saying it in words.

    why: None, or (evidence dict, sentence). targeted: False drops the measure's target on
    this machine (the note says why). shares: None, or (ours, peer) shares of the matmul
    peak, for a measure of `PEAK_SHARE_TARGETS`.
    """
    comparison, target = TARGETS.get(measure, (None, None)) if targeted else (None, None)
    met = None if ratio is None or target is None else _COMPARE[comparison](ratio, target)
    target_words = f"{comparison} {target:g}" if target else ""
    shortfall = _shortfall(measure, ratio, target) if met is False else None
    gap = _gap(measure, shortfall, comparison) if met is False else None
    met, target_words, shortfall, gap = _against_the_peak(measure, target, shares, met, target_words,
                                                          shortfall, gap)
    missed = met is False
    evidence, sentence = why if missed and why else (None, None)
    return {"measure": measure, "unit": unit, "ours": ours, "peer": peer, "peer_name": peer_name,
            "ratio": ratio, "target": target_words, "met": met,
            "note": note, "shortfall": shortfall, "gap": gap,
            "evidence": evidence, "why": sentence}


def _against_the_peak(measure, target, shares, met, target_words, shortfall, gap):
    """A row's (met, target in words, shortfall, gap) with the other way to meet its target
    (`PEAK_SHARE_TARGETS`) applied where it applies."""
    if met is None or measure not in PEAK_SHARE_TARGETS or not shares or shares[0] is None:
        return met, target_words, shortfall, gap
    share_target, peak_name, in_place = PEAK_SHARE_TARGETS[measure]
    share_met = shares[0] >= share_target
    if not in_place:
        words = f"{target_words}, or >= {share_target:.0%} of the {peak_name}"
        return (True, words, None, None) if share_met else (met, words, shortfall, gap)
    needed = target * shares[1] if shares[1] is not None else None
    if needed is None or needed <= 1:
        return met, target_words, shortfall, gap
    words = f">= {share_target:.0%} of the {peak_name} ({target:g}x the peer would need {needed:.0%} of it)"
    if share_met:
        return True, words, None, None
    shortfall = 1 - shares[0] / share_target
    return False, words, shortfall, f"{100 * shortfall:.2g}% short"


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


def _inference_gflops(macs, images_per_second):
    """Inference of `images_per_second` images of `macs` multiply-adds, in GFLOP/s (2 a MAC)."""
    return 2 * macs * images_per_second / 1e9 if macs and images_per_second else None


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


LIBRARY_NAMES = {"tensorflow": "TensorFlow", "pytorch": "PyTorch"}


def _peak_words(peak, name="matmul peak"):
    """The peak's rate and where it came from: the faster library's product of which size."""
    gflops = lookup(peak, "gflops")
    source = (f" ({LIBRARY_NAMES.get(peak['library'], peak['library'])}'s {peak['n']} x {peak['n']})"
              if gflops and "library" in peak else "")
    return f"{name} {_fmt(gflops)} GFLOP/s{source}"


def _bfloat16_rows(model, float32_rate, peak):
    """Ours in bfloat16 against ours in float32 and against torchvision's CPU autocast, and
    each side's share of the bfloat16 matmul peak."""
    measured, reason = model.get("bfloat16_rows", (False, None))
    if reason is None:
        return []
    if not measured:
        return [_row("bfloat16 training throughput", None, None, None, "images/s",
                     "torchvision (autocast bfloat16, channels_last)", note=f"not measured: {reason}")]
    ours, torch = model.get("keras_train_bfloat16"), model.get("torch_train_bfloat16")
    rate = lookup(ours, "memory_fed", "images_per_second")
    torch_rate = lookup(torch, "memory_fed", "images_per_second")
    peak_gflops = lookup(peak, "gflops")
    shares = tuple(_ratio(_gflops(train), peak_gflops) for train in (ours, torch))
    return [
        _row("bfloat16 training vs our float32", rate, float32_rate, _ratio(rate, float32_rate), "images/s",
             "ours in float32", note="mixed_bfloat16" + (  # on a CPU, TensorFlow's is the rewrite
                 " (TensorFlow's oneDNN bfloat16 rewrite, as the training job runs it on a CPU)"
                 if lookup(ours, "backend") == "tensorflow" else "") + f", fed from memory; {reason}"),
        _row("bfloat16 training throughput", rate, torch_rate, _ratio(rate, torch_rate), "images/s",
             "torchvision (autocast bfloat16, channels_last)",
             note=f"{reason}; {_peak_words(peak, 'bfloat16 matmul peak')}: ours at "
                  f"{_percent(shares[0])}, torchvision at {_percent(shares[1])}",
             why=_peak_why(*shares, "bfloat16 matmul peak", step=model.get("step_profile_bfloat16"),
                           peak_gflops=peak_gflops), shares=shares),
    ]


# The peer's training settings, each measured: PyTorch's default layout, its faster one, and
# that one through torch.compile.
PEER_SETTINGS = {"torch_train": "NCHW", "torch_train_channels_last": "channels_last",
                 "torch_train_compiled": "channels_last + torch.compile"}


def _best_peer(model):
    """The key of the peer's fastest training setting measured (`PEER_SETTINGS`), or None."""
    rates = {key: lookup(model, key, "memory_fed", "images_per_second") for key in PEER_SETTINGS}
    rates = {key: rate for key, rate in rates.items() if rate}
    return max(rates, key=rates.get) if rates else None


def _peer_settings_note(model):
    """Each of the peer's training settings' images/s, and the compiled one's first step."""
    rates = [f"{_fmt(lookup(model, key, 'memory_fed', 'images_per_second'))} in {PEER_SETTINGS[key]}"
             for key in PEER_SETTINGS if key in model]
    compile_s = lookup(model, "torch_train_compiled", "memory_fed", "first_step_s")
    return ("; torchvision's settings (images/s): " + ", ".join(rates) if rates else "") + (
        f" (its first step, compiling: {compile_s:.0f} s)" if compile_s else "")


def _serving_rows(model, peak_gflops):
    """The SavedModel at the training batch against ONNX Runtime and torchvision at its best."""
    serving, macs = model.get("keras_serving"), lookup(model, "keras_latency", "macs")
    rate = lookup(serving, "images_per_second")
    peers = lookup(model, "torch_serving", "images_per_second") or {}
    onnx_rate = peers.get("onnxruntime")
    layouts = {"channels_last" if key.endswith("channels_last") else "NCHW": value
               for key, value in peers.items() if key.startswith("torch_")}
    layout = max(layouts, key=layouts.get) if layouts else None
    note = f"batch {lookup(serving, 'batch_size')}, the SavedModel's serve_float (preprocessing inside)"
    return [
        _row("serving throughput", rate, onnx_rate, _ratio(rate, onnx_rate), "images/s", "ONNX Runtime",
             note=note, why=_peak_why(*(_ratio(_inference_gflops(macs, value), peak_gflops)
                                        for value in (rate, onnx_rate)), peer_name="ONNX Runtime")),
        _row("serving throughput vs torchvision", rate, layouts.get(layout), _ratio(rate, layouts.get(layout)),
             "images/s", f"torchvision ({layout or '-'}, inference mode)",
             note="the faster of its two layouts: " + ", ".join(
                 f"{name} {_fmt(value)}" for name, value in layouts.items()) if layouts else ""),
    ]


def _cpu_rows(model, peak, cpu=None, bfloat16_peak=None):
    ours, torch = model.get("keras_train", {}), model.get("torch_train")
    best_key = _best_peer(model)
    best = model.get(best_key) if best_key else None
    latency, onnx = model.get("keras_latency"), model.get("onnx_latency")
    rate = lookup(ours, "memory_fed", "images_per_second")
    piped = lookup(ours, "pipeline_fed", "images_per_second")
    best_rate = lookup(best, "memory_fed", "images_per_second")
    # Measured in alternating rounds in one process where that ran; else each on its own.
    rounds = model.get("interleaved_latency") or {}
    float32_ms = lookup(rounds, "float32", "ms") or lookup(latency, "float32", "latency_ms")
    int8_ms = lookup(rounds, "int8", "ms") or lookup(latency, "int8", "latency_ms")
    onnx_ms = lookup(rounds, "onnxruntime", "ms") or lookup(onnx, "ms")
    gflops = _gflops(ours) if ours.get("macs") else None
    torch_gflops = _gflops(best) if best and "macs" in best else None
    peak_gflops = lookup(peak, "gflops")
    shares = (_ratio(gflops, peak_gflops), _ratio(torch_gflops, peak_gflops))
    flipped = _flipped(lookup(latency, "int8"))
    near_chance = _near_chance(lookup(latency, "keras_test_accuracy"), lookup(latency, "test_classes"))
    flipped_words = flipped and flipped[1]
    best_name = f"torchvision at its best ({PEER_SETTINGS[best_key]})" if best else "torchvision"
    return [
        _row("training throughput", rate, best_rate, _ratio(rate, best_rate), "images/s", best_name,
             note=f"TensorFlow's oneDNN kernels {'on' if ours.get('onednn') else 'off'}"
                  + _peer_settings_note(model),
             why=_peak_why(*shares, step=model.get("step_profile"), peak_gflops=peak_gflops),
             shares=shares),
        *_bfloat16_rows(model, rate, bfloat16_peak),
        _row("training peak memory", lookup(ours, "peak_rss_mb"), lookup(torch, "peak_rss_mb"),
             _ratio(lookup(ours, "peak_rss_mb"), lookup(torch, "peak_rss_mb")), "MiB RSS",
             "torchvision",
             note="the whole process; above the process before training: "
                  f"{_delta(ours)} vs {_delta(torch)} MiB; between steps, after the first and "
                  f"after the last: {_between_steps(ours)} vs {_between_steps(torch)} MiB",
             why=_memory_why(ours, torch)),
        _row("pipeline cost", piped, rate, None if not piped or not rate else 1 - piped / rate,
             "images/s", "batches of the same shape in memory",
             note="JPEG decode + GoogLeNet augmentation each step; ratio = throughput lost",
             why=_pipeline_why(lookup(ours, "pipeline_fed", "window_rates"),
                               lookup(ours, "memory_fed", "window_rates"))),
        _row("achieved GFLOP/s", gflops, torch_gflops, _ratio(gflops, torch_gflops), "GFLOP/s",
             best_name,
             note=f"{TRAINING_FLOPS_PER_MAC} x multiply-adds per image; {_peak_words(peak)}: "
                  f"ours at {_percent(shares[0])},"
                  f" torchvision at {_percent(shares[1])}"),
        _row("inference multiply-adds", lookup(latency, "macs"), lookup(onnx, "macs"),
             _ratio(lookup(latency, "macs"), lookup(onnx, "macs")), "MACs", "torchvision"),
        *_serving_rows(model, peak_gflops),
        _row("Keras latency", lookup(latency, "keras_ms"), onnx_ms,
             _ratio(lookup(latency, "keras_ms"), onnx_ms), "ms", "ONNX Runtime",
             note="one image, tf.function"),
        _row("TFLite float32 latency", float32_ms, onnx_ms, _ratio(float32_ms, onnx_ms), "ms",
             "ONNX Runtime", note="one image, LiteRT with XNNPACK; " + (
                 f"median of {len(lookup(rounds, 'float32', 'round_ms') or [])} alternating rounds"
                 if rounds else "measured apart"),
             why=_latency_why(model.get("block_latency"), lookup(latency, "macs"), float32_ms, onnx_ms,
                              peak_gflops)),
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
                  + (f"; {flipped_words}" if flipped else "")
                  + (f"; no target: {near_chance}" if near_chance else ""),
             why=flipped, targeted=not near_chance),
        *_largest_batch_rows(model, "torchvision (NCHW, PyTorch's default)"),
    ]


def _near_chance(accuracy, classes):
    """Why int8's agreement is held to no target, or "" where it is: a net under twice chance
    on the held-out images has near-uniform scores, whose top-1 any rounding flips, or picks one
    class for every image, which any rounding keeps."""
    if accuracy is None or not classes or accuracy >= 2 / classes:
        return ""
    return (f"the net's own accuracy is under twice chance ({1 / classes:.0%} for {classes} classes), so "
            "its agreement says nothing of int8")


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


def _peak_why(ours_share, peer_share, peak_name="matmul peak", peer_name="torchvision", *,
              step=None, peak_gflops=None):
    """Throughput: each side's share of the machine's matmul peak (in float32, or the one
    named), and where our training step's time went (`step`: `runner.step_profile`'s)."""
    evidence = {"ours_share_of_peak": ours_share, "peer_share_of_peak": peer_share}
    why = (f"of the {peak_name}, ours reached {_percent(ours_share)} and {peer_name} "
           f"{_percent(peer_share)}")
    if step and "by_group_ms" in step:
        shares = {group: ms / step["step_ms"] for group, ms in step["by_group_ms"].items()}
        kernels = _ratio(step["contraction_gflops"], peak_gflops)
        evidence.update(step_shares=shares, contractions_share_of_peak=kernels)
        why += ("; our step, in oneDNN's trace: convolutions and fully connected layers "
                f"{_percent(sum(shares[group] for group in CONTRACTIONS))} of it"
                + (f", running at {_percent(kernels)} of the {peak_name}" if kernels else "") + "; "
                + ", ".join(f"{group} {_percent(shares[group])}" for group in STEP_REST))
    return evidence, why


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


def _latency_why(blocks, macs, tflite_ms, onnx_ms, peak_gflops):
    """The block of the per-block profile furthest behind ONNX Runtime's, and each side's
    single-image rate as a share of the matmul peak, with the share the target would need."""
    if not blocks or "error" in blocks:
        evidence, why = {}, "where the time goes: --profile_blocks times each block of both nets"
    else:
        name, timed = max(blocks.items(), key=lambda item: item[1]["tflite_ms"] / item[1]["onnx_ms"])
        evidence = {"slowest_block": name, "tflite_ms": timed["tflite_ms"], "onnx_ms": timed["onnx_ms"]}
        why = f"the block furthest behind, up to {name}: {timed['tflite_ms']:.2f} against {timed['onnx_ms']:.2f} ms"
    if macs and tflite_ms and onnx_ms and peak_gflops:
        share = {side: _inference_gflops(macs, 1000 / ms) / peak_gflops
                 for side, ms in (("tflite", tflite_ms), ("onnx", onnx_ms))}
        needed = share["onnx"] / TARGETS["TFLite float32 latency"][1]
        evidence.update(tflite_share_of_peak=share["tflite"], onnx_share_of_peak=share["onnx"],
                        needed_share_of_peak=needed)
        why += (f"; of the matmul peak, one image ran at {share['tflite']:.0%} in LiteRT and "
                f"{share['onnx']:.0%} in ONNX Runtime, and the target needs {needed:.0%}")
    return evidence, why


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
        rows = (_cpu_rows(model, results.get("matmul_peak"), cpu, results.get("matmul_peak_bfloat16"))
                if platform == "cpu" else _gpu_rows(model))
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
        lines += step_table(results["models"][name], results)
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


def step_table(model, results):
    """Our training step split by oneDNN's trace (`runner.step_profile`), in float32 and in
    bfloat16 where they were traced, each against the matmul peak of its precision."""
    traced = [(precision, model[key], lookup(results, peak_key, "gflops"))
              for precision, key, peak_key in (("float32", "step_profile", "matmul_peak"),
                                               ("bfloat16", "step_profile_bfloat16", "matmul_peak_bfloat16"))
              if key in model]
    if not traced:
        return []
    return ["", "Our training step, split by oneDNN's own trace of the primitives it ran (ms per "
                "step, and share of the step; outside oneDNN: TensorFlow's other kernels):", "",
            *step_table_header("precision"),
            *(step_table_row(precision, step, peak) for precision, step, peak in traced)]


def step_table_header(first_column):
    """The head of a table of traced steps (`step_table_row`), its first column named so."""
    return [f"| {first_column} | step (ms) | " + " | ".join(GROUP_NAMES)
            + " | convolutions and fully connected: rate | whole step: rate |",
            "| --- | ---: |" + " ---: |" * (len(GROUP_NAMES) + 2)]


def step_table_row(label, step, peak_gflops):
    """One traced step as a row of `step_table_header`'s table, its rates against `peak_gflops`."""
    if "error" in step:
        return f"| {label} | {step['error']} |"
    cells = [f"{step['by_group_ms'][group]:,.0f} ({step['by_group_ms'][group] / step['step_ms']:.0%})"
             for group in GROUP_NAMES]
    rates = [_step_rate(step[key], peak_gflops) for key in ("contraction_gflops", "step_gflops")]
    return f"| {label} | {step['step_ms']:,.0f} | " + " | ".join(cells + rates) + " |"


def _step_rate(gflops, peak_gflops):
    if gflops is None:
        return "-"
    return f"{gflops:,.0f} GFLOP/s" + (f" ({gflops / peak_gflops:.0%} of the peak)" if peak_gflops else "")


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
