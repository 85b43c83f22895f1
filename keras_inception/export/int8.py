"""int8 conversion with chosen layers kept in float: each layer's quantization error, the layers
XNNPACK cannot run in int8 (`delegates.xnnpack_refused_tensors`), and the fewest layers kept in
float that reach an agreement target.

TensorFlow's quantization debugger does the work: it calibrates once, measures each layer's
output against its float op given the same inputs, and quantizes again with chosen layers
left in float (their output tensors on its `denylisted_nodes`).
"""

import contextlib
import csv
import dataclasses
import io
import math
import re
import warnings

import numpy as np
import tensorflow as tf

from keras_inception.validation import UsageError

# Layer errors are measured on this many of the calibration images: the debugger runs the whole
# instrumented model once per image.
ERROR_IMAGES = 32
# The noise floor, so that an op that rounds nothing (a max pool) has a finite SNR.
_TINY = np.finfo(np.float32).tiny


@dataclasses.dataclass(frozen=True)
class LayerError:
    """One quantized op's error: the signal-to-noise ratio of its int8 output against the float
    op's given the same inputs, in dB, the median over its channels (a tensor whose range one
    channel dominates loses the others, which a single ratio over the tensor would hide)."""

    layer: str  # the Keras layer whose output it is
    op: str  # the TFLite op
    snr_db: float  # NaN where no channel had a signal
    tensor: str  # the TFLite tensor: what the debugger's denylist names


def median_channel_snr_db(float_values, quantized_values, scale, zero_point):
    """The debugger's layer comparison: see `LayerError`."""
    dequantized = (quantized_values.astype(np.float32) - zero_point) * scale
    channels = float_values.shape[-1]
    signal = np.square(float_values, dtype=np.float64).reshape(-1, channels).sum(axis=0)
    noise = np.square(float_values - dequantized, dtype=np.float64).reshape(-1, channels).sum(axis=0)
    live = signal > 0  # a channel that never fired (a dead ReLU's) says nothing about rounding
    if not live.any():
        return math.nan
    return float(np.median(10 * np.log10(signal[live] / np.maximum(noise[live], _TINY))))


def layer_names(model):
    """{name: class name} of `model`'s layers and of those of the models nested in it."""
    names = {}
    for layer in model.layers:
        names[layer.name] = type(layer).__name__
        if hasattr(layer, "layers"):
            names.update(layer_names(layer))
    return names


# The layer an op is named after, where its tensor's name lists several (a convolution with the
# batch norm folded into it and its ReLU).
_OP_LAYERS = ("Conv2D", "DepthwiseConv2D", "Dense")


def keras_layer_of(tensor, layer_names):
    """The Keras layer named in a TFLite tensor name (`model_1/conv_1/Relu;model_1/conv_1/...`),
    given `layer_names` ({name: class name}): a convolution or dense layer where one is named,
    else the last layer named, else the tensor name."""
    named = []
    for part in tensor.split(";"):
        for scope in part.split("/"):
            for candidate in (scope, re.sub(r"_\d+$", "", scope)):
                if candidate in layer_names:
                    named.append(candidate)
                    break
    for name in named:
        if layer_names[name] in _OP_LAYERS:
            return name
    return named[-1] if named else tensor


