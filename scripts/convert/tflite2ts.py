#!/usr/bin/python3
"""Convert a float32 TFLite model into a TorchScript module.

    tflite2ts.py IN.tflite OUT.pt [--check] [--check-image PNG] [--info]

The TFLite flatbuffer is read with a small self-contained reader (no
tensorflow / flatbuffers package needed).  The resulting TorchScript module

  * takes one NCHW float tensor [B, C, H, W] (same value range as the TFLite
    model's NHWC input, e.g. RGB/255 for PyDNet),
  * runs internally in NCHW,
  * returns the graph outputs in TFLite order; 4-D outputs are NCHW
    ([B, 1, H, W] for a depth map).  A single output is returned as a tensor,
    several as a tuple.

Spatial size is fixed to the TFLite input size (the graph is traced there).
A JSON description of the interface is stored in the archive as extra file
"tflite2ts.json".

--check runs the saved TorchScript file and an independent NumPy interpreter
(NHWC, written separately from the torch path) on a seeded random input and on
a real image, prints one JSON line per output and exits 1 when
maxdiff / output range exceeds 1e-4.  OUT is only written when the conversion
(and, with --check, the parity test) succeeds.

Exit status: 0 ok, 1 parity failure, 2 unreadable / corrupt / unsupported model.
"""

import argparse
import json
import os
import struct
import sys
import tempfile
import time

# the reference interpreter's matmuls are small; spinning BLAS threads only hurt on shared cores
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

PROG = "tflite2ts"
DEFAULT_IMAGE = "/usr/lib/python3/dist-packages/skimage/data/motorcycle_left.png"
RATIO_TOL = 1e-4


class ConvertError(Exception):
    """Reported as a one-line error, exit status 2."""


class FormatError(ConvertError):
    pass


class UnsupportedError(ConvertError):
    pass


# --------------------------------------------------------------------------
# Minimal FlatBuffers reader (little endian, bounds checked everywhere)
# --------------------------------------------------------------------------

class FlatBuffer:
    def __init__(self, data):
        self.data = data
        self.size = len(data)

    def need(self, pos, nbytes, what="value"):
        if pos < 0 or nbytes < 0 or pos + nbytes > self.size:
            raise FormatError("corrupt or truncated flatbuffer: %s at byte %d (+%d) outside the "
                              "file (%d bytes)" % (what, pos, nbytes, self.size))

    def unpack(self, fmt, pos, what="value"):
        n = struct.calcsize(fmt)
        self.need(pos, n, what)
        return struct.unpack_from(fmt, self.data, pos)[0]

    def uoffset(self, pos, what="offset"):
        """Follow an unsigned 32-bit offset stored at pos (relative to pos)."""
        off = self.unpack("<I", pos, what)
        target = pos + off
        self.need(target, 4, what + " target")
        return target

    def root(self):
        if self.size < 8:
            raise FormatError("file too short for a flatbuffer (%d bytes)" % self.size)
        return Table(self, self.uoffset(0, "root table offset"))


class Table:
    """One flatbuffer table: a soffset to its vtable, then inline fields."""

    def __init__(self, fb, pos):
        self.fb = fb
        self.pos = pos
        vt = pos - fb.unpack("<i", pos, "vtable offset")
        vt_size = fb.unpack("<H", vt, "vtable size")
        if vt_size < 4 or vt_size % 2:
            raise FormatError("corrupt flatbuffer: bad vtable size %d at byte %d" % (vt_size, vt))
        fb.need(vt, vt_size, "vtable")
        self.tbl_size = fb.unpack("<H", vt + 2)
        fb.need(pos, max(self.tbl_size, 4), "table")
        self.vt = vt
        self.nfields = (vt_size - 4) // 2

    def field_pos(self, idx):
        if idx >= self.nfields:
            return None
        off = self.fb.unpack("<H", self.vt + 4 + 2 * idx)
        if off == 0:
            return None
        if off >= self.tbl_size:
            raise FormatError("corrupt flatbuffer: field %d offset %d beyond table size %d"
                              % (idx, off, self.tbl_size))
        return self.pos + off

    def scalar(self, idx, fmt, default=0):
        p = self.field_pos(idx)
        return default if p is None else self.fb.unpack("<" + fmt, p, "field %d" % idx)

    def table(self, idx):
        p = self.field_pos(idx)
        return None if p is None else Table(self.fb, self.fb.uoffset(p, "table field %d" % idx))

    def _vector(self, idx, elem_size):
        p = self.field_pos(idx)
        if p is None:
            return None, 0
        start = self.fb.uoffset(p, "vector field %d" % idx)
        n = self.fb.unpack("<I", start, "vector length")
        self.fb.need(start + 4, n * elem_size, "vector of %d x %d bytes" % (n, elem_size))
        return start + 4, n

    def array(self, idx, dtype):
        """Vector of scalars as a numpy array (a copy); empty if absent."""
        dt = np.dtype(dtype).newbyteorder("<")
        start, n = self._vector(idx, dt.itemsize)
        if start is None:
            return np.zeros((0,), dt)
        return np.frombuffer(self.fb.data, dt, n, start).copy()

    def raw_bytes(self, idx):
        start, n = self._vector(idx, 1)
        if start is None:
            return b""
        return self.fb.data[start:start + n]

    def tables(self, idx):
        start, n = self._vector(idx, 4)
        if start is None:
            return []
        return [Table(self.fb, self.fb.uoffset(start + 4 * i, "vector element")) for i in range(n)]

    def string(self, idx, default=""):
        start, n = self._vector(idx, 1)
        if start is None:
            return default
        return bytes(self.fb.data[start:start + n]).decode("utf-8", "replace")

    def union(self, type_idx):
        """A union occupies two slots: its type (ubyte) at type_idx, its table at type_idx+1."""
        utype = self.scalar(type_idx, "B", 0)
        if utype == 0:
            return 0, None
        return utype, self.table(type_idx + 1)


# --------------------------------------------------------------------------
# TFLite schema subset
# --------------------------------------------------------------------------

BUILTIN_NAMES = (
    "ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE "
    "EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D "
    "LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 "
    "RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS SKIP_GRAM "
    "CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER BATCH_TO_SPACE_ND "
    "SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE "
    "BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM "
    "CAST PRELU MAXIMUM ARG_MAX MINIMUM LESS NEG PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT "
    "SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE TILE EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT "
    "SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND "
    "LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE "
    "RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL "
    "REVERSE_V2 ADD_N GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE "
    "MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 "
    "SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM "
    "CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND "
    "HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE "
    "ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL "
    "GELU DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX "
    "UNSORTED_SEGMENT_SUM ATAN2 UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT"
).split()


