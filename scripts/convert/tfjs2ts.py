#!/usr/bin/env python3
"""tfjs2ts.py - convert a TensorFlow.js graph model (model.json + weight shards) to TorchScript.

usage: tfjs2ts.py MODEL.json OUT.pt [--input-shape 1,H,W,3] [--input NAME=D0,D1,..]...
                  [--const NAME=V[,V..]]... [--check] [--check-image IMG] [--seed N]

The graph is evaluated node by node in topological order with TensorFlow semantics and traced
with torch.jit.trace at one fixed input shape.  The TFJS interface is kept: inputs and outputs
have the layouts, dtypes and order TFJS uses (an NHWC image stays NHWC); convolutions and pools
run in NCHW on permuted views (channels_last memory, no copies) and are permuted back.

Inputs of the TorchScript module, in order: the inputs named by --input, in the order given,
then the remaining graph inputs in the order of the model's signature (or of the Placeholder
nodes when there is none).  --const NAME=VALUE bakes an input into the graph as a constant
(e.g. RVM's downsample_ratio, which decides resize sizes and a tf.cond branch at trace time)
and removes it from the module's inputs.
Outputs: the signature's outputs in signature order (TFJS's own order), else the graph's sink
nodes in node order; one tensor, or a tuple when there are several.  The names are stored in
the .pt file as extra file 'tfjs2ts.json' (inputs, outputs, shapes).

Everything that depends only on shapes (Shape, StridedSlice of shapes, Pack, Fill, ...) is
folded into constants at conversion time, so the trace is specialised to the given shapes.

--check runs the original model in Node with @tensorflow/tfjs (pure-JS CPU backend) on a
seeded random input and compares each output: ratio = max|torch - tfjs| / range(tfjs output)
(range = max - min; for a constant output max|tfjs|, or 1 when that is 0); pass if every
ratio <= 1e-4.  Prints one JSON line; exit 1 on failure.  tfjs is installed on first use with
`npm install @tensorflow/tfjs` into $VFM_NPM_CACHE (default /tmp/vfm-npm).

Exit codes: 0 ok, 1 parity failure, 2 conversion error (message on stderr:
`error: tfjs2ts: MODEL.json: ...`).  OUT.pt is written under a temporary name and renamed,
so a failed conversion leaves nothing behind.
"""
import argparse
import base64
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F


class ConvertError(Exception):
    pass


class _Dead:
    """Value of a tensor on the untaken side of a Switch (tf.cond)."""

    def __repr__(self):
        return 'DEAD'


DEAD = _Dead()

TF_DTYPES = {
    'DT_FLOAT': torch.float32, 'DT_HALF': torch.float32, 'DT_DOUBLE': torch.float32,
    'DT_BFLOAT16': torch.float32,
    'DT_INT32': torch.int32, 'DT_INT64': torch.int32, 'DT_INT16': torch.int32,
    'DT_INT8': torch.int32, 'DT_UINT8': torch.int32, 'DT_UINT16': torch.int32,
    'DT_BOOL': torch.bool,
}


# ----------------------------------------------------------------------------------------------
# model.json and weights

def parse_attr(a):
    if a is None:
        return None
    if 'list' in a:
        lst = a['list']
        if 's' in lst:
            return [base64.b64decode(s).decode('utf-8', 'replace') for s in lst['s']]
        if 'i' in lst:
            return [int(v) for v in lst['i']]
        if 'f' in lst:
            return [float(v) for v in lst['f']]
        if 'b' in lst:
            return [bool(v) for v in lst['b']]
        if 'type' in lst:
            return list(lst['type'])
        if 'shape' in lst:
            return list(lst['shape'])
        return []
    if 's' in a:
        return base64.b64decode(a['s']).decode('utf-8', 'replace')
    if 'i' in a:
        return int(a['i'])
    if 'f' in a:
        return float(a['f'])
    if 'b' in a:
        return bool(a['b'])
    if 'type' in a:
        return a['type']
    if 'shape' in a:
        return a['shape']
    if 'tensor' in a:
        return a['tensor']
    if 'func' in a:
        return a['func']
    return None


def parse_ref(s):
    """'name', 'name:1', '^name' -> (name, index, is_control)."""
    if s.startswith('^'):
        return s[1:], 0, True
    m = re.match(r'^(.*):(\d+)$', s)
    if m:
        return m.group(1), int(m.group(2)), False
    return s, 0, False


def load_weights(model_path, manifest):
    """Read the shards of each manifest group (concatenated in order) and decode each weight,
    dequantising uint8/uint16 (q * scale + min) and float16.  Returns name -> torch tensor."""
    base = os.path.dirname(os.path.abspath(model_path))
    out = {}
    for group in manifest:
        parts = []
        for p in group.get('paths', []):
            fp = os.path.join(base, p)
            if not os.path.isfile(fp):
                raise ConvertError('missing weight shard %s' % p)
            with open(fp, 'rb') as f:
                parts.append(f.read())
        buf = b''.join(parts)
        off = 0
        for w in group.get('weights', []):
            name, dtype = w['name'], w.get('dtype', 'float32')
            shape = [int(d) for d in w.get('shape', [])]
            n = int(np.prod(shape)) if shape else 1
            q = w.get('quantization')
            if dtype == 'string':
                raise ConvertError('string weight %s is not supported' % name)
            if q:
                qd = q.get('dtype')
                npd = {'uint8': np.uint8, 'uint16': np.uint16, 'float16': np.float16}.get(qd)
                if npd is None:
                    raise ConvertError('weight %s: unsupported quantization dtype %r' % (name, qd))
            else:
                npd = {'float32': np.float32, 'int32': np.int32, 'bool': np.uint8}.get(dtype)
                if npd is None:
                    raise ConvertError('weight %s: unsupported dtype %r' % (name, dtype))
            nbytes = n * np.dtype(npd).itemsize
            if off + nbytes > len(buf):
                raise ConvertError('weight shards %s too short: %d bytes, weight %s needs bytes %d..%d'
                                   % (','.join(group.get('paths', [])), len(buf), name, off, off + nbytes))
            raw = np.frombuffer(buf, dtype=npd, count=n, offset=off)
            off += nbytes
            if q and q.get('dtype') in ('uint8', 'uint16'):
                mn = float(q.get('min', 0.0))
                if 'scale' in q:
                    sc = float(q['scale'])
                else:  # min/max form
                    levels = 255.0 if q['dtype'] == 'uint8' else 65535.0
                    sc = (float(q.get('max', mn)) - mn) / levels
                v = raw.astype(np.float64) * sc + mn
                arr = np.round(v).astype(np.int32) if dtype == 'int32' else v.astype(np.float32)
            elif q:  # float16
                arr = raw.astype(np.float32)
                if dtype == 'int32':
                    arr = np.round(arr).astype(np.int32)
            elif dtype == 'bool':
                arr = raw.astype(np.bool_)
            else:
                arr = raw.copy()
            out[name] = torch.from_numpy(np.array(arr.reshape(shape), order='C'))  # (ascontiguousarray makes 0-d 1-d)
        if off != len(buf):
            raise ConvertError('weight shards %s size mismatch: %d bytes, manifest describes %d'
                               % (','.join(group.get('paths', [])), len(buf), off))
    return out


# ----------------------------------------------------------------------------------------------
# op context

