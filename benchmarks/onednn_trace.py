"""Where a training step's time goes on the CPU, from oneDNN's own account of each primitive it
runs: its verbose mode (`ONEDNN_VERBOSE=1`, with `ONEDNN_VERBOSE_TIMESTAMP=1`) prints one line
per execution with its start on the wall clock and its time. TensorFlow's profiler would need
TensorBoard's plugin to read its trace, and names TensorFlow's ops, not the kernels oneDNN picked.
"""

from typing import NamedTuple
from keras_inception.validation import UsageError

# What oneDNN reads from the environment when TensorFlow first calls it.
ENVIRONMENT = {"ONEDNN_VERBOSE": "1", "ONEDNN_VERBOSE_TIMESTAMP": "1"}

# oneDNN's primitive kinds, in the groups the report gives; any other kind is "other oneDNN".
GROUPS = {
    "convolution": "convolutions",
    "deconvolution": "convolutions",
    "inner_product": "fully connected",
    "matmul": "fully connected",
    "batch_normalization": "batch norm",
}
OTHER_ONEDNN = "other oneDNN"
OUTSIDE_ONEDNN = "outside oneDNN"
# Every group a step is split into, in the order the report gives them.
GROUP_NAMES = (*dict.fromkeys(GROUPS.values()), OTHER_ONEDNN, OUTSIDE_ONEDNN)
# The groups whose multiply-adds are the net's: the rate of these is set against the matmul peak.
CONTRACTIONS = ("convolutions", "fully connected")


class Execution(NamedTuple):
    start_ms: float  # milliseconds since the epoch, as time.time() * 1000
    kind: str  # oneDNN's primitive kind: convolution, batch_normalization, reorder, ...
    implementation: str  # the kernel oneDNN picked, e.g. brg_conv_fwd:avx512_core
    propagation: str  # forward_training, backward_data, backward_weights, ...
    ms: float


def executions(lines):
    """The primitive executions in oneDNN's verbose output (with timestamps), in order."""
    for line in lines:
        # onednn_verbose,v1,TIMESTAMP,primitive,exec,ENGINE,KIND,IMPLEMENTATION,PROPAGATION,...,MS
        fields = line.rstrip("\n").split(",")
        if len(fields) > 9 and fields[0] == "onednn_verbose" and fields[3:5] == ["primitive", "exec"]:
            yield Execution(float(fields[2]), fields[6], fields[7], fields[8], float(fields[-1]))


def instruction_set(lines):
    """oneDNN's line naming the instruction set its CPU kernels use, or None."""
    for line in lines:
        fields = line.rstrip("\n").split(",", 4)
        if fields[:4] == ["onednn_verbose", "v1", "info", "cpu"] and fields[4].startswith("isa:"):
            return fields[4][len("isa:"):]
    return None


def step_breakdown(runs, start_ms, end_ms, steps):
    """Milliseconds per step by group (`GROUPS`, `OTHER_ONEDNN`, and `OUTSIDE_ONEDNN`: the
    window's wall time that no primitive accounts for) over the executions of `runs` that start
    in [start_ms, end_ms), a window of `steps` whole steps in which one op runs at a time."""
    if not end_ms > start_ms or steps < 1:
        raise UsageError(f"The window needs an end after its start and at least one step. "
                         f"Received: start_ms={start_ms}, end_ms={end_ms}, steps={steps}")
    by_group = dict.fromkeys(GROUP_NAMES, 0.0)
    for run in runs:
        if start_ms <= run.start_ms < end_ms:
            by_group[GROUPS.get(run.kind, OTHER_ONEDNN)] += run.ms / steps
    step_ms = (end_ms - start_ms) / steps
    by_group[OUTSIDE_ONEDNN] = max(0.0, step_ms - sum(by_group.values()))  # the rest of the wall time
    return {"step_ms": step_ms, "by_group_ms": by_group}


def step_profile(window, lines, flops_per_mac):
    """{step_ms, by_group_ms, macs, contraction_gflops, step_gflops, instruction_set} of the
    training steps in `window` (from the `keras_step_window` task: start_ms, end_ms, steps,
    batch_size, macs per image) and the trace its process printed (`lines`)."""
    breakdown = step_breakdown(executions(lines), window["start_ms"], window["end_ms"], window["steps"])
    contraction_ms = sum(breakdown["by_group_ms"][group] for group in CONTRACTIONS)
    flops = flops_per_mac * window["macs"] * window["batch_size"]
    return {**breakdown, "macs": window["macs"],
            "contraction_gflops": flops / contraction_ms / 1e6 if contraction_ms else None,
            "step_gflops": flops / breakdown["step_ms"] / 1e6,
            "instruction_set": instruction_set(lines)}