def op_name(code):
    return BUILTIN_NAMES[code] if 0 <= code < len(BUILTIN_NAMES) else "BUILTIN_%d" % code


OP = {name: i for i, name in enumerate(BUILTIN_NAMES)}

# TensorType -> numpy dtype (only what a float model's graph can reasonably hold)
TENSOR_TYPES = {0: ("FLOAT32", np.float32), 1: ("FLOAT16", np.float16), 2: ("INT32", np.int32),
                3: ("UINT8", np.uint8), 4: ("INT64", np.int64), 5: ("STRING", None),
                6: ("BOOL", np.bool_), 7: ("INT16", np.int16), 8: ("COMPLEX64", np.complex64),
                9: ("INT8", np.int8), 10: ("FLOAT64", np.float64)}

# builtin code -> (BuiltinOptions union type, [(field, struct fmt, default), ...] in slot order)
OPTION_TABLES = {
    OP["CONV_2D"]: (1, [("padding", "b", 0), ("stride_w", "i", 0), ("stride_h", "i", 0),
                        ("fused_activation_function", "b", 0),
                        ("dilation_w_factor", "i", 1), ("dilation_h_factor", "i", 1)]),
    OP["CONCATENATION"]: (10, [("axis", "i", 0), ("fused_activation_function", "b", 0)]),
    OP["ADD"]: (11, [("fused_activation_function", "b", 0)]),
    OP["RESIZE_BILINEAR"]: (15, [("new_height", "i", 0), ("new_width", "i", 0),
                                 ("align_corners", "B", 0), ("half_pixel_centers", "B", 0)]),
    OP["MUL"]: (21, [("fused_activation_function", "b", 0)]),
    OP["STRIDED_SLICE"]: (32, [("begin_mask", "i", 0), ("end_mask", "i", 0),
                               ("ellipsis_mask", "i", 0), ("new_axis_mask", "i", 0),
                               ("shrink_axis_mask", "i", 0), ("offset", "B", 0)]),
    OP["MAXIMUM"]: (39, []),
    OP["TRANSPOSE_CONV"]: (49, [("padding", "b", 0), ("stride_w", "i", 0), ("stride_h", "i", 0),
                                ("fused_activation_function", "b", 0)]),
}
SUPPORTED_OPS = set(OPTION_TABLES)

PADDING = {0: "SAME", 1: "VALID"}
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


class TTensor:
    def __init__(self, index, name, shape, type_name, dtype, data, quant):
        self.index = index
        self.name = name
        self.shape = tuple(int(s) for s in shape)
        self.type_name = type_name
        self.dtype = dtype
        self.data = data          # numpy array (NHWC, TFLite order) for constants, else None
        self.quant = quant

    @property
    def is_const(self):
        return self.data is not None

    @property
    def is_quantized_const(self):
        return (self.data is not None and self.quant is not None
                and self.type_name in ("INT8", "UINT8", "INT16"))

    def float_data(self):
        """Constant as float32.  Weight-only ("hybrid" / dynamic-range) quantized constants are
        dequantized: real = scale * (q - zero_point), per tensor or per quantized_dimension."""
        if self.data is None:
            return None
        if not self.is_quantized_const:
            return self.data.astype(np.float32)
        q = self.quant
        scale = np.asarray(q["scale"], np.float32)
        zp = np.asarray(q["zero_point"] or [0], np.float32)
        if scale.size > 1:
            bshape = [1] * self.data.ndim
            bshape[q["quantized_dimension"]] = scale.size
            scale = scale.reshape(bshape)
            if zp.size > 1:
                zp = zp.reshape(bshape)
        return ((self.data.astype(np.float32) - zp) * scale).astype(np.float32)


class TOp:
    def __init__(self, index, code, name, inputs, outputs, options):
        self.index = index
        self.code = code
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.options = options


class TModel:
    def __init__(self, path, version, description, tensors, ops, inputs, outputs):
        self.path = path
        self.version = version
        self.description = description
        self.tensors = tensors
        self.ops = ops
        self.inputs = inputs
        self.outputs = outputs

    def op_counts(self):
        counts = {}
        for op in self.ops:
            counts[op.name] = counts.get(op.name, 0) + 1
        return counts


def _parse_options(op_table, code, opi):
    utype, tbl = op_table.union(3)
    spec = OPTION_TABLES.get(code)
    if spec is None:
        return {}
    want_type, fields = spec
    if utype not in (0, want_type):
        raise FormatError("corrupt model: operator %d (%s) has builtin options of union type %d, "
                          "expected %d" % (opi, op_name(code), utype, want_type))
    opts = {}
    for slot, (fname, fmt, default) in enumerate(fields):
        opts[fname] = tbl.scalar(slot, fmt, default) if tbl is not None else default
    return opts


