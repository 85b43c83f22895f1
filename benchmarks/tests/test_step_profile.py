"""benchmarks/step_profile.py: oneDNN's verbose trace read back, the step split by it, and the
script run as a user runs it (its figures say nothing about speed on tiny inputs)."""

import json
import subprocess
import sys
import textwrap

import pytest

from benchmarks import onednn_trace, report
from benchmarks.onednn_trace import Execution
from tests.script_forks import ScriptServer
from tests.test_scripts import run_script


@pytest.mark.slow
def test_the_trace_of_a_real_convolution_is_read_with_its_start_and_time(tmp_path):
    script = textwrap.dedent("""
        import time
        import tensorflow as tf
        images, kernel = tf.random.normal((4, 16, 16, 8)), tf.random.normal((3, 3, 8, 8))
        print("before", time.time() * 1000, flush=True)
        tf.nn.conv2d(images, kernel, 1, "SAME").numpy()
        print("after", time.time() * 1000, flush=True)
    """)
    env = {"TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
           **onednn_trace.ENVIRONMENT}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    marks = {line.split()[0]: float(line.split()[1]) for line in lines if line.startswith(("before", "after"))}
    convolutions = [run for run in onednn_trace.executions(lines) if run.kind == "convolution"]
    assert len(convolutions) == 1
    run = convolutions[0]
    assert marks["before"] <= run.start_ms <= marks["after"]
    assert 0 < run.ms <= marks["after"] - marks["before"]
    assert run.propagation == "forward_training"
    assert onednn_trace.instruction_set(lines)  # oneDNN names the kernels' instruction set


def test_the_step_is_split_by_group_over_the_window_only():
    runs = [
        Execution(999.0, "convolution", "jit", "forward_training", 50.0),  # before the window
        Execution(1000.0, "convolution", "jit", "forward_training", 30.0),
        Execution(1040.0, "convolution", "jit", "backward_data", 50.0),
        Execution(1100.0, "batch_normalization", "jit", "backward", 20.0),
        Execution(1150.0, "inner_product", "jit", "forward_training", 4.0),
        Execution(1160.0, "reorder", "jit", "undef", 6.0),
        Execution(1170.0, "pooling", "jit", "forward_training", 10.0),
        Execution(1200.0, "convolution", "jit", "backward_weights", 99.0),  # at the window's end
    ]
    breakdown = onednn_trace.step_breakdown(runs, 1000.0, 1200.0, steps=2)
    assert breakdown["step_ms"] == 100.0
    assert breakdown["by_group_ms"] == {
        "convolutions": 40.0, "fully connected": 2.0, "batch norm": 10.0, "other oneDNN": 8.0,
        "outside oneDNN": 40.0,
    }


@pytest.mark.parametrize("start, end, steps", [(10.0, 10.0, 1), (10.0, 20.0, 0)])
def test_a_window_without_time_or_steps_is_refused(start, end, steps):
    with pytest.raises(ValueError, match=f"Received: start_ms={start}, end_ms={end}, steps={steps}"):
        onednn_trace.step_breakdown([], start, end, steps)


@pytest.mark.slow
def test_the_script_splits_a_training_step_and_writes_its_report(tmp_path):
    result = run_script("--models=resnet18", "--image_size=32", "--batch_size=2", "--warmup_steps=1",
                        "--steps=2", "--matmul_sizes=128", f"--output_dir={tmp_path}",
                        script="step_profile.py")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "step_profile_cpu.json").read_text())
    net = report["nets"]["resnet18"]
    assert net["by_group_ms"]["convolutions"] > 0 and net["by_group_ms"]["batch norm"] > 0
    assert sum(net["by_group_ms"].values()) == pytest.approx(net["step_ms"])
    assert net["macs"] > 0 and report["matmul_peak"]["n"] == 128
    assert "| resnet18 @ 32 |" in (tmp_path / "step_profile_cpu.md").read_text()


@pytest.mark.parametrize("flag, error", [
    ("--models=resnet9000", "error: --models: resnet9000 is not a net here. Allowed: googlenet,"),
    ("--matmul_sizes=0", "error: --matmul_sizes=0: each must be a positive whole number"),
])
@pytest.mark.slow
def test_bad_flags_get_one_line_errors(flag, error, tmp_path):
    with ScriptServer("step_profile.py", cwd=tmp_path) as server:
        result = server.run([flag, f"--output_dir={tmp_path}"], timeout=300)
    assert result["returncode"] != 0
    assert result["stderr"].strip().splitlines()[-1].startswith(error)
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_missed_training_row_says_where_our_step_went_and_the_report_tables_it():
    train = {"memory_fed": {"images_per_second": 10.0}, "macs": 10**9}
    step = {"step_ms": 1000.0, "contraction_gflops": 170.0, "step_gflops": 100.0, "by_group_ms": {
        "convolutions": 690.0, "fully connected": 10.0, "batch norm": 170.0, "other oneDNN": 20.0,
        "outside oneDNN": 110.0}}
    model = {"keras_train": train, "torch_train": train, "step_profile": step}
    results = {"config": {"platform": "cpu", "threads": 2, "batch_size": 32, "windows": 5,
                          "window_steps": 2, "warmup_steps": 3},
               "machine": {"cpu": {"model": "a CPU", "cores": 2}, "versions": {}},
               "matmul_peak": {"gflops": 200.0}, "models": {"resnet18": model}}
    results["summary"] = report.summarize(results)
    (row,) = [row for row in results["summary"]["resnet18"]["rows"] if row["measure"] == "training throughput"]
    assert row["met"] is False
    assert row["why"] == ("of the matmul peak, ours reached 30.0% and torchvision 30.0%; our step, in "
                          "oneDNN's trace: convolutions and fully connected layers 70.0% of it, running at "
                          "85.0% of the matmul peak; batch norm 17.0%, other oneDNN 2.0%, outside oneDNN 11.0%")
    assert row["evidence"]["contractions_share_of_peak"] == pytest.approx(0.85)
    assert row["evidence"]["step_shares"]["outside oneDNN"] == pytest.approx(0.11)
    assert ("| float32 | 1,000 | 690 (69%) | 10 (1%) | 170 (17%) | 20 (2%) | 110 (11%) | "
            "170 GFLOP/s (85% of the peak) | 100 GFLOP/s (50% of the peak) |") in report.markdown(results)
    # Without a trace, the row says what the throughput alone tells.
    del model["step_profile"]
    results["summary"] = report.summarize(results)
    (row,) = [row for row in results["summary"]["resnet18"]["rows"] if row["measure"] == "training throughput"]
    assert row["why"] == "of the matmul peak, ours reached 30.0% and torchvision 30.0%"
    assert "Our training step" not in report.markdown(results)
