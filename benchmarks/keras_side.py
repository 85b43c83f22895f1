"""Our side of each comparison: `model.fit` throughput, memory and the inference latencies of
Keras and of the .tflite files in the LiteRT interpreter.

Training runs on the TensorFlow backend on the CPU and on the JAX backend on a GPU (where
TensorFlow is not installed), so TensorFlow is imported only where it is needed.
"""

import contextlib
import ctypes
import os
import time

import keras
import numpy as np

from benchmarks import memory, timing


def configure_tensorflow_threads(threads):
    """`threads` compute threads and one op at a time: the thread count the peers get."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


class StepClock(keras.callbacks.Callback):
    """Notes when each training step ends, and the process's resident memory then; and each
    step's start and end on the wall clock, in milliseconds since the epoch (the clock of
    oneDNN's verbose timestamps, `onednn_trace`). It reads the loss, so an asynchronous backend
    (JAX) has finished the step when the time is taken."""

    def __init__(self):
        super().__init__()
        self.start, self.step_end_times, self.step_end_rss_mb = None, [], []
        self.wall_starts_ms, self.wall_ends_ms = [], []

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        self.wall_starts_ms.append(time.time() * 1000)

    def on_train_batch_end(self, batch, logs=None):
        float(logs["loss"])
        self.step_end_times.append(time.perf_counter())
        self.wall_ends_ms.append(time.time() * 1000)
        self.step_end_rss_mb.append(memory.rss_mb())


def _as_the_training_job_fits(model, data):
    """The training job's TensorFlow speed-ups; nothing under JAX, whose machines may have no
    TensorFlow for the training package to import."""
    if keras.backend.backend() != "tensorflow":
        return contextlib.nullcontext()
    from keras_inception.training.speedups import fast_training

    return fast_training(model, data)


def _timed_fit(model, data, steps, *, skip, window_steps, batch_size):
    clock = StepClock()
    with _as_the_training_job_fits(model, data):
        model.fit(data, steps_per_epoch=steps, epochs=1, callbacks=[clock], verbose=0)
    rates = timing.window_rates(clock.step_end_times, clock.start, skip=skip,
                                window_steps=window_steps, batch_size=batch_size)
    return {**timing.summarize_rates(rates), "first_step_s": clock.step_end_times[0] - clock.start,
            "step_end_rss_mb": clock.step_end_rss_mb}


def step_window(spec):
    """`model.fit` on batches in memory as `train_throughput` runs it, `warmup_steps` untimed
    steps and then `steps` more, whose window on the wall clock it returns for the oneDNN trace
    of this process (`onednn_trace.step_breakdown`), with the training multiply-adds per image.

    spec: model, model_kwargs, image_size, batch_size, warmup_steps, steps, threads, precision
    (None: float32).
    """
    from keras_inception.profile import profile

    configure_tensorflow_threads(spec["threads"])
    with _as_the_training_job_computes(spec.get("precision") or "float32"):
        model = build_training_model(spec["model"], spec["image_size"], spec.get("model_kwargs"))
        data = _random_batches(spec["batch_size"], spec["image_size"])
        clock = StepClock()
        with _as_the_training_job_fits(model, data):
            model.fit(data, steps_per_epoch=spec["warmup_steps"] + spec["steps"], epochs=1,
                      callbacks=[clock], verbose=0)
    # oneDNN prints through C's buffered stdout: flushed now, its lines cannot break into the
    # result line that the worker prints next.
    ctypes.CDLL(None).fflush(None)
    return {"start_ms": clock.wall_starts_ms[spec["warmup_steps"]], "end_ms": clock.wall_ends_ms[-1],
            "steps": spec["steps"], "batch_size": spec["batch_size"], "macs": profile(model).macs}


def build_training_model(model_name, image_size, model_kwargs=None):
    """The net with its auxiliary heads, compiled as the papers train: SGD with momentum on
    the logits of every head."""
    from keras_inception.registry import get_model

    model = get_model(model_name, input_shape=(image_size, image_size, 3),
                      classifier_activation=None, **(model_kwargs or {}))
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _pipeline(jpeg_dir, image_size, batch_size, seed=0):
    """The real input pipeline, one epoch: JPEG decoding and GoogLeNet's augmentation, every
    step."""
    from keras_inception.data import folder, pipeline

    source = folder.from_folder(jpeg_dir, verify=False).splits["train"]
    return pipeline.make_dataset(
        source, image_size=image_size, training=True, batch_size=batch_size,
        augmentation="inception", flip=False, cache=False, seed=seed, drop_remainder=True,
    )


def _random_batches(batch_size, image_size, count=2):
    """`count` batches of random images and labels, repeated: what the training is fed from
    memory, as the peer is. On TensorFlow a `tf.data.Dataset`; a generator for a backend
    without tf.data (JAX on a GPU machine)."""
    rng = np.random.default_rng(0)
    batches = [(rng.random((batch_size, image_size, image_size, 3), dtype=np.float32),
                rng.integers(0, 10, batch_size).astype(np.int32)) for _ in range(count)]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        images, labels = (np.concatenate(part) for part in zip(*batches))
        return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size).repeat()

    def generate():
        while True:
            yield from batches

    return generate()


def _onednn_enabled():
    """Whether TensorFlow runs its oneDNN kernels in this process (TF_ENABLE_ONEDNN_OPTS)."""
    from tensorflow.python.util import _pywrap_util_port  # no public name reports it

    return bool(_pywrap_util_port.IsMklEnabled())


def _device_peak_mb():
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use", 0) / 2**20 or None


def train_throughput(spec):
    """`model.fit` images per second on batches in memory (the median of the timed windows),
    then on the real pipeline when `spec["jpeg_dir"]` is given; the peak memory of the first.

    spec: model, model_kwargs, image_size, batch_size, warmup_steps, windows, window_steps,
    threads, precision, jpeg_dir (None: random batches), fit_epochs (whole epochs on the
    JPEGs after the timing, before the model is saved), save_to (None: not saved).
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        configure_tensorflow_threads(spec["threads"])
    with _as_the_training_job_computes(spec.get("precision") or "float32") as policy:
        return _train_throughput(spec, backend, policy)