@contextlib.contextmanager
def _quiet_debugger():
    """The debugger opens its models in TensorFlow's own interpreter, which warns that it is
    deprecated, and, keeping every tensor, that it uses memory."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors")
        yield


class Int8Quantizer:
    """Calibrates once; then `model(float_tensors)` gives the int8 .tflite with those tensors'
    ops kept in float, and `layer_errors()` each quantized op's error, worst first.

    converter: a TFLite converter set up for int8 with float input and output.
    float_ops: TFLite op names always kept in float.
    layer_names: {name: class name} of the Keras model's layers (`layer_names`), to name each
        op's layer.
    """

    def __init__(self, converter, images, *, float_ops=(), layer_names=()):
        self._float_ops = list(float_ops)
        self.layer_names = dict(layer_names)
        self._error_images = images[:ERROR_IMAGES]
        with _quiet_debugger():
            self._debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=converter.representative_dataset,
                debug_options=self._options(()))
        self._float_tensors = ()

    def _options(self, float_tensors, **metrics):
        return tf.lite.experimental.QuantizationDebugOptions(
            denylisted_ops=self._float_ops, denylisted_nodes=list(float_tensors) or None, **metrics)

    def _debug_dataset(self):
        for image in self._error_images:
            yield [image[None].astype("float32")]

    def model(self, float_tensors=()):
        """The .tflite bytes with the ops writing `float_tensors` kept in float."""
        float_tensors = tuple(sorted(float_tensors))
        if float_tensors != self._float_tensors:
            with _quiet_debugger():
                self._debugger.options = self._options(float_tensors)
            self._float_tensors = float_tensors
        return self._debugger.get_nondebug_quantized_model()

    def layer_errors(self, float_tensors=()):
        """A `LayerError` for each op quantized with `float_tensors` kept in float, worst
        first (lowest SNR; ops without signal last)."""
        self.model(float_tensors)
        with _quiet_debugger():
            # A debugger opened on the instrumented model's bytes keeps every tensor, which the
            # comparison with the float values needs.
            measuring = tf.lite.experimental.QuantizationDebugger(
                quant_debug_model_content=self._debugger.get_debug_quantized_model(),
                debug_dataset=self._debug_dataset,
                debug_options=self._options(float_tensors,
                                            layer_direct_compare_metrics={"snr_db": median_channel_snr_db}))
            measuring.run()
        dump = io.StringIO()
        measuring.layer_statistics_dump(dump)
        errors = [LayerError(layer=keras_layer_of(row["tensor_name"], self.layer_names), op=row["op_name"],
                             snr_db=float(row["snr_db"]), tensor=row["tensor_name"])
                  for row in csv.DictReader(io.StringIO(dump.getvalue()))]
        return sorted(errors, key=lambda error: (math.isnan(error.snr_db), error.snr_db))


def unmeasured(ops, layer_names):
    """A `LayerError` without a measure (NaN) for each of `ops` ({tensor: op name}), named after
    its Keras layer (`keras_layer_of`)."""
    return [LayerError(layer=keras_layer_of(tensor, layer_names), op=op, snr_db=math.nan, tensor=tensor)
            for tensor, op in ops.items()]


@dataclasses.dataclass(frozen=True)
class Int8Choice:
    """The int8 file an export writes, and why its float layers are float."""

    model: bytes
    errors: list  # a `LayerError` for each quantized op, worst first
    xnnpack_float: tuple = ()  # tensors kept in float because XNNPACK cannot run them in int8
    agreement_float: tuple = ()  # tensors kept in float to reach the agreement target
    agreement: float = None  # its top-1 agreement, where a target was set
    agreement_all_int8: float = None  # the same with no layer kept in float for it


def choose(quantizer, *, agreement=None, min_agreement=None):
    """The int8 file with the layers XNNPACK cannot run in int8 kept in float and, given
    `min_agreement` and `agreement` (a function from .tflite bytes to its top-1 agreement with
    the Keras model), the fewest of the worst layers besides: the count doubled until the
    agreement reaches the target, then bisected. Raises a `UsageError` naming the best
    agreement reached where only an all-float file would reach it."""
    from keras_inception.export.delegates import xnnpack_refused_tensors  # the mobile extra

    refused = xnnpack_refused_tensors(quantizer.model())
    xnnpack_float = tuple(refused)
    # The debugger's interpreter applies XNNPACK too, so errors are measured with these float.
    errors = quantizer.layer_errors(xnnpack_float) + unmeasured(refused, quantizer.layer_names)
    if min_agreement is None:
        return Int8Choice(quantizer.model(xnnpack_float), errors, xnnpack_float)
    ranked = [error.tensor for error in errors if not math.isnan(error.snr_db) and error.tensor not in xnnpack_float]
    tried = {}

    def reaches(count):
        if count not in tried:
            model = quantizer.model(xnnpack_float + tuple(ranked[:count]))
            tried[count] = (agreement(model), model)
        return tried[count][0] >= min_agreement

    # Keeping every ranked layer in float would leave nothing in int8.
    most = len(ranked) - 1
    low, high = -1, 0
    while not reaches(high):
        if high >= most:
            best = max(found for found, _ in tried.values())
            raise UsageError(f"int8 reaches at most {best:.2%} top-1 agreement with the Keras model with up to "
                             f"{most} of its {len(ranked)} layers kept in float, short of "
                             f"min_agreement={min_agreement!r}; export float16 or float32 instead")
        low, high = high, min(max(1, 2 * high), most)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if reaches(middle) else (middle, high)
    found, model = tried[high]
    return Int8Choice(model, errors, xnnpack_float, tuple(ranked[:high]), found, tried[0][0])
