"""ONNX operator table for onnx2ts.py: one torch implementation per ONNX op type.

Every entry is `fn(n, *inputs)`: `n` is the node (attributes through `n.a(name, default)`, the
default-domain opset in `n.opset`, the number of declared outputs in `n.nout`, the device of the
graph input in `n.dev`); `inputs` are torch tensors, or None for an omitted optional input.
It returns one tensor or a sequence of tensors (one per declared output).

Semantics follow the ONNX operator specification (docs/Operators.md, onnx/onnx), per opset where
they changed (attributes that became inputs: Slice-10, Clip-11, Pad-11, Split-13, Squeeze-13,
Unsqueeze-13, ReduceSum-13, other Reduce*-18, Resize-11; Softmax-13 axis semantics; ...).
Where the spec leaves room, behaviour matches onnxruntime's CPU kernels (noted in comments).

Values that an op needs as Python numbers (shapes, axes, pads, scales) are read with .tolist():
under torch.jit.trace they become constants of the trace, i.e. the TorchScript file is
specialised to the traced input size wherever the graph computes shapes from the input.
Exception: where onnx2ts marks an input as computed from the graph inputs' DATA (`n.dyn[k]`,
e.g. SAM's orig_im_size -> Slice ends, Resize sizes) or as having a data-dependent shape
(`n.dyn_shape[k]`), Shape, Slice and Resize keep those values as 0-d tensors, which the tracer
records as run-time values (aten::Int, _shape_as_tensor) -- see runtime_ints().
"""

import math

import numpy as np
import torch
import torch.nn.functional as F


class OpError(Exception):
    """An attribute value or input combination this table does not implement."""


OPS = {}


def op(*names):
    def deco(fn):
        for name in names:
            OPS[name] = fn
        return fn
    return deco


# ONNX TensorProto.DataType -> torch dtype (unsigned types wider than 8 bits have no torch dtype;
# they are widened to int64 when loaded, see to_torch()).
ONNX_DTYPES = {
    1: torch.float32, 2: torch.uint8, 3: torch.int8, 4: torch.int64, 5: torch.int16,
    6: torch.int32, 7: torch.int64, 9: torch.bool, 10: torch.float16, 11: torch.float64,
    12: torch.int64, 13: torch.int64, 16: torch.bfloat16,
}


def to_torch(arr):
    """numpy array (from an initializer or a tensor attribute) -> torch tensor (a copy)."""
    arr = np.asarray(arr)
    if arr.dtype in (np.uint16, np.uint32, np.uint64):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "biuf":
        raise OpError("tensor of type %s is not supported" % arr.dtype)
    return torch.from_numpy(np.array(arr, copy=True))


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def ints(t):
    """Tensor (or None) -> list of Python ints (constant in a trace)."""
    if t is None:
        return None
    return [int(v) for v in t.reshape(-1).tolist()]


def runtime_ints(t):
    """1-D integer tensor -> list of 0-d tensors: a trace reads them at run time (a slice bound
    or an interpolate size given as a tensor is recorded through aten::Int, not frozen)."""
    return list(t.reshape(-1).long().unbind(0))


def dyn(n, k):
    """Input k of node n holds values computed from the graph inputs' data (onnx2ts marks it;
    False in a plain call)."""
    d = getattr(n, "dyn", None)
    return bool(d) and k < len(d) and d[k]


def floats(t):
    if t is None:
        return None
    return [float(v) for v in t.reshape(-1).tolist()]


def given(t):
    """Optional input present and non-empty (Resize/Pad allow empty tensors for 'absent')."""
    return t is not None and t.numel() > 0


def norm_axis(axis, rank):
    return axis + rank if axis < 0 else axis


def torch_pads(begins, ends):
    """ONNX pads [x1_begin, x2_begin, ..., x1_end, x2_end, ...] (split into begins/ends)
    -> F.pad's list, which starts at the LAST dimension: [xn_begin, xn_end, ..., x1_begin, x1_end]."""
    out = []
    for b, e in zip(reversed(begins), reversed(ends)):
        out += [int(b), int(e)]
    return out


def bshape(rank, axis, n):
    """Shape that broadcasts a 1-D vector of length n along `axis` of a rank-`rank` tensor."""
    s = [1] * rank
    s[axis] = n
    return s


def spatial_pads(n, in_sizes, kernel, strides, dilations):
    """Begin/end padding of Conv / pooling: explicit `pads` or auto_pad (ONNX Conv spec:
    SAME_* gives output = ceil(in / stride); the odd extra pad goes at the end for SAME_UPPER,
    at the beginning for SAME_LOWER)."""
    nd = len(kernel)
    auto = n.a("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for i in range(nd):
            out = -(-int(in_sizes[i]) // strides[i])
            total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - int(in_sizes[i]))
            small = total // 2
            if auto == "SAME_UPPER":
                begins.append(small)
                ends.append(total - small)
            else:
                begins.append(total - small)
                ends.append(small)
        return begins, ends
    if auto == "VALID":
        return [0] * nd, [0] * nd
    pads = n.a("pads", [0] * (2 * nd))
    return list(pads[:nd]), list(pads[nd:])


def legacy_broadcast(n, a, b):
    """Before opset 7, Add/Sub/Mul/Div broadcast B only with broadcast=1, aligned at `axis`."""
    if n.opset < 7 and n.a("broadcast", 0) and b.dim() < a.dim():
        axis = n.a("axis", None)
        if axis is not None:
            axis = norm_axis(axis, a.dim())
            b = b.reshape(list(b.shape) + [1] * (a.dim() - axis - b.dim()))
    return a, b


def is_int(t):
    return not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)


# ---------------------------------------------------------------------------------------------
# element-wise
# ---------------------------------------------------------------------------------------------

def _unary(fn):
    return lambda n, x: fn(x)


