"""Runs every measurement of a benchmark, each in a worker process, and writes the results as
`benchmark_<platform>.json` and a Markdown table `benchmark_<platform>.md`, again after each
net: a run cut short keeps the nets it finished, and `resume` measures only the others.

On the CPU (TensorFlow backend): training throughput fed from memory and from the real JPEG
pipeline, peak memory, achieved GFLOP/s against the measured matrix-multiply peak (the faster
of TensorFlow's and PyTorch's), the SavedModel's serving throughput at the training batch, and
the single-image latency of Keras, .tflite float32 and int8 (LiteRT); the peers are torchvision
in PyTorch (training in NCHW, in channels_last and through torch.compile; serving) and ONNX
Runtime (inference), with the same thread count.

On a GPU (JAX backend, TensorFlow not installed): training throughput in mixed precision and
peak device memory, against torchvision with AMP and channels_last, and the largest training
batch of each side that fits in the device's memory (on the CPU too with `largest_batch`,
within a budget of resident memory).
"""

import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import keras

from benchmarks import batch_search, machine, memory, onednn_trace, resume, worker
from benchmarks.data import write_digit_jpegs
from benchmarks.forked import run_forked
from benchmarks.pairs import DEFAULT_PAIRS, PAIRS
from benchmarks.report import MATMUL_PEAKS, TRAINING_FLOPS_PER_MAC, lookup, summarize, write_report
from keras_inception.cpu import bfloat16_instructions
from keras_inception.validation import MULTIPLIER_INTERVAL, UsageError, check_choice, check_integer, check_number

ROOT = pathlib.Path(__file__).resolve().parents[1]  # where `python -m benchmarks.worker` runs

PLATFORMS = ("cpu", "gpu")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
PEER_MODULES = ("torch", "torchvision", "onnxruntime")


