"""Benchmarks against what users would pick instead: torchvision (training), ONNX Runtime
(inference). `benchmarks/benchmark.py` runs them; each measurement runs in a process of its own
(`worker`) so that thread settings, peak memory and the frameworks stay apart."""