class Ctx:
    """What an op implementation sees: its node, its inputs (tensors), which inputs are
    constants (numpy values) and a per-node cache of prepared constants (weights converted to
    torch layout, index tables) which become buffers of the module."""

    def __init__(self, runner, node, srcs, statics, mode, cache):
        self.r = runner
        self.node = node
        self.srcs = srcs          # build/fold: values; forward: ('env', n, i) / ('buf', name) / ('dead',)
        self.statics = statics    # per input: numpy array or None
        self.mode = mode          # 'fold' | 'build' | 'forward'
        self.cache = cache
        self.accessed = set()

    @property
    def name(self):
        return self.node['name']

    @property
    def op(self):
        return self.node['op']

    @property
    def n(self):
        return len(self.srcs)

    def attr(self, key, default=None):
        v = parse_attr(self.node.get('attr', {}).get(key))
        return default if v is None else v

    def _raw(self, i):
        s = self.srcs[i]
        if self.mode != 'forward':
            return s
        if s[0] == 'env':
            return self.r.env[s[1]][s[2]]
        if s[0] == 'buf':
            return getattr(self.r.module, s[1])
        return DEAD

    def x(self, i):
        if self.mode == 'build' and self.statics[i] is not None:
            self.accessed.add(i)
        return self._raw(i)

    def xs(self, a=0, b=None):
        b = self.n if b is None else b
        return [self.x(i) for i in range(a, b)]

    def is_static(self, i):
        return self.statics[i] is not None

    def sv(self, i):
        v = self.statics[i]
        if v is None:
            raise ConvertError("op '%s' (node %s): input %d must be a constant at trace time"
                               % (self.op, self.name, i))
        return v

    def ints(self, i):
        return [int(v) for v in np.asarray(self.sv(i)).reshape(-1)]

    def cached(self, key, fn):
        """A constant computed once at conversion time and stored as a module buffer."""
        if self.mode == 'fold':
            return fn()
        if self.mode == 'build':
            t = fn()
            self.cache[key] = t
            return t
        return getattr(self.r.module, self.cache[key])

    def prep(self, i, key, fn):
        """fn(input i), precomputed when input i is a constant."""
        if self.statics[i] is None:
            return fn(self._raw(i))
        return self.cached(key, lambda: fn(self._raw(i)))


OPS = {}


def op(*names):
    def deco(f):
        for nm in names:
            OPS[nm] = f
        return f
    return deco


# shape-only ops: their outputs are constants once input shapes are fixed
SHAPE_OPS = {'Shape', 'ShapeN', 'Size', 'Rank', 'ZerosLike', 'OnesLike'}


def norm_axis(a, rank):
    a = int(a)
    return a + rank if a < 0 else a


# ----------------------------------------------------------------------------------------------
# basic ops

@op('Identity', 'StopGradient', 'Snapshot', 'PreventGradient', 'EnsureShape')
def _identity(c):
    return c.x(0)


@op('IdentityN')
def _identity_n(c):
    return c.xs()


@op('NoOp')
def _noop(c):
    return []


@op('Switch')
def _switch(c):
    pred = bool(np.asarray(c.sv(1)).reshape(-1)[0])
    x = c.x(0)
    return [DEAD, x] if pred else [x, DEAD]


@op('Merge')
def _merge(c):
    for i in range(c.n):
        v = c.x(i)
        if v is not DEAD:
            return [v, torch.tensor(i, dtype=torch.int32)]
    return [DEAD, DEAD]


def _binary(fn):
    def f(c):
        return fn(c.x(0), c.x(1))
    return f


def _floordiv(a, b):
    if a.is_floating_point() or b.is_floating_point():
        return torch.floor(a / b)
    return torch.div(a, b, rounding_mode='floor')


def _realdiv(a, b):
    if a.is_floating_point() or b.is_floating_point():
        return a / b
    return torch.div(a, b, rounding_mode='trunc')


for _n, _f in {
    'Add': torch.add, 'AddV2': torch.add, 'Sub': torch.sub, 'Mul': torch.mul,
    'RealDiv': _realdiv, 'Div': _realdiv, 'DivNoNan': lambda a, b: torch.where(b == 0, torch.zeros_like(a / b), a / b),
    'FloorDiv': _floordiv, 'FloorMod': torch.remainder, 'Mod': torch.fmod,
    'Maximum': torch.maximum, 'Minimum': torch.minimum, 'Pow': torch.pow,
    'SquaredDifference': lambda a, b: (a - b) * (a - b), 'Atan2': torch.atan2,
    'Equal': torch.eq, 'NotEqual': torch.ne, 'Less': torch.lt, 'LessEqual': torch.le,
    'Greater': torch.gt, 'GreaterEqual': torch.ge,
    'LogicalAnd': torch.logical_and, 'LogicalOr': torch.logical_or,
}.items():
    OPS[_n] = _binary(_f)


def _relu6(x):
    return torch.clamp(x, 0.0, 6.0)


def _selu(x):
    return F.selu(x)


UNARY = {
    'Relu': torch.relu, 'Relu6': _relu6, 'Elu': F.elu, 'Selu': _selu, 'Sigmoid': torch.sigmoid,
    'Tanh': torch.tanh, 'Neg': torch.neg, 'Exp': torch.exp, 'Log': torch.log, 'Sqrt': torch.sqrt,
    'Square': lambda x: x * x, 'Rsqrt': torch.rsqrt, 'Abs': torch.abs, 'Floor': torch.floor,
    'Ceil': torch.ceil, 'Round': torch.round, 'Sin': torch.sin, 'Cos': torch.cos, 'Tan': torch.tan,
    'Asin': torch.asin, 'Acos': torch.acos, 'Atan': torch.atan, 'Sign': torch.sign,
    'Reciprocal': torch.reciprocal, 'Inv': torch.reciprocal, 'Softplus': F.softplus,
    'LogicalNot': torch.logical_not, 'Erf': torch.erf, 'Expm1': torch.expm1, 'Log1p': torch.log1p,
    'IsNan': torch.isnan, 'Sinh': torch.sinh, 'Cosh': torch.cosh,
}
for _n, _f in UNARY.items():
    OPS[_n] = (lambda fn: (lambda c: fn(c.x(0))))(_f)


@op('LeakyRelu')
def _leaky(c):
    return F.leaky_relu(c.x(0), c.attr('alpha', 0.2))


@op('Prelu')
def _prelu(c):
    x, a = c.x(0), c.x(1)
    return torch.where(x < 0, x * a, x)


@op('AddN')
def _addn(c):
    xs = c.xs()
    y = xs[0]
    for t in xs[1:]:
        y = y + t
    return y


@op('BiasAdd', 'BiasAddV1')
def _biasadd(c):
    x, b = c.x(0), c.x(1)
    if c.attr('data_format', 'NHWC').startswith('NC') and x.dim() > 2:
        b = b.reshape([-1] + [1] * (x.dim() - 2))
    return x + b


@op('Cast')
def _cast(c):
    dt = TF_DTYPES.get(c.attr('DstT'))
    if dt is None:
        raise ConvertError("op 'Cast' (node %s): unsupported dtype %s" % (c.name, c.attr('DstT')))
    x = c.x(0)
    if dt == torch.bool:
        return x != 0
    return x.to(dt)


@op('Const')
def _const(c):
    raise AssertionError


@op('Shape')
def _shape(c):
    return torch.tensor(list(c.x(0).shape), dtype=torch.int32)


@op('ShapeN')
def _shapen(c):
    return [torch.tensor(list(t.shape), dtype=torch.int32) for t in c.xs()]


@op('Size')
def _size(c):
    return torch.tensor(c.x(0).numel(), dtype=torch.int32)


@op('Rank')
def _rank(c):
    return torch.tensor(c.x(0).dim(), dtype=torch.int32)


@op('ZerosLike')
def _zeroslike(c):
    return torch.zeros_like(c.x(0))


@op('OnesLike')
def _oneslike(c):
    return torch.ones_like(c.x(0))


@op('Fill')
def _fill(c):
    dims = c.ints(0)
    v = c.x(1)
    return v.reshape([]).expand(dims).contiguous() if v.dim() else v.expand(dims).contiguous()


@op('Range')
def _range(c):
    s, l, d = [np.asarray(c.sv(i)).item() for i in range(3)]
    dt = TF_DTYPES.get(c.attr('Tidx'), torch.float32 if isinstance(s, float) else torch.int32)
    return torch.arange(s, l, d, dtype=torch.float64).to(dt)


@op('BroadcastTo')
def _broadcast_to(c):
    return c.x(0).expand(c.ints(1))


@op('Select', 'SelectV2')
def _select(c):
    cond, a, b = c.x(0), c.x(1), c.x(2)
    if c.op == 'Select' and cond.dim() == 1 and a.dim() > 1:
        cond = cond.reshape([-1] + [1] * (a.dim() - 1))
    return torch.where(cond, a, b)


# ----------------------------------------------------------------------------------------------
# shapes and slicing

@op('Reshape')
def _reshape(c):
    return c.x(0).reshape(c.ints(1))