@dataclasses.dataclass
class BenchmarkConfig:
    models: tuple = DEFAULT_PAIRS
    platform: str = "cpu"
    threads: int = 2
    batch_size: int = 32
    image_size: int = None  # None: each net's own (224, or 299 for Inception v3)
    warmup_steps: int = 3
    windows: int = 5
    window_steps: int = 2
    # "auto": the main rows in float32 on the CPU (bfloat16 rows beside them where the processor
    # has bfloat16 instructions, `bfloat16_rows`), in mixed_bfloat16 on a GPU.
    precision: str = "auto"
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    train_images: int = None  # None: all 1,437 training digits
    # Epochs on the training JPEGs after the timed steps, so that int8 agreement is measured on
    # a net that has learned the digits (0: the timed steps only, a net near chance).
    fit_epochs: int = 2
    test_images: int = 360
    calibration_images: int = 100
    # The matrix products whose best rate is the machine's matmul peak, n x n for n in these.
    matmul_sizes: tuple = (1024, 2048, 4096)
    latency_rounds: int = 5  # TFLite and ONNX Runtime measured in turn, median of the rounds
    peers: bool = True
    # The peer's third training setting, channels_last through torch.compile (which needs a C++
    # compiler, and compiles in the first step).
    compiled_peer: bool = True
    # Per-block TFLite and ONNX Runtime latencies (`Pair.blocks`): where a latency gap lies.
    profile_blocks: bool = False
    # The largest training batch of each side that fits (`batch_search`): None, on a GPU only,
    # where the device's memory bounds the batch. Searched from `batch_size` up to `max_batch`.
    largest_batch: bool = None
    max_batch: int = 4096
    # On the CPU, the resident memory a batch must fit in; None: 90% of what the machine has
    # available when the run starts.
    memory_budget_mb: int = None
    output_dir: str = "saved_models/benchmarks"
    timeout_s: int = 3600
    # Keep the nets that an earlier run with the same settings, on the same machine and versions,
    # measured without an error in `output_dir`; measure the rest.
    resume: bool = False
    # Each measurement's process forked from this one, which has imported the package, where
    # the task runs on this process's backend with its oneDNN setting (both fixed when
    # TensorFlow is imported), instead of a new interpreter that imports them again. The
    # smoke's choice: a forked process starts with this one's memory, so a full run, whose
    # memory figures count, starts each task afresh.
    fork_workers: bool = False
    # Training steps traced by oneDNN after the warm-up (`step_profile`), in float32 and where
    # the bfloat16 rows are measured in bfloat16: where our step's time goes. 0: none.
    profile_steps: int = 2

    def check(self):
        for model in self.models:
            check_choice("models", model, tuple(PAIRS))
        if not self.models:
            raise UsageError(f"`models` must name at least one of {', '.join(PAIRS)}. "
                             "Received: models=()")
        check_choice("platform", self.platform, PLATFORMS)
        check_choice("precision", self.precision, PRECISIONS)
        for name in ("threads", "batch_size", "warmup_steps", "windows", "window_steps",
                     "test_images", "calibration_images", "latency_rounds",
                     "max_batch", "timeout_s"):
            check_integer(name, getattr(self, name), 1)
        if self.image_size is not None:
            check_integer("image_size", self.image_size, 1)
        check_integer("fit_epochs", self.fit_epochs, 0)
        check_integer("profile_steps", self.profile_steps, 0)
        if "width_multiplier" in self.model_kwargs:
            check_number("width_multiplier", self.model_kwargs["width_multiplier"], MULTIPLIER_INTERVAL)
        if self.train_images is not None:
            check_integer("train_images", self.train_images, 1)
        if not self.matmul_sizes:
            raise UsageError("`matmul_sizes` must name at least one matrix size. Received: matmul_sizes=()")
        for size in self.matmul_sizes:
            check_integer("matmul_sizes", size, 1)
        if self.resolved_largest_batch and self.max_batch < self.batch_size:
            raise UsageError(f"`max_batch` must be at least `batch_size` ({self.batch_size}), "
                             f"where the search starts. Received: max_batch={self.max_batch}")
        if self.memory_budget_mb is not None:
            if self.platform != "cpu":
                raise UsageError("`memory_budget_mb` bounds resident memory on the CPU; on a "
                                 "GPU the device's memory is the bound. Received: "
                                 f"memory_budget_mb={self.memory_budget_mb}, "
                                 f"platform={self.platform!r}")
            check_integer("memory_budget_mb", self.memory_budget_mb, 1)

    @property
    def resolved_precision(self):
        if self.precision != "auto":
            return self.precision
        return "float32" if self.platform == "cpu" else "mixed_bfloat16"

    @property
    def bfloat16_rows(self):
        """(measured, reason): whether both sides also train in bfloat16 on the CPU, and why."""
        if self.platform != "cpu" or self.precision != "auto":
            return False, f"precision={self.precision!r} on the {self.platform}"
        found = bfloat16_instructions(machine.describe_cpu())
        if not found:
            return False, "this CPU has no bfloat16 instructions (AVX-512 BF16 or AMX): float32 only"
        return True, f"this CPU has {', '.join(found)}"

    @property
    def resolved_largest_batch(self):
        return self.platform == "gpu" if self.largest_batch is None else self.largest_batch


# A short run that goes through every measurement: the suite's check of the script, not a
# speed figure. The smallest pair at a quarter of its
# widths on our side (tracing and converting take time by the layer and by the weight), our
# tasks forked from the script's process. The largest-batch search, a training run per size
# tried, only where asked for (`--largest_batch`), and then up to batch 8. The compiled peer
# only where asked for (`--compiled_peer`): compiling takes longer than the rest of the smoke.
SMOKE = {
    "models": ("resnet18",), "model_kwargs": {"width_multiplier": 0.25}, "image_size": 80,
    "batch_size": 4, "warmup_steps": 1, "windows": 2, "window_steps": 1, "train_images": 64,
    "test_images": 16, "calibration_images": 8, "matmul_sizes": (256,), "latency_rounds": 2,
    "fit_epochs": 1, "profile_blocks": True, "largest_batch": False, "max_batch": 8,
    "fork_workers": True, "compiled_peer": False, "profile_steps": 1,
}


def run_task(task, spec, config, log):
    """One worker process; its result, or {"error": ...} naming what failed."""
    return run_task_with_output(task, spec, config, log)[0]