for _name, _fn in {
    "Relu": torch.relu, "Sigmoid": torch.sigmoid, "Tanh": torch.tanh, "Exp": torch.exp,
    "Log": torch.log, "Abs": torch.abs, "Neg": torch.neg, "Sqrt": torch.sqrt, "Erf": torch.erf,
    "Sin": torch.sin, "Cos": torch.cos, "Tan": torch.tan, "Asin": torch.asin, "Acos": torch.acos,
    "Atan": torch.atan, "Sinh": torch.sinh, "Cosh": torch.cosh, "Asinh": torch.asinh,
    "Acosh": torch.acosh, "Atanh": torch.atanh, "Floor": torch.floor, "Ceil": torch.ceil,
    "Round": torch.round,  # ONNX Round: half to even, as torch.round
    "Sign": torch.sign, "Reciprocal": torch.reciprocal, "Not": torch.logical_not,
    "IsNaN": torch.isnan, "Softsign": F.softsign, "Mish": F.mish,
    "HardSwish": F.hardswish,  # ONNX: x * max(0, min(1, x/6 + 1/2)) == x * relu6(x + 3) / 6
}.items():
    OPS[_name] = _unary(_fn)


@op("Identity")
def identity(n, x):
    return x


@op("Dropout")
def dropout(n, x, ratio=None, training_mode=None):
    # inference: identity; the optional mask output is all True
    return x, torch.ones_like(x, dtype=torch.bool)


@op("Add", "Sub", "Mul")
def arith(n, a, b):
    a, b = legacy_broadcast(n, a, b)
    return {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul}[n.op_type](a, b)


@op("Div")
def div(n, a, b):
    a, b = legacy_broadcast(n, a, b)
    if is_int(a) and is_int(b):
        return torch.div(a, b, rounding_mode="trunc")  # integer division as onnxruntime (C++ '/')
    return torch.div(a, b)


@op("Pow")
def pow_(n, a, b):
    return torch.pow(a, b).to(a.dtype)  # result has the base's type


@op("Mod")
def mod(n, a, b):
    if n.a("fmod", 0):
        return torch.fmod(a, b)  # sign of the dividend (C fmod)
    return torch.remainder(a, b)  # sign of the divisor (Python %)


@op("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor")
def compare(n, a, b):
    return {"Equal": torch.eq, "Greater": torch.gt, "Less": torch.lt, "GreaterOrEqual": torch.ge,
            "LessOrEqual": torch.le, "And": torch.logical_and, "Or": torch.logical_or,
            "Xor": torch.logical_xor}[n.op_type](a, b)


@op("Max", "Min", "Sum", "Mean")
def variadic(n, *xs):
    fn = {"Max": torch.maximum, "Min": torch.minimum}.get(n.op_type, torch.add)
    y = xs[0]
    for x in xs[1:]:
        y = fn(y, x)
    if n.op_type == "Mean":
        y = y / len(xs)
    return y


@op("Where")
def where(n, c, a, b):
    return torch.where(c.bool(), a, b)


@op("Clip")
def clip(n, x, lo=None, hi=None):
    if n.opset < 11:  # min / max were attributes before Clip-11
        return torch.clamp(x, n.a("min", -math.inf), n.a("max", math.inf))
    if lo is not None:
        x = torch.maximum(x, lo.to(x.dtype))
    if hi is not None:
        x = torch.minimum(x, hi.to(x.dtype))
    return x


@op("LeakyRelu")
def leaky_relu(n, x):
    return F.leaky_relu(x, n.a("alpha", 0.01))


@op("PRelu")
def prelu(n, x, slope):
    # slope broadcasts unidirectionally to X (e.g. [C,1,1] against NCHW)
    return torch.where(x >= 0, x, x * slope)


@op("Elu")
def elu(n, x):
    return F.elu(x, n.a("alpha", 1.0))


@op("Celu")
def celu(n, x):
    return F.celu(x, n.a("alpha", 1.0))


@op("Selu")
def selu(n, x):
    alpha = n.a("alpha", 1.67326319217681884765625)
    gamma = n.a("gamma", 1.05070102214813232421875)
    return gamma * torch.where(x > 0, x, alpha * (torch.exp(x) - 1))


@op("ThresholdedRelu")
def thresholded_relu(n, x):
    return torch.where(x > n.a("alpha", 1.0), x, torch.zeros_like(x))


@op("HardSigmoid")
def hard_sigmoid(n, x):
    return torch.clamp(x * n.a("alpha", 0.2) + n.a("beta", 0.5), 0.0, 1.0)


@op("Softplus")
def softplus(n, x):
    return torch.log1p(torch.exp(x))


@op("Gelu")
def gelu(n, x):
    return F.gelu(x, approximate=n.a("approximate", "none"))


@op("Cast")
def cast(n, x):
    to = n.a("to")
    if to not in ONNX_DTYPES:
        raise OpError("Cast to ONNX type %d is not supported" % to)
    return x.to(ONNX_DTYPES[to])


@op("CastLike")
def cast_like(n, x, like):
    return x.to(like.dtype)


# ---------------------------------------------------------------------------------------------
# convolution, pooling, normalisation
# ---------------------------------------------------------------------------------------------

@op("Conv")
def conv(n, x, w, b=None):
    k = list(w.shape[2:])
    nd = len(k)
    if nd not in (1, 2, 3):
        raise OpError("%d-D convolution is not supported" % nd)
    strides = list(n.a("strides", [1] * nd))
    dil = list(n.a("dilations", [1] * nd))
    begins, ends = spatial_pads(n, x.shape[2:], k, strides, dil)
    if begins != ends:  # asymmetric (e.g. tf2onnx SAME): pad explicitly, then convolve unpadded
        x = F.pad(x, torch_pads(begins, ends))
        begins = [0] * nd
    fn = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    return fn(x, w, b, strides, begins, dil, n.a("group", 1))


