#!/usr/bin/python3
"""Op-level parity test of onnx_ops.py against onnxruntime (npm onnxruntime-node, CPU).

Builds one tiny ONNX graph per case (op, attributes, opset), converts it with onnx2ts's
graph module + torch.jit.trace, runs it through onnxruntime (one Node.js process for all cases)
and compares. Cases with trace_inputs are traced on other input values than they are run with:
they check that shapes taken from input data (Slice ends, Resize sizes, Shape of such a tensor)
stay run-time values of the trace. Prints one line per case and a summary; exit 1 if any case differs (ratio
max|diff| / range > 1e-4, or shapes differ), 77 if node/npm cannot provide onnxruntime.

usage: test_onnx_ops.py [-k SUBSTRING] [-v]
"""

import argparse
import os
import sys
import tempfile
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "convert")
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
import onnx2ts  # noqa: E402

NP2ONNX = {np.float32: TensorProto.FLOAT, np.int64: TensorProto.INT64, np.bool_: TensorProto.BOOL,
           np.int32: TensorProto.INT32, np.float64: TensorProto.DOUBLE}
rng = np.random.default_rng(1)


def _torch2onnx():
    import torch
    return {torch.float32: TensorProto.FLOAT, torch.int64: TensorProto.INT64, torch.bool: TensorProto.BOOL,
            torch.int32: TensorProto.INT32, torch.float64: TensorProto.DOUBLE}


TORCH2ONNX = _torch2onnx()
CASES = []


def R(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def I(*vals):
    return np.array(vals, dtype=np.int64)


BIG = 2 ** 63 - 1


def F32(*vals):
    return np.array(vals, dtype=np.float32)


class In:
    """A graph input (fed at run time); other array arguments become initializers."""

    def __init__(self, arr):
        self.arr = arr


def case(name, op_type, inputs, opset=13, nout=1, trace_inputs=None, **attrs):
    """inputs: In(array) for graph inputs, arrays for initializers, None for omitted ones.
    trace_inputs: arrays for the graph inputs to trace with (default: the In arrays)."""
    graph_inputs, inits, feeds, names = [], [], [], []
    for k, v in enumerate(inputs):
        if v is None:
            names.append("")
            continue
        nm = "x%d" % k
        names.append(nm)
        if isinstance(v, In):
            graph_inputs.append(helper.make_tensor_value_info(nm, NP2ONNX[v.arr.dtype.type], list(v.arr.shape)))
            feeds.append(v.arr)
        else:
            inits.append(numpy_helper.from_array(np.asarray(v), nm))
    while names and names[-1] == "":
        names.pop()
    outs = ["y%d" % k for k in range(nout)]
    node = helper.make_node(op_type, names, outs, name="n_" + op_type, **attrs)
    add_case(name, [node], graph_inputs, outs, inits, feeds, opset, trace_inputs)


def add_case(name, nodes, graph_inputs, outs, inits, feeds, opset, trace_inputs=None):
    vis = [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outs]
    g = helper.make_graph(nodes, "t", graph_inputs, vis, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="test_onnx_ops")
    m.ir_version = 7 if opset < 15 else 8
    CASES.append((name, m, feeds, trace_inputs))


def runtime_shape_case():
    """Slice to run-time ends, then Shape and Size of the result (SAM's decoder: masks cropped to a size
    computed from orig_im_size, whose Shape then feeds the final Resize)."""
    x, ends = R(1, 3, 8, 10), I(5, 7)
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape)),
           helper.make_tensor_value_info("e", TensorProto.INT64, [2])]
    inits = [numpy_helper.from_array(I(0, 0), "s"), numpy_helper.from_array(I(2, 3), "a")]
    nodes = [helper.make_node("Slice", ["x", "s", "e", "a"], ["y0"], name="n_Slice"),
             helper.make_node("Shape", ["y0"], ["y1"], name="n_Shape"),
             helper.make_node("Size", ["y0"], ["y2"], name="n_Size")]
    add_case("Slice run-time ends + Shape, Size", nodes, ins, ["y0", "y1", "y2"], inits, [x, ends], 13,
             trace_inputs=[x, I(3, 9)])