def run_task_with_output(task, spec, config, log, *, extra_env=None):
    """`run_task`'s result, and the lines the worker printed (none where it ran out of time);
    `extra_env`: more environment variables for the worker's process."""
    backend = worker.TASKS[task][2] or ("tensorflow" if config.platform == "cpu" else "jax")
    env = {**task_environment(backend, config), **(extra_env or {})}
    started = time.perf_counter()
    forked = config.fork_workers and _imported_alike(backend, env)
    finished = (_run_forked if forked else _run_fresh)(task, spec, env, config.timeout_s)
    if finished is None:
        return {"error": f"{task} ran past {config.timeout_s} s"}, []
    returncode, stdout, stderr = finished
    log(f"  {task} {spec.get('pair', spec.get('model', ''))}: "
        f"{time.perf_counter() - started:.0f} s{' (forked)' if forked else ''}")
    lines = stdout.splitlines()
    for line in reversed(lines):
        if line.startswith(worker.RESULT_PREFIX):
            return json.loads(line[len(worker.RESULT_PREFIX):]), lines
    if spec.get("largest_batch_try") and returncode == -signal.SIGKILL:
        return {"out_of_memory": f"{task} was killed (SIGKILL), as the kernel's out-of-memory "
                                 "killer does"}, lines
    last = (stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"{task} exited with {returncode}: {last}"}, lines


def task_environment(backend, config):
    """The environment of a task's process on `backend` (its Keras backend, or "torch")."""
    env = dict(os.environ, OMP_NUM_THREADS=str(config.threads),
               MKL_NUM_THREADS=str(config.threads), TF_CPP_MIN_LOG_LEVEL="2",
               KERAS_BACKEND=backend)
    if config.platform == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["JAX_PLATFORMS"] = "cpu"
    # Our side as the scripts run it: TensorFlow's oneDNN kernels on (keras_inception_cli.py).
    env.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    # JAX takes 75% of a GPU's memory by default; PyTorch's allocator may take all of it. (The
    # variable's newer name, and the older one that JAX versions before it read.)
    for variable in ("XLA_CLIENT_MEM_FRACTION", "XLA_PYTHON_CLIENT_MEM_FRACTION"):
        env.setdefault(variable, "0.95")
    return env


def _run_fresh(task, spec, env, timeout_s):
    """(returncode, stdout, stderr) of the task in a new interpreter; None past `timeout_s`."""
    command = [sys.executable, "-m", "benchmarks.worker", task, json.dumps(spec)]
    try:
        process = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT,
                                 timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None
    return process.returncode, process.stdout, process.stderr


def _imported_alike(backend, env):
    """Whether this process imported Keras as the task's process would: the same backend and,
    as TensorFlow reads it only at its import, the same oneDNN setting."""
    return keras.config.backend() == backend and (
        backend != "tensorflow"
        or os.environ.get("TF_ENABLE_ONEDNN_OPTS") == env["TF_ENABLE_ONEDNN_OPTS"])


def _run_forked(task, spec, env, timeout_s):
    """As `_run_fresh`, in a process forked from this one (`forked.run_forked`)."""
    with tempfile.TemporaryDirectory() as scratch:
        paths = [os.path.join(scratch, name) for name in ("stdout", "stderr")]
        code, _ = run_forked(lambda: _forked_worker(task, spec, env), stdout_path=paths[0],
                             stderr_path=paths[1], timeout=timeout_s)
        if code is None:
            return None
        stdout, stderr = (open(path).read() for path in paths)
        return code, stdout, stderr


def _forked_worker(task, spec, env):
    """In the forked child: the worker's main with the task's environment."""
    os.environ.clear()
    os.environ.update(env)
    worker.main(["worker", task, json.dumps(spec)])


def _timing(config, image_size):
    return {"image_size": image_size, "batch_size": config.batch_size,
            "warmup_steps": config.warmup_steps, "windows": config.windows,
            "window_steps": config.window_steps, "threads": config.threads}


def _keras_train_spec(name, config, timing, **data):
    pair = PAIRS[name]
    return {**timing, "model": pair.model,
            "model_kwargs": {**pair.model_kwargs, **config.model_kwargs},
            "precision": config.resolved_precision, **data}