def _as_the_training_job_computes(precision):
    """The training job's precision (`precision.precision_policy`: mixed_bfloat16 on a CPU is
    TensorFlow's oneDNN rewrite) under TensorFlow; the Keras policy alone under JAX, whose
    machines may have no TensorFlow for the training package to import."""
    if keras.backend.backend() != "tensorflow":
        keras.mixed_precision.set_global_policy(precision)
        return contextlib.nullcontext(precision)
    from keras_inception.training.precision import precision_policy

    return precision_policy(precision)


def _train_throughput(spec, backend, policy):
    from keras_inception.profile import profile

    batch_size, image_size = spec["batch_size"], spec["image_size"]
    model = build_training_model(spec["model"], image_size, spec.get("model_kwargs"))
    window = {"skip": spec["warmup_steps"], "window_steps": spec["window_steps"],
              "batch_size": batch_size}
    steps = spec["warmup_steps"] + spec["windows"] * spec["window_steps"]
    # From memory first, as the peer is fed, and its peak memory before the pipeline starts.
    memory_data = _random_batches(batch_size, image_size)
    base_rss = memory.rss_mb()
    result = {
        "backend": backend,
        "onednn": backend == "tensorflow" and _onednn_enabled(),
        "precision": policy,
        "params": model.count_params(),
        "macs": profile(model).macs,
        "memory_fed": _timed_fit(model, memory_data, steps, **window),
        "base_rss_mb": base_rss,
        "peak_rss_mb": memory.peak_rss_mb(),
    }
    if backend == "jax":
        result["peak_device_mb"] = _device_peak_mb()
    jpeg_dir = spec.get("jpeg_dir")
    if jpeg_dir:
        # The first step fills the pipeline; the windows are steady state, as in memory.
        result["pipeline_fed"] = _timed_fit(
            model, _pipeline(jpeg_dir, image_size, batch_size).repeat(), 1 + spec["windows"] * spec["window_steps"],
            **{**window, "skip": 1},
        )
        if spec.get("fit_epochs"):
            result["fit"] = _fit_epochs(model, jpeg_dir, image_size, batch_size,
                                        spec["fit_epochs"])
    if spec.get("save_to"):
        model.save(spec["save_to"])
    return result


