import pathlib
import runpy

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
# The extras' table, read without importing the package (which imports Keras).
EXTRAS_MODULE = runpy.run_path(str(HERE / "keras_inception" / "extras.py"))
EXTRAS = EXTRAS_MODULE["EXTRAS"]
ALL_EXTRAS = EXTRAS_MODULE["all_extras"]()

setup(
    name="keras_inception",
    version="0.1.0",
    description=(
        "GoogLeNet, the Inception line and the nets it grew from, for Keras 3: "
        "faithful to the papers, trainable with model.fit, exportable to TFLite."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["keras_inception", "keras_inception.*"]),
    # The `keras-inception` command's launcher: beside the package, so that it sets TensorFlow's
    # environment before the package's import loads TensorFlow.
    py_modules=["keras_inception_cli"],
    entry_points={"console_scripts": ["keras-inception = keras_inception_cli:main"]},
    # The 1000 ImageNet class names, for converted checkpoints (keras_inception/pretrained/).
    package_data={"keras_inception.pretrained": ["imagenet_classes.txt"]},
    python_requires=">=3.10",
    # The mission's own packages; the rest are extras named after the job that needs them
    # (keras_inception/extras.py), and a missing one is a one-line error naming its extra.
    install_requires=[
        "tensorflow>=2.16",
        # Older Keras releases have known model-loading vulnerabilities.
        "keras>=3.14",
        "tensorflow-datasets",
        "keras-tuner",
        "absl-py",
    ],
    extras_require={
        **EXTRAS,
        "all": ALL_EXTRAS,
        # jax: the tests build and train the nets under Keras's JAX backend too (and on two
        # processes); hypothesis fuzzes the scripts' flags; filelock lets the xdist workers
        # share a session fixture; torchvision and timm write the checkpoints the converters
        # are checked against, and run the reference nets; pytorch-fid's own FID is the metric's
        # reference.
        "test": ALL_EXTRAS + ["pytest>=7", "pytest-xdist>=3.2", "filelock", "jax[cpu]", "hypothesis", "torch==2.14.1",
                 "torchvision==0.29.1", "timm", "pytorch-fid"],
        # benchmarks/benchmark.py's peers: torchvision in PyTorch, ONNX Runtime.
        "bench": ALL_EXTRAS + ["torch==2.14.1", "torchvision==0.29.1", "onnx", "onnxruntime"],
    },
    license="Apache-2.0",
)