def _torch_train_spec(name, config, timing, channels_last, compiled=False):
    if config.platform == "cpu":
        return {**timing, "pair": name, "device": "cpu", "amp": None,
                "channels_last": channels_last, "compile": compiled}
    amp = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}.get(
        config.resolved_precision)
    return {**timing, "pair": name, "device": "cuda", "amp": amp, "channels_last": channels_last}


def _cpu_measurements(name, config, workdir, log):
    pair = PAIRS[name]
    image_size = config.image_size or pair.image_size
    train_dir = os.path.join(workdir, f"train_{image_size}")
    test_dir = os.path.join(workdir, f"test_{image_size}")
    if not os.path.isdir(train_dir):
        write_digit_jpegs(train_dir, "train", image_size, limit=config.train_images)
        write_digit_jpegs(test_dir, "test", image_size, limit=config.test_images)
    timing = _timing(config, image_size)
    model_dir = os.path.join(workdir, name)
    os.makedirs(model_dir, exist_ok=True)
    model_path = os.path.join(model_dir, "model.keras")
    results = {"image_size": image_size}
    results["keras_train"] = run_task("keras_train", _keras_train_spec(
        name, config, timing, jpeg_dir=train_dir, fit_epochs=config.fit_epochs,
        save_to=model_path), config, log)
    if "error" not in results["keras_train"]:
        results["keras_latency"] = run_task("keras_latency", {
            "model_path": model_path, "image_size": image_size, "threads": config.threads,
            "train_dir": train_dir, "test_dir": test_dir,
            "calibration": config.calibration_images, "test_images": config.test_images,
            "output_dir": model_dir,
        }, config, log)
        results["keras_serving"] = run_task("keras_serving", {
            "model_path": model_path, "image_size": image_size, "batch_size": config.batch_size,
            "threads": config.threads, "runs": config.windows, "output_dir": model_dir,
        }, config, log)
    if config.profile_steps:
        results["step_profile"] = step_profile(name, config, image_size, config.profile_steps,
                                               config.resolved_precision, log)
    results["bfloat16_rows"] = list(config.bfloat16_rows)  # [measured, reason]
    bfloat16 = results["bfloat16_rows"][0]
    if bfloat16:  # fed from memory, as the peer is
        results["keras_train_bfloat16"] = run_task("keras_train", _keras_train_spec(
            name, config, timing, jpeg_dir=None, save_to=None, precision="mixed_bfloat16"), config, log)
        if config.profile_steps:
            results["step_profile_bfloat16"] = step_profile(name, config, image_size, config.profile_steps,
                                                            "mixed_bfloat16", log)
    if config.peers:
        # The peer at each of its settings: PyTorch's default layout, its faster one, and that
        # one through torch.compile.
        settings = [("torch_train", False, False), ("torch_train_channels_last", True, False)]
        if config.compiled_peer:
            settings.append(("torch_train_compiled", True, True))
        for key, channels_last, compiled in settings:
            results[key] = run_task("torch_train", _torch_train_spec(
                name, config, timing, channels_last, compiled), config, log)
        if bfloat16:  # CPU autocast, in torchvision's faster layout
            results["torch_train_bfloat16"] = run_task("torch_train", {
                **_torch_train_spec(name, config, timing, channels_last=True), "amp": "bfloat16"}, config, log)
        results["onnx_latency"] = run_task("onnx_latency", {
            "pair": name, "image_size": image_size, "threads": config.threads,
            "output_dir": model_dir,
        }, config, log)
        results["torch_serving"] = run_task("torch_serving", {
            "pair": name, "image_size": image_size, "batch_size": config.batch_size,
            "threads": config.threads, "runs": config.windows, "output_dir": model_dir,
        }, config, log)
    files = {"float32": lookup(results, "keras_latency", "float32", "path"),
             "int8": lookup(results, "keras_latency", "int8", "path"),
             "onnxruntime": lookup(results, "onnx_latency", "path")}
    files = {label: path for label, path in files.items() if path}
    if len(files) > 1:
        results["interleaved_latency"] = run_task("interleaved_latency", {
            "files": files, "image_size": image_size, "threads": config.threads,
            "rounds": config.latency_rounds, "runs": 20,
        }, config, log)
    if config.profile_blocks and not config.peers:
        log("  the block profile compares with ONNX Runtime, which is not measured: skipped")
    elif config.profile_blocks and "error" not in results["keras_train"]:
        results["block_latency"] = _block_latency(name, config, model_path, model_dir, log)
    if config.resolved_largest_batch:
        results["largest_batch"] = largest_batches(name, config, log)
    return results


