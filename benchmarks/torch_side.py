"""The peers: torchvision's nets trained in PyTorch, and exported to ONNX for ONNX Runtime.

Needs the `bench` extra: `pip install -e ".[bench]"`.
"""

import os
import time

import numpy as np

from benchmarks import memory, timing
from benchmarks.pairs import PAIRS

AUX_LOSS_WEIGHT = 0.3  # as our nets' auxiliary heads


def torchvision_net(pair_name, *, training):
    """The pair's torchvision net, randomly initialized: with its auxiliary heads in training
    mode, without them for inference."""
    import torchvision

    pair = PAIRS[pair_name]
    kwargs = dict(pair.torchvision_kwargs)
    if not training and "aux_logits" in kwargs:
        kwargs["aux_logits"] = False
    net = getattr(torchvision.models, pair.torchvision)(weights=None, **kwargs)
    return net.train(training)


def forward_macs(net, image):
    """Multiply-adds of `net`'s forward pass on `image` (PyTorch's FLOP counter / 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net(image)
    return counter.get_total_flops() // 2


def _amp_context(device, amp):
    import contextlib

    import torch

    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device, dtype=getattr(torch, amp))


def train_throughput(spec):
    """Images per second of a plain PyTorch training loop (SGD with momentum, the auxiliary
    losses weighted 0.3), the median of the timed windows, and the peak memory.

    spec: pair, image_size, batch_size, warmup_steps, windows, window_steps, threads, device
    ("cpu" or "cuda"), amp (None, "bfloat16" or "float16"), channels_last, compile (optional:
    the net through `torch.compile`, which compiles in the first, untimed, step).
    """
    import torch

    torch.set_num_threads(spec["threads"])
    device, batch_size, image_size = spec["device"], spec["batch_size"], spec["image_size"]
    net = torchvision_net(spec["pair"], training=True)
    params = sum(p.numel() for p in net.parameters()) + sum(b.numel() for b in net.buffers()
                                                           if b.dtype.is_floating_point)
    macs = forward_macs(net.eval(), torch.zeros(1, 3, image_size, image_size))
    net.train().to(device)
    memory_format = torch.channels_last if spec["channels_last"] else torch.contiguous_format
    net = net.to(memory_format=memory_format)
    if spec.get("compile"):
        net = torch.compile(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler(device, enabled=spec["amp"] == "float16")
    loss_fn = torch.nn.CrossEntropyLoss()
    aux_outputs = PAIRS[spec["pair"]].aux_outputs
    # Batches come from host memory each step, as they do for model.fit.
    rng = np.random.default_rng(0)
    host_images = torch.from_numpy(
        rng.random((batch_size, 3, image_size, image_size), dtype=np.float32)
    ).contiguous(memory_format=memory_format)
    host_labels = torch.from_numpy(rng.integers(0, 10, batch_size))
    if device == "cuda":
        host_images, host_labels = host_images.pin_memory(), host_labels.pin_memory()

    def step():
        images = host_images.to(device, non_blocking=True)
        labels = host_labels.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with _amp_context(device, spec["amp"]):
            outputs = net(images)
            logits = outputs.logits if aux_outputs else outputs
            loss = loss_fn(logits, labels)
            for name in aux_outputs:
                loss = loss + AUX_LOSS_WEIGHT * loss_fn(getattr(outputs, name), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        loss.item()  # waits for the step, as the Keras side reads its loss
        return logits.dtype

    base_rss = memory.rss_mb()
    steps = spec["warmup_steps"] + spec["windows"] * spec["window_steps"]
    start, step_end_times, step_end_rss_mb = time.perf_counter(), [], []
    for _ in range(steps):
        compute_dtype = step()
        step_end_times.append(time.perf_counter())
        step_end_rss_mb.append(memory.rss_mb())
    rates = timing.window_rates(step_end_times, start, skip=spec["warmup_steps"],
                                window_steps=spec["window_steps"], batch_size=batch_size)
    result = {
        "framework": f"torch {torch.__version__}",
        "compiled": bool(spec.get("compile")),
        "compute_dtype": str(compute_dtype).removeprefix("torch."),  # the logits', under AMP
        "params": params,
        "macs": macs,
        "memory_fed": {**timing.summarize_rates(rates), "first_step_s": step_end_times[0] - start,
                       "step_end_rss_mb": step_end_rss_mb},
        "base_rss_mb": base_rss,
        "peak_rss_mb": memory.peak_rss_mb(),
    }
    if device == "cuda":
        result["peak_device_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def onnx_latency(spec):
    """Single-image latency of the torchvision net exported to ONNX, in ONNX Runtime with
    `threads` threads, and its multiply-adds.

    spec: pair, image_size, threads, output_dir (where the .onnx file is left).
    """
    import onnxruntime
    import torch

    from benchmarks.latency import onnx_session

    torch.set_num_threads(spec["threads"])
    image_size = spec["image_size"]
    net = torchvision_net(spec["pair"], training=False)
    image = torch.rand(1, 3, image_size, image_size)
    path = os.path.join(spec["output_dir"], f"{spec['pair']}.onnx")
    # The TorchScript exporter: the exported graph is the same for these static nets.
    torch.onnx.export(net, (image,), path, dynamo=False, input_names=["image"])
    session = onnx_session(path, spec["threads"])
    size = os.path.getsize(path)
    feed = {"image": image.numpy()}
    return {
        "path": path,
        "framework": f"onnxruntime {onnxruntime.__version__}",
        "ms": timing.median_ms(lambda: session.run(None, feed)),
        "size_bytes": size,
        "macs": forward_macs(net, image),
    }


def block_files(spec):
    """torchvision's net cut into the same blocks (`Pair.blocks`), each exported to ONNX.

    spec: pair, image_size, output_dir. Returns {"files": {our block name: path}, "macs": ...}.
    """
    import torch

    pair = PAIRS[spec["pair"]]
    net = torchvision_net(spec["pair"], training=False)
    cuts = {torch_name: ours for ours, torch_name in pair.blocks}
    files, macs, modules = {}, {}, []
    image = torch.rand(1, 3, spec["image_size"], spec["image_size"])
    for child_name, child in net.named_children():
        modules.append(child)
        if child_name not in cuts:
            continue
        block, name = torch.nn.Sequential(*modules).eval(), cuts[child_name]
        path = os.path.join(spec["output_dir"], f"block_{name}.onnx")
        torch.onnx.export(block, (image,), path, dynamo=False, input_names=["image"])
        files[name], macs[name] = path, forward_macs(block, image)
        with torch.no_grad():
            image = block(image)
        modules = []
        if len(files) == len(cuts):
            break
    return {"files": files, "macs": macs}


def serving_throughput(spec):
    """Inference images per second at `batch_size` of torchvision's net in PyTorch (in NCHW and
    in channels_last, under `torch.inference_mode`) and of the same net exported to ONNX in ONNX
    Runtime, each the median of `runs` timed batches: the peers of our SavedModel.

    spec: pair, image_size, batch_size, threads, runs, output_dir (where the .onnx file is left).
    """
    import onnxruntime
    import torch

    from benchmarks.latency import onnx_session

    torch.set_num_threads(spec["threads"])
    batch_size, image_size = spec["batch_size"], spec["image_size"]
    net = torchvision_net(spec["pair"], training=False)
    images = torch.rand(batch_size, 3, image_size, image_size)
    rates = {}
    for layout, memory_format in (("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)):
        laid_out, batch = net.to(memory_format=memory_format), images.contiguous(memory_format=memory_format)

        def infer():
            with torch.inference_mode():
                laid_out(batch)

        rates[f"torch_{layout}"] = timing.images_per_second(
            timing.median_ms(infer, warmup=2, runs=spec["runs"]), batch_size)
    path = os.path.join(spec["output_dir"], f"{spec['pair']}_batch{batch_size}.onnx")
    torch.onnx.export(net.to(memory_format=torch.contiguous_format), (images,), path, dynamo=False,
                      input_names=["image"])
    session = onnx_session(path, spec["threads"])
    feed = {"image": images.numpy()}
    rates["onnxruntime"] = timing.images_per_second(
        timing.median_ms(lambda: session.run(None, feed), warmup=2, runs=spec["runs"]), batch_size)
    return {"images_per_second": rates, "batch_size": batch_size,
            "frameworks": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__}}


def matmul_peak_gflops(spec):
    """PyTorch's matrix-multiply rate (GFLOP/s) as `keras_side.matmul_peak_gflops` measures
    TensorFlow's: the machine's peak is the faster library's."""
    import torch

    torch.set_num_threads(spec["threads"])
    dtype = spec.get("dtype", "float32")

    def product_of_size(n):
        a, b = (torch.rand(n, n).to(getattr(torch, dtype)) for _ in range(2))

        def product():
            with torch.inference_mode():
                torch.matmul(a, b)

        return product

    return timing.matmul_peak(timing.time_products(product_of_size, spec["sizes"], spec["runs"]), dtype)
