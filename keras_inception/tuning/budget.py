"""Compute budgets: what a trial's net costs, and the check that rejects it before training.

Costs are those of the inference net (auxiliary heads dropped), the net that ships:
parameters, multiply-adds (`keras_inception.profile`) and, when a latency budget is set, the
median single-image latency of its float32 .tflite in the LiteRT interpreter.
"""

import dataclasses
import os
import tempfile

import keras_tuner
import numpy as np

from keras_inception.models.multi_output import inference_model
from keras_inception.profile import profile
from keras_inception.validation import check_integer, check_number


# Starts the message of every rejection; the report reads the reason after it.
OVER_BUDGET = "Over budget, not trained: "


class OverBudget(keras_tuner.errors.FailedTrialError):
    """A trial's net costs more than the budget allows: the trial fails untrained and is not
    retried (keras-tuner's own `FailedTrialError`)."""


@dataclasses.dataclass(frozen=True)
class Cost:
    params: int
    macs: int
    latency_ms: float = None


@dataclasses.dataclass(frozen=True)
class Budget:
    """Upper bounds on the inference net; None means no bound.

    max_params: parameters (Keras's count, batch-norm statistics included).
    max_macs: multiply-adds for one image.
    max_latency_ms: median single-image latency of the float32 .tflite in the LiteRT
        interpreter on this machine, with `latency_threads` threads (LiteRT's default: None).
    """

    max_params: int = None
    max_macs: int = None
    max_latency_ms: float = None
    latency_threads: int = None

    def __post_init__(self):
        for name in ("max_params", "max_macs"):
            value = getattr(self, name)
            if value is not None:
                check_integer(name, value, 1)
        if self.max_latency_ms is not None:
            check_number("max_latency_ms", self.max_latency_ms, "> 0")
        if self.latency_threads is not None:
            check_integer("latency_threads", self.latency_threads, 1)

    def measure(self, model):
        """The `Cost` of `model`'s inference net; latency only when it is budgeted."""
        net = inference_model(model)
        latency = tflite_latency_ms(net, self.latency_threads) if self.max_latency_ms else None
        return Cost(params=net.count_params(), macs=profile(net).macs, latency_ms=latency)

    def excess(self, cost):
        """What `cost` exceeds, one phrase per bound ("" within budget)."""
        over = []
        if self.max_params is not None and cost.params > self.max_params:
            over.append(f"{cost.params:,} parameters > max_params={self.max_params:,}")
        if self.max_macs is not None and cost.macs > self.max_macs:
            over.append(f"{cost.macs:,} multiply-adds > max_macs={self.max_macs:,}")
        if self.max_latency_ms is not None and cost.latency_ms > self.max_latency_ms:
            over.append(f"{cost.latency_ms:.2f} ms > max_latency_ms={self.max_latency_ms:g}")
        return "; ".join(over)


def tflite_latency_ms(net, threads=None):
    """Median single-image latency of `net` as a float32 .tflite in the LiteRT interpreter."""
    from keras_inception.export import tflite
    from keras_inception.export.graph import export_graph
    from keras_inception.export.verify import single_image_latency_ms

    graph = export_graph(net)
    with tempfile.TemporaryDirectory(prefix="keras_inception_latency_") as directory:
        path = os.path.join(directory, "model.tflite")
        with open(path, "wb") as file:
            file.write(tflite.convert(graph, "float32"))
        image = np.random.default_rng(0).random(graph.input_shape[1:], dtype=np.float32)
        return single_image_latency_ms(path, image, threads=threads)