def _block_latency(name, config, model_path, model_dir, log):
    """Both nets cut into the same blocks, each block's .tflite and .onnx timed in turn."""
    pair = PAIRS[name]
    block_dir = os.path.join(model_dir, "blocks")
    os.makedirs(block_dir, exist_ok=True)
    ours = run_task("keras_blocks", {"model_path": model_path, "output_dir": block_dir,
                                     "blocks": [block for block, _ in pair.blocks]}, config, log)
    peer = run_task("onnx_blocks", {"pair": name, "output_dir": block_dir,
                                    "image_size": config.image_size or pair.image_size},
                    config, log)
    if "error" in ours or "error" in peer:
        return {"error": ours.get("error") or peer.get("error")}
    files = {f"{block} {side}": result["files"][block]
             for block, _ in pair.blocks for side, result in (("tflite", ours), ("onnx", peer))}
    timed = run_task("interleaved_latency", {
        "files": files, "image_size": None, "threads": config.threads,
        "rounds": config.latency_rounds, "runs": 20,
    }, config, log)
    if "error" in timed:
        return timed
    return {block: {"tflite_ms": timed[f"{block} tflite"]["ms"],
                    "onnx_ms": timed[f"{block} onnx"]["ms"],
                    "macs": ours["macs"][block], "onnx_macs": peer["macs"][block]}
            for block, _ in pair.blocks}


def step_profile(name, config, image_size, steps, precision, log):
    """Where our training step's time goes (`onednn_trace.step_profile`), with the image size:
    `steps` steps of the net of `name` in `precision`, after `config.warmup_steps`, in a worker
    whose oneDNN prints its verbose trace."""
    pair = PAIRS[name]
    spec = {"model": pair.model, "model_kwargs": {**pair.model_kwargs, **config.model_kwargs},
            "image_size": image_size or pair.image_size, "batch_size": config.batch_size,
            "warmup_steps": config.warmup_steps, "steps": steps, "threads": config.threads,
            "precision": precision}
    # A fresh process: oneDNN reads its verbose setting once, and a forked one would keep ours.
    window, lines = run_task_with_output("keras_step_window", spec, dataclasses.replace(config, fork_workers=False),
                                         log, extra_env=onednn_trace.ENVIRONMENT)
    if "error" in window:
        return window
    return {**onednn_trace.step_profile(window, lines, TRAINING_FLOPS_PER_MAC),
            "image_size": spec["image_size"], "precision": precision}


def _gpu_measurements(name, config, log):
    pair = PAIRS[name]
    image_size = config.image_size or pair.image_size
    timing = _timing(config, image_size)
    results = {"image_size": image_size}
    results["keras_train"] = run_task("keras_train", _keras_train_spec(
        name, config, timing, jpeg_dir=None, save_to=None), config, log)
    if config.peers:
        results["torch_train_channels_last"] = run_task("torch_train", _torch_train_spec(
            name, config, timing, channels_last=True), config, log)
    if config.resolved_largest_batch:
        results["largest_batch"] = largest_batches(name, config, log)
    return results


def largest_batches(name, config, log=print):
    """Each side's largest training batch for the net pair `name` that fits: in the device's
    memory on a GPU; on the CPU within `config.memory_budget_mb` of resident memory (default:
    90% of what is available now). The peer runs as the memory row compares it: NCHW on the
    CPU, AMP and channels_last on a GPU."""
    budget, channels_last = None, config.platform == "gpu"
    if config.platform == "cpu":
        budget = config.memory_budget_mb or round(0.9 * memory.available_mb())
    image_size = config.image_size or PAIRS[name].image_size
    timing = {**_timing(config, image_size), **batch_search.TRY_STEPS}
    sides = {"ours": ("keras_train", _keras_train_spec(name, config, timing, jpeg_dir=None,
                                                       save_to=None))}
    if config.peers:
        sides["peer"] = ("torch_train", _torch_train_spec(name, config, timing, channels_last))
    results = {"budget_mb": budget, "start": config.batch_size, "limit": config.max_batch}
    for side, (task, spec) in sides.items():
        log(f"  largest batch, {side}:")
        results[side] = _search(task, spec, budget, config, log)
    # A side's failure as the measurement's own error, as every other measurement gives it.
    errors = [results[side]["error"] for side in sides if "error" in results[side]]
    if errors:
        results["error"] = "; ".join(errors)
    return results