def parse_tflite(path, data=None):
    """Read a .tflite file into a TModel (subgraph 0).  Raises ConvertError."""
    if data is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ConvertError("cannot read: %s" % (e.strerror or e))
    fb = FlatBuffer(data)
    try:
        model = fb.root()
        if len(data) >= 8 and data[4:8] != b"TFL3":
            raise FormatError("not a TFLite flatbuffer (file identifier %r, expected 'TFL3')"
                              % bytes(data[4:8]))
        version = model.scalar(0, "I", 0)
        if version != 3:
            raise FormatError("unsupported TFLite schema version %d (expected 3)" % version)
        description = model.string(3)

        opcodes = []
        for oc in model.tables(1):
            dep = oc.scalar(0, "b", 0)
            ext = oc.scalar(3, "i", 0)
            # the larger of the two is the real code (deprecated field saturates at 127)
            code = max(dep, ext)
            opcodes.append((code, oc.string(1), oc.scalar(2, "i", 1)))

        buffers = []
        for b in model.tables(4):
            raw = b.raw_bytes(0)
            off, size = b.scalar(1, "Q", 0), b.scalar(2, "Q", 0)
            if not raw and off > 1:
                fb.need(off, size, "external buffer")
                raw = data[off:off + size]
            buffers.append(raw)

        subgraphs = model.tables(2)
        if not subgraphs:
            raise FormatError("model has no subgraph")
        sg = subgraphs[0]

        tensors = []
        for ti, t in enumerate(sg.tables(0)):
            shape = t.array(0, np.int32)
            ttype = t.scalar(1, "b", 0)
            bidx = t.scalar(2, "I", 0)
            name = t.string(3)
            q = t.table(4)
            quant = None
            if q is not None:
                scale = q.array(2, np.float32)
                zp = q.array(3, np.int64)
                if scale.size:
                    quant = {"scale": scale.tolist(), "zero_point": zp.tolist(),
                             "quantized_dimension": q.scalar(6, "i", 0)}
            if ttype not in TENSOR_TYPES:
                raise FormatError("tensor %d (%s) has unknown type %d" % (ti, name, ttype))
            type_name, dtype = TENSOR_TYPES[ttype]
            if bidx >= len(buffers):
                raise FormatError("tensor %d (%s) refers to buffer %d of %d"
                                  % (ti, name, bidx, len(buffers)))
            arr = None
            raw = buffers[bidx]
            if bidx != 0 and len(raw):
                if dtype is None:
                    raise UnsupportedError("tensor %s of type %s" % (name, type_name))
                count = int(np.prod(shape)) if shape.size else 1
                dt = np.dtype(dtype).newbyteorder("<")
                if count * dt.itemsize != len(raw):
                    raise FormatError("tensor %d (%s): buffer has %d bytes, shape %s x %s needs %d"
                                      % (ti, name, len(raw), shape.tolist(), type_name,
                                         count * dt.itemsize))
                arr = np.frombuffer(bytes(raw), dt).reshape(shape.tolist()).astype(dtype)
            tensors.append(TTensor(ti, name, shape, type_name, dtype, arr, quant))

        ntensors = len(tensors)

        def idx_list(arr, what):
            out = [int(v) for v in arr]
            for v in out:
                if v < -1 or v >= ntensors:
                    raise FormatError("%s refers to tensor %d of %d" % (what, v, ntensors))
            return out

        ops = []
        for opi, o in enumerate(sg.tables(3)):
            oci = o.scalar(0, "I", 0)
            if oci >= len(opcodes):
                raise FormatError("operator %d uses opcode %d of %d" % (opi, oci, len(opcodes)))
            code, custom, _ver = opcodes[oci]
            name = ("CUSTOM(%s)" % custom) if code == OP["CUSTOM"] else op_name(code)
            ins = idx_list(o.array(1, np.int32), "operator %d input" % opi)
            outs = idx_list(o.array(2, np.int32), "operator %d output" % opi)
            opts = _parse_options(o, code, opi)
            ops.append(TOp(opi, code, name, ins, outs, opts))

        inputs = idx_list(sg.array(1, np.int32), "subgraph input")
        outputs = idx_list(sg.array(2, np.int32), "subgraph output")
    except (struct.error, ValueError, IndexError, OverflowError, MemoryError) as e:
        raise FormatError("corrupt flatbuffer: %s" % e)
    return TModel(path, version, description, tensors, ops, inputs, outputs)


def validate(model):
    """Reject what the converter cannot express.  Unsupported ops are reported by name."""
    for op in model.ops:
        if op.code not in SUPPORTED_OPS:
            raise UnsupportedError("unsupported TFLite op %s" % op.name)
    if len(model.inputs) != 1:
        raise UnsupportedError("%d graph inputs (only single-input models are supported)"
                               % len(model.inputs))
    x = model.tensors[model.inputs[0]]
    if len(x.shape) != 4 or x.type_name != "FLOAT32":
        raise UnsupportedError("graph input %s is %s %s (need float32 NHWC)"
                               % (x.name, x.type_name, list(x.shape)))
    used = {i for op in model.ops for i in op.inputs + op.outputs if i >= 0}
    for t in model.tensors:
        if t.index in used and not t.is_const and t.type_name != "FLOAT32":
            raise UnsupportedError("non-float activation tensor %s (%s); only float models "
                                   "(optionally with weight-only quantized constants) are supported"
                                   % (t.name, t.type_name))
    produced = set(model.inputs)
    for op in model.ops:
        for i in op.inputs:
            if i >= 0 and not model.tensors[i].is_const and i not in produced:
                raise FormatError("operator %d (%s) reads tensor %d (%s) before it is computed"
                                  % (op.index, op.name, i, model.tensors[i].name))
        produced.update(op.outputs)
    for i in model.outputs:
        if i not in produced:
            raise FormatError("graph output %d (%s) is never computed" % (i, model.tensors[i].name))
    for t in model.tensors:
        if any(d < 0 for d in t.shape) or int(np.prod(t.shape, dtype=np.float64)) > (1 << 31):
            raise FormatError("tensor %d (%s) has an invalid shape %s" % (t.index, t.name, list(t.shape)))
    for op in model.ops:
        if not op.outputs or any(i < 0 for i in op.outputs):
            raise FormatError("operator %d (%s) has no output" % (op.index, op.name))
        want_in = {"CONV_2D": 2, "TRANSPOSE_CONV": 3, "ADD": 2, "MUL": 2, "MAXIMUM": 2,
                   "CONCATENATION": 1, "STRIDED_SLICE": 4, "RESIZE_BILINEAR": 2}[op.name]
        if len(op.inputs) < want_in or any(i < 0 for i in op.inputs[:want_in]):
            raise FormatError("operator %d (%s) has %d inputs" % (op.index, op.name, len(op.inputs)))
        if op.name in ("ADD", "MUL", "MAXIMUM") and len(op.inputs) != 2:
            raise FormatError("operator %d (%s) has %d inputs" % (op.index, op.name, len(op.inputs)))
        act = op.options.get("fused_activation_function", 0)
        if act not in (0, 1, 2, 3, 4):
            raise UnsupportedError("fused activation %s in op %d (%s)"
                                   % (ACTIVATIONS.get(act, act), op.index, op.name))
        if op.code == OP["STRIDED_SLICE"]:
            if op.options["ellipsis_mask"] or op.options["new_axis_mask"]:
                raise UnsupportedError("STRIDED_SLICE with ellipsis/new_axis mask (op %d)" % op.index)
            for i in op.inputs[1:4]:
                if i < 0 or not model.tensors[i].is_const:
                    raise UnsupportedError("STRIDED_SLICE with non-constant begin/end/strides")
        out_shape = model.tensors[op.outputs[0]].shape
        if op.code == OP["RESIZE_BILINEAR"]:
            size = model.tensors[op.inputs[1]]
            if not size.is_const:
                raise UnsupportedError("RESIZE_BILINEAR with non-constant size")
            if len(out_shape) != 4 or list(size.data.reshape(-1)) != list(out_shape[1:3]):
                raise FormatError("RESIZE_BILINEAR op %d: size %s does not match output shape %s"
                                  % (op.index, size.data.reshape(-1).tolist(), list(out_shape)))
        if op.code == OP["TRANSPOSE_CONV"]:
            if not model.tensors[op.inputs[0]].is_const or not model.tensors[op.inputs[1]].is_const:
                raise UnsupportedError("TRANSPOSE_CONV with non-constant output shape or weights")
            oshape = model.tensors[op.inputs[0]].data.reshape(-1).tolist()
            if oshape[1:] != list(out_shape[1:]) or len(oshape) != 4:
                raise FormatError("TRANSPOSE_CONV op %d: output_shape %s does not match output "
                                  "tensor %s" % (op.index, oshape, list(out_shape)))
        if op.code in (OP["CONV_2D"], OP["TRANSPOSE_CONV"]):
            wi, bi = (1, 2) if op.code == OP["CONV_2D"] else (1, 3)
            if not model.tensors[op.inputs[wi]].is_const:
                raise UnsupportedError("%s with non-constant weights" % op.name)
            if len(op.inputs) > bi and op.inputs[bi] >= 0 and not model.tensors[op.inputs[bi]].is_const:
                raise UnsupportedError("%s with non-constant bias" % op.name)
            if len(model.tensors[op.inputs[wi]].shape) != 4:
                raise FormatError("%s op %d: weights are not 4-D" % (op.name, op.index))
        for i in op.inputs:
            t = model.tensors[i] if i >= 0 else None
            if t is not None and t.type_name not in ("FLOAT32", "INT32") \
                    and not t.is_quantized_const:
                raise UnsupportedError("tensor %s of type %s (op %d %s)"
                                       % (model.tensors[i].name, model.tensors[i].type_name,
                                          op.index, op.name))