def build_cases():
    x4 = In(R(1, 4, 9, 11))
    # --- convolution ---
    w = R(6, 4, 3, 3)
    case("Conv pads", "Conv", [x4, w, R(6)], pads=[1, 1, 1, 1])
    case("Conv SAME_UPPER s2", "Conv", [x4, w], auto_pad="SAME_UPPER", strides=[2, 2])
    case("Conv SAME_LOWER s2", "Conv", [x4, w, R(6)], auto_pad="SAME_LOWER", strides=[2, 2])
    case("Conv asym pads", "Conv", [x4, w, R(6)], pads=[0, 1, 2, 0], strides=[1, 2])
    case("Conv group2 dil2", "Conv", [x4, R(6, 2, 3, 3), R(6)], group=2, dilations=[2, 2], pads=[2, 2, 2, 2])
    case("Conv depthwise VALID", "Conv", [x4, R(4, 1, 5, 5)], group=4, auto_pad="VALID")
    case("Conv1d", "Conv", [In(R(2, 3, 17)), R(5, 3, 4)], pads=[1, 2], strides=[3])
    case("Conv3d", "Conv", [In(R(1, 2, 5, 6, 7)), R(3, 2, 2, 3, 3)], pads=[0, 1, 1, 1, 0, 1])
    case("ConvTranspose s2 p1 op1", "ConvTranspose", [x4, R(4, 3, 3, 3), R(3)], strides=[2, 2],
         pads=[1, 1, 1, 1], output_padding=[1, 1])
    case("ConvTranspose asym pads", "ConvTranspose", [x4, R(4, 3, 4, 4), R(3)], strides=[2, 2], pads=[0, 1, 2, 1])
    case("ConvTranspose output_shape", "ConvTranspose", [x4, R(4, 3, 3, 3)], strides=[2, 2], output_shape=[20, 23])
    case("ConvTranspose SAME_UPPER", "ConvTranspose", [x4, R(4, 3, 3, 3), R(3)], strides=[2, 2], auto_pad="SAME_UPPER")
    case("ConvTranspose group dil", "ConvTranspose", [x4, R(4, 2, 3, 3)], group=2, dilations=[2, 1], strides=[1, 2])
    # --- pooling ---
    case("MaxPool ceil", "MaxPool", [x4], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    case("MaxPool SAME_UPPER", "MaxPool", [x4], kernel_shape=[2, 3], strides=[2, 2], auto_pad="SAME_UPPER")
    case("MaxPool asym pads", "MaxPool", [x4], kernel_shape=[3, 3], strides=[1, 1], pads=[0, 1, 2, 0])
    case("MaxPool dil", "MaxPool", [x4], kernel_shape=[2, 2], dilations=[2, 2], pads=[1, 1, 1, 1])
    case("MaxPool1d", "MaxPool", [In(R(1, 3, 10))], kernel_shape=[3], strides=[2])
    case("AveragePool excl pad", "AveragePool", [x4], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    case("AveragePool incl pad", "AveragePool", [x4], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)
    case("AveragePool asym excl", "AveragePool", [x4], kernel_shape=[3, 2], pads=[0, 0, 2, 1], strides=[2, 1])
    case("AveragePool asym incl", "AveragePool", [x4], kernel_shape=[3, 2], pads=[0, 0, 2, 1], count_include_pad=1)
    case("AveragePool SAME_LOWER", "AveragePool", [x4], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER")
    case("AveragePool ceil", "AveragePool", [x4], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    case("GlobalAveragePool", "GlobalAveragePool", [x4])
    case("GlobalMaxPool", "GlobalMaxPool", [x4])
    # --- normalisation ---
    case("BatchNormalization", "BatchNormalization", [x4, R(4), R(4), R(4), R(4, lo=0.1, hi=2)], epsilon=1e-3)
    case("InstanceNormalization", "InstanceNormalization", [x4, R(4), R(4)])
    case("LayerNormalization", "LayerNormalization", [In(R(2, 5, 8)), R(8), R(8)], opset=17)
    case("LayerNormalization axis1", "LayerNormalization", [In(R(2, 5, 8)), R(5, 8), R(5, 8)], opset=17, axis=1)
    case("LRN", "LRN", [x4], size=3, alpha=0.01, beta=0.6, bias=1.5)
    # --- resize ---
    case("Resize nearest asym floor x2", "Resize", [x4, F32(), F32(1, 1, 2, 2)], opset=11,
         coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    case("Resize nearest half_pixel 0.6", "Resize", [x4, None, F32(1, 1, 0.6, 0.6)], opset=13)
    case("Resize nearest round_prefer_ceil x1.5", "Resize", [x4, None, F32(1, 1, 1.5, 1.7)], opset=13,
         nearest_mode="round_prefer_ceil")
    case("Resize nearest tf_half_pixel_for_nn", "Resize", [x4, None, F32(1, 1, 1.5, 0.5)], opset=13,
         coordinate_transformation_mode="tf_half_pixel_for_nn", nearest_mode="ceil")
    case("Resize nearest sizes x4", "Resize", [x4, None, None, I(1, 4, 36, 44)], opset=13,
         coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    case("Resize nearest align_corners", "Resize", [x4, None, None, I(1, 4, 5, 20)], opset=13,
         coordinate_transformation_mode="align_corners")
    case("Resize linear half_pixel x2", "Resize", [x4, None, F32(1, 1, 2, 2)], opset=13, mode="linear")
    case("Resize linear half_pixel 0.5", "Resize", [x4, None, F32(1, 1, 0.5, 0.5)], opset=13, mode="linear")
    case("Resize linear sizes", "Resize", [x4, None, None, I(1, 4, 14, 5)], opset=13, mode="linear")
    case("Resize linear align_corners", "Resize", [x4, None, F32(1, 1, 1.5, 2)], opset=13, mode="linear",
         coordinate_transformation_mode="align_corners")
    case("Resize linear asymmetric", "Resize", [x4, None, F32(1, 1, 2, 1.5)], opset=13, mode="linear",
         coordinate_transformation_mode="asymmetric")
    case("Resize linear pytorch_half_pixel", "Resize", [x4, None, None, I(1, 4, 1, 7)], opset=13, mode="linear",
         coordinate_transformation_mode="pytorch_half_pixel")
    case("Resize cubic half_pixel", "Resize", [x4, None, F32(1, 1, 2, 1.5)], opset=13, mode="cubic")
    case("Resize cubic a=-0.5 exclude_outside", "Resize", [x4, None, F32(1, 1, 0.7, 1.6)], opset=13,
         mode="cubic", cubic_coeff_a=-0.5, exclude_outside=1)
    case("Resize cubic asymmetric", "Resize", [x4, None, None, I(1, 4, 13, 8)], opset=13, mode="cubic",
         coordinate_transformation_mode="asymmetric")
    case("Resize tf_crop_and_resize", "Resize", [x4, F32(0, 0, 0.2, -0.1, 1, 1, 0.9, 1.2), None, I(1, 4, 7, 9)],
         opset=13, mode="linear", coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-3.0)
    # sizes computed from input data (SAM's masks resized to orig_im_size): run-time values
    case("Resize linear run-time sizes", "Resize", [x4, None, None, In(I(1, 4, 14, 5))], opset=13, mode="linear",
         trace_inputs=[x4.arr, I(1, 4, 20, 30)])
    case("Resize cubic run-time sizes align_corners", "Resize", [x4, None, None, In(I(1, 4, 7, 16))], opset=13,
         mode="cubic", coordinate_transformation_mode="align_corners", trace_inputs=[x4.arr, I(1, 4, 3, 3)])
    case("Resize linear 3-D", "Resize", [In(R(2, 3, 10)), None, F32(1, 1, 2.5)], opset=13, mode="linear")
    case("Resize nearest channel axis", "Resize", [x4, None, F32(1, 2, 1, 1)], opset=13)
    case("Resize-18 axes + not_larger", "Resize", [x4, None, None, I(20, 30)], opset=18, mode="linear",
         axes=[2, 3], keep_aspect_ratio_policy="not_larger")
    case("Resize-10 nearest down", "Resize", [x4, F32(1, 1, 0.5, 0.75)], opset=10)
    case("Resize-10 linear up", "Resize", [x4, F32(1, 1, 2, 1.5)], opset=10, mode="linear")
    case("Upsample-9 nearest x3", "Upsample", [x4, F32(1, 1, 3, 2)], opset=9)
    case("Upsample-9 linear x2", "Upsample", [x4, F32(1, 1, 2, 2)], opset=9, mode="linear")
    case("Upsample-7 attr", "Upsample", [x4], opset=7, scales=[1.0, 1.0, 2.0, 2.0])
    # --- pad ---
    case("Pad constant", "Pad", [x4, I(0, 0, 1, 2, 0, 0, 3, 0), F32(0.5)], opset=13)
    case("Pad negative", "Pad", [x4, I(0, 0, -1, 2, 0, 0, 1, -3)], opset=13)
    case("Pad reflect", "Pad", [x4, I(0, 0, 2, 3, 0, 0, 1, 2)], opset=13, mode="reflect")
    case("Pad edge", "Pad", [x4, I(0, 0, 3, 1, 0, 0, 0, 4)], opset=13, mode="edge")
    case("Pad edge channel axis", "Pad", [x4, I(0, 2, 0, 1, 0, 1, 0, 0)], opset=13, mode="edge")
    case("Pad reflect channels", "Pad", [x4, I(0, 2, 0, 0, 0, 1, 0, 0)], opset=13, mode="reflect")
    case("Pad wrap", "Pad", [x4, I(0, 0, 2, 1, 0, 0, 1, 3)], opset=19, mode="wrap")
    case("Pad-2 attr", "Pad", [x4], opset=2, pads=[0, 0, 1, 1, 0, 0, 2, 2], value=1.5)
    case("Pad-18 axes", "Pad", [x4, I(1, 2, 3, 0), F32(-1), I(-1, 1)], opset=18)
    # --- slice / gather / shapes ---
    case("Slice huge end step2", "Slice", [x4, I(1, 0), I(2 ** 63 - 1, 2 ** 63 - 1), I(3, 2), I(2, 3)])
    case("Slice negative", "Slice", [x4, I(-3, -8), I(-1, 100), I(2, 3)])
    case("Slice neg step", "Slice", [x4, I(-1, 7), I(-2 ** 63, 1), I(3, 2), I(-1, -2)])
    case("Slice neg step clamp", "Slice", [x4, I(100), I(-100), I(-1), I(-3)])
    case("Slice-9 attr", "Slice", [x4], opset=9, starts=[1, 2], ends=[3, 1000], axes=[1, 3])
    # starts / ends computed from input data: run-time values of the trace (traced with others)
    case("Slice run-time ends", "Slice", [x4, I(0, 1), In(I(3, -2)), I(1, 3)], trace_inputs=[x4.arr, I(2, 7)])
    case("Slice run-time starts step2", "Slice", [x4, In(I(-7, 1)), I(BIG, 8), I(2, 3), I(1, 2)],
         trace_inputs=[x4.arr, I(2, 0)])
    runtime_shape_case()
    case("Gather neg idx", "Gather", [x4, I(-1, 0, 2)], axis=1)
    case("Gather scalar idx", "Gather", [x4, np.array(-2, dtype=np.int64)], axis=3)
    case("Gather 2-D idx", "Gather", [x4, np.array([[0, 8], [-3, 4]], dtype=np.int64)], axis=2)
    case("GatherElements", "GatherElements", [x4, rng.integers(-4, 4, size=(1, 3, 9, 11))], axis=1)
    case("GatherND", "GatherND", [x4, np.array([[[0, 1], [0, -1]], [[0, 2], [0, 0]]], np.int64)])
    case("ScatterND", "ScatterND", [x4, np.array([[0, 1, 3], [0, 3, 0]], np.int64), R(2, 11)])
    case("ScatterND add", "ScatterND", [x4, np.array([[0, 1], [0, 1]], np.int64), R(2, 9, 11)], opset=16,
         reduction="add")
    case("ScatterElements", "ScatterElements", [x4, np.array([[[[1, -2, 3]]]], np.int64), R(1, 1, 1, 3)], axis=3)
    case("OneHot", "OneHot", [In(np.array([[1, -1], [4, 0]], np.int64)), np.array(3, np.int64),
                              F32(-1, 2)], opset=11, axis=1)
    case("Reshape 0 -1", "Reshape", [x4, I(0, -1, 11)])
    case("Reshape allowzero", "Reshape", [In(R(2, 3, 4)), I(4, 6)], opset=14, allowzero=1)
    case("Flatten 0", "Flatten", [x4], axis=0)
    case("Flatten 2", "Flatten", [x4], axis=2)
    case("Flatten -1", "Flatten", [x4], axis=-1)
    case("Flatten 4", "Flatten", [x4], axis=4)
    case("Transpose default", "Transpose", [x4])
    case("Transpose perm", "Transpose", [x4], perm=[0, 2, 3, 1])
    case("Squeeze-11", "Squeeze", [In(R(1, 3, 1, 5))], opset=11, axes=[0, -2])
    case("Squeeze-13 all", "Squeeze", [In(R(1, 3, 1, 5))])
    case("Unsqueeze-11", "Unsqueeze", [In(R(3, 5))], opset=11, axes=[0, 3])
    case("Unsqueeze-13 neg", "Unsqueeze", [In(R(3, 5)), I(-1, 1)])
    case("Concat -1", "Concat", [x4, In(R(1, 4, 9, 2))], axis=-1)
    case("Split-11 attr", "Split", [x4], opset=11, nout=3, axis=3, split=[2, 4, 5])
    case("Split-13 equal", "Split", [In(R(2, 6, 3))], nout=3, axis=1)
    case("Split-13 input", "Split", [x4, I(5, 6)], nout=2, axis=-1)
    case("Split-18 num_outputs", "Split", [x4], opset=18, nout=3, axis=3, num_outputs=3)
    case("Shape-15 start end", "Shape", [x4], opset=15, start=1, end=-1)
    case("Size", "Size", [x4])
    case("ConstantOfShape", "ConstantOfShape", [In(I(2, 3))], value=numpy_helper.from_array(F32(2.5)))
    case("Expand bidirectional", "Expand", [In(R(3, 1)), I(2, 1, 6)])
    case("Tile", "Tile", [In(R(2, 3)), I(2, 3)])
    case("Range float", "Range", [In(np.array(1.0, np.float32)), np.array(5.5, np.float32), np.array(0.7, np.float32)])
    case("Range int", "Range", [In(np.array(10, np.int64)), np.array(1, np.int64), np.array(-3, np.int64)])
    case("DepthToSpace DCR", "DepthToSpace", [In(R(1, 8, 3, 4))], blocksize=2)
    case("DepthToSpace CRD", "DepthToSpace", [In(R(1, 8, 3, 4))], blocksize=2, mode="CRD")
    case("SpaceToDepth", "SpaceToDepth", [In(R(1, 2, 6, 4))], blocksize=2)
    case("Trilu lower", "Trilu", [In(R(2, 4, 5)), np.array(1, np.int64)], opset=14, upper=0)
    # --- math ---
    case("Softmax-11 coerced", "Softmax", [x4], opset=11, axis=1)
    case("Softmax-13", "Softmax", [x4], axis=1)
    case("LogSoftmax-13", "LogSoftmax", [x4], axis=-1)
    case("MatMul batched", "MatMul", [In(R(2, 1, 3, 4)), R(5, 4, 6)])
    case("Gemm transB", "Gemm", [In(R(3, 4)), R(5, 4), R(5)], transB=1, alpha=0.5, beta=2.0)
    case("Gemm transA", "Gemm", [In(R(4, 3)), R(4, 5)], transA=1)
    case("Einsum", "Einsum", [In(R(2, 3, 4)), R(2, 4, 5)], opset=12, equation="bij, bjk -> bik")
    case("ReduceMean-13 attr", "ReduceMean", [x4], axes=[1, -1], keepdims=0)
    case("ReduceMean-18 input", "ReduceMean", [x4, I(2)], opset=18)
    case("ReduceSum-13 input", "ReduceSum", [x4, I(-2, 1)], keepdims=1)
    case("ReduceSum noop", "ReduceSum", [x4, np.zeros(0, np.int64)], noop_with_empty_axes=1)
    case("ReduceMax all", "ReduceMax", [x4], keepdims=0)
    case("ReduceMin-18", "ReduceMin", [x4, I(1)], opset=18, keepdims=0)
    case("ReduceProd", "ReduceProd", [In(R(2, 3, 4, lo=0.5, hi=1.5))], axes=[0, 2])
    case("ReduceL2", "ReduceL2", [x4], axes=[1])
    case("ReduceLogSumExp", "ReduceLogSumExp", [x4], axes=[3])
    case("ArgMax last", "ArgMax", [In(np.array([[1, 3, 3, 0], [2, 2, 1, 2]], np.float32))], axis=1, select_last_index=1)
    case("ArgMin", "ArgMin", [x4], axis=2, keepdims=0)
    case("CumSum excl rev", "CumSum", [x4, np.array(3, np.int64)], exclusive=1, reverse=1)
    case("Clip-6 attr", "Clip", [x4], opset=6, min=-0.5, max=1.0)
    case("Clip-13 min only", "Clip", [x4, np.array(-0.3, np.float32)])
    case("PRelu channel", "PRelu", [x4, R(4, 1, 1)])
    case("LeakyRelu", "LeakyRelu", [x4], alpha=0.2)
    case("HardSigmoid", "HardSigmoid", [x4], alpha=0.3, beta=0.4)
    case("HardSwish", "HardSwish", [In(R(2, 50, lo=-5, hi=5))], opset=14)
    case("Elu", "Elu", [x4], alpha=0.7)
    case("Selu", "Selu", [x4])
    case("Softplus", "Softplus", [x4])
    case("Gelu tanh", "Gelu", [x4], opset=20, approximate="tanh")
    for op in ("Relu", "Sigmoid", "Tanh", "Exp", "Abs", "Neg", "Erf", "Sin", "Cos", "Floor", "Ceil", "Round",
               "Sign", "Softsign"):
        case(op, op, [x4])
    case("Sqrt", "Sqrt", [In(R(3, 4, lo=0, hi=3))])
    case("Log", "Log", [In(R(3, 4, lo=0.1, hi=3))])
    case("Reciprocal", "Reciprocal", [In(R(3, 4, lo=0.5, hi=3))])
    case("Pow", "Pow", [In(R(3, 4, lo=0.1, hi=2)), F32(2.5)])
    case("Pow int exponent", "Pow", [x4, np.array(3, np.int64)])
    for op in ("Add", "Sub", "Mul", "Div"):
        case(op + " bcast", op, [x4, R(4, 1, 11, lo=0.5, hi=2)])
    case("Div int", "Div", [In(np.array([7, -7, 9, -1], np.int64)), I(2, 2, -4, 3)])
    case("Mod", "Mod", [In(np.array([7, -7, 9, -1], np.int64)), I(3, 3, -4, 3)])
    case("Mod fmod", "Mod", [x4, F32(0.7)], fmod=1)
    case("Max variadic", "Max", [x4, R(4, 1, 1), R(11)])
    case("Min variadic", "Min", [x4, R(1, 11)])
    case("Sum variadic", "Sum", [x4, R(11), R(9, 1)])
    case("Mean variadic", "Mean", [x4, R(11)])
    case("Where", "Where", [np.array([True, False] * 5 + [True]), x4, R(1)], opset=16)
    for op in ("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"):
        case(op, op, [In(np.array([1, 2, 3, 4], np.float32)), F32(2, 2, 4, 1)], opset=16)
    case("Not", "Not", [In(np.array([True, False]))])
    case("And", "And", [In(np.array([True, False, True])), np.array([True, True, False])])
    case("Cast float->int", "Cast", [x4], to=TensorProto.INT32)
    case("Cast float->bool", "Cast", [In(F32(0, 1.5, -2, 0))], to=TensorProto.BOOL)
    case("Identity", "Identity", [x4])
    case("Dropout", "Dropout", [x4], opset=12)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="", help="only cases whose name contains this")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    build_cases()
    cases = [c for c in CASES if args.k.lower() in c[0].lower()]
    import torch
    torch.set_num_threads(2)
    work = tempfile.mkdtemp(prefix="onnx-ops-")
    results, jobs = [], []
    try:
        for k, (name, m, feeds, trace_inputs) in enumerate(cases):
            path = os.path.join(work, "c%d.onnx" % k)
            ins = onnx2ts.graph_inputs(m)
            try:
                onnx2ts.check_ops(m, name)
                traced, _ = onnx2ts.to_torchscript(m, name, ins, None, sample=trace_inputs or feeds)
                with torch.no_grad():
                    y = traced(*[torch.from_numpy(f) for f in feeds])
                got = [y] if isinstance(y, torch.Tensor) else list(y)
                # onnxruntime wants typed outputs: declare the element types torch produced (a
                # wrong type then shows up as an onnxruntime load error)
                for o, t in zip(m.graph.output, got):
                    o.type.tensor_type.elem_type = TORCH2ONNX[t.dtype]
                results.append([t.double().numpy() for t in got])
            except onnx2ts.ConvertError as e:
                results.append("convert: %s" % e)
            onnx.save(m, path)
            jobs.append((path, [n for n, _, _ in ins], feeds, [o.name for o in m.graph.output]))
        try:
            refs = onnx2ts.run_ort(jobs, 2)
        except RuntimeError as e:
            print("skip: %s" % e)
            return 77
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bad = 0
    for (name, _, _, _), got, ref in zip(cases, results, refs):
        if isinstance(got, str) or isinstance(ref, str):
            ok, msg = False, got if isinstance(got, str) else "onnxruntime: %s" % ref
        else:
            recs = [onnx2ts.compare("y%d" % i, g, r) for i, (g, r) in enumerate(zip(got, ref))]
            ok = all(r["ok"] and "ref_shape" not in r for r in recs)
            msg = "; ".join("%s ratio %.1e" % (r["shape"], r["ratio"]) if r["ratio"] is not None
                            else "shape %s vs %s" % (r["shape"], r.get("ref_shape")) for r in recs)
        bad += not ok
        if args.v or not ok:
            print("%-4s %-40s %s" % ("ok" if ok else "FAIL", name, msg))
    print("%d cases, %d failed" % (len(cases), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
