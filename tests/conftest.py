import os
import pickle
import re
import socket
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# pytest-xdist runs a worker per core: each worker's TensorFlow and torch, and the processes it
# starts, compute on their share of the cores, so that the workers do not contend for them.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", _threads)
    os.environ.setdefault("OMP_NUM_THREADS", _threads)

import filelock  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_inception  # noqa: E402

# XLA_FLAGS for the JAX processes the tests start: LLVM's optimisations off, which compiles in
# less than half the time; what runs is the same graph.
QUICK_XLA_FLAGS = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"

# Small GoogLeNet used wherever a test trains or saves: 32x32 input, a quarter of the widths.
SMALL_GOOGLENET = dict(stem="small", input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25)


ROOT = Path(__file__).resolve().parents[1]


def script_path(script):
    """The command-line script `script`: in scripts/, or benchmarks/ for the benchmarks', or
    the path itself where it is absolute."""
    if Path(script).is_absolute():
        return Path(script)
    benchmark = ROOT / "benchmarks" / script
    return benchmark if benchmark.exists() else ROOT / "scripts" / script


# The lines TensorFlow writes while it is imported, before its log settings apply (absl's
# pre-InitializeLog warning and native log lines: oneDNN, CUDA stubs).
TENSORFLOW_IMPORT_LINE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
                                    r"|[IWE]\d{4} \d\d:\d\d:[\d.]+ +\d+ [^ \]]+:\d+\] )")


def own_lines(stderr):
    """A process's stderr lines without those TensorFlow writes during its import."""
    return [line for line in stderr.strip().splitlines() if not TENSORFLOW_IMPORT_LINE.match(line)]


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def count_step_traces(model):
    """Counts the runs of `model.train_step` and `model.test_step`: Keras runs each once per
    trace of its compiled function. Returns the counts, kept up to date: {"train": n, "test": n}."""
    traces = {"train": 0, "test": 0}
    for kind in traces:
        step = getattr(model, f"{kind}_step")

        def counted(batch, kind=kind, step=step):
            traces[kind] += 1
            return step(batch)

        setattr(model, f"{kind}_step", counted)
    return traces


def pytest_collection_modifyitems(items):
    """Each pytest-xdist worker starts with its share of the tests marked slow: `worksteal`
    hands worker i the i-th of even, contiguous chunks of this list and steals from a chunk's
    end, so that what is left at the end of the run is short."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    slow = [item for item in items if item.get_closest_marker("slow")]
    fast = [item for item in items if not item.get_closest_marker("slow")]
    ordered, left = [], len(items)
    for worker in range(workers):
        size = left // (workers - worker)  # the chunk worksteal sends this worker
        share = slow[worker::workers]
        taken = max(0, size - len(share))
        ordered += share + fast[:taken]
        fast = fast[taken:]
        left -= size
    items[:] = ordered + fast  # a slow share past its chunk (none in this suite) moves the chunks


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)


@pytest.fixture(scope="session")
def googlenet_paper():
    """The full paper GoogLeNet with both aux heads, at 224x224: built once per run."""
    return keras_inception.get_model("googlenet")


@pytest.fixture(scope="session")
def googlenet_paper_no_aux():
    return keras_inception.get_model("googlenet", aux_heads=False)


def once_per_run(tmp_path_factory, worker_id, name, build):
    """`build()`, run by the first pytest-xdist worker to ask and read by the others from the
    pickle it leaves in the run's shared temporary folder (pytest-xdist's recipe for a session
    fixture built once): otherwise each worker builds its own."""
    if worker_id == "master":  # not under xdist
        return build()
    shared = tmp_path_factory.getbasetemp().parent / f"{name}.pickle"
    with filelock.FileLock(f"{shared}.lock"):
        if shared.is_file():
            return pickle.loads(shared.read_bytes())
        value = build()
        shared.write_bytes(pickle.dumps(value))
        return value


@pytest.fixture(scope="session")
def zoo_summaries(tmp_path_factory, worker_id):
    """Every registered net built once at its default size and summarized (counts, shapes,
    multiply-adds), one full-size net in memory at a time."""
    from keras_inception.profile import summarize

    return once_per_run(tmp_path_factory, worker_id, "zoo_summaries",
                        lambda: {name: summarize(name) for name in keras_inception.list_models()})


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory, worker_id):
    """A tiny GoogLeNet with both aux heads trained on the digits by the training job (3 epochs,
    32x32x1, widths x 0.125): built once, used by the training and export tests."""
    from keras_inception import training

    def train():
        keras.utils.set_random_seed(1234)
        return training.train(training.TrainConfig(
            model="googlenet_bn", model_kwargs={"stem": "small"}, image_size=32, width_multiplier=0.125,
            epochs=3, recipe_overrides={"learning_rate": 5e-3}, output_dir=str(tmp_path_factory.mktemp("runs")),
            # The export and evaluation tests hold its files to 1e-6 of this model, which only a
            # float32 net meets (where "auto" would pick bfloat16).
            precision="float32", verbose=0,
        ))

    return once_per_run(tmp_path_factory, worker_id, "digits_run", train)


@pytest.fixture
def small_googlenet():
    return keras_inception.get_model("googlenet", **SMALL_GOOGLENET)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.random((8, 32, 32, 3), dtype=np.float32)


@pytest.fixture
def labels():
    return np.arange(8) % 10