def same_padding(in_size, k, stride, dilation=1):
    """TensorFlow 'SAME': out = ceil(in/stride); the odd pixel goes after (bottom/right)."""
    eff = (k - 1) * dilation + 1
    out = (in_size + stride - 1) // stride
    total = max((out - 1) * stride + eff - in_size, 0)
    return total // 2, total - total // 2


# --------------------------------------------------------------------------
# PyTorch module (NCHW)
# --------------------------------------------------------------------------

def build_torch_module(model):
    import torch
    import torch.nn.functional as F

    NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}

    def act_fn(x, code):
        if code == 1:
            return torch.relu(x)
        if code == 2:
            return torch.clamp(x, -1.0, 1.0)
        if code == 3:
            return torch.clamp(x, 0.0, 6.0)
        if code == 4:
            return torch.tanh(x)
        return x

    def to_nchw4(arr):
        """A native (TFLite layout) array of rank <= 4 -> rank-4 NCHW, numpy-broadcast style."""
        a = np.asarray(arr)
        a = a.reshape((1,) * (4 - a.ndim) + a.shape)
        return np.ascontiguousarray(a.transpose(0, 3, 1, 2))

    def t_to_nchw4(t):
        t = t.reshape([1] * (4 - t.dim()) + list(t.shape))
        return t.permute(0, 3, 1, 2)

    class Graph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.steps = []
            self._nbuf = 0
            self.check_shapes = False      # eager dry run only (not while tracing)

        def buf(self, arr, dtype=torch.float32):
            name = "c%d" % self._nbuf
            self._nbuf += 1
            self.register_buffer(name, torch.as_tensor(np.ascontiguousarray(arr)).to(dtype))
            return name

        def forward(self, x):
            env = {model.inputs[0]: x}
            for fn, op in self.steps:
                env[op.outputs[0]] = fn(self, env)
                if not self.check_shapes:
                    continue
                want = model.tensors[op.outputs[0]].shape
                got = env[op.outputs[0]]
                if len(want) == 4:
                    want = (want[0], want[3], want[1], want[2])
                if tuple(got.shape[1:]) != tuple(want[1:]):
                    raise ConvertError("internal shape mismatch after op %d (%s): got %s, TFLite "
                                       "says %s (NCHW)" % (op.index, op.name, list(got.shape),
                                                           list(want)))
            outs = [env[i] for i in model.outputs]
            return outs[0] if len(outs) == 1 else tuple(outs)

    g = Graph()
    T = model.tensors

    def rank(i):
        return len(T[i].shape)

    def make_conv(op):
        o = op.options
        w = T[op.inputs[1]].float_data()             # OHWI
        O, KH, KW, I = w.shape
        wname = g.buf(w.transpose(0, 3, 1, 2))       # OIHW
        bname = None
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bname = g.buf(T[op.inputs[2]].float_data().reshape(-1))
        _, H, W, C = T[op.inputs[0]].shape
        if C % I:
            raise UnsupportedError("CONV_2D with input channels %d not a multiple of %d" % (C, I))
        groups = C // I
        sh, sw = o["stride_h"], o["stride_w"]
        dh, dw = o["dilation_h_factor"], o["dilation_w_factor"]
        if min(sh, sw, dh, dw) < 1:
            raise FormatError("CONV_2D op %d has stride/dilation < 1" % op.index)
        if PADDING.get(o["padding"]) == "SAME":
            pt, pb = same_padding(H, KH, sh, dh)
            pl, pr = same_padding(W, KW, sw, dw)
        else:
            pt = pb = pl = pr = 0
        act = o["fused_activation_function"]
        src = op.inputs[0]

        def fn(m, env):
            x = env[src]
            if (pt, pl) == (pb, pr):
                pad = (pt, pl)
            else:
                x = F.pad(x, (pl, pr, pt, pb))
                pad = (0, 0)
            y = F.conv2d(x, getattr(m, wname), getattr(m, bname) if bname else None,
                         stride=(sh, sw), padding=pad, dilation=(dh, dw), groups=groups)
            return act_fn(y, act)
        return fn

    def make_tconv(op):
        o = op.options
        out_shape = [int(v) for v in T[op.inputs[0]].data.reshape(-1)]   # N H W C
        w = T[op.inputs[1]].float_data()                                  # O H W I
        O, KH, KW, I = w.shape
        wname = g.buf(w.transpose(3, 0, 1, 2))                            # I O H W
        src = op.inputs[2]
        bname = None
        if len(op.inputs) > 3 and op.inputs[3] >= 0:
            bname = g.buf(T[op.inputs[3]].float_data().reshape(-1))
        _, H, W, C = T[src].shape
        sh, sw = o["stride_h"], o["stride_w"]
        if min(sh, sw) < 1:
            raise FormatError("TRANSPOSE_CONV op %d has stride < 1" % op.index)
        OH, OW = out_shape[1], out_shape[2]
        if PADDING.get(o["padding"]) == "SAME":
            pt, _ = same_padding(OH, KH, sh)
            pl, _ = same_padding(OW, KW, sw)
        else:
            pt = pl = 0
        full_h, full_w = (H - 1) * sh + KH, (W - 1) * sw + KW
        extra_h = max(pt + OH - full_h, 0)
        extra_w = max(pl + OW - full_w, 0)
        act = o["fused_activation_function"]

        def fn(m, env):
            y = F.conv_transpose2d(env[src], getattr(m, wname), None, stride=(sh, sw))
            if extra_h or extra_w:
                y = F.pad(y, (0, extra_w, 0, extra_h))
            y = y[:, :, pt:pt + OH, pl:pl + OW]
            if bname:
                y = y + getattr(m, bname).view(1, -1, 1, 1)
            return act_fn(y, act)
        return fn

    def operand_getters(op, out_rank):
        getters = []
        for i in op.inputs:
            if T[i].is_const:
                arr = T[i].float_data()
                if out_rank == 4:
                    arr = to_nchw4(arr)
                name = g.buf(arr)
                getters.append(lambda m, env, name=name: getattr(m, name))
            elif out_rank == 4 and rank(i) != 4:
                getters.append(lambda m, env, i=i: t_to_nchw4(env[i]))
            else:
                getters.append(lambda m, env, i=i: env[i])
        return getters

    def make_eltwise(op):
        out_rank = rank(op.outputs[0])
        a, b = operand_getters(op, out_rank)
        act = op.options.get("fused_activation_function", 0)
        kind = op.name

        def fn(m, env):
            x, y = a(m, env), b(m, env)
            if kind == "ADD":
                r = x + y
            elif kind == "MUL":
                r = x * y
            else:
                r = torch.maximum(x, y)
            return act_fn(r, act)
        return fn

    def make_concat(op):
        r = rank(op.outputs[0])
        axis = op.options["axis"]
        if axis < 0:
            axis += r
        if r == 4:
            axis = NHWC_TO_NCHW_AXIS[axis]
        getters = operand_getters(op, r)
        act = op.options["fused_activation_function"]

        def fn(m, env):
            return act_fn(torch.cat([gt(m, env) for gt in getters], dim=axis), act)
        return fn

    def make_slice(op):
        o = op.options
        src = op.inputs[0]
        shape = T[src].shape
        r = len(shape)
        begin = T[op.inputs[1]].data.reshape(-1).astype(np.int64)
        end = T[op.inputs[2]].data.reshape(-1).astype(np.int64)
        strides = T[op.inputs[3]].data.reshape(-1).astype(np.int64)
        per_axis = []          # (kind, payload) per NHWC axis
        for ax in range(r):
            dim = shape[ax]
            if ax >= len(begin):
                per_axis.append(list(range(dim)))
                continue
            s = int(strides[ax])
            if s == 0:
                raise FormatError("STRIDED_SLICE op %d has stride 0" % op.index)
            shrink = (o["shrink_axis_mask"] >> ax) & 1
            b = int(begin[ax])
            if shrink:
                bb = b + dim if b < 0 else b
                if not 0 <= bb < dim:
                    raise FormatError("STRIDED_SLICE op %d: shrink index out of range" % op.index)
                per_axis.append([bb])
                continue
            e = int(end[ax])
            if o["offset"]:
                e = b + e
            lo, hi = (0, dim) if s > 0 else (-1, dim - 1)
            if (o["begin_mask"] >> ax) & 1:
                bb = lo if s > 0 else hi
            else:
                bb = min(max(b + dim if b < 0 else b, lo), hi)
            if (o["end_mask"] >> ax) & 1:
                ee = hi if s > 0 else lo
            else:
                ee = min(max(e + dim if e < 0 else e, lo), hi)
            per_axis.append(list(range(bb, ee, s)))
        shrink_axes = [ax for ax in range(min(r, len(begin))) if (o["shrink_axis_mask"] >> ax) & 1]
        # map NHWC axis -> internal axis
        axes_internal = [NHWC_TO_NCHW_AXIS[ax] if r == 4 else ax for ax in range(r)]
        plan = []
        for ax in range(r):
            idx = per_axis[ax]
            dim = shape[ax]
            if idx == list(range(dim)):
                continue
            tax = axes_internal[ax]
            if len(idx) > 0 and all(idx[k + 1] - idx[k] == idx[1] - idx[0] for k in range(len(idx) - 1)) \
                    and (len(idx) == 1 or idx[1] > idx[0]):
                step = idx[1] - idx[0] if len(idx) > 1 else 1
                plan.append(("narrow", tax, idx[0], len(idx), step))
            else:
                plan.append(("index", tax, g.buf(np.array(idx, np.int64), torch.int64)))
        out_rank = rank(op.outputs[0])

        def fn(m, env):
            x = env[src]
            for p in plan:
                if p[0] == "narrow":
                    _, tax, start, n, step = p
                    sl = [slice(None)] * x.dim()
                    sl[tax] = slice(start, start + (n - 1) * step + 1, step)
                    x = x[tuple(sl)]
                else:
                    x = torch.index_select(x, p[1], getattr(m, p[2]))
            if shrink_axes:
                if r == 4:
                    x = x.permute(0, 2, 3, 1)          # back to native layout
                x = _squeeze(x, shrink_axes)
                if out_rank == 4:
                    x = x.permute(0, 3, 1, 2)
            return x
        return fn

    def _squeeze(x, axes):
        for ax in sorted(axes, reverse=True):
            x = x.squeeze(ax)
        return x

    def make_resize(op):
        o = op.options
        src = op.inputs[0]
        _, H, W, C = T[src].shape
        OH, OW = [int(v) for v in T[op.inputs[1]].data.reshape(-1)]
        ac, hp = bool(o["align_corners"]), bool(o["half_pixel_centers"])
        if ac and hp:
            raise UnsupportedError("RESIZE_BILINEAR with both align_corners and half_pixel_centers")
        if hp:
            def fn(m, env):
                return F.interpolate(env[src], size=(OH, OW), mode="bilinear", align_corners=False)
            return fn
        if ac and OH > 1 and OW > 1:
            def fn(m, env):
                return F.interpolate(env[src], size=(OH, OW), mode="bilinear", align_corners=True)
            return fn

        # legacy TF1 mode: src = dst * in / out, no half-pixel offset; separable gather + lerp
        def axis_tables(n_in, n_out):
            scale = (n_in - 1) / (n_out - 1) if (ac and n_out > 1) else n_in / n_out
            pos = np.arange(n_out, dtype=np.float64) * scale
            i0 = np.minimum(np.floor(pos).astype(np.int64), n_in - 1)
            i1 = np.minimum(i0 + 1, n_in - 1)
            frac = (pos - i0).astype(np.float32)
            return i0, i1, frac
        y0, y1, fy = axis_tables(H, OH)
        x0, x1, fx = axis_tables(W, OW)
        names = [g.buf(y0, torch.int64), g.buf(y1, torch.int64), g.buf(fy.reshape(1, 1, -1, 1)),
                 g.buf(x0, torch.int64), g.buf(x1, torch.int64), g.buf(fx.reshape(1, 1, 1, -1))]

        def fn(m, env):
            ny0, ny1, nfy, nx0, nx1, nfx = [getattr(m, n) for n in names]
            x = env[src]
            top = torch.index_select(x, 2, ny0)
            bot = torch.index_select(x, 2, ny1)
            x = top + (bot - top) * nfy
            left = torch.index_select(x, 3, nx0)
            right = torch.index_select(x, 3, nx1)
            return left + (right - left) * nfx
        return fn

    makers = {OP["CONV_2D"]: make_conv, OP["TRANSPOSE_CONV"]: make_tconv,
              OP["ADD"]: make_eltwise, OP["MUL"]: make_eltwise, OP["MAXIMUM"]: make_eltwise,
              OP["CONCATENATION"]: make_concat, OP["STRIDED_SLICE"]: make_slice,
              OP["RESIZE_BILINEAR"]: make_resize}
    for op in model.ops:
        g.steps.append((makers[op.code](op), op))
    return g.eval()