def _fit_epochs(model, jpeg_dir, image_size, batch_size, epochs):
    """Whole epochs on the training JPEGs after the timed steps, so that the latency task's
    int8 agreement is measured on a net that has learned the task: a net near chance has
    near-uniform scores, whose top-1 flips under any rounding."""
    started = time.perf_counter()
    data = _pipeline(jpeg_dir, image_size, batch_size, seed=1)
    with _as_the_training_job_fits(model, data):
        model.fit(data, epochs=epochs, verbose=0)
    return {"epochs": epochs, "seconds": time.perf_counter() - started}


def _evaluation_images(jpeg_dir, image_size, count):
    from keras_inception.data import folder, pipeline

    source = folder.from_folder(jpeg_dir, verify=False).splits["train"]
    # The folder lists class by class: a fixed shuffle first, so that every class is drawn.
    source = source.shuffle(10_000, seed=0, reshuffle_each_iteration=False).take(count)
    dataset = pipeline.make_dataset(source, image_size=image_size, training=False,
                                    batch_size=count)
    images, labels = next(dataset.as_numpy_iterator())
    return images, labels


def inference_latency(spec):
    """Single-image latency of the trained model in Keras and as .tflite float32 and int8
    (LiteRT, the same thread count), with the int8 file's agreement on held-out images, and
    int8's speed-up on single convolutions (`int8_convolution_speedups`).

    spec: model_path, image_size, threads, train_dir (calibration), test_dir, calibration,
    test_images, output_dir (where the .tflite files are left for `interleaved_latency`).
    """
    import tensorflow as tf

    from keras_inception.export import tflite
    from keras_inception.export.graph import export_graph
    from keras_inception.export.verify import parity_report
    from keras_inception.profile import profile

    threads, image_size = spec["threads"], spec["image_size"]
    configure_tensorflow_threads(threads)
    graph = export_graph(keras.saving.load_model(spec["model_path"]))
    calibration, _ = _evaluation_images(spec["train_dir"], image_size, spec["calibration"])
    test_images, test_labels = _evaluation_images(spec["test_dir"], image_size,
                                                  spec["test_images"])
    keras_scores = graph.predict(test_images, batch_size=32, verbose=0)
    serve = tf.function(lambda image: graph(image, training=False))
    one_image = tf.constant(test_images[:1])
    result = {
        "keras_ms": timing.median_ms(lambda: serve(one_image)),
        "keras_test_accuracy": float(np.mean(keras_scores.argmax(-1) == test_labels)),
        "test_images": len(test_images),
        "test_classes": len(set(test_labels.tolist())),
        "macs": profile(graph).macs,
    }
    for mode, converted in tflite.convert_modes(graph, ("float32", "int8"),
                                                representative_images=calibration):
        path = os.path.join(spec["output_dir"], f"{mode}.tflite")
        with open(path, "wb") as file:
            file.write(converted)
        # The export job's check: max error and top-1 agreement against Keras, size, latency.
        result[mode] = {"path": path,
                        **parity_report(path, keras_scores, test_images, threads=threads)}
    result["int8_convolutions"] = int8_convolution_speedups(threads, spec["output_dir"])
    return result


def serving_throughput(spec):
    """Images per second of the trained model served as the export job writes it: its
    SavedModel's `serve_float` signature (preprocessing inside) on batches of `batch_size`
    images at the net's size, the median of `runs` timed batches.

    spec: model_path, image_size, batch_size, threads, runs, output_dir (where the SavedModel
    is left).
    """
    import tensorflow as tf

    from keras_inception.export.graph import export_graph
    from keras_inception.export.savedmodel import write_saved_model

    configure_tensorflow_threads(spec["threads"])
    path = os.path.join(spec["output_dir"], "saved_model")
    write_saved_model(export_graph(keras.saving.load_model(spec["model_path"]), form="tensorflow"), path)
    serve = tf.saved_model.load(path).signatures["serve_float"]
    size, batch_size = spec["image_size"], spec["batch_size"]
    images = tf.constant(np.random.default_rng(0).random((batch_size, size, size, 3), dtype=np.float32))
    batch_ms = timing.median_ms(lambda: serve(images=images)["class_ids"].numpy(), warmup=2,
                                runs=spec["runs"])
    return {"images_per_second": timing.images_per_second(batch_ms, batch_size), "batch_size": batch_size,
            "path": path}


