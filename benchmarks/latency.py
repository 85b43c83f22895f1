"""Single-image latency of the deployable files: .tflite in LiteRT, .onnx in ONNX Runtime."""

import functools
import statistics

import numpy as np

from benchmarks.timing import median_ms


def onnx_session(path, threads):
    """An ONNX Runtime CPU session with `threads` threads for one op at a time, whose threads
    stop spinning when a run ends."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    # By default an idle session's threads go on spinning after its run, on the cores that the
    # next file timed in the same process needs; stopping them leaves ONNX Runtime's own times
    # as they are at their best.
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def _random_input(shape):
    return np.random.default_rng(0).random(tuple(shape), dtype=np.float32)


def _invoker(path, image, threads):
    """A call running the file once on `image` (HWC), or on an input of the file's own shape
    when `image` is None (the blocks of a net)."""
    if not path.endswith(".onnx"):
        from keras_inception.export.verify import tflite_invoker  # not in the peers' processes

        if image is None:
            from ai_edge_litert.interpreter import Interpreter

            image = _random_input(Interpreter(model_path=path).get_input_details()[0]["shape"][1:])
        return tflite_invoker(path, image, threads=threads)
    session = onnx_session(path, threads)
    (onnx_input,) = session.get_inputs()
    # torchvision's nets take NCHW.
    batch = (_random_input(onnx_input.shape) if image is None
             else image[None].transpose(0, 3, 1, 2).copy())
    return functools.partial(session.run, None, {onnx_input.name: batch})


def interleaved_latency(spec):
    """Median single-image latencies of several model files measured in alternating rounds
    in one process, so that a slower spell of a shared machine falls on all of them.

    spec: files {label: .tflite or .onnx path}, image_size (None: each file's own input
    shape), threads, rounds, runs.
    """
    size = spec["image_size"]
    image = _random_input((size, size, 3)) if size else None
    calls = {label: _invoker(path, image, spec["threads"]) for label, path in spec["files"].items()}
    # One untimed call of each first: until every session and interpreter here has run once,
    # the first file timed can run at one thread's speed in its first round.
    for call in calls.values():
        call()
    rounds = {label: [] for label in calls}
    for _ in range(spec["rounds"]):
        for label, call in calls.items():
            rounds[label].append(median_ms(call, warmup=3, runs=spec["runs"]))
    return {label: {"ms": statistics.median(times), "round_ms": times}
            for label, times in rounds.items()}