# --------------------------------------------------------------------------
# NumPy reference interpreter (NHWC, TFLite reference-kernel style)
# --------------------------------------------------------------------------

class NumpyInterpreter:
    """Runs the graph in TFLite's own layout with plain NumPy.  Deliberately shares no op
    code with the torch path: convolutions are per-tap matmuls, transpose convolution is a
    scatter-add, resize evaluates the four-corner formula of TFLite's reference kernel."""

    def __init__(self, model, hybrid=False):
        """hybrid=True emulates TFLite's builtin CPU "hybrid" CONV_2D kernel for weight-only
        int8 quantized filters (per-tensor scale, zero point 0): the float input is quantized
        per batch item, symmetric int8 (scale = max|x| / 127), convolved in integers and
        rescaled.  Informational only; the converter itself uses dequantized float weights."""
        self.m = model
        self.hybrid = hybrid

    @staticmethod
    def _act(x, code):
        if code == 1:
            return np.maximum(x, 0)
        if code == 2:
            return np.minimum(np.maximum(x, -1), 1)
        if code == 3:
            return np.minimum(np.maximum(x, 0), 6)
        if code == 4:
            return np.tanh(x)
        return x

    @staticmethod
    def _pad_amount(size, k, s, d=1):
        # TFLite ComputePaddingHeightWidth for SAME: padding = total/2, offset = total%2
        out = (size + s - 1) // s
        total = (out - 1) * s + (k - 1) * d + 1 - size
        if total < 0:
            total = 0
        return total // 2, total // 2 + total % 2

    def conv2d(self, x, w, b, o, wq=None):
        n, h, wd, c = x.shape
        rescale = None
        if wq is not None:
            qw, w_scale = wq
            amax = np.abs(x).reshape(n, -1).max(axis=1)
            s_in = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
            xs = x / s_in.reshape(n, 1, 1, 1)
            x = np.clip(np.sign(xs) * np.floor(np.abs(xs) + 0.5), -127, 127).astype(np.float64)
            w = qw.astype(np.float64)
            rescale = (s_in * np.float32(w_scale)).astype(np.float32).reshape(n, 1, 1, 1)
        oc, kh, kw, ic = w.shape
        sh, sw = o["stride_h"], o["stride_w"]
        dh, dw = o["dilation_h_factor"], o["dilation_w_factor"]
        if o["padding"] == 0:
            pt, pb = self._pad_amount(h, kh, sh, dh)
            pl, pr = self._pad_amount(wd, kw, sw, dw)
            oh, ow = -(-h // sh), -(-wd // sw)
        else:
            pt = pb = pl = pr = 0
            oh = (h - (kh - 1) * dh - 1) // sh + 1
            ow = (wd - (kw - 1) * dw - 1) // sw + 1
        xp = np.zeros((n, h + pt + pb, wd + pl + pr, c), x.dtype)
        xp[:, pt:pt + h, pl:pl + wd, :] = x
        groups = c // ic
        ocg = oc // groups
        out = np.zeros((n, oh, ow, oc), x.dtype)
        for gi in range(groups):
            for ky in range(kh):
                for kx in range(kw):
                    y0, x0 = ky * dh, kx * dw
                    patch = xp[:, y0:y0 + (oh - 1) * sh + 1:sh, x0:x0 + (ow - 1) * sw + 1:sw,
                               gi * ic:(gi + 1) * ic]
                    wk = w[gi * ocg:(gi + 1) * ocg, ky, kx, :]          # [ocg, ic]
                    # one large GEMM per tap (a contiguous copy keeps numpy on the BLAS path)
                    prod = np.ascontiguousarray(patch).reshape(-1, ic) @ wk.T
                    out[..., gi * ocg:(gi + 1) * ocg] += prod.reshape(n, oh, ow, ocg)
        if rescale is not None:
            out = out.astype(np.float32) * rescale
        if b is not None:
            out += b.reshape(-1)
        return self._act(out, o["fused_activation_function"])

    def transpose_conv(self, out_shape, w, x, b, o):
        n, h, wd, c = x.shape
        oc, kh, kw, ic = w.shape
        _, oh, ow, _ = [int(v) for v in out_shape]
        sh, sw = o["stride_h"], o["stride_w"]
        if o["padding"] == 0:
            pt, _ = self._pad_amount(oh, kh, sh)
            pl, _ = self._pad_amount(ow, kw, sw)
        else:
            pt = pl = 0
        # scatter every input pixel's contribution into a canvas big enough for all taps
        canvas = np.zeros((n, max((h - 1) * sh + kh, pt + oh), max((wd - 1) * sw + kw, pl + ow), oc),
                          np.float32)
        for ky in range(kh):
            for kx in range(kw):
                contrib = (x.reshape(-1, c) @ w[:, ky, kx, :].T).reshape(n, h, wd, oc)
                canvas[:, ky:ky + (h - 1) * sh + 1:sh, kx:kx + (wd - 1) * sw + 1:sw, :] += contrib
        out = canvas[:, pt:pt + oh, pl:pl + ow, :].copy()
        if b is not None:
            out += b.reshape(-1)
        return self._act(out, o.get("fused_activation_function", 0))

    @staticmethod
    def strided_slice(x, begin, end, strides, o):
        index = []
        for ax in range(x.ndim):
            if ax >= len(begin):
                index.append(slice(None))
                continue
            b, e, s = int(begin[ax]), int(end[ax]), int(strides[ax])
            if o["offset"]:
                e = b + e
            if (o["shrink_axis_mask"] >> ax) & 1:
                index.append(b)
                continue
            index.append(slice(None if (o["begin_mask"] >> ax) & 1 else b,
                               None if (o["end_mask"] >> ax) & 1 else e, s))
        return x[tuple(index)]

    @staticmethod
    def resize_bilinear(x, size, o):
        n, h, w, c = x.shape
        oh, ow = [int(v) for v in size]
        ac, hp = o["align_corners"], o["half_pixel_centers"]

        def scale(i, out):
            return (i - 1) / (out - 1) if (ac and out > 1) else i / out

        sy, sx = scale(h, oh), scale(w, ow)
        ys = np.arange(oh, dtype=np.float32)
        xs = np.arange(ow, dtype=np.float32)
        if hp:
            iy = (ys + 0.5) * np.float32(sy) - 0.5
            ix = (xs + 0.5) * np.float32(sx) - 0.5
        else:
            iy = ys * np.float32(sy)
            ix = xs * np.float32(sx)
        y0 = np.maximum(np.floor(iy).astype(np.int64), 0)
        y1 = np.minimum(np.ceil(iy).astype(np.int64), h - 1)
        x0 = np.maximum(np.floor(ix).astype(np.int64), 0)
        x1 = np.minimum(np.ceil(ix).astype(np.int64), w - 1)
        dy = (iy - y0)[None, :, None, None]
        dx = (ix - x0)[None, None, :, None]
        tl = x[:, y0][:, :, x0]
        tr = x[:, y0][:, :, x1]
        bl = x[:, y1][:, :, x0]
        br = x[:, y1][:, :, x1]
        return (tl * (1 - dy) * (1 - dx) + tr * (1 - dy) * dx +
                bl * dy * (1 - dx) + br * dy * dx).astype(np.float32)

    def run(self, x_nhwc):
        m = self.m
        T = m.tensors
        env = {m.inputs[0]: np.asarray(x_nhwc, np.float32)}

        def val(i):
            if i < 0:
                return None
            if T[i].is_quantized_const:
                return T[i].float_data()
            if T[i].is_const:
                return T[i].data
            return env[i]

        for op in m.ops:
            o = op.options
            ins = [val(i) for i in op.inputs]
            n = op.name
            if n == "CONV_2D":
                wt = T[op.inputs[1]]
                wq = None
                if self.hybrid and wt.is_quantized_const and len(wt.quant["scale"]) == 1 \
                        and not any(wt.quant["zero_point"]):
                    wq = (wt.data, wt.quant["scale"][0])
                r = self.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, o, wq)
            elif n == "TRANSPOSE_CONV":
                r = self.transpose_conv(ins[0].reshape(-1), ins[1], ins[2],
                                        ins[3] if len(ins) > 3 else None, o)
            elif n == "ADD":
                r = self._act(ins[0] + ins[1], o["fused_activation_function"])
            elif n == "MUL":
                r = self._act(ins[0] * ins[1], o["fused_activation_function"])
            elif n == "MAXIMUM":
                r = np.maximum(ins[0], ins[1])
            elif n == "CONCATENATION":
                r = self._act(np.concatenate(ins, axis=o["axis"]), o["fused_activation_function"])
            elif n == "STRIDED_SLICE":
                r = self.strided_slice(ins[0], ins[1].reshape(-1), ins[2].reshape(-1),
                                       ins[3].reshape(-1), o)
            elif n == "RESIZE_BILINEAR":
                r = self.resize_bilinear(ins[0], ins[1].reshape(-1), o)
            else:
                raise UnsupportedError("unsupported TFLite op %s" % n)
            r = np.asarray(r, np.float32)
            want = T[op.outputs[0]].shape
            if tuple(r.shape[1:]) != tuple(want[1:]):
                raise ConvertError("reference interpreter: op %d (%s) gave shape %s, TFLite says %s"
                                   % (op.index, n, list(r.shape), list(want)))
            env[op.outputs[0]] = r
        return [env[i] for i in m.outputs]


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------

