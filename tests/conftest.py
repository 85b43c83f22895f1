import os
import socket
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import keras_inception  # noqa: E402

# Small GoogLeNet used wherever a test trains or saves: 32x32 input, a quarter of the widths.
SMALL_GOOGLENET = dict(stem="small", input_shape=(32, 32, 3), num_classes=10, width_multiplier=0.25)


ROOT = Path(__file__).resolve().parents[1]


def script_path(script):
    """The command-line script `script`: in scripts/, or benchmarks/ for the benchmark."""
    return ROOT / ("benchmarks" if script == "benchmark.py" else "scripts") / script


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


# Session and module fixtures that take a minute or more to build; the tests using each run on
# one pytest-xdist worker so that it is built once (a module fixture is otherwise built again
# on each worker that runs one of its tests: ~90 s each for the last two, measured).
SHARED_FIXTURES = ("digits_run", "zoo_summaries", "small_search", "bad_input_runs")


# The longest units of work (a group's tests together), longest first, as measured with two
# workers (60-240 s each). They are handed out first (`--no-loadscope-reorder` in pytest.ini
# keeps this order), so that short tests fill the end and both workers finish together.
LONGEST_FIRST = (
    "test_killed_search_resumes_and_keeps_completed_trials", "digits_run",
    "test_chief_and_two_workers_record_every_trial_once", "test_two_jax_processes_killed_one_epoch_apart_resume_together",
    "benchmark", "zoo_summaries", "small_search", "test_every_shown_command_runs_and_exits_0",
    "test_googlenet_trains_under_jax_and_lrn_and_batch_norm_match_tensorflow", "bad_input_runs",
    "test_training_killed_ten_times_resumes_and_ends_as_an_uninterrupted_run", "test_the_quickstart_is_the_readmes_and_trains_every_head",
    "test_mixed_precision_job_keeps_heads_float32_and_scales_the_loss",
    "test_gpu_mode_runs_on_keras_jax_without_tensorflow",
)


def _unit(item):
    group = item.get_closest_marker("xdist_group")
    return group.args[0] if group else item.originalname


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        for fixture in SHARED_FIXTURES:
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(fixture))
                break
    rank = {unit: index for index, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_unit(item), len(rank)))  # stable: the rest keep their order


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


@pytest.fixture(scope="session")
def zoo_summaries():
    """Every registered net built once at its default size and summarized (counts, shapes,
    multiply-adds), one full-size net in memory at a time."""
    from keras_inception.profile import summarize

    return {name: summarize(name) for name in keras_inception.list_models()}


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """A tiny GoogLeNet with both aux heads trained on the digits by the training job (3 epochs,
    32x32x1, widths x 0.125): built once, used by the training and export tests."""
    from keras_inception import training

    keras.utils.set_random_seed(1234)
    return training.train(training.TrainConfig(
        model="googlenet_bn", model_kwargs={"stem": "small"}, image_size=32, width_multiplier=0.125,
        epochs=3, recipe_overrides={"learning_rate": 5e-3}, output_dir=str(tmp_path_factory.mktemp("runs")),
        verbose=0,
    ))


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