@op('Squeeze')
def _squeeze(c):
    x = c.x(0)
    dims = c.attr('squeeze_dims', None) or c.attr('axis', None) or []
    if not dims:
        return x.reshape([d for d in x.shape if d != 1])
    dims = {norm_axis(d, x.dim()) for d in dims}
    return x.reshape([d for i, d in enumerate(x.shape) if i not in dims])


@op('ExpandDims')
def _expand_dims(c):
    x = c.x(0)
    a = c.ints(1)[0]
    if a < 0:
        a += x.dim() + 1
    return x.unsqueeze(a)


@op('Transpose')
def _transpose(c):
    return c.x(0).permute(c.ints(1))


@op('ConcatV2', 'Concat')
def _concat(c):
    if c.op == 'Concat':
        ax, xs = c.ints(0)[0], c.xs(1)
    else:
        ax, xs = c.ints(c.n - 1)[0], c.xs(0, c.n - 1)
    xs = [t for t in xs]
    return torch.cat(xs, norm_axis(ax, xs[0].dim()))


@op('Pack')
def _pack(c):
    xs = c.xs()
    return torch.stack(xs, norm_axis(c.attr('axis', 0), xs[0].dim() + 1))


@op('Unpack')
def _unpack(c):
    x = c.x(0)
    return list(torch.unbind(x, norm_axis(c.attr('axis', 0), x.dim())))


