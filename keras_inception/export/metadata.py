"""TFLite Model Metadata, the tables that MediaPipe Tasks' `ImageClassifier` and Android Studio's
model binding read: the model's name, description and version; the input's normalization (0-255
RGB pixels to the [0, 1] the net takes) and colour space; the class names as the output's label
file, packed into the .tflite.

    tflite_bytes = with_metadata(tflite_bytes, class_names=("0", "1", ...), name="googlenet_bn_digits")

The tables are built with MediaPipe's own `metadata_info`. Packing them into the model is done
here because MediaPipe's populator (and so its writers) imports a native module that its wheels
since 0.10.30 lack, and tflite-support, the other writer, needs a protobuf older than TensorFlow
accepts. The interpreter ignores both the metadata buffer and the appended label file.
"""

import io
import zipfile

import flatbuffers

from keras_inception.extras import require
from keras_inception.validation import UsageError

tflite_schema = require("ai_edge_litert.schema_py_generated", "mobile")
metadata_schema = require("mediapipe.tasks.metadata.metadata_schema_py_generated", "mobile")
metadata_info = require("mediapipe.tasks.python.metadata.metadata_writers.metadata_info", "mobile")

METADATA_NAME = "TFLITE_METADATA"
MODEL_IDENTIFIER = b"TFL3"
METADATA_IDENTIFIER = b"M001"
LABELS_FILE = "labels.txt"
# Every table written here is in the schema's first version, which is what MediaPipe's image
# classifier writer records too.
MIN_PARSER_VERSION = "1.0.0"
# Our nets take pixels / 255: MediaPipe maps 0-255 to (pixel - mean) / std.
PIXEL_MEAN, PIXEL_STD = 0.0, 255.0


def _input_and_scores(model):
    """(input tensor type, output tensor type, classes) of a one-input, one-output .tflite."""
    subgraph = model.Subgraphs(0)
    image, scores = subgraph.Tensors(subgraph.Inputs(0)), subgraph.Tensors(subgraph.Outputs(0))
    return image.Type(), scores.Type(), int(scores.ShapeAsNumpy()[-1])


def metadata_table(*, name, description, version, input_type, output_type, logits=False):
    """The `ModelMetadataT` for an image classifier (see the module docstring); `logits`: the
    output is unbounded, not probabilities."""
    model = metadata_info.GeneralMd(name=name, version=version, description=description).create_metadata()
    model.minParserVersion = MIN_PARSER_VERSION
    image = metadata_info.InputImageTensorMd(
        name="image", description="An image; the app's 0-255 pixels are divided by 255.",
        norm_mean=[PIXEL_MEAN], norm_std=[PIXEL_STD],
        color_space_type=metadata_schema.ColorSpaceType.RGB,
        tensor_type=input_type).create_metadata()
    scores = metadata_info.ClassificationTensorMd(
        name="logits" if logits else "probabilities", description="The score of each class.",
        label_files=[metadata_info.LabelFileMd(LABELS_FILE)],
        tensor_type=None if logits else output_type).create_metadata()  # the type only sets the 0-1 range
    subgraph = metadata_schema.SubGraphMetadataT()
    subgraph.inputTensorMetadata, subgraph.outputTensorMetadata = [image], [scores]
    model.subgraphMetadata = [subgraph]
    return model


def with_metadata(tflite_bytes, *, class_names, name, description="", version="1", logits=False):
    """`tflite_bytes` with the metadata and the label file (one name per line) packed in; the
    graph, its buffers and its signature are kept as they are."""
    if not class_names or any("\n" in str(label) for label in class_names):
        raise UsageError(f"Expected one class name per class, none with a line break. "
                         f"Received: class_names={class_names!r}")
    model = tflite_schema.Model.GetRootAsModel(tflite_bytes, 0)
    input_type, output_type, classes = _input_and_scores(model)
    if classes != len(class_names):
        raise UsageError(f"The model scores {classes} classes; {len(class_names)} names were given. "
                         f"Received: class_names={tuple(class_names)!r}")
    table = metadata_table(name=name, description=description, version=version,
                           input_type=input_type, output_type=output_type, logits=logits)
    builder = flatbuffers.Builder(0)
    builder.Finish(table.Pack(builder), METADATA_IDENTIFIER)

    unpacked = tflite_schema.ModelT.InitFromObj(model)
    unpacked.buffers = unpacked.buffers or []
    unpacked.metadata = [entry for entry in unpacked.metadata or [] if entry.name.decode() != METADATA_NAME]
    buffer = tflite_schema.BufferT()
    buffer.data = bytes(builder.Output())
    unpacked.buffers.append(buffer)
    entry = tflite_schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(unpacked.buffers) - 1
    unpacked.metadata.append(entry)
    builder = flatbuffers.Builder(0)
    builder.Finish(unpacked.Pack(builder), MODEL_IDENTIFIER)

    packed = io.BytesIO()
    packed.write(builder.Output())
    # The label file is a zip appended to the flatbuffer, which is how the schema packs files.
    with zipfile.ZipFile(packed, "a") as archive:
        archive.writestr(LABELS_FILE, "".join(f"{label}\n" for label in class_names))
    return packed.getvalue()


def _text(value):
    return value.decode() if value else None


def read_metadata(tflite_path):
    """{name, description, version, min_parser_version, color_space, mean, std, label_file,
    labels} of a .tflite's metadata, each None where the file leaves it out (as another
    writer's may); None when there is no metadata."""
    with open(tflite_path, "rb") as file:
        content = file.read()
    model = tflite_schema.Model.GetRootAsModel(content, 0)
    found = [model.Metadata(index) for index in range(model.MetadataLength())
             if model.Metadata(index).Name().decode() == METADATA_NAME]
    if not found:
        return None
    data = model.Buffers(found[0].Buffer()).DataAsNumpy().tobytes()
    table = metadata_schema.ModelMetadataT.InitFromObj(metadata_schema.ModelMetadata.GetRootAsModelMetadata(data, 0))
    subgraph = (table.subgraphMetadata or [metadata_schema.SubGraphMetadataT()])[0]
    image = (subgraph.inputTensorMetadata or [metadata_schema.TensorMetadataT()])[0]
    scores = (subgraph.outputTensorMetadata or [metadata_schema.TensorMetadataT()])[0]
    normalization = next((unit.options for unit in image.processUnits or []
                          if unit.optionsType == metadata_schema.ProcessUnitOptions.NormalizationOptions), None)
    properties = image.content and image.content.contentProperties
    color_spaces = {value: key for key, value in vars(metadata_schema.ColorSpaceType).items() if not key.startswith("_")}
    label_file = _text(scores.associatedFiles[0].name) if scores.associatedFiles else None
    labels = None
    if label_file and zipfile.is_zipfile(io.BytesIO(content)):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            if label_file in archive.namelist():
                labels = tuple(archive.read(label_file).decode("utf-8", "replace").splitlines())
    return {
        "name": _text(table.name), "description": _text(table.description) or "",
        "version": _text(table.version), "min_parser_version": _text(table.minParserVersion),
        "color_space": color_spaces.get(getattr(properties, "colorSpace", None)),
        "mean": normalization and [float(value) for value in normalization.mean],
        "std": normalization and [float(value) for value in normalization.std],
        "label_file": label_file, "labels": labels,
    }
