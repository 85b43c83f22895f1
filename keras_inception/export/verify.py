"""Checks a .tflite against the Keras model with the LiteRT interpreter (`ai-edge-litert`, the
runtime mobile apps ship), and against the interpreter with MediaPipe Tasks' `ImageClassifier`
(the client apps call), and measures it."""

import os
import statistics
import time

import numpy as np

from keras_inception.extras import require


def _interpreter(tflite, threads):
    """LiteRT's interpreter of a .tflite path, or of its bytes."""
    source = {"model_content": tflite} if isinstance(tflite, bytes) else {"model_path": tflite}
    interpreter = require("ai_edge_litert.interpreter", "mobile").Interpreter(**source, num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def quantize(values, detail):
    scale, zero_point = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0:
        return values.astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(detail["dtype"])


def _dequantize(values, detail):
    scale, zero_point = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0:
        return values.astype(np.float32)
    return (values.astype(np.float32) - zero_point) * scale


def tflite_runner(tflite_path, *, threads=None):
    """A function from float32 images (N, size, size, channels) to the .tflite's float32
    outputs, one image per invoke; quantized inputs and outputs are converted. `tflite_path`
    may also be the file's bytes."""
    interpreter = _interpreter(tflite_path, threads)
    (input_detail,), (output_detail,) = interpreter.get_input_details(), interpreter.get_output_details()

    def run(images):
        outputs = []
        for image in images:
            interpreter.set_tensor(input_detail["index"], quantize(image[None], input_detail))
            interpreter.invoke()
            outputs.append(_dequantize(interpreter.get_tensor(output_detail["index"]), output_detail)[0])
        return np.stack(outputs)

    return run


def run_tflite(tflite_path, images, *, threads=None):
    """The .tflite's outputs for float32 `images` (N, size, size, channels), one at a time."""
    return tflite_runner(tflite_path, threads=threads)(images)


def _input_detail(tflite_path):
    (input_detail,) = _interpreter(tflite_path, None).get_input_details()
    return input_detail


def tflite_input_shape(tflite_path):
    """(size, size, channels) of the .tflite's one input."""
    return tuple(int(dim) for dim in _input_detail(tflite_path)["shape"][1:])


def median_latency_ms(call, *, warmup=5, runs=30):
    """Median wall time of `call()` in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def tflite_invoker(tflite_path, image, *, threads=None):
    """A call that runs the .tflite once on `image` (float32 (size, size, channels))."""
    interpreter = _interpreter(tflite_path, threads)
    (input_detail,) = interpreter.get_input_details()
    interpreter.set_tensor(input_detail["index"], quantize(image[None], input_detail))
    return interpreter.invoke


def single_image_latency_ms(tflite_path, image, *, threads=None, warmup=5, runs=30):
    """Median wall time of one `invoke` on one image, in milliseconds."""
    return median_latency_ms(tflite_invoker(tflite_path, image, threads=threads),
                             warmup=warmup, runs=runs)


def top1_agreement(tflite, keras_outputs, images, *, threads=None):
    """The share of `images` on which the .tflite (a path or its bytes) picks the Keras model's
    top-1 class."""
    return float(np.mean(run_tflite(tflite, images, threads=threads).argmax(-1) == keras_outputs.argmax(-1)))


def top2_margins(scores):
    """Each row's top score minus its second: how near a tie the top-1 class is."""
    top2 = np.sort(scores, axis=-1)[..., -2:]
    return top2[..., 1] - top2[..., 0]


def parity_report(tflite_path, keras_outputs, images, *, threads=None):
    """{max_abs_error, top1_agreement, widest_flipped_margin, median_margin, size_bytes,
    latency_ms, images} of a .tflite against the Keras outputs on the same images.
    `widest_flipped_margin`: the largest Keras top-2 margin (`top2_margins`) among the images
    whose top-1 class differs, None where none does; `median_margin`: the median image's."""
    outputs = run_tflite(tflite_path, images, threads=threads)
    agrees = outputs.argmax(-1) == keras_outputs.argmax(-1)
    margins = top2_margins(keras_outputs)
    return {
        "max_abs_error": float(np.max(np.abs(outputs - keras_outputs))),
        "top1_agreement": float(np.mean(agrees)),
        "widest_flipped_margin": None if agrees.all() else float(margins[~agrees].max()),
        "median_margin": float(np.median(margins)),
        "size_bytes": os.path.getsize(tflite_path),
        "latency_ms": single_image_latency_ms(tflite_path, images[0], threads=threads),
        "images": len(images),
    }


# MediaPipe Tasks takes images as uint8 or float32 tensors only.
MEDIAPIPE_INPUT_TYPES = (np.uint8, np.float32)



def mediapipe_top1(tflite_path, pixels):
    """MediaPipe's top-1 class ids for uint8 RGB `pixels` (N, H, W, 3), from the file alone: its
    metadata gives the normalization."""
    mp = require("mediapipe", "mobile")
    BaseOptions = require("mediapipe.tasks.python", "mobile").BaseOptions
    vision = require("mediapipe.tasks.python.vision", "mobile")

    options = vision.ImageClassifierOptions(base_options=BaseOptions(model_asset_path=tflite_path), max_results=1)
    with vision.ImageClassifier.create_from_options(options) as classifier:
        return np.array([classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image)))
                         .classifications[0].categories[0].index for image in pixels])


def mediapipe_agreement(tflite_path, images, *, threads=None):
    """The share of `images` (float32 RGB in [0, 1], the file's input size) on which MediaPipe,
    given them as 0-255 pixels, picks the LiteRT interpreter's top-1 class; None for a file
    MediaPipe cannot read (int8 input)."""
    if _input_detail(tflite_path)["dtype"] not in MEDIAPIPE_INPUT_TYPES:
        return None
    pixels = np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)
    interpreter_top1 = run_tflite(tflite_path, pixels.astype(np.float32) / 255, threads=threads).argmax(-1)
    return float(np.mean(mediapipe_top1(tflite_path, pixels) == interpreter_top1))