@op("ConvTranspose")
def conv_transpose(n, x, w, b=None):
    k = list(w.shape[2:])  # weight: [C_in, C_out / group, k...]
    nd = len(k)
    if nd not in (1, 2, 3):
        raise OpError("%d-D transposed convolution is not supported" % nd)
    s = list(n.a("strides", [1] * nd))
    d = list(n.a("dilations", [1] * nd))
    group = n.a("group", 1)
    opad = list(n.a("output_padding", [0] * nd))
    in_sz = [int(v) for v in x.shape[2:]]
    # size of the full (unpadded) result: (in - 1) * s + (k - 1) * d + 1
    full = [(in_sz[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 for i in range(nd)]
    auto = n.a("auto_pad", "NOTSET")
    out_shape = n.a("output_shape", None)
    if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        # ONNX ConvTranspose: total_padding = s*(in-1) + output_padding + ((k-1)*d+1) - out;
        # SAME_UPPER puts total/2 at the beginning, otherwise the beginning gets the larger half.
        if out_shape is not None:
            target = list(out_shape)[-nd:]
        else:
            target = [in_sz[i] * s[i] for i in range(nd)]
        begins, ends = [], []
        for i in range(nd):
            total = full[i] + opad[i] - target[i]
            if auto == "SAME_UPPER":
                begins.append(total // 2)
                ends.append(total - total // 2)
            else:
                begins.append(total - total // 2)
                ends.append(total // 2)
    elif auto == "VALID":
        begins, ends = [0] * nd, [0] * nd
    else:
        pads = n.a("pads", [0] * (2 * nd))
        begins, ends = list(pads[:nd]), list(pads[nd:])
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
    if begins == ends and all(opad[i] < max(s[i], d[i]) for i in range(nd)):
        return fn(x, w, b, s, begins, opad, group, d)
    # General case: full result, then crop `begins` and (ends - output_padding) with a negative
    # F.pad (a positive value there appends zero rows), then add the bias.
    y = fn(x, w, None, s, 0, 0, group, d)
    y = F.pad(y, torch_pads([-p for p in begins], [opad[i] - ends[i] for i in range(nd)]))
    if b is not None:
        y = y + b.reshape(bshape(y.dim(), 1, -1))
    return y


def _pool_pads(n, x, k, s, d, pad_value):
    """Pads for MaxPool/AveragePool; torch pools need symmetric pads <= kernel/2, otherwise the
    input is padded explicitly (with -inf for max pooling)."""
    nd = len(k)
    begins, ends = spatial_pads(n, x.shape[2:], k, s, d)
    if begins == ends and all(begins[i] <= k[i] // 2 for i in range(nd)):
        return x, begins, False
    if pad_value is not None:
        x = F.pad(x, torch_pads(begins, ends), value=pad_value)
    return x, (begins, ends), True


@op("MaxPool")
def max_pool(n, x):
    if n.nout > 1:
        raise OpError("MaxPool's Indices output is not supported")
    k = list(n.a("kernel_shape"))
    nd = len(k)
    if nd not in (1, 2, 3):
        raise OpError("%d-D pooling is not supported" % nd)
    s = list(n.a("strides", [1] * nd))
    d = list(n.a("dilations", [1] * nd))
    x, pad, manual = _pool_pads(n, x, k, s, d, -math.inf)
    fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[nd - 1]
    return fn(x, k, s, [0] * nd if manual else pad, d, ceil_mode=bool(n.a("ceil_mode", 0)))


@op("AveragePool")
def avg_pool(n, x):
    k = list(n.a("kernel_shape"))
    nd = len(k)
    if nd not in (1, 2, 3):
        raise OpError("%d-D pooling is not supported" % nd)
    s = list(n.a("strides", [1] * nd))
    if any(v != 1 for v in n.a("dilations", [1] * nd)):
        raise OpError("AveragePool with dilations is not supported")
    ceil = bool(n.a("ceil_mode", 0))
    include = bool(n.a("count_include_pad", 0))
    x0 = x
    x, pad, manual = _pool_pads(n, x, k, s, [1] * nd, None)
    if not manual:
        fn = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[nd - 1]
        return fn(x, k, s, pad, ceil_mode=ceil, count_include_pad=include)
    # Asymmetric pads: window sums over the zero-padded input divided by the number of counted
    # elements (input only, or input + pads with count_include_pad=1).
    begins, ends = pad
    xp = F.pad(x0, torch_pads(begins, ends))
    ones = torch.ones_like(x0[:1, :1])
    mask = F.pad(ones, torch_pads(begins, ends), value=1.0 if include else 0.0)
    squeeze = nd == 1
    if squeeze:  # avg_pool1d has no divisor_override: run as 2-D with a 1-high window
        xp, mask, k, s = xp.unsqueeze(-2), mask.unsqueeze(-2), [1] + k, [1] + s
    fn = F.avg_pool3d if len(k) == 3 else F.avg_pool2d
    sums = fn(xp, k, s, 0, ceil_mode=ceil, divisor_override=1)
    cnt = fn(mask, k, s, 0, ceil_mode=ceil, divisor_override=1)
    y = sums / cnt
    return y.squeeze(-2) if squeeze else y


@op("GlobalAveragePool")
def global_avg_pool(n, x):
    return x.mean(dim=tuple(range(2, x.dim())), keepdim=True)


@op("GlobalMaxPool")
def global_max_pool(n, x):
    return x.amax(dim=tuple(range(2, x.dim())), keepdim=True)


@op("BatchNormalization")
def batch_norm(n, x, scale, bias, mean, var, *_):
    if n.a("training_mode", 0):
        raise OpError("BatchNormalization with training_mode=1 is not supported")
    y = F.batch_norm(x, mean, var, scale, bias, False, 0.0, n.a("epsilon", 1e-5))
    return y, mean, var  # (legacy opsets declare running mean/var outputs)


@op("InstanceNormalization")
def instance_norm(n, x, scale, bias):
    return F.instance_norm(x, weight=scale, bias=bias, eps=n.a("epsilon", 1e-5))


@op("LayerNormalization")
def layer_norm(n, x, scale, bias=None):
    axis = norm_axis(n.a("axis", -1), x.dim())
    eps = n.a("epsilon", 1e-5)
    norm_shape = list(x.shape[axis:])
    if n.nout == 1 and list(scale.shape) == norm_shape and (bias is None or list(bias.shape) == norm_shape):
        return F.layer_norm(x, norm_shape, scale, bias, eps)
    # scale/bias that only broadcast, or Mean / InvStdDev requested: compute explicitly
    dims = tuple(range(axis, x.dim()))
    mean = x.mean(dims, keepdim=True)
    inv = torch.rsqrt((x - mean).pow(2).mean(dims, keepdim=True) + eps)
    y = (x - mean) * inv * scale
    if bias is not None:
        y = y + bias
    return y, mean, inv


@op("GroupNormalization")
def group_norm(n, x, scale, bias):
    g = n.a("num_groups")
    eps = n.a("epsilon", 1e-5)
    c = int(x.shape[1])
    shape = list(x.shape)
    xg = x.reshape(shape[0], g, -1)
    mean = xg.mean(-1, keepdim=True)
    var = (xg - mean).pow(2).mean(-1, keepdim=True)
    y = ((xg - mean) * torch.rsqrt(var + eps)).reshape(shape)
    if scale.numel() == g and g != c:  # opset 18 declared per-group scale/bias
        scale = scale.repeat_interleave(c // g)
        bias = bias.repeat_interleave(c // g)
    return y * scale.reshape(bshape(x.dim(), 1, c)) + bias.reshape(bshape(x.dim(), 1, c))


@op("LRN")
def lrn(n, x):
    # ONNX LRN: sum of squares over channels [c - floor((size-1)/2), c + ceil((size-1)/2)]
    size = n.a("size")
    alpha, beta, bias = n.a("alpha", 1e-4), n.a("beta", 0.75), n.a("bias", 1.0)
    sq = (x * x).unsqueeze(1)
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    sq = F.pad(sq, [0, 0] * (x.dim() - 2) + [lo, hi])
    win = [size] + [1] * (x.dim() - 2)
    pool = F.avg_pool3d if x.dim() == 4 else F.avg_pool2d
    if x.dim() not in (3, 4):
        raise OpError("LRN on a %d-D input is not supported" % x.dim())
    s = pool(sq, win, 1, 0, divisor_override=1).squeeze(1)
    return x / torch.pow(bias + alpha / size * s, beta)


# ---------------------------------------------------------------------------------------------
# linear algebra and reductions
# ---------------------------------------------------------------------------------------------

@op("MatMul")
def matmul(n, a, b):
    return torch.matmul(a, b)


@op("Gemm")
def gemm(n, a, b, c=None):
    if n.a("transA", 0):
        a = a.t()
    if n.a("transB", 0):
        b = b.t()
    alpha, beta = n.a("alpha", 1.0), n.a("beta", 1.0)
    y = torch.matmul(a, b)
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c * beta if beta != 1.0 else c)
    return y


@op("Einsum")
def einsum(n, *xs):
    return torch.einsum(n.a("equation").replace(" ", ""), *xs)


def _reduce_axes(n, x, axes_input):
    # ReduceSum took axes as an input from opset 13, the other Reduce* ops from opset 18
    as_input = n.opset >= (13 if n.op_type == "ReduceSum" else 18)
    axes = ints(axes_input) if as_input else n.a("axes", None)
    if not axes:
        if n.a("noop_with_empty_axes", 0):
            return None
        return list(range(x.dim()))
    return sorted(norm_axis(a, x.dim()) for a in axes)


@op("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp")
def reduce(n, x, axes=None):
    dims = _reduce_axes(n, x, axes)
    if dims is None:
        return x
    keep = bool(n.a("keepdims", 1))
    kind = n.op_type[6:]
    if kind == "Prod":
        for d in reversed(dims):
            x = x.prod(d, keepdim=keep)
        return x
    if kind == "LogSumExp":
        return torch.logsumexp(x, dims, keepdim=keep)
    if kind == "Max":
        return x.amax(dims, keepdim=keep)
    if kind == "Min":
        return x.amin(dims, keepdim=keep)
    if kind == "Mean":
        return x.mean(dims, keepdim=keep)
    pre = {"L1": torch.abs, "L2": lambda t: t * t, "SumSquare": lambda t: t * t}.get(kind)
    y = (pre(x) if pre else x).sum(dims, keepdim=keep)
    if kind == "L2":
        y = torch.sqrt(y)
    elif kind == "LogSum":
        y = torch.log(y)
    return y


@op("ArgMax", "ArgMin")
def arg_max_min(n, x):
    axis = norm_axis(n.a("axis", 0), x.dim())
    keep = bool(n.a("keepdims", 1))
    fn = torch.argmax if n.op_type == "ArgMax" else torch.argmin
    if n.a("select_last_index", 0):
        return int(x.shape[axis]) - 1 - fn(x.flip(axis), axis, keepdim=keep)
    return fn(x, axis, keepdim=keep)  # first index among ties, as ONNX's default


def _softmax_like(n, x, fn):
    if n.opset >= 13:
        return fn(x, norm_axis(n.a("axis", -1), x.dim()))
    # Before opset 13 the input is coerced to 2-D at `axis` (default 1) and normalised over the
    # flattened trailing block.
    axis = norm_axis(n.a("axis", 1), x.dim())
    if axis == x.dim() - 1:
        return fn(x, -1)
    shape = list(x.shape)
    y = fn(x.reshape(int(np.prod(shape[:axis], dtype=np.int64)), -1), 1)
    return y.reshape(shape)


@op("Softmax")
def softmax(n, x):
    return _softmax_like(n, x, lambda t, d: torch.softmax(t, d))


@op("LogSoftmax")
def log_softmax(n, x):
    return _softmax_like(n, x, lambda t, d: torch.log_softmax(t, d))


@op("Hardmax")
def hardmax(n, x):
    def hm(t, d):
        return F.one_hot(t.argmax(d), int(t.shape[d])).movedim(-1, d).to(t.dtype)
    return _softmax_like(n, x, hm)


@op("CumSum")
def cumsum(n, x, axis):
    ax = norm_axis(ints(axis)[0], x.dim())
    rev, excl = n.a("reverse", 0), n.a("exclusive", 0)
    if rev:
        x = x.flip(ax)
    y = torch.cumsum(x, ax)
    if excl:
        y = y - x
    return y.flip(ax) if rev else y


# ---------------------------------------------------------------------------------------------
# shape and indexing
# ---------------------------------------------------------------------------------------------

@op("Constant")
def constant(n):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        v = n.a(key, None)
        if v is not None:
            if key == "value":
                return to_torch(v)
            dtype = np.float32 if "float" in key else np.int64
            return to_torch(np.array(v, dtype=dtype))
    raise OpError("Constant without a supported value attribute")


@op("Shape")
def shape(n, x):
    start, end = n.a("start", 0), n.a("end", None)  # Shape-15; clamped like Python slicing
    if getattr(n, "dyn_shape", None) and n.dyn_shape[0]:
        # x's shape follows input data (e.g. Slice to run-time ends): read it at run time
        # (Shape-15, onnx/docs/Operators.md#Shape: dims[start:end], int64)
        return torch._shape_as_tensor(x)[start:end].to(n.dev)
    dims = [int(v) for v in x.shape]
    return torch.tensor(dims[start:end], dtype=torch.int64, device=n.dev)


@op("Size")
def size(n, x):
    if getattr(n, "dyn_shape", None) and n.dyn_shape[0]:
        return torch._shape_as_tensor(x).prod().to(n.dev)
    return torch.tensor(x.numel(), dtype=torch.int64, device=n.dev)


@op("ConstantOfShape")
def constant_of_shape(n, shp):
    v = n.a("value", None)
    if v is None:
        value, dtype = 0.0, torch.float32
    else:
        t = to_torch(v)
        value, dtype = t.reshape(-1)[0].item(), t.dtype
    return torch.full(ints(shp), value, dtype=dtype, device=n.dev)


@op("Range")
def range_(n, start, limit, delta):
    # number of elements: max(ceil((limit - start) / delta), 0), as torch.arange
    return torch.arange(start.item(), limit.item(), delta.item(), dtype=start.dtype, device=n.dev)


@op("Reshape")
def reshape(n, x, shp=None):
    dims = list(n.a("shape")) if n.opset < 5 else ints(shp)
    if not n.a("allowzero", 0):  # 0 copies the input's dimension at that index (allowzero=0)
        dims = [x.shape[i] if v == 0 else v for i, v in enumerate(dims)]
    return x.reshape(dims)  # -1: inferred


@op("Flatten")
def flatten(n, x):
    r = x.dim()
    axis = norm_axis(n.a("axis", 1), r)
    if axis == 0:
        return x.reshape(1, -1)
    if axis == r:
        return x.reshape(-1, 1)
    y = x.flatten(axis) if axis < r - 1 else x
    return y.flatten(0, axis - 1)


@op("Transpose")
def transpose(n, x):
    perm = n.a("perm", None)
    if perm is None:
        perm = list(range(x.dim()))[::-1]
    return x.permute(list(perm))


@op("Squeeze")
def squeeze(n, x, axes=None):
    axes = n.a("axes", None) if n.opset < 13 else ints(axes)
    if not axes:
        return x.squeeze()  # every dimension of size 1
    for a in sorted((norm_axis(a, x.dim()) for a in axes), reverse=True):
        x = x.squeeze(a)
    return x


@op("Unsqueeze")
def unsqueeze(n, x, axes=None):
    axes = n.a("axes") if n.opset < 13 else ints(axes)
    r = x.dim() + len(axes)  # axes index the OUTPUT tensor
    for a in sorted(norm_axis(a, r) for a in axes):
        x = x.unsqueeze(a)
    return x


@op("Concat")
def concat(n, *xs):
    return torch.cat([x for x in xs if x is not None], norm_axis(n.a("axis"), xs[0].dim()))


@op("Split")
def split(n, x, sizes=None):
    axis = norm_axis(n.a("axis", 0), x.dim())
    sizes = n.a("split", None) if n.opset < 13 else ints(sizes) if given(sizes) else None
    dim = int(x.shape[axis])
    if not sizes:
        k = n.a("num_outputs", None)
        if k is not None:  # Split-18: chunks of ceil(dim / k), the last one smaller
            chunk = -(-dim // k)
            sizes = [chunk] * (k - 1) + [dim - chunk * (k - 1)]
        else:
            k = n.nout
            if dim % k:
                raise OpError("cannot split %d into %d equal parts" % (dim, k))
            sizes = [dim // k] * k
    return torch.split(x, list(sizes), axis)


BIG = 1 << 62


@op("Slice")
def slice_(n, x, starts=None, ends=None, axes=None, steps=None):
    run_st, run_en = None, None
    if n.opset < 10:  # attributes before Slice-10, no steps
        starts, ends, axes, steps = n.a("starts"), n.a("ends"), n.a("axes", None), None
    else:
        # starts / ends computed from input data (SAM: masks[..., :h, :w] with h, w from
        # orig_im_size) stay run-time values where the step is positive
        run_st = runtime_ints(starts) if dyn(n, 1) else None
        run_en = runtime_ints(ends) if dyn(n, 2) else None
        starts, ends, axes, steps = ints(starts), ints(ends), ints(axes), ints(steps)
    if axes is None:
        axes = list(range(len(starts)))
    if steps is None:
        steps = [1] * len(starts)
    for i, (st, en, ax, sp) in enumerate(zip(starts, ends, axes, steps)):
        ax = norm_axis(ax, x.dim())
        if sp == 0:
            raise OpError("Slice step 0")
        if sp > 0 and (run_st is not None or run_en is not None):
            # ONNX Slice-13 (onnx/docs/Operators.md#Slice): a negative start/end gets dims[axis]
            # added, then for positive steps both are clamped to [0, dims[axis]] -- what
            # aten::slice does with its bounds; tensor bounds make the trace record them as
            # run-time values
            sl = slice(run_st[i] if run_st is not None else (None if st <= -BIG else st),
                       run_en[i] if run_en is not None else (None if en >= BIG else en), sp)
        elif sp > 0:
            # For positive steps ONNX clamps start/end to [0, dim] after adding dim to negative
            # values: exactly Python/torch slicing. Keep huge ends (INT64_MAX) open-ended so the
            # trace does not depend on the size.
            sl = slice(None if st <= -BIG else st, None if en >= BIG else en, sp)
        else:
            # Negative steps: start clamps to [0, dim-1], end to [-1, dim-1]; torch has no
            # negative-step slicing, so flip the axis and slice the mirrored range.
            dim = int(x.shape[ax])
            st = min(max(st + dim if st < 0 else st, 0), dim - 1)
            en = min(max(en + dim if en < 0 else en, -1), dim - 1)
            x = x.flip(ax)
            sl = slice(dim - 1 - st, dim - 1 - en, -sp)
        x = x[(slice(None),) * ax + (sl,)]
    return x


@op("Gather")
def gather(n, x, idx):
    axis = norm_axis(n.a("axis", 0), x.dim())
    idx = idx.long()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)  # negative indices count from the end
    y = x.index_select(axis, idx.reshape(-1))
    return y.reshape(list(x.shape[:axis]) + list(idx.shape) + list(x.shape[axis + 1:]))


@op("GatherElements")
def gather_elements(n, x, idx):
    axis = norm_axis(n.a("axis", 0), x.dim())
    idx = idx.long()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    return torch.gather(x, axis, idx)


@op("GatherND")
def gather_nd(n, x, idx):
    if n.a("batch_dims", 0):
        raise OpError("GatherND with batch_dims != 0 is not supported")
    k = int(idx.shape[-1])  # each index row addresses the first k dims of x
    idx = idx.long()
    return x[tuple(idx[..., j] for j in range(k))]  # negative indices count from the end


@op("ScatterND")
def scatter_nd(n, x, idx, upd):
    red = n.a("reduction", "none")
    if red not in ("none", "add"):
        raise OpError("ScatterND reduction %r is not supported" % red)
    k = int(idx.shape[-1])
    flat = idx.long().reshape(-1, k)
    out = x.clone()
    out.index_put_(tuple(flat[:, j] for j in range(k)), upd.reshape([-1] + list(x.shape[k:])),
                   accumulate=red == "add")
    return out


@op("ScatterElements")
def scatter_elements(n, x, idx, upd):
    axis = norm_axis(n.a("axis", 0), x.dim())
    idx = idx.long()
    idx = torch.where(idx < 0, idx + x.shape[axis], idx)
    red = n.a("reduction", "none")
    if red == "none":
        return torch.scatter(x, axis, idx, upd)
    if red == "add":
        return torch.scatter_add(x, axis, idx, upd)
    raise OpError("ScatterElements reduction %r is not supported" % red)


@op("OneHot")
def one_hot(n, idx, depth, values):
    d = int(depth.reshape(-1)[0].item())
    idx = idx.long()
    idx = torch.where(idx < 0, idx + d, idx)  # negative indices count from the end
    valid = (idx >= 0) & (idx < d)  # out-of-range indices give an all-off row
    hot = F.one_hot(torch.where(valid, idx, torch.zeros_like(idx)), d) * valid.unsqueeze(-1).long()
    axis = norm_axis(n.a("axis", -1), idx.dim() + 1)
    hot = hot.movedim(-1, axis).bool()
    return torch.where(hot, values[1], values[0])


@op("Expand")
def expand(n, x, shp):
    # bidirectional broadcast: a 1 in `shape` keeps the input's dimension
    out = torch.broadcast_shapes(tuple(int(v) for v in x.shape), tuple(ints(shp)))
    return x.expand(out)


@op("Tile")
def tile(n, x, repeats):
    return x.repeat(ints(repeats))


@op("Trilu")
def trilu(n, x, k=None):
    k = ints(k)[0] if k is not None else 0
    return torch.triu(x, k) if n.a("upper", 1) else torch.tril(x, k)


@op("NonZero")
def nonzero(n, x):
    return torch.nonzero(x).t()


@op("DepthToSpace")
def depth_to_space(n, x):
    b = n.a("blocksize")
    N, C, H, W = [int(v) for v in x.shape]
    if n.a("mode", "DCR") == "DCR":  # depth-column-row: channel index = (by * b + bx) * C' + c
        y = x.reshape(N, b, b, C // (b * b), H, W).permute(0, 3, 4, 1, 5, 2)
    else:  # CRD: channel index = c * b * b + by * b + bx (torch's pixel_shuffle)
        y = x.reshape(N, C // (b * b), b, b, H, W).permute(0, 1, 4, 2, 5, 3)
    return y.reshape(N, C // (b * b), H * b, W * b)


@op("SpaceToDepth")
def space_to_depth(n, x):
    b = n.a("blocksize")
    N, C, H, W = [int(v) for v in x.shape]
    y = x.reshape(N, C, H // b, b, W // b, b).permute(0, 3, 5, 1, 2, 4)
    return y.reshape(N, C * b * b, H // b, W // b)


@op("Pad")
def pad(n, x, pads=None, value=None, axes=None):
    mode = n.a("mode", "constant")
    r = x.dim()
    if n.opset < 11:  # pads / value were attributes ('paddings' in opset 1)
        pads = list(n.a("pads", None) or n.a("paddings"))
        cval = n.a("value", 0.0)
    else:
        pads = ints(pads)
        cval = value.reshape(-1)[0].item() if given(value) else 0.0
    if axes is not None:  # Pad-18: pads only for the listed axes
        ax = [norm_axis(a, r) for a in ints(axes)]
        full = [0] * (2 * r)
        for i, a in enumerate(ax):
            full[a], full[r + a] = pads[i], pads[len(ax) + i]
        pads = full
    begins, ends = pads[:r], pads[r:]  # ONNX order: all begins, then all ends
    if mode == "constant":
        return F.pad(x, torch_pads(begins, ends), value=cval)  # negative pads crop
    if any(p < 0 for p in pads):  # crop first, then pad the rest
        x = F.pad(x, torch_pads([min(p, 0) for p in begins], [min(p, 0) for p in ends]))
        begins, ends = [max(p, 0) for p in begins], [max(p, 0) for p in ends]
    tmode = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}.get(mode)
    if tmode is None:
        raise OpError("Pad mode %r is not supported" % mode)
    dims = [int(v) for v in x.shape]
    if 3 <= r <= 5 and not any(begins[:2] + ends[:2]) and \
            (mode != "reflect" or all(begins[i] < dims[i] and ends[i] < dims[i] for i in range(2, r))):
        return F.pad(x, torch_pads(begins[2:], ends[2:]), mode=tmode)
    # General case: gather mirrored / clamped / wrapped indices along each padded axis.
    for ax in range(r):
        if not (begins[ax] or ends[ax]):
            continue
        dim = dims[ax]
        idx = np.arange(-begins[ax], dim + ends[ax])
        if mode == "edge":
            idx = np.clip(idx, 0, dim - 1)
        elif mode == "wrap":
            idx = np.mod(idx, dim)
        else:  # reflect without repeating the edge: period 2 * (dim - 1)
            period = max(2 * (dim - 1), 1)
            idx = np.mod(idx, period)
            idx = np.where(idx >= dim, period - idx, idx)
        x = x.index_select(ax, torch.tensor(idx, dtype=torch.int64, device=n.dev))
    return x


# ---------------------------------------------------------------------------------------------
# Resize / Upsample
# ---------------------------------------------------------------------------------------------

def _coords(ctm, out, inn, scale, roi_start, roi_end):
    """Source coordinate of every output index along one axis (ONNX Resize,
    coordinate_transformation_mode), computed in float32 as onnxruntime does."""
    f = np.float32
    i = np.arange(out, dtype=f)
    scale = f(scale)
    if ctm == "half_pixel":
        return (i + f(0.5)) / scale - f(0.5)
    if ctm == "half_pixel_symmetric":  # Resize-19
        adj = f(out) / (scale * f(inn))
        offset = f(inn) / f(2) * (f(1) - adj)
        return offset + (i + f(0.5)) / scale - f(0.5)
    if ctm == "pytorch_half_pixel":
        return (i + f(0.5)) / scale - f(0.5) if out > 1 else np.zeros(out, f)
    if ctm == "align_corners":
        return i * f(inn - 1) / f(out - 1) if out > 1 else np.zeros(out, f)
    if ctm == "asymmetric":
        return i / scale
    if ctm == "tf_half_pixel_for_nn":
        return (i + f(0.5)) / scale
    if ctm == "tf_crop_and_resize":
        rs, re_ = f(roi_start), f(roi_end)
        if out > 1:
            return rs * f(inn - 1) + i * (re_ - rs) * f(inn - 1) / f(out - 1)
        return np.full(out, f(0.5) * (rs + re_) * f(inn - 1), f)
    raise OpError("coordinate_transformation_mode %r is not supported" % ctm)


def _nearest(x, mode, scale):
    """Nearest source index for a coordinate (Resize nearest_mode)."""
    fl = np.floor(x)
    if mode == "round_prefer_floor":
        return np.where(x - fl == 0.5, fl, np.floor(x + 0.5))
    if mode == "round_prefer_ceil":
        return np.floor(x + 0.5)
    if mode == "floor":
        return fl
    if mode == "ceil":
        return np.ceil(x)
    if mode == "legacy":  # Upsample / Resize-10 in onnxruntime: ceil when down-sampling, else truncate
        return np.ceil(x) if scale < 1 else np.trunc(x)
    raise OpError("nearest_mode %r is not supported" % mode)


def _cubic_weights(t, a):
    """Cubic convolution weights of the 4 taps at offsets -1, 0, 1, 2 for fraction t."""
    def w(d):
        d = np.abs(d)
        return np.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1,
                        np.where(d < 2, ((a * d - 5 * a) * d + 8 * a) * d - 4 * a, 0.0))
    return [w(t + 1), w(t), w(1 - t), w(2 - t)]


def _resize_axis(x, ax, out, scale, p, roi):
    """Resample one axis with index_select + weights (specialised to the traced size)."""
    inn = int(x.shape[ax])
    dev, r = x.device, x.dim()
    src = _coords(p["ctm"], out, inn, scale, roi[0], roi[1]).astype(np.float64)
    crop = p["ctm"] == "tf_crop_and_resize"

    def take(idx):
        return x.index_select(ax, torch.tensor(np.clip(idx, 0, inn - 1).astype(np.int64), device=dev))

    def wt(v):
        return torch.tensor(np.asarray(v, np.float32), device=dev).to(x.dtype).reshape(bshape(r, ax, out))

    if p["mode"] == "nearest":
        y = take(_nearest(src, p["nearest_mode"], scale))
    elif p["mode"] == "linear":
        s = src if crop else np.clip(src, 0, inn - 1)  # onnxruntime clamps the coordinate
        i0 = np.floor(s)
        frac = s - i0
        y = take(i0) * wt(1 - frac) + take(i0 + 1) * wt(frac)
    else:  # cubic
        i0 = np.floor(src)
        frac = src - i0
        taps = [i0 - 1, i0, i0 + 1, i0 + 2]
        ws = _cubic_weights(frac, p["cubic_a"])
        if p["exclude_outside"]:  # drop taps outside the input and renormalise
            ws = [np.where((t >= 0) & (t <= inn - 1), w, 0.0) for t, w in zip(taps, ws)]
            tot = sum(ws)
            ws = [w / tot for w in ws]
        y = sum(take(t) * wt(w) for t, w in zip(taps, ws))
    if crop:
        inside = (src >= 0) & (src <= inn - 1)
        if not inside.all():
            y = torch.where(torch.tensor(inside, device=dev).reshape(bshape(r, ax, out)), y,
                            torch.full_like(y, p["extrapolation"]))
    return y


def _resize_fast(x, in_sp, out_sp, sf, p):
    """F.interpolate where it computes exactly the ONNX formulas; None otherwise."""
    r = x.dim()
    if p["from_scales"]:
        # torch's output size for scale_factor must agree with ONNX floor(in * scale)
        if any(math.floor(i * s) != o for i, s, o in zip(in_sp, sf, out_sp)):
            return None
        kw = {"scale_factor": sf}  # torch then maps coordinates with the given scales, as ONNX
    else:
        kw = {"size": out_sp}  # scale = out / in on both sides
    mode, ctm = p["mode"], p["ctm"]
    if mode == "nearest":
        # torch nearest: src = floor(dst * in / out) -- exact for power-of-two up-scaling; that
        # is ONNX asymmetric + floor (and the legacy Upsample rule when up-sampling)
        pow2 = all(o % i == 0 and ((o // i) & (o // i - 1)) == 0 for i, o in zip(in_sp, out_sp))
        if pow2 and ctm == "asymmetric" and p["nearest_mode"] in ("floor", "legacy"):
            return F.interpolate(x, mode="nearest", **kw)
        return None
    if mode == "linear":
        tmode = {3: "linear", 4: "bilinear", 5: "trilinear"}[r]
    elif r == 4 and p["cubic_a"] == -0.75 and not p["exclude_outside"]:
        tmode = "bicubic"  # torch bicubic: a = -0.75, border taps replicated
    else:
        return None
    if ctm == "align_corners":
        return F.interpolate(x, size=out_sp, mode=tmode, align_corners=True)
    # torch (align_corners=False): src = (dst + 0.5) / scale - 0.5, clamped at 0 for linear --
    # ONNX half_pixel (pytorch_half_pixel differs only for an output length of 1)
    if ctm == "half_pixel" or (ctm == "pytorch_half_pixel" and all(o > 1 for o in out_sp)):
        return F.interpolate(x, mode=tmode, align_corners=False, **kw)
    return None


def resize_impl(x, out_sizes, scales, p, roi=None):
    """out_sizes/scales: per axis of x. p: mode, ctm, nearest_mode, cubic_a, exclude_outside,
    extrapolation; roi: per-axis (start, end) for tf_crop_and_resize."""
    r = x.dim()
    in_sizes = [int(v) for v in x.shape]
    changed = [a for a in range(r) if out_sizes[a] != in_sizes[a] or scales[a] != 1.0
               or p["ctm"] == "tf_crop_and_resize"]
    if not changed:
        return x
    spatial_only = 3 <= r <= 5 and all(a >= 2 for a in changed) and p["ctm"] != "tf_crop_and_resize"
    if spatial_only and p["policy"] == "stretch":
        y = _resize_fast(x, in_sizes[2:], out_sizes[2:], [float(s) for s in scales[2:]], p)
        if y is not None:
            return y
    for a in changed:
        x = _resize_axis(x, a, out_sizes[a], scales[a], p, roi[a] if roi else (0.0, 1.0))
    return x


def _resize_params(n, legacy):
    mode = n.a("mode", "nearest")
    if mode in ("bilinear", "trilinear"):
        mode = "linear"
    if mode not in ("nearest", "linear", "cubic"):
        raise OpError("Resize mode %r is not supported" % mode)
    return {
        "mode": mode,
        # Resize-10 and Upsample map coordinates as 'asymmetric'
        "ctm": "asymmetric" if legacy else n.a("coordinate_transformation_mode", "half_pixel"),
        "nearest_mode": "legacy" if legacy else n.a("nearest_mode", "round_prefer_floor"),
        "cubic_a": n.a("cubic_coeff_a", -0.75),
        "exclude_outside": n.a("exclude_outside", 0),
        "extrapolation": n.a("extrapolation_value", 0.0),
        "from_scales": True,
        "policy": "stretch",
    }


def _out_from_scales(in_sizes, scales, roi=None):
    # output_dimension = floor(input_dimension * (roi_end - roi_start) * scale), float32 as ORT
    f = np.float32
    out = []
    for i, (d, s) in enumerate(zip(in_sizes, scales)):
        ext = f(roi[i][1] - roi[i][0]) if roi else f(1)
        out.append(int(np.floor(f(d) * ext * f(s))))
    return out


@op("Upsample")
def upsample(n, x, scales=None):
    if n.opset < 7:
        hs, ws = n.a("height_scale"), n.a("width_scale")
        scales = [1.0, 1.0, hs, ws]
    elif n.opset < 9:
        scales = list(n.a("scales"))
    else:
        scales = floats(scales)
    p = _resize_params(n, legacy=True)
    return resize_impl(x, _out_from_scales(x.shape, scales), scales, p)


def _resize_runtime_sizes(n, x, sizes, axes, p):
    """Resize to `sizes` computed from input data (SAM's decoder: the masks are resized to
    orig_im_size): F.interpolate with 0-d tensor sizes, which the trace records as run-time
    values. ONNX Resize-13 (onnx/docs/Operators.md#Resize): with `sizes`, scale = sizes /
    input dims and x_original = (x_resized + 0.5) / scale - 0.5 (half_pixel) or
    x_resized * (in - 1) / (out - 1) (align_corners) -- torch's align_corners=False / True
    mapping for a given output size (see _resize_fast). So only linear / cubic (a = -0.75, no
    exclude_outside) with those two modes, and only the spatial axes (2..) may change; None
    otherwise (the sizes are then frozen, which onnx2ts's retrace check reports)."""
    r = x.dim()
    if not 3 <= r <= 5 or n.a("keep_aspect_ratio_policy", "stretch") != "stretch":
        return None
    if p["ctm"] not in ("half_pixel", "align_corners"):
        return None
    if p["mode"] == "linear":
        tmode = {3: "linear", 4: "bilinear", 5: "trilinear"}[r]
    elif p["mode"] == "cubic" and r == 4 and p["cubic_a"] == -0.75 and not p["exclude_outside"]:
        tmode = "bicubic"
    else:
        return None
    run = runtime_ints(sizes)
    now = ints(sizes)  # this trace's values: the non-spatial axes must keep their size
    full = list(x.shape)
    for i, a in enumerate(axes):
        if a < 2:
            if now[i] != int(x.shape[a]):
                return None
        else:
            full[a] = run[i]
    return F.interpolate(x, size=full[2:], mode=tmode, align_corners=p["ctm"] == "align_corners")


@op("Resize")
def resize(n, x, *rest):
    rest = list(rest) + [None] * 3
    if n.opset < 11:  # Resize-10: (X, scales)
        roi, scales, sizes = None, rest[0], None
    else:
        roi, scales, sizes = rest[0], rest[1], rest[2]
    p = _resize_params(n, legacy=n.opset < 11)
    if n.a("antialias", 0):
        raise OpError("Resize with antialias=1 is not supported")
    r = x.dim()
    in_sizes = [int(v) for v in x.shape]
    axes = n.a("axes", None)  # Resize-18
    axes = [norm_axis(a, r) for a in axes] if axes is not None else list(range(r))
    roi_pairs = None
    if p["ctm"] == "tf_crop_and_resize":
        rv = floats(roi) if given(roi) else [0.0] * len(axes) + [1.0] * len(axes)
        roi_pairs = [(0.0, 1.0)] * r
        for i, a in enumerate(axes):
            roi_pairs[a] = (rv[i], rv[len(axes) + i])
    full_scales = [1.0] * r
    out = list(in_sizes)
    if given(sizes) and dyn(n, 3):
        y = _resize_runtime_sizes(n, x, sizes, axes, p)
        if y is not None:
            return y
    if given(sizes):
        sz = ints(sizes)
        policy = n.a("keep_aspect_ratio_policy", "stretch")
        if policy == "stretch":
            for i, a in enumerate(axes):
                out[a] = sz[i]
                full_scales[a] = sz[i] / in_sizes[a]
        else:  # Resize-18: one scale for all axes, out = round(scale * in)
            ratios = [sz[i] / in_sizes[a] for i, a in enumerate(axes)]
            s = min(ratios) if policy == "not_larger" else max(ratios)
            p["policy"] = policy
            for a in axes:
                out[a] = int(math.floor(s * in_sizes[a] + 0.5))
                full_scales[a] = s
        p["from_scales"] = False
    elif given(scales):
        sc = floats(scales)
        for i, a in enumerate(axes):
            full_scales[a] = sc[i]
        out = _out_from_scales(in_sizes, full_scales, roi_pairs)
    else:
        raise OpError("Resize needs scales or sizes")
    return resize_impl(x, out, full_scales, p, roi_pairs)