@op('Split')
def _split(c):
    x = c.x(1)
    ax = norm_axis(c.ints(0)[0], x.dim())
    k = c.attr('num_split', 1)
    return list(torch.split(x, x.shape[ax] // k, ax))


@op('SplitV')
def _splitv(c):
    x = c.x(0)
    sizes = c.ints(1)
    ax = norm_axis(c.ints(2)[0], x.dim())
    if -1 in sizes:
        i = sizes.index(-1)
        sizes[i] = x.shape[ax] - (sum(sizes) + 1)
    return list(torch.split(x, sizes, ax))


def _take_dim(x, dim, idx):
    """x restricted to the index list idx along dim (slice when it is a plain range)."""
    n = x.shape[dim]
    if len(idx) == n and idx == list(range(n)):
        return x
    if len(idx) > 0 and idx[0] >= 0:
        step = idx[1] - idx[0] if len(idx) > 1 else 1
        if step > 0 and idx == list(range(idx[0], idx[0] + step * len(idx), step)):
            sl = [slice(None)] * x.dim()
            sl[dim] = slice(idx[0], idx[-1] + 1, step)
            return x[tuple(sl)]
    return x.index_select(dim, torch.tensor(idx, dtype=torch.long))


@op('StridedSlice')
def _strided_slice(c):
    x = c.x(0)
    begin, end, strides = c.ints(1), c.ints(2), c.ints(3)
    bm, em = c.attr('begin_mask', 0), c.attr('end_mask', 0)
    elm, nam, sam = c.attr('ellipsis_mask', 0), c.attr('new_axis_mask', 0), c.attr('shrink_axis_mask', 0)
    rank = x.dim()
    nspec = len(begin)
    # expand the sparse spec to one entry per input dimension (plus new axes)
    n_real = sum(1 for i in range(nspec) if not (nam >> i) & 1 and not (elm >> i) & 1)
    has_ell = any((elm >> i) & 1 for i in range(nspec))
    dense = []  # ('full',) | ('new',) | ('spec', i)
    for i in range(nspec):
        if (elm >> i) & 1:
            dense += [('full',)] * (rank - n_real)
        elif (nam >> i) & 1:
            dense.append(('new',))
        else:
            dense.append(('spec', i))
    if not has_ell:
        dense += [('full',)] * (rank - n_real)
    out_shape = []
    dim = 0
    for d in dense:
        if d[0] == 'new':
            out_shape.append(1)
            continue
        n = x.shape[dim]
        if d[0] == 'full':
            idx = list(range(n))
            out_shape.append(n)
        else:
            i = d[1]
            s = strides[i]
            if s == 0:
                raise ConvertError("op 'StridedSlice' (node %s): zero stride" % c.name)
            if (sam >> i) & 1:
                b = begin[i] + n if begin[i] < 0 else begin[i]
                if not 0 <= b < n:
                    raise ConvertError("op 'StridedSlice' (node %s): index out of range" % c.name)
                idx = [b]
            else:
                b = None if (bm >> i) & 1 else begin[i]
                e = None if (em >> i) & 1 else end[i]
                idx = list(range(*slice(b, e, s).indices(n)))
                out_shape.append(len(idx))
        x = _take_dim(x, dim, idx)
        dim += 1
    return x.reshape(out_shape)


@op('Slice')
def _slice(c):
    x = c.x(0)
    begin, size = c.ints(1), c.ints(2)
    for d in range(len(begin)):
        e = x.shape[d] if size[d] == -1 else begin[d] + size[d]
        x = _take_dim(x, d, list(range(begin[d], e)))
    return x


@op('Tile')
def _tile(c):
    return c.x(0).repeat(c.ints(1))


@op('Pad', 'PadV2')
def _pad(c):
    x = c.x(0)
    p = np.asarray(c.sv(1)).reshape(-1, 2)
    val = float(np.asarray(c.sv(2)).reshape(-1)[0]) if c.op == 'PadV2' and c.n > 2 else 0.0
    flat = []
    for d in range(x.dim() - 1, -1, -1):
        flat += [int(p[d, 0]), int(p[d, 1])]
    while len(flat) > 2 and flat[-1] == 0 and flat[-2] == 0:
        flat = flat[:-2]
    if not any(flat):
        return x
    return F.pad(x, flat, value=val)


@op('MirrorPad')
def _mirror_pad(c):
    x = c.x(0)
    p = np.asarray(c.sv(1)).reshape(-1, 2)
    sym = c.attr('mode', 'REFLECT').upper() == 'SYMMETRIC'
    off = 0 if sym else 1
    for d in range(x.dim()):
        a, b = int(p[d, 0]), int(p[d, 1])
        if a == 0 and b == 0:
            continue
        n = x.shape[d]
        idx = [off + a - 1 - k for k in range(a)] + list(range(n)) + [n - 1 - off - k for k in range(b)]
        x = x.index_select(d, c.cached('mp%d' % d, lambda: torch.tensor(idx, dtype=torch.long)))
    return x


@op('DepthToSpace')
def _depth_to_space(c):
    x = c.x(0)
    bs = c.attr('block_size')
    if c.attr('data_format', 'NHWC') != 'NHWC':
        raise ConvertError("op 'DepthToSpace' (node %s): only NHWC" % c.name)
    B, H, W, C = x.shape
    co = C // (bs * bs)
    return x.reshape(B, H, W, bs, bs, co).permute(0, 1, 3, 2, 4, 5).reshape(B, H * bs, W * bs, co)


@op('SpaceToDepth')
def _space_to_depth(c):
    x = c.x(0)
    bs = c.attr('block_size')
    B, H, W, C = x.shape
    return x.reshape(B, H // bs, bs, W // bs, bs, C).permute(0, 1, 3, 2, 4, 5).reshape(B, H // bs, W // bs, bs * bs * C)


@op('SpaceToBatchND')
def _space_to_batch(c):
    x = c.x(0)
    block = c.ints(1)
    pads = np.asarray(c.sv(2)).reshape(-1, 2)
    m = len(block)
    flat = []
    for d in range(x.dim() - 1, -1, -1):
        if 1 <= d <= m:
            flat += [int(pads[d - 1, 0]), int(pads[d - 1, 1])]
        else:
            flat += [0, 0]
    if any(flat):
        x = F.pad(x, flat)
    B = x.shape[0]
    rest = list(x.shape[m + 1:])
    shp = [B]
    for i in range(m):
        shp += [x.shape[1 + i] // block[i], block[i]]
    x = x.reshape(shp + rest)
    perm = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + \
        list(range(1 + 2 * m, 1 + 2 * m + len(rest)))
    x = x.permute(perm)
    return x.reshape([B * int(np.prod(block))] + [shp[1 + 2 * i] for i in range(m)] + rest)


@op('BatchToSpaceND')
def _batch_to_space(c):
    x = c.x(0)
    block = c.ints(1)
    crops = np.asarray(c.sv(2)).reshape(-1, 2)
    m = len(block)
    nb = int(np.prod(block))
    B = x.shape[0] // nb
    sp = list(x.shape[1:1 + m])
    rest = list(x.shape[1 + m:])
    x = x.reshape(block + [B] + sp + rest)
    perm = [m]
    for i in range(m):
        perm += [m + 1 + i, i]
    perm += list(range(1 + 2 * m, 1 + 2 * m + len(rest)))
    x = x.permute(perm).reshape([B] + [sp[i] * block[i] for i in range(m)] + rest)
    for i in range(m):
        a, b = int(crops[i, 0]), int(crops[i, 1])
        if a or b:
            x = x.narrow(1 + i, a, x.shape[1 + i] - a - b)
    return x


@op('GatherV2', 'Gather')
def _gather(c):
    params, idx = c.x(0), c.x(1)
    ax = norm_axis(c.ints(2)[0], params.dim()) if c.op == 'GatherV2' else 0
    bd = c.attr('batch_dims', 0)
    if bd:
        if bd < 0:
            bd += idx.dim()
        if bd != ax or idx.dim() != bd + 1:
            raise ConvertError("op 'GatherV2' (node %s): batch_dims=%d not supported" % (c.name, bd))
        # one index vector per batch element
        shp = list(idx.shape) + list(params.shape[ax + 1:])
        ii = idx.long().reshape(list(idx.shape) + [1] * (params.dim() - ax - 1)).expand(shp)
        return torch.gather(params, ax, ii)
    flat = idx.reshape(-1).long()
    g = params.index_select(ax, flat)
    return g.reshape(list(params.shape[:ax]) + list(idx.shape) + list(params.shape[ax + 1:]))


@op('GatherNd')
def _gather_nd(c):
    params, idx = c.x(0), c.x(1)
    m = idx.shape[-1]
    lead = list(params.shape[:m])
    rest = list(params.shape[m:])
    strides = [int(np.prod(lead[i + 1:])) for i in range(m)]
    st = torch.tensor(strides, dtype=torch.long)
    lin = (idx.long() * st).sum(-1)
    g = params.reshape([-1] + rest).index_select(0, lin.reshape(-1))
    return g.reshape(list(idx.shape[:-1]) + rest)


@op('SparseToDense')
def _sparse_to_dense(c):
    idx, shape, vals, dflt = c.x(0), c.ints(1), c.x(2), c.x(3)
    out = torch.full(shape, 0, dtype=vals.dtype) + dflt.to(vals.dtype)
    idx = idx.long()
    if idx.dim() < 2:
        idx = idx.reshape(-1, 1)
    vals = vals.reshape(-1).expand(idx.shape[0])
    lin = torch.zeros(idx.shape[0], dtype=torch.long)
    for d in range(len(shape)):
        lin = lin * shape[d] + idx[:, d]
    flat = out.reshape(-1).clone()
    flat[lin] = vals
    return flat.reshape(shape)


@op('OneHot')
def _one_hot(c):
    idx, depth, on, off = c.x(0), c.ints(1)[0], c.x(2), c.x(3)
    ax = c.attr('axis', -1)
    oh = F.one_hot(idx.long().clamp(min=0), depth) * (idx.long() >= 0).unsqueeze(-1)
    y = torch.where(oh.bool(), on, off)
    if ax != -1:
        y = y.movedim(-1, ax)
    return y


# ----------------------------------------------------------------------------------------------
# reductions, softmax, matmul

def _reduce(fn):
    def f(c):
        x = c.x(0)
        axes = sorted({norm_axis(a, x.dim()) for a in c.ints(1)})
        keep = c.attr('keep_dims', False)
        if not axes:
            return x
        return fn(x, axes, keep)
    return f


def _prod(x, axes, keep):
    for a in sorted(axes, reverse=True):
        x = torch.prod(x, a, keepdim=keep)
    return x


OPS['Mean'] = _reduce(lambda x, a, k: torch.mean(x, a, keepdim=k))
OPS['Sum'] = _reduce(lambda x, a, k: torch.sum(x, a, keepdim=k))
OPS['Max'] = _reduce(lambda x, a, k: torch.amax(x, a, keepdim=k))
OPS['Min'] = _reduce(lambda x, a, k: torch.amin(x, a, keepdim=k))
OPS['Prod'] = _reduce(_prod)
OPS['All'] = _reduce(lambda x, a, k: torch.amin(x.to(torch.uint8), a, keepdim=k).bool())
OPS['Any'] = _reduce(lambda x, a, k: torch.amax(x.to(torch.uint8), a, keepdim=k).bool())


@op('ArgMax', 'ArgMin')
def _argmax(c):
    x = c.x(0)
    ax = norm_axis(c.ints(1)[0], x.dim())
    r = torch.argmax(x, ax) if c.op == 'ArgMax' else torch.argmin(x, ax)
    return r.to(torch.int32)


@op('Softmax')
def _softmax(c):
    return torch.softmax(c.x(0), -1)


@op('LogSoftmax')
def _log_softmax(c):
    return torch.log_softmax(c.x(0), -1)


@op('TopKV2')
def _topk(c):
    x = c.x(0)
    k = c.ints(1)[0]
    # TFJS (and TF) break ties by lower index first: a stable descending sort does the same
    v, i = torch.sort(x, dim=-1, descending=True, stable=True)
    return [v[..., :k], i[..., :k].to(torch.int32)]


def _act(c, y, name, args, ai):
    if name == 'Relu':
        return torch.relu(y), ai
    if name == 'Relu6':
        return torch.clamp(y, 0.0, 6.0), ai
    if name == 'Elu':
        return F.elu(y), ai
    if name == 'Sigmoid':
        return torch.sigmoid(y), ai
    if name == 'Tanh':
        return torch.tanh(y), ai
    if name == 'LeakyRelu':
        return F.leaky_relu(y, c.attr('leakyrelu_alpha', 0.2)), ai
    if name == 'Prelu':
        a = args[ai]
        return torch.where(y < 0, y * a, y), ai + 1
    raise ConvertError("op '%s' (node %s): unsupported fused op '%s'" % (c.op, c.name, name))


def _apply_fused(c, y, fused, args, start=0, cdim=-1):
    ai = 0
    for k, name in enumerate(fused):
        if k < start:
            if name == 'BiasAdd':
                ai += 1
            continue
        if name in ('BiasAdd', 'Add', 'AddV2'):
            y = y + args[ai]
            ai += 1
        elif name == 'FusedBatchNorm':
            sc, of, mu, var = args[ai:ai + 4]
            ai += 4
            eps = c.attr('epsilon', 1e-4)
            y = (y - mu) * torch.rsqrt(var + eps) * sc + of
        else:
            y, ai = _act(c, y, name, args, ai)
    return y


@op('MatMul', '_FusedMatMul')
def _matmul(c):
    a = c.x(0)
    ta, tb = c.attr('transpose_a', False), c.attr('transpose_b', False)
    fused = c.attr('fused_ops', []) if c.op == '_FusedMatMul' else []
    args = [c.x(i) for i in range(2, c.n)] if fused else []
    if not ta and a.dim() == 2 and c.is_static(1):
        # y = a @ b as F.linear with weight b^T (precomputed)
        w = c.prep(1, 'w', lambda b: (b if tb else b.t()).contiguous())
        bias = None
        start = 0
        if fused and fused[0] == 'BiasAdd' and args[0].dim() == 1:
            bias, start = args[0], 1
        y = F.linear(a, w, bias)
    else:
        b = c.x(1)
        if ta:
            a = a.transpose(-1, -2)
        if tb:
            b = b.transpose(-1, -2)
        y = torch.matmul(a, b)
        start = 0
    return _apply_fused(c, y, fused, args, start)


@op('BatchMatMul', 'BatchMatMulV2', 'BatchMatMulV3')
def _bmm(c):
    a, b = c.x(0), c.x(1)
    if c.attr('adj_x', False):
        a = a.transpose(-1, -2)
    if c.attr('adj_y', False):
        b = b.transpose(-1, -2)
    return torch.matmul(a, b)


@op('FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3')
def _fused_bn(c):
    x = c.x(0)
    nchw = c.attr('data_format', 'NHWC').startswith('NC')
    eps = c.attr('epsilon', 1e-4)

    def prm(i):
        def f(t):
            return t.reshape(-1, 1, 1) if nchw and x.dim() == 4 else t
        return c.prep(i, 'p%d' % i, f)
    sc, of, mu, var = prm(1), prm(2), prm(3), prm(4)
    y = (x - mu) * torch.rsqrt(var + eps) * sc + of
    return [y, mu, var, mu, var, mu]


# ----------------------------------------------------------------------------------------------
# convolutions and pooling

def _hw(lst, fmt):
    """(h, w) from a 4-element attr list in data_format order."""
    if not lst:
        return 1, 1
    if len(lst) == 2:
        return lst[0], lst[1]
    return (lst[2], lst[3]) if fmt.startswith('NC') else (lst[1], lst[2])


def _same(n, k, s, d):
    eff = (k - 1) * d + 1
    out = -(-n // s)
    total = max((out - 1) * s + eff - n, 0)
    return total // 2, total - total // 2


def _pads(c, fmt, ih, iw, kh, kw, sh, sw, dh, dw):
    p = c.attr('padding', 'VALID')
    if p == 'VALID':
        return 0, 0, 0, 0
    if p == 'SAME':
        t, b = _same(ih, kh, sh, dh)
        l, r = _same(iw, kw, sw, dw)
        return t, b, l, r
    if p == 'EXPLICIT':
        e = c.attr('explicit_paddings', [0] * 8)
        if fmt.startswith('NC'):
            return e[4], e[5], e[6], e[7]
        return e[2], e[3], e[4], e[5]
    raise ConvertError("op '%s' (node %s): unsupported padding %r" % (c.op, c.name, p))


def _to_nchw(x, fmt):
    return x if fmt.startswith('NC') else x.permute(0, 3, 1, 2)


def _from_nchw(y, fmt):
    return y if fmt.startswith('NC') else y.permute(0, 2, 3, 1)


def _cl(w):
    return w.contiguous(memory_format=torch.channels_last) if w.dim() == 4 else w.contiguous()


@op('Conv2D', '_FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative')
def _conv(c):
    x = c.x(0)
    fmt = c.attr('data_format', 'NHWC')
    depthwise = 'Depthwise' in c.op
    fused = c.attr('fused_ops', []) if c.op in ('_FusedConv2D', 'FusedDepthwiseConv2dNative') else []
    args = [c.x(i) for i in range(2, c.n)] if fused else []
    wt = c.x(1) if not c.is_static(1) else c.statics[1]
    kh, kw, ci, co = wt.shape
    cin = x.shape[1] if fmt.startswith('NC') else x.shape[3]
    if depthwise:
        w = c.prep(1, 'w', lambda t: _cl(t.permute(2, 3, 0, 1).reshape(ci * co, 1, kh, kw)))
        groups = ci
    else:
        w = c.prep(1, 'w', lambda t: _cl(t.permute(3, 2, 0, 1)))
        groups = cin // ci
    sh, sw = _hw(c.attr('strides', [1, 1, 1, 1]), fmt)
    dh, dw = _hw(c.attr('dilations', [1, 1, 1, 1]), fmt)
    ih, iw = (x.shape[2], x.shape[3]) if fmt.startswith('NC') else (x.shape[1], x.shape[2])
    t, b, l, r = _pads(c, fmt, ih, iw, kh, kw, sh, sw, dh, dw)
    bias, start = None, 0
    if fused and fused[0] == 'BiasAdd' and args[0].dim() == 1:
        bias, start = args[0], 1
    xc = _to_nchw(x, fmt)
    if t == b and l == r:
        y = F.conv2d(xc, w, bias, (sh, sw), (t, l), (dh, dw), groups)
    else:
        y = F.conv2d(F.pad(xc, (l, r, t, b)), w, bias, (sh, sw), 0, (dh, dw), groups)
    y = _from_nchw(y, fmt)
    if fused:
        if fmt.startswith('NC'):
            args = [a.reshape(-1, 1, 1) if a.dim() == 1 else a for a in args]
        y = _apply_fused(c, y, fused, args, start)
    return y


@op('Conv2DBackpropInput')
def _deconv(c):
    out_size = c.ints(0)
    x = c.x(2)
    fmt = c.attr('data_format', 'NHWC')
    wt = c.statics[1] if c.is_static(1) else c.x(1)
    kh, kw, co, ci = wt.shape       # filter [kh, kw, out_channels, in_channels(of x)]
    w = c.prep(1, 'w', lambda t: _cl(t.permute(3, 2, 0, 1)))  # [ci, co, kh, kw] for conv_transpose
    sh, sw = _hw(c.attr('strides', [1, 1, 1, 1]), fmt)
    dh, dw = _hw(c.attr('dilations', [1, 1, 1, 1]), fmt)
    oh, ow = (out_size[2], out_size[3]) if fmt.startswith('NC') else (out_size[1], out_size[2])
    t, b, l, r = _pads(c, fmt, oh, ow, kh, kw, sh, sw, dh, dw)
    y = F.conv_transpose2d(_to_nchw(x, fmt), w, None, (sh, sw), 0, 0, 1, (dh, dw))
    # full transposed conv, then the window the forward conv's padding selects
    fh, fw = y.shape[2], y.shape[3]
    ph, pw = max(0, t + oh - fh), max(0, l + ow - fw)
    if ph or pw:
        y = F.pad(y, (0, pw, 0, ph))
    y = y[:, :, t:t + oh, l:l + ow]
    return _from_nchw(y, fmt)


def _pool_common(c):
    x = c.x(0)
    fmt = c.attr('data_format', 'NHWC')
    kh, kw = _hw(c.attr('ksize'), fmt)
    sh, sw = _hw(c.attr('strides'), fmt)
    ih, iw = (x.shape[2], x.shape[3]) if fmt.startswith('NC') else (x.shape[1], x.shape[2])
    t, b, l, r = _pads(c, fmt, ih, iw, kh, kw, sh, sw, 1, 1)
    return x, fmt, kh, kw, sh, sw, t, b, l, r


@op('MaxPool', 'MaxPoolV2')
def _maxpool(c):
    x, fmt, kh, kw, sh, sw, t, b, l, r = _pool_common(c)
    xc = _to_nchw(x, fmt)
    if t == b and l == r and 2 * t <= kh and 2 * l <= kw:
        y = F.max_pool2d(xc, (kh, kw), (sh, sw), (t, l))
    else:
        y = F.max_pool2d(F.pad(xc, (l, r, t, b), value=float('-inf')), (kh, kw), (sh, sw))
    return _from_nchw(y, fmt)


@op('AvgPool')
def _avgpool(c):
    x, fmt, kh, kw, sh, sw, t, b, l, r = _pool_common(c)
    xc = _to_nchw(x, fmt)
    if t == b and l == r and 2 * t <= kh and 2 * l <= kw:
        y = F.avg_pool2d(xc, (kh, kw), (sh, sw), (t, l), count_include_pad=False)
    else:
        # TF averages over the valid (unpadded) elements only
        ih, iw = xc.shape[2], xc.shape[3]

        def count():
            ones = F.pad(torch.ones(1, 1, ih, iw), (l, r, t, b))
            return F.avg_pool2d(ones, (kh, kw), (sh, sw)) * (kh * kw)
        cnt = c.cached('cnt', count)
        y = F.avg_pool2d(F.pad(xc, (l, r, t, b)), (kh, kw), (sh, sw)) * (kh * kw) / cnt
    return _from_nchw(y, fmt)


# ----------------------------------------------------------------------------------------------
# resize (TFJS / TF semantics)

def _src_index_linear(out_n, in_n, align, half):
    """Source indices (lo, hi) and weights of the second one, for one axis, as TFJS computes."""
    ratio = (in_n - 1) / (out_n - 1) if (align and out_n > 1) else in_n / out_n
    lo, hi, fr = [], [], []
    for i in range(out_n):
        s = ratio * (i + 0.5) - 0.5 if half else ratio * i
        f0 = max(0, math.floor(s))
        lo.append(f0)
        hi.append(min(in_n - 1, math.ceil(s)))
        fr.append(s - f0)
    return lo, hi, fr


@op('ResizeBilinear')
def _resize_bilinear(c):
    x = c.x(0)
    oh, ow = c.ints(1)
    align = c.attr('align_corners', False)
    half = c.attr('half_pixel_centers', False)
    B, H, W, C = x.shape
    if (oh, ow) == (H, W):
        # same size: the TF/TFJS formulas give exact copies in every mode
        return x
    if align or half:
        y = F.interpolate(x.permute(0, 3, 1, 2), size=(oh, ow), mode='bilinear', align_corners=bool(align))
        return y.permute(0, 2, 3, 1)
    # legacy (neither flag): src = dst * in / out, not available in torch.nn.functional
    lo_h, hi_h, fr_h = _src_index_linear(oh, H, align, half)
    lo_w, hi_w, fr_w = _src_index_linear(ow, W, align, half)
    lh = c.cached('lh', lambda: torch.tensor(lo_h, dtype=torch.long))
    hh = c.cached('hh', lambda: torch.tensor(hi_h, dtype=torch.long))
    wh = c.cached('wh', lambda: torch.tensor(fr_h, dtype=torch.float32).reshape(1, -1, 1, 1))
    lw = c.cached('lw', lambda: torch.tensor(lo_w, dtype=torch.long))
    hw = c.cached('hw', lambda: torch.tensor(hi_w, dtype=torch.long))
    ww = c.cached('ww', lambda: torch.tensor(fr_w, dtype=torch.float32).reshape(1, 1, -1, 1))
    top, bot = x.index_select(1, lh), x.index_select(1, hh)
    y = top + (bot - top) * wh
    left, right = y.index_select(2, lw), y.index_select(2, hw)
    return left + (right - left) * ww


def _src_index_nearest(out_n, in_n, align, half):
    ratio = (in_n - 1) / (out_n - 1) if (align and out_n > 1) else in_n / out_n
    idx = []
    for i in range(out_n):
        s = ratio * (i + 0.5 if half else i)
        k = min(in_n - 1, int(math.floor(s + 0.5)) if align else int(math.floor(s)))
        if half:
            k = max(0, k)
        idx.append(k)
    return idx


@op('ResizeNearestNeighbor')
def _resize_nearest(c):
    x = c.x(0)
    oh, ow = c.ints(1)
    align = c.attr('align_corners', False)
    half = c.attr('half_pixel_centers', False)
    B, H, W, C = x.shape
    ih = c.cached('ih', lambda: torch.tensor(_src_index_nearest(oh, H, align, half), dtype=torch.long))
    iw = c.cached('iw', lambda: torch.tensor(_src_index_nearest(ow, W, align, half), dtype=torch.long))
    return x.index_select(1, ih).index_select(2, iw)


# ----------------------------------------------------------------------------------------------
# graph -> module

class Runner:
    def __init__(self):
        self.env = None
        self.module = None


class TfjsModule(torch.nn.Module):
    def __init__(self, plan, input_names, outputs):
        super().__init__()
        self._plan = plan              # list of (node, srcs, statics, cache)
        self._inputs = input_names     # placeholder node names, in forward() order
        self._outputs = outputs        # list of ('env', name, idx) | ('buf', name)
        self._runner = Runner()
        self._runner.module = self

    def forward(self, *xs):
        r = self._runner
        r.env = {n: [x] for n, x in zip(self._inputs, xs)}
        for node, srcs, statics, cache in self._plan:
            c = Ctx(r, node, srcs, statics, 'forward', cache)
            out = OPS[node['op']](c)
            r.env[node['name']] = out if isinstance(out, list) else [out]
        outs = []
        for o in self._outputs:
            outs.append(r.env[o[1]][o[2]] if o[0] == 'env' else getattr(self, o[1]))
        r.env = None
        return outs[0] if len(outs) == 1 else tuple(outs)


class Converter:
    def __init__(self, model_path, input_specs, const_specs, default_shape):
        self.path = model_path
        try:
            with open(model_path) as f:
                self.mj = json.load(f)
        except OSError as e:
            raise ConvertError('cannot read: %s' % e.strerror)
        except ValueError as e:
            raise ConvertError('not JSON: %s' % e)
        topo = self.mj.get('modelTopology') or {}
        if 'node' not in topo:
            raise ConvertError('not a TFJS graph model (no modelTopology.node; format %r)'
                               % self.mj.get('format'))
        fns = (topo.get('library') or {}).get('function') or []
        if fns:
            raise ConvertError('graph functions (control flow v2) are not supported')
        self.nodes = {}
        self.order_all = []
        for n in topo['node']:
            self.nodes[n['name']] = n
            self.order_all.append(n['name'])
        self.input_specs = input_specs      # name -> shape list (ordered dict)
        self.const_specs = const_specs      # name -> numpy value
        self.default_shape = default_shape
        self.sig = self.mj.get('signature') or (self.mj.get('userDefinedMetadata') or {}).get('signature') or {}

    # ---- interface
    def placeholders(self):
        return [n for n in self.order_all if self.nodes[n]['op'] == 'Placeholder']

    def output_refs(self):
        outs = self.sig.get('outputs') or {}
        refs = []
        if outs:
            for key, v in outs.items():
                nm, idx, _ = parse_ref(v.get('name', key))
                if nm not in self.nodes:
                    raise ConvertError('signature output %r: no node %s' % (key, nm))
                refs.append((key, nm, idx))
            return refs
        consumed = set()
        for n in self.order_all:
            for s in self.nodes[n].get('input', []):
                consumed.add(parse_ref(s)[0])
        for n in self.order_all:
            if n not in consumed and self.nodes[n]['op'] not in ('NoOp', 'Const', 'Placeholder'):
                refs.append((n + ':0', n, 0))
        return refs

    def input_order(self):
        phs = self.placeholders()
        sig_in = self.sig.get('inputs') or {}
        order = []
        for key, v in sig_in.items():
            nm = parse_ref(v.get('name', key))[0]
            if nm in phs and nm not in order:
                order.append(nm)
        order += [p for p in phs if p not in order]
        for nm in list(self.input_specs) + list(self.const_specs):
            if nm not in phs:
                raise ConvertError('no input named %r (inputs: %s)' % (nm, ', '.join(phs)))
        named = [n for n in self.input_specs]
        return named + [n for n in order if n not in named and n not in self.const_specs]

    def input_shape(self, name, first):
        node = self.nodes[name]
        if name in self.input_specs:
            return list(self.input_specs[name])
        if first and self.default_shape is not None:
            return list(self.default_shape)
        shp = parse_attr(node.get('attr', {}).get('shape'))
        if not shp or shp.get('unknownRank') or 'dim' not in shp:
            if shp is not None and 'dim' not in shp and not shp.get('unknownRank'):
                return []   # scalar
            raise ConvertError("input '%s' has unknown rank; give --input %s=D0,D1,.. or --const %s=V"
                               % (name, name, name))
        dims = [int(d.get('size', -1)) for d in shp['dim']]
        if any(d < 0 for d in dims[1:]):
            # the signature may know the shape the placeholder leaves open
            for v in (self.sig.get('inputs') or {}).values():
                if parse_ref(v.get('name', ''))[0] == name:
                    sd = [int(d.get('size', -1)) for d in (v.get('tensorShape') or {}).get('dim', [])]
                    if len(sd) == len(dims) and all(d > 0 for d in sd[1:]):
                        dims = sd
        if any(d < 0 for d in dims[1:]):
            raise ConvertError("input '%s' has unknown dimensions %s; give --input %s=D0,D1,.."
                               % (name, dims, name))
        return [1 if d < 0 else d for d in dims]

    def input_dtype(self, name):
        dt = parse_attr(self.nodes[name].get('attr', {}).get('dtype')) or 'DT_FLOAT'
        return TF_DTYPES.get(dt, torch.float32)

    # ---- graph
    def topo(self, out_names):
        order, state = [], {}
        for root in out_names:
            if root in state:
                continue
            stack = [(root, False)]
            while stack:
                n, done = stack.pop()
                if done:
                    state[n] = 2
                    order.append(n)
                    continue
                if state.get(n) == 2:
                    continue
                if state.get(n) == 1:
                    continue
                if n not in self.nodes:
                    raise ConvertError('node %s is referenced but not defined' % n)
                o = self.nodes[n]['op']
                if o not in OPS and o not in ('Placeholder', 'Const'):
                    # (while loops: Enter/NextIteration/TensorArray* are reported here)
                    raise ConvertError("unsupported TFJS op '%s' (node %s)" % (o, n))
                state[n] = 1
                stack.append((n, True))
                for s in reversed(self.nodes[n].get('input', [])):
                    nm, _, ctl = parse_ref(s)
                    if ctl:
                        continue
                    if state.get(nm) == 1:
                        raise ConvertError('graph cycle through node %s' % nm)
                    if state.get(nm) != 2:
                        stack.append((nm, False))
        return order

    def convert(self, example_inputs=None, seed=0, image=None):
        t0 = time.time()
        outs = self.output_refs()
        order = self.topo([o[1] for o in outs])
        for n in order:
            o = self.nodes[n]['op']
            if o not in OPS and o not in ('Placeholder', 'Const'):
                raise ConvertError("unsupported TFJS op '%s' (node %s)" % (o, n))
        weights = load_weights(self.path, self.mj.get('weightsManifest') or [])
        in_names = self.input_order()
        gen = torch.Generator().manual_seed(seed)
        feeds = {}
        shapes = {}
        for k, nm in enumerate(in_names):
            shp = self.input_shape(nm, k == 0)
            dt = self.input_dtype(nm)
            shapes[nm] = shp
            if example_inputs is not None and nm in example_inputs:
                feeds[nm] = example_inputs[nm]
            elif image is not None and k == 0:
                feeds[nm] = image_input(image, shp, dt)
            elif dt == torch.float32:
                feeds[nm] = torch.rand(shp, generator=gen)
            elif dt == torch.bool:
                feeds[nm] = torch.rand(shp, generator=gen) > 0.5
            else:
                feeds[nm] = torch.randint(0, 256, shp, generator=gen).to(dt)
        for nm, v in self.const_specs.items():
            feeds[nm] = torch.from_numpy(np.asarray(v)).to(self.input_dtype(nm))

        vals, static, npv = {}, {}, {}
        plan = []
        used_ops = {}
        pending_bufs = []  # (node name, idx)
        for n in order:
            node = self.nodes[n]
            o = node['op']
            used_ops[o] = used_ops.get(o, 0) + 1
            if o == 'Placeholder':
                if n not in feeds:
                    raise ConvertError("input '%s' is needed but has no shape" % n)
                vals[n] = [feeds[n]]
                static[n] = n in self.const_specs
                continue
            if o == 'Const':
                if n in weights:
                    vals[n] = [weights[n]]
                else:
                    raise ConvertError('constant %s has no weight in the manifest' % n)
                static[n] = True
                continue
            refs = [parse_ref(s) for s in node.get('input', [])]
            refs = [(nm, i) for nm, i, ctl in refs if not ctl]
            ins = []
            for nm, i in refs:
                v = vals[nm]
                if i >= len(v):
                    raise ConvertError('node %s: input %s:%d does not exist' % (n, nm, i))
                ins.append(v[i])
            live = [k for k, v in enumerate(ins) if v is not DEAD]
            if o != 'Merge' and len(live) < len(ins):
                vals[n] = _DeadList()
                static[n] = True
                continue
            if o == 'Merge' and not live:
                vals[n] = _DeadList()
                static[n] = True
                continue
            is_st = o in SHAPE_OPS or all(static[refs[k][0]] for k in live)
            sts = []
            for k, (nm, i) in enumerate(refs):
                if static[nm] and ins[k] is not DEAD:
                    key = (nm, i)
                    if key not in npv:
                        npv[key] = ins[k].numpy() if isinstance(ins[k], torch.Tensor) else np.asarray(ins[k])
                    sts.append(npv[key])
                else:
                    sts.append(None)
            cache = {}
            c = Ctx(None, node, ins, sts, 'fold' if is_st else 'build', cache)
            try:
                out = OPS[o](c)
            except ConvertError:
                raise
            except Exception as e:  # shape or semantics error from torch
                raise ConvertError("op '%s' (node %s): %s: %s" % (o, n, type(e).__name__, str(e).splitlines()[0]))
            out = out if isinstance(out, list) else [out]
            vals[n] = out
            static[n] = is_st
            if not is_st:
                srcs = []
                for k, (nm, i) in enumerate(refs):
                    if ins[k] is DEAD:
                        srcs.append(('dead',))
                    elif static[nm]:
                        srcs.append(('buf', (nm, i)) if k in c.accessed else ('none',))
                        if k in c.accessed:
                            pending_bufs.append((nm, i))
                    else:
                        srcs.append(('env', nm, i))
                plan.append([node, srcs, sts, cache])

        # module with buffers
        mod = TfjsModule([], in_names, [])
        names = set()

        def bufname(prefix, s):
            b = prefix + re.sub(r'\W', '_', s)[-60:]
            k, base = 1, b
            while b in names:
                k += 1
                b = '%s_%d' % (base, k)
            names.add(b)
            return b
        bufmap = {}
        for nm, i in pending_bufs:
            if (nm, i) not in bufmap:
                b = bufname('k_', '%s_%d' % (nm, i) if i else nm)
                mod.register_buffer(b, vals[nm][i].clone() if vals[nm][i].dim() == 0 else vals[nm][i])
                bufmap[(nm, i)] = b
        for entry in plan:
            node, srcs, sts, cache = entry
            entry[1] = [('buf', bufmap[s[1]]) if s[0] == 'buf' else s for s in srcs]
            for key in list(cache):
                b = bufname('p_', '%s_%s' % (node['name'], key))
                mod.register_buffer(b, cache[key])
                cache[key] = b
        mod._plan = plan
        out_srcs = []
        out_info = []
        for key, nm, i in outs:
            v = vals[nm][i] if i < len(vals[nm]) else DEAD
            if v is DEAD:
                raise ConvertError('output %s is on an untaken tf.cond branch' % key)
            if static[nm]:
                b = bufname('o_', nm)
                mod.register_buffer(b, v)
                out_srcs.append(('buf', b))
            else:
                out_srcs.append(('env', nm, i))
            out_info.append({'name': key, 'node': '%s:%d' % (nm, i), 'shape': list(v.shape),
                             'dtype': str(v.dtype).replace('torch.', '')})
        mod._outputs = out_srcs
        mod.eval()
        ex = tuple(feeds[nm] for nm in in_names)
        with torch.no_grad(), warnings.catch_warnings():
            # shapes are fixed on purpose: Python ints taken from traced sizes become constants
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            traced = torch.jit.trace(mod, ex, check_trace=False)
        self.meta = {
            'source': os.path.basename(self.path),
            'converter': 'tfjs2ts.py',
            'inputs': [{'name': nm, 'shape': shapes[nm], 'dtype': str(feeds[nm].dtype).replace('torch.', '')}
                       for nm in in_names],
            'constants': {k: np.asarray(v).tolist() for k, v in self.const_specs.items()},
            'outputs': out_info,
            'ops': dict(sorted(used_ops.items())),
            'nodes': len(order),
            'traced_nodes': len(plan),
        }
        self.feeds = feeds
        self.in_names = in_names
        self.eager_outputs = [vals[nm][i] for _, nm, i in outs]
        self.vals, self.plan = vals, plan
        self.seconds = time.time() - t0
        return traced


class _DeadList(list):
    def __getitem__(self, i):
        return DEAD

    def __len__(self):
        return 1 << 30


# ----------------------------------------------------------------------------------------------
# parity check against TFJS in Node

def image_input(path, shape, dtype):
    """An RGB image resized to a [N,H,W,3] or [N,3,H,W] input: values in [0,1] for float
    inputs, 0..255 for integer ones."""
    if len(shape) != 4 or 3 not in (shape[1], shape[3]):
        raise ConvertError('--check-image needs a [N,H,W,3] or [N,3,H,W] first input, not %s' % shape)
    try:
        from PIL import Image
        im = Image.open(path).convert('RGB')
    except ImportError:
        raise ConvertError('--check-image needs PIL (python3-pil)')
    except OSError as e:
        raise ConvertError('cannot read image %s: %s' % (path, e))
    nchw = shape[3] != 3
    h, w = (shape[2], shape[3]) if nchw else (shape[1], shape[2])
    a = np.asarray(im.resize((w, h), Image.BILINEAR), dtype=np.float32)
    if nchw:
        a = a.transpose(2, 0, 1)
    a = np.broadcast_to(a[None], [shape[0]] + list(a.shape)).copy()
    t = torch.from_numpy(a)
    return (t / 255.0) if dtype == torch.float32 else t.to(dtype)


def npm_dir():
    return os.environ.get('VFM_NPM_CACHE') or '/tmp/vfm-npm'


def ensure_tfjs(d):
    if os.path.isfile(os.path.join(d, 'node_modules', '@tensorflow', 'tfjs', 'package.json')):
        return
    os.makedirs(d, exist_ok=True)
    print('tfjs2ts: installing @tensorflow/tfjs into %s' % d, file=sys.stderr)
    r = subprocess.run(['npm', 'install', '--no-audit', '--no-fund', '--prefix', d, '@tensorflow/tfjs'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise ConvertError('npm install @tensorflow/tfjs failed: %s' % r.stderr.strip().splitlines()[-1:])


def run_tfjs(model_path, feeds, in_names, consts, out_nodes, workdir):
    d = npm_dir()
    ensure_tfjs(d)
    spec = {'inputs': [], 'outputs': out_nodes}
    allin = [(nm, feeds[nm]) for nm in in_names] + [(nm, feeds[nm]) for nm in consts]
    for k, (nm, t) in enumerate(allin):
        fn = os.path.join(workdir, 'in%d.bin' % k)
        dt = 'float32' if t.dtype == torch.float32 else ('bool' if t.dtype == torch.bool else 'int32')
        arr = t.numpy().astype(np.float32 if dt == 'float32' else (np.uint8 if dt == 'bool' else np.int32))
        arr.tofile(fn)
        spec['inputs'].append({'name': nm, 'shape': list(t.shape), 'dtype': dt, 'file': fn})
    with open(os.path.join(workdir, 'io.json'), 'w') as f:
        json.dump(spec, f)
    js = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tfjs_run.js')
    env = dict(os.environ, NODE_PATH=os.path.join(d, 'node_modules'))
    r = subprocess.run(['node', js, os.path.abspath(model_path), workdir], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        msg = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        raise ConvertError('tfjs run failed: %s' % (msg[-1] if msg else 'exit %d' % r.returncode))
    with open(os.path.join(workdir, 'out.json')) as f:
        res = json.load(f)
    outs = []
    for o in res['outputs']:
        a = np.fromfile(o['file'], dtype=np.float32).reshape(o['shape'])
        outs.append(a)
    return outs, res.get('ms')


def check(conv, out_path, model_path):
    m = torch.jit.load(out_path)
    xs = tuple(conv.feeds[nm] for nm in conv.in_names)
    with torch.no_grad():
        for _ in range(2):    # the profiling executor optimises the graph on the first calls
            y = m(*xs)
        t0 = time.time()
        y = m(*xs)
    torch_ms = (time.time() - t0) * 1000
    ys = list(y) if isinstance(y, tuple) else [y]
    out_nodes = [o['node'] for o in conv.meta['outputs']]
    with tempfile.TemporaryDirectory(prefix='tfjs2ts-') as wd:
        refs, tfjs_ms = run_tfjs(model_path, conv.feeds, conv.in_names, list(conv.const_specs), out_nodes, wd)
    res = []
    ok = True
    for info, a, b in zip(conv.meta['outputs'], ys, refs):
        a = a.detach().float().numpy()
        entry = {'name': info['name'], 'shape': list(a.shape)}
        if list(a.shape) != list(b.shape):
            entry.update({'error': 'shape mismatch: tfjs %s' % list(b.shape)})
            ok = False
        else:
            diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
            rng = float(b.max() - b.min()) if b.size else 0.0
            scale = rng if rng > 0 else (float(np.max(np.abs(b))) if b.size and np.max(np.abs(b)) > 0 else 1.0)
            ratio = diff / scale
            if not np.isfinite(ratio):
                ratio = float('inf')
            entry.update({'max_abs_diff': diff, 'range': rng, 'ratio': ratio})
            if not ratio <= 1e-4:
                ok = False
        res.append(entry)
    return ok, res, torch_ms, tfjs_ms


# ----------------------------------------------------------------------------------------------
# CLI

def parse_dims(s, what):
    try:
        return [int(v) for v in s.split(',') if v.strip() != '']
    except ValueError:
        raise ConvertError('bad %s %r (want D0,D1,...)' % (what, s))


def main(argv=None):
    ap = argparse.ArgumentParser(prog='tfjs2ts.py', description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('model', help='model.json of a TFJS graph model')
    ap.add_argument('out', help='TorchScript file to write')
    ap.add_argument('--input-shape', help='shape of the first input, e.g. 1,256,256,3')
    ap.add_argument('--input', action='append', default=[], metavar='NAME=D0,D1,..',
                    help='shape of a named input (repeatable); also fixes the input order')
    ap.add_argument('--const', action='append', default=[], metavar='NAME=V[,V..]',
                    help='bake an input into the graph as a constant (repeatable)')
    ap.add_argument('--check', action='store_true', help='compare with TFJS (Node, CPU backend)')
    ap.add_argument('--seed', type=int, default=0, help='seed of the random check input')
    ap.add_argument('--check-image', metavar='IMAGE',
                    help='feed this RGB image (resized, [0,1] or 0..255) as the first input instead of noise')
    args = ap.parse_args(argv)
    mname = args.model
    t0 = time.time()
    try:
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
        default_shape = parse_dims(args.input_shape, '--input-shape') if args.input_shape else None
        inputs = {}
        for s in args.input:
            if '=' not in s:
                raise ConvertError('bad --input %r (want NAME=D0,D1,..)' % s)
            k, v = s.split('=', 1)
            inputs[k.strip()] = parse_dims(v, '--input')
        consts = {}
        for s in args.const:
            if '=' not in s:
                raise ConvertError('bad --const %r (want NAME=V)' % s)
            k, v = s.split('=', 1)
            try:
                vals = [float(t) for t in v.split(',')]
            except ValueError:
                raise ConvertError('bad --const %r' % s)
            consts[k.strip()] = np.float32(vals[0]) if len(vals) == 1 else np.asarray(vals, np.float32)
        conv = Converter(mname, inputs, consts, default_shape)
        traced = conv.convert(seed=args.seed, image=args.check_image)
        outdir = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(outdir):
            raise ConvertError('output folder %s does not exist' % outdir)
        fd, tmp = tempfile.mkstemp(prefix='.tfjs2ts-', suffix='.pt', dir=outdir)
        os.close(fd)
        try:
            torch.jit.save(traced, tmp, _extra_files={'tfjs2ts.json': json.dumps(conv.meta)})
            os.replace(tmp, args.out)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        secs = time.time() - t0
        ins = ', '.join('%s %s' % (i['name'], 'x'.join(map(str, i['shape']))) for i in conv.meta['inputs'])
        outs = ', '.join('%s %s' % (o['name'], 'x'.join(map(str, o['shape']))) for o in conv.meta['outputs'])
        print('tfjs2ts: %s -> %s in %.1fs (%d nodes, %d traced; inputs: %s; outputs: %s)'
              % (mname, args.out, secs, conv.meta['nodes'], conv.meta['traced_nodes'], ins, outs), file=sys.stderr)
        if args.check:
            ok, res, tms, jms = check(conv, args.out, mname)
            line = {'model': mname, 'pass': ok, 'convert_s': round(secs, 2),
                    'torch_ms': round(tms, 1), 'tfjs_ms': jms, 'outputs': res}
            print(json.dumps(line))
            return 0 if ok else 1
        return 0
    except ConvertError as e:
        print('error: tfjs2ts: %s: %s' % (mname, e), file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