# One convolution alone, 256 channels in and out at 28x28 (inception 3b's input in GoogLeNet),
# for each kernel size: how much faster LiteRT's int8 kernels are than its float32 ones on this
# processor, whatever the net around them.
PROBE_SIZE, PROBE_CHANNELS, PROBE_KERNELS = 28, 256, (3, 1)


def int8_convolution_speedups(threads, output_dir):
    """{"3x3": {float32_ms, int8_ms, speedup, macs, input_shape}, "1x1": ...}: each probe
    convolution (ReLU after it, as in the nets) as a float32 and an int8 .tflite, timed in
    alternating rounds."""
    from benchmarks.latency import interleaved_latency
    from keras_inception.export import tflite
    from keras_inception.profile import profile

    calibration = np.random.default_rng(0).random((8, PROBE_SIZE, PROBE_SIZE, PROBE_CHANNELS),
                                                  dtype=np.float32)
    files, macs = {}, {}
    for kernel in PROBE_KERNELS:
        convolution = keras.Sequential([
            keras.Input((PROBE_SIZE, PROBE_SIZE, PROBE_CHANNELS)),
            keras.layers.Conv2D(PROBE_CHANNELS, kernel, padding="same", activation="relu"),
        ])
        macs[kernel] = profile(convolution).macs
        for mode, converted in tflite.convert_modes(convolution, ("float32", "int8"),
                                                    representative_images=calibration):
            path = os.path.join(output_dir, f"convolution_{kernel}x{kernel}_{mode}.tflite")
            with open(path, "wb") as file:
                file.write(converted)
            files[(kernel, mode)] = path
    timed = interleaved_latency({"files": files, "image_size": None, "threads": threads,
                                 "rounds": 3, "runs": 20})
    speedups = {}
    for kernel in PROBE_KERNELS:
        float32_ms, int8_ms = timed[(kernel, "float32")]["ms"], timed[(kernel, "int8")]["ms"]
        speedups[f"{kernel}x{kernel}"] = {
            "float32_ms": float32_ms, "int8_ms": int8_ms, "speedup": float32_ms / int8_ms,
            "macs": macs[kernel],
            "input_shape": [PROBE_SIZE, PROBE_SIZE, PROBE_CHANNELS]}
    return speedups


def block_files(spec):
    """The saved model cut into its blocks (`Pair.blocks`), each written as a float32 .tflite:
    the per-block side of the latency profile.

    spec: model_path, blocks (our layer names, in order), output_dir.
    Returns {"files": {block: path}, "macs": {block: multiply-adds}}.
    """
    from keras_inception.export import tflite
    from keras_inception.export.graph import export_graph
    from keras_inception.profile import profile

    graph = export_graph(keras.saving.load_model(spec["model_path"]))
    files, macs, start = {}, {}, graph.inputs[0]
    for name in spec["blocks"]:
        end = graph.get_layer(name).output
        block = keras.Model(start, end, name=f"block_{name}")
        path = os.path.join(spec["output_dir"], f"block_{name}.tflite")
        with open(path, "wb") as file:
            file.write(tflite.convert(block, "float32"))
        files[name], macs[name], start = path, profile(block).macs, end
    return {"files": files, "macs": macs}


def matmul_peak_gflops(spec):
    """TensorFlow's matrix-multiply rate (GFLOP/s, oneDNN on the CPU) with `threads` threads,
    in `dtype` (float32 unless given; bfloat16 runs on the processor's bfloat16 instructions
    where it has them): the best of `runs` n x n products at each n of `sizes`."""
    import tensorflow as tf

    configure_tensorflow_threads(spec["threads"])
    dtype = spec.get("dtype", "float32")

    def product_of_size(n):
        a, b = (tf.cast(tf.random.uniform((n, n)), dtype) for _ in range(2))
        return tf.function(lambda: tf.reduce_sum(tf.linalg.matmul(a, b)))

    return timing.matmul_peak(timing.time_products(product_of_size, spec["sizes"], spec["runs"]), dtype)