def load_image_nhwc(path, h, w):
    import cv2
    im = cv2.imread(path, cv2.IMREAD_COLOR)
    if im is None:
        raise ConvertError("cannot read image %s" % path)
    im = cv2.cvtColor(im, cv2.COLOR_BGR2RGB)
    im = cv2.resize(im, (w, h), interpolation=cv2.INTER_AREA)
    return (im.astype(np.float32) / 255.0)[None]


def _compare(model, ref, got, label, informational=False):
    ok = True
    for k, (r, t) in enumerate(zip(ref, got)):
        if t.ndim == 4:
            t = t.transpose(0, 2, 3, 1)
        diff = float(np.abs(t - r).max())
        rng = float(r.max() - r.min())
        ratio = diff / rng if rng > 0 else (0.0 if diff == 0 else float("inf"))
        rec = {"check": label, "output": k, "name": model.tensors[model.outputs[k]].name,
               "shape": list(r.shape), "max_abs_diff": diff,
               "mean_abs_diff": float(np.abs(t - r).mean()),
               "range": [float(r.min()), float(r.max())], "ratio": ratio}
        if informational:
            rec["informational"] = True
        else:
            rec["pass"] = bool(ratio <= RATIO_TOL)
            ok &= rec["pass"]
        print(json.dumps(rec), flush=True)
    return ok


