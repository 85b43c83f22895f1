import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent

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
    # The 1000 ImageNet class names, for converted checkpoints (keras_inception/pretrained/).
    package_data={"keras_inception.pretrained": ["imagenet_classes.txt"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16",
        # Older Keras releases have known model-loading vulnerabilities.
        "keras>=3.14",
        "tensorflow-datasets",
        "keras-tuner",
        "absl-py",
        # The offline default dataset: scikit-learn's bundled handwritten digits.
        "scikit-learn",
        # Training logs and plots. TensorFlow 2.21 no longer installs tensorboard itself.
        "tensorboard",
        "matplotlib",
        # Image headers read before decoding: a decompression bomb is refused by its declared size.
        "pillow",
        # The LiteRT interpreter (the runtime mobile apps use) verifies every .tflite export.
        "ai-edge-litert",
        # timm's checkpoints, read through its NumPy API without torch.
        "safetensors",
        # The .tflite metadata's tables (MediaPipe's schema and builders), and the client every
        # export is checked with; from 0.10.30 its wheels install beside TensorFlow's protobuf.
        "mediapipe>=0.10.30",
    ],
    extras_require={
        # jax: the tests build and train the nets under Keras's JAX backend too (and on two
        # processes); hypothesis fuzzes the scripts' flags; filelock lets the xdist workers
        # share a session fixture; torchvision and timm write the checkpoints the converters
        # are checked against, and run the reference nets.
        "test": ["pytest>=7", "pytest-xdist>=3.2", "filelock", "jax[cpu]", "hypothesis", "torch==2.14.1",
                 "torchvision==0.29.1", "timm"],
        # benchmarks/benchmark.py's peers: torchvision in PyTorch, ONNX Runtime.
        "bench": ["torch==2.14.1", "torchvision==0.29.1", "onnx", "onnxruntime"],
    },
    license="Apache-2.0",
)