def _search(task, spec, budget, config, log):
    peaks = {}

    def fits(batch_size):
        result = run_task(task, {**spec, "batch_size": batch_size, "largest_batch_try": True,
                                 "rss_budget_mb": budget}, config, log)
        if "error" in result:
            raise batch_search.TryFailed(result["error"])
        if "out_of_memory" in result:
            log(f"    batch {batch_size}: out of memory ({result['out_of_memory']})")
            return False
        peaks[batch_size] = result["peak_rss_mb"] if budget else result.get("peak_device_mb")
        fitted = budget is None or peaks[batch_size] <= budget
        log(f"    batch {batch_size}: {'fits' if fitted else 'over the budget'}, "
            f"peak {peaks[batch_size] or 0:,.0f} MiB")
        return fitted

    try:
        found = batch_search.largest_fitting(fits, config.batch_size, config.max_batch)
    except batch_search.TryFailed as failure:
        return {"error": f"largest batch search: {failure}"}
    return {**found, "peak_mb": peaks}


def matmul_peak(dtype, config, log):
    """The machine's matrix-multiply peak in `dtype`: the faster of TensorFlow's and (with the
    peers) PyTorch's, each the best of its products at `config.matmul_sizes`."""
    spec = {"threads": config.threads, "sizes": list(config.matmul_sizes), "runs": 5, "dtype": dtype}
    tasks = {"tensorflow": "matmul_peak", **({"pytorch": "torch_matmul_peak"} if config.peers else {})}
    by_library = {library: run_task(task, spec, config, log) for library, task in tasks.items()}
    errors = [f"{library}: {result['error']}" for library, result in by_library.items() if "error" in result]
    if errors:
        return {"error": "; ".join(errors), "libraries": by_library}
    library = max(by_library, key=lambda name: by_library[name]["gflops"])
    return {**by_library[library], "library": library, "libraries": by_library}


def _write(results, config):
    results["summary"] = summarize(results)
    write_report(results, config.output_dir, config.platform)


def run_benchmark(config, log=print):
    """Measures every net of `config.models` (with `config.resume`, those an earlier run did
    not finish); writes the results after each net and returns them."""
    config.check()
    peers_here = machine.is_available(*PEER_MODULES)
    if config.peers and not peers_here:
        log(f"The peers need {', '.join(PEER_MODULES)} (pip install -e \".[bench]\"); "
            "measuring our side only.")
    config = dataclasses.replace(config, peers=config.peers and peers_here)
    results = {
        "config": dataclasses.asdict(config),
        "machine": {"cpu": machine.describe_cpu(),
                    "versions": machine.versions("tensorflow", "keras", "jax", "ai-edge-litert",
                                                 "torch", "torchvision", "onnxruntime")},
        "models": {},
    }
    earlier = resume.earlier_results(results, config, log) if config.resume else {}
    with tempfile.TemporaryDirectory(prefix="keras_inception_bench_") as workdir:
        if config.platform == "cpu":
            for key, dtype in MATMUL_PEAKS.items():
                if dtype == "bfloat16" and not config.bfloat16_rows[0]:
                    continue
                results[key] = earlier.get(key)
                if results[key] is None:
                    log(f"{dtype} matmul peak ...")
                    results[key] = matmul_peak(dtype, config, log)
        for name in config.models:
            if name in earlier.get("models", {}):
                results["models"][name] = earlier["models"][name]
                continue
            log(f"{name}:")
            if config.platform == "cpu":
                results["models"][name] = _cpu_measurements(name, config, workdir, log)
            else:
                results["models"][name] = _gpu_measurements(name, config, log)
            _write(results, config)
    _write(results, config)
    return results