def parity(model, ts_model, x_nhwc, label, hybrid_info=False):
    """TorchScript (NCHW) vs the NumPy interpreter (NHWC) on one input; one JSON line per output.
    With hybrid_info, for weight-only quantized models, also prints (informational, not gated)
    how far the dequantized-float result is from an emulation of TFLite's builtin CPU hybrid
    conv kernel (activations quantized to int8 per image)."""
    import torch
    t0 = time.time()
    ref = NumpyInterpreter(model).run(x_nhwc)
    t1 = time.time()
    with torch.no_grad():
        got = ts_model(torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))))
    t2 = time.time()
    print("%s: check %s: numpy reference %.2f s, torchscript %.2f s"
          % (PROG, label, t1 - t0, t2 - t1), file=sys.stderr)
    if isinstance(got, torch.Tensor):
        got = (got,)
    got = [t.numpy() for t in got]
    ok = _compare(model, ref, got, label)
    if hybrid_info and any(model.tensors[op.inputs[1]].is_quantized_const
                           for op in model.ops if op.name == "CONV_2D"):
        t0 = time.time()
        hyb = NumpyInterpreter(model, hybrid=True).run(x_nhwc)
        print("%s: check %s: hybrid-kernel emulation %.2f s" % (PROG, label, time.time() - t0),
              file=sys.stderr)
        _compare(model, hyb, got, label + "-vs-tflite-hybrid-int8-kernel", informational=True)
    return ok


