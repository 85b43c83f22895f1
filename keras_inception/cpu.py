"""The processor a measurement ran on: its model, cores and the vector instructions that decide
how fast float32, bfloat16 and int8 run on it (read from /proc/cpuinfo).

Read here rather than with py-cpuinfo, which gives the same flags but starts a process to run
CPUID on every call, and `precision="auto"` asks at the start of every training run.
"""

import os

# The vector instructions that decide these ratios: XNNPACK's int8 kernels and oneDNN's
# convolutions run far faster with AVX-512 and VNNI (int8 dot products) than with AVX2 alone.
VECTOR_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8",
                   "amx_bf16", "asimddp")
# The instructions that give int8 more multiply-adds per instruction than float32 (x86's VNNI
# and AMX, ARM's dot product); without them XNNPACK's int8 kernels do about as many.
INT8_DOT_PRODUCT = ("amx_int8", "avx512_vnni", "avx_vnni", "asimddp")
# The instructions that TensorFlow's oneDNN kernels run bfloat16 with; without them it is emulated.
BFLOAT16_INSTRUCTIONS = ("avx512_bf16", "amx_bf16")


def describe_cpu():
    """{model, family_model, vector, int8_dot_product, cores}: the processor's model name and
    numbers, its `VECTOR_FEATURES`, those of them in `INT8_DOT_PRODUCT`, and the cores this
    process may use."""
    fields = {}
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", fields.get("Features", "")).split())  # x86 / ARM
    vector = [feature for feature in VECTOR_FEATURES if feature in flags]
    return {"model": fields.get("model name", fields.get("Hardware", "unknown")),
            "family_model": f"{fields.get('cpu family', '?')}/{fields.get('model', '?')}",
            "vector": vector,
            "int8_dot_product": _present(INT8_DOT_PRODUCT, vector),
            "cores": len(os.sched_getaffinity(0))}


def _present(features, vector):
    return [feature for feature in features if feature in vector]


def bfloat16_instructions(cpu=None):
    """The processor's `BFLOAT16_INSTRUCTIONS` (`cpu`: from `describe_cpu`, default this one's)."""
    return _present(BFLOAT16_INSTRUCTIONS, (cpu or describe_cpu())["vector"])


def int8_dot_product(cpu):
    """The processor's `INT8_DOT_PRODUCT` instructions, [] for none, from a `describe_cpu`
    (also one saved before that key existed); None when `cpu` does not say."""
    if not cpu or "vector" not in cpu:
        return None
    return cpu.get("int8_dot_product", _present(INT8_DOT_PRODUCT, cpu["vector"]))


def int8_speed_note(cpu, ratio=None):
    """What int8 can gain on `cpu` (from `describe_cpu`), and why, in words; `ratio`: the
    float32 / int8 time measured there. "" when `cpu` does not say."""
    found = int8_dot_product(cpu)
    if found is None:
        return ""
    if found:
        return f"int8 dot-product instructions here: {', '.join(found)}"
    measured = f", measured {ratio:.3g}x" if ratio is not None else ""
    return ("no int8 dot-product instructions here (VNNI, AMX or ARM's dot product), so XNNPACK's int8 kernels "
            "do about as many multiply-adds per instruction as float32: int8 is a size and compatibility gain "
            f"on this processor{measured}")


def summary(cpu):
    """`cpu` (from `describe_cpu`) in one line."""
    return f"{cpu['model']} ({cpu['family_model']}), {cpu['cores']} cores, {' '.join(cpu['vector']) or 'no AVX2'}"
