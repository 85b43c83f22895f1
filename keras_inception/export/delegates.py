"""What TFLite's delegates make of a .tflite: how many pieces XNNPACK (the CPU delegate, on by
default in LiteRT) runs it in, which int8 ops it refuses, and which ops the GPU delegate cannot
run.

TFLite's analyzer no longer checks GPU compatibility (it reports every model compatible), so
the GPU check here is LiteRT's published rules (`tflite/tools/versioning/gpu_compatibility.cc`,
`CheckGpuDelegateCompatibility`): the ops it has a case for, and the conditions on them that our
graphs could meet.
"""

import collections

from keras_inception import _compat
from keras_inception.extras import require

tflite_schema = require("ai_edge_litert.schema_py_generated", "mobile")

# The builtin ops with a case in `CheckGpuDelegateCompatibility`; any other is "Not supported op".
GPU_OPS = frozenset("""
    ABS ADD ADD_N ATAN2 AVERAGE_POOL_2D BATCH_MATMUL CAST CEIL CONCATENATION CONV_2D COS CUMSUM CUSTOM
    DENSIFY DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE DIV DYNAMIC_UPDATE_SLICE ELU EMBEDDING_LOOKUP
    EQUAL EXP FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GELU GREATER GREATER_EQUAL HARD_SWISH
    LEAKY_RELU LESS LESS_EQUAL LOG LOGICAL_AND LOGISTIC LSTM MAXIMUM MAX_POOL_2D MEAN MINIMUM
    MIRROR_PAD MUL NEG NOT_EQUAL ONE_HOT PACK PAD PADV2 POW PRELU QUANTIZE REDUCE_MAX REDUCE_MIN
    REDUCE_PROD RELU RELU6 RELU_N1_TO_1 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR RSQRT SELECT
    SELECT_V2 SIGN SIN SLICE SOFTMAX SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE
    STABLEHLO_CLAMP STRIDED_SLICE SUB SUM TANH TILE TRANSPOSE TRANSPOSE_CONV
""".split())

_OP_NAMES = {code: name for name, code in vars(tflite_schema.BuiltinOperator).items() if not name.startswith("_")}


def op_name(model, operator):
    code = model.OperatorCodes(operator.OpcodeIndex())
    # Codes above 127 live in a second field; the old one saturates at 127.
    return _OP_NAMES[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]


def _gpu_refusal(model, operator, name):
    """Why the GPU delegate refuses this op, or None."""
    if name not in GPU_OPS:
        return f"not supported op {name}"
    if name == "SOFTMAX":
        options = tflite_schema.SoftmaxOptions()
        options.Init(operator.BuiltinOptions().Bytes, operator.BuiltinOptions().Pos)
        if options.Beta() != 1:
            return "SOFTMAX with beta != 1"
    if name == "ADD_N" and operator.InputsLength() != 2:
        return "ADD_N with other than 2 inputs"
    if name == "STRIDED_SLICE":
        options = tflite_schema.StridedSliceOptions()
        options.Init(operator.BuiltinOptions().Bytes, operator.BuiltinOptions().Pos)
        if options.EllipsisMask() or options.NewAxisMask() or options.ShrinkAxisMask():
            return "STRIDED_SLICE with an ellipsis, new-axis or shrink-axis mask"
    if name == "FULLY_CONNECTED":
        data = model.Subgraphs(0).Tensors(operator.Inputs(0))
        if model.Buffers(data.Buffer()).DataLength():
            return "FULLY_CONNECTED on a constant input"
    return None


def _operators(tflite_bytes):
    """(model, subgraph, operator, op name) for every op of a .tflite's bytes."""
    model = tflite_schema.Model.GetRootAsModel(tflite_bytes, 0)
    for index in range(model.SubgraphsLength()):
        subgraph = model.Subgraphs(index)
        for position in range(subgraph.OperatorsLength()):
            operator = subgraph.Operators(position)
            yield model, subgraph, operator, op_name(model, operator)


def gpu_unsupported_ops(tflite_path):
    """{reason: count} for the ops of a .tflite that the GPU delegate cannot run; {} when it
    runs them all."""
    with open(tflite_path, "rb") as file:
        tflite_bytes = file.read()
    refused = collections.Counter()
    for model, _, operator, name in _operators(tflite_bytes):
        reason = _gpu_refusal(model, operator, name)
        if reason:
            refused[reason] += 1
    return dict(refused)


# XNNPACK refuses an int8 convolution or dense op whose input scale times a kernel scale over
# the output scale reaches this (src/operators/convolution-nhwc.c, fully-connected-nc.c): a
# layer whose calibrated outputs were all zero has a near-zero output scale.
XNNPACK_MAX_REQUANTIZATION_SCALE = 256.0
_XNNPACK_INT8_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def xnnpack_refused_tensors(tflite_bytes):
    """{output tensor: op name} of the int8 ops in a .tflite's bytes that XNNPACK refuses to
    prepare (see `XNNPACK_MAX_REQUANTIZATION_SCALE`); LiteRT then fails to open the file."""
    refused = {}
    for _, subgraph, operator, name in _operators(tflite_bytes):
        if name not in _XNNPACK_INT8_OPS:
            continue
        data, kernel, output = (subgraph.Tensors(operator.Inputs(0)), subgraph.Tensors(operator.Inputs(1)),
                                subgraph.Tensors(operator.Outputs(0)))
        if any(tensor.Type() != tflite_schema.TensorType.INT8 or tensor.Quantization() is None
               or not tensor.Quantization().ScaleLength() for tensor in (data, kernel, output)):
            continue
        scales = (data.Quantization().ScaleAsNumpy()[0] * kernel.Quantization().ScaleAsNumpy()
                  / output.Quantization().ScaleAsNumpy()[0])
        if scales.max() >= XNNPACK_MAX_REQUANTIZATION_SCALE:
            refused[output.Name().decode()] = name
    return refused


def xnnpack_partitions(tflite_path):
    """The number of pieces XNNPACK runs the graph in (one when it takes every op): the
    delegate nodes in the LiteRT interpreter's graph after it applied XNNPACK."""
    interpreter = require("ai_edge_litert.interpreter", "mobile").Interpreter(model_path=tflite_path)
    interpreter.allocate_tensors()
    return sum(op["op_name"] == "DELEGATE" for op in _compat.interpreter_ops(interpreter))