def interface_json(model):
    x = model.tensors[model.inputs[0]]
    outs = []
    for i in model.outputs:
        t = model.tensors[i]
        s = list(t.shape)
        outs.append({"name": t.name, "tflite_shape": s,
                     "shape": [s[0], s[3], s[1], s[2]] if len(s) == 4 else s})
    return {"source": os.path.basename(model.path), "converter": PROG,
            "input": {"name": x.name, "layout": "NCHW", "tflite_shape": list(x.shape),
                      "shape": [x.shape[0], x.shape[3], x.shape[1], x.shape[2]]},
            "outputs": outs, "ops": model.op_counts()}


def convert(args):
    import torch
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    t0 = time.time()
    model = parse_tflite(args.input)
    validate(model)
    t_parse = time.time() - t0
    x = model.tensors[model.inputs[0]]
    print("%s: %d tensors, %d ops %s; input %s %s; outputs %s"
          % (PROG, len(model.tensors), len(model.ops), json.dumps(model.op_counts()), x.name,
             list(x.shape), [(model.tensors[i].name, list(model.tensors[i].shape))
                             for i in model.outputs]), file=sys.stderr)
    _, h, w, c = x.shape
    example = torch.rand(1, c, h, w, generator=torch.Generator().manual_seed(0))
    try:
        module = build_torch_module(model)
        with torch.no_grad():
            module.check_shapes = True          # verify every op's shape against the flatbuffer
            module(example)
            module.check_shapes = False
            traced = torch.jit.trace(module, example, check_trace=False)
    except (RuntimeError, ValueError, IndexError, KeyError, TypeError, ZeroDivisionError,
            AttributeError) as e:
        raise ConvertError("cannot build the graph (inconsistent model?): %s"
                           % " ".join(str(e).split())[:300])
    out_dir = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(args.output), suffix=".tmp",
                               dir=out_dir)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        torch.jit.save(traced, tmp, _extra_files={"tflite2ts.json": json.dumps(interface_json(model))})
        t_conv = time.time() - t0
        print("%s: converted in %.2f s (parse %.2f s)" % (PROG, t_conv, t_parse), file=sys.stderr)
        status = 0
        if args.check:
            loaded = torch.jit.load(tmp).eval()
            rs = np.random.RandomState(0)
            xr = rs.uniform(0.0, 1.0, size=(1, h, w, c)).astype(np.float32)
            ok = parity(model, loaded, xr, "random")
            if args.check_image and os.path.exists(args.check_image):
                if c != 3:
                    print("%s: skipping image check (input has %d channels)" % (PROG, c),
                          file=sys.stderr)
                else:
                    ok &= parity(model, loaded, load_image_nhwc(args.check_image, h, w), "image",
                                 hybrid_info=True)
            elif args.check_image:
                print("%s: check image %s not found, skipped" % (PROG, args.check_image),
                      file=sys.stderr)
            if not ok:
                print("error: %s: %s: parity check failed (ratio > %g); %s not written"
                      % (PROG, args.input, RATIO_TOL, args.output), file=sys.stderr)
                status = 1
        if status == 0:
            os.replace(tmp, args.output)
            tmp = None
        return status
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tflite2ts.py", description=__doc__.split("\n")[0])
    ap.add_argument("input", help="model.tflite")
    ap.add_argument("output", nargs="?", help="output TorchScript file (.pt)")
    ap.add_argument("--check", action="store_true",
                    help="parity test against a NumPy interpreter (random input + real image)")
    ap.add_argument("--check-image", default=DEFAULT_IMAGE,
                    help="real image for --check (default: skimage motorcycle_left.png)")
    ap.add_argument("--info", action="store_true",
                    help="print tensors/ops of the model as JSON and exit (no output file)")
    args = ap.parse_args(argv)
    try:
        if args.info:
            model = parse_tflite(args.input)
            info = {"version": model.version, "description": model.description,
                    "ops": model.op_counts(),
                    "inputs": [(model.tensors[i].name, list(model.tensors[i].shape))
                               for i in model.inputs],
                    "outputs": [(model.tensors[i].name, list(model.tensors[i].shape))
                                for i in model.outputs],
                    "operators": [{"i": op.index, "op": op.name, "in": op.inputs,
                                   "out": op.outputs, "options": op.options,
                                   "out_shape": list(model.tensors[op.outputs[0]].shape)
                                   if op.outputs else None} for op in model.ops]}
            print(json.dumps(info, indent=1))
            unsupported = sorted({op.name for op in model.ops if op.code not in SUPPORTED_OPS})
            if unsupported:
                print("%s: unsupported ops: %s" % (PROG, " ".join(unsupported)), file=sys.stderr)
            return 0
        if not args.output:
            ap.error("OUT.pt is required")
        return convert(args)
    except ConvertError as e:
        msg = " ".join(str(e).split())
        print("error: %s: %s: %s" % (PROG, args.input, msg), file=sys.stderr)
        return 2
    except OSError as e:
        print("error: %s: %s: %s" % (PROG, args.input, " ".join(str(e).split())), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
