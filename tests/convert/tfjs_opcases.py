#!/usr/bin/env python3
"""tfjs_opcases.py OUTDIR - write small synthetic TFJS graph models (model.json + weights.bin),
one per case, that exercise op semantics the human models use little or not at all
(StridedSlice masks, SAME/EXPLICIT padding, pools, resize modes, space<->batch, transposed
conv, ...).  test_tfjs2ts.sh converts each with `tfjs2ts.py --check`, so TFJS itself is the
reference.  Prints one line per case: NAME INPUT_SHAPE.
"""
import base64
import json
import os
import sys

import numpy as np


class G:
    def __init__(self, name, in_shape, in_dtype='DT_FLOAT'):
        self.name = name
        self.in_shape = in_shape
        self.nodes = [{'name': 'x', 'op': 'Placeholder',
                       'attr': {'dtype': {'type': in_dtype},
                                'shape': {'shape': {'dim': [{'size': str(d)} for d in in_shape]}}}}]
        self.weights = []
        self.k = 0
        self.rng = np.random.default_rng(abs(hash(name)) % (1 << 32))

    def const(self, arr, dtype=None):
        arr = np.asarray(arr)
        if dtype is None:
            dtype = 'int32' if arr.dtype.kind in 'iu' else ('bool' if arr.dtype.kind == 'b' else 'float32')
        arr = arr.astype({'int32': np.int32, 'float32': np.float32, 'bool': np.uint8}[dtype])
        self.k += 1
        nm = 'c%d' % self.k
        tdt = {'int32': 'DT_INT32', 'float32': 'DT_FLOAT', 'bool': 'DT_BOOL'}[dtype]
        self.nodes.append({'name': nm, 'op': 'Const', 'attr': {
            'dtype': {'type': tdt},
            'value': {'tensor': {'dtype': tdt, 'tensorShape': {'dim': [{'size': str(d)} for d in arr.shape]}}}}})
        self.weights.append((nm, arr, dtype))
        return nm

    def rand(self, shape, scale=1.0):
        return self.const(self.rng.standard_normal(shape).astype(np.float32) * scale)

    def op(self, op, inputs, **attrs):
        self.k += 1
        nm = 'n%d_%s' % (self.k, op)
        a = {'T': {'type': 'DT_FLOAT'}}
        for key, v in attrs.items():
            if isinstance(v, bool):
                a[key] = {'b': v}
            elif isinstance(v, int):
                a[key] = {'i': str(v)}
            elif isinstance(v, float):
                a[key] = {'f': v}
            elif isinstance(v, str) and v.startswith('DT_'):
                a[key] = {'type': v}
            elif isinstance(v, str):
                a[key] = {'s': base64.b64encode(v.encode()).decode()}
            elif isinstance(v, list) and v and isinstance(v[0], str):
                a[key] = {'list': {'s': [base64.b64encode(s.encode()).decode() for s in v]}}
            elif isinstance(v, list):
                a[key] = {'list': {'i': [str(i) for i in v]}}
        self.nodes.append({'name': nm, 'op': op, 'input': list(inputs), 'attr': a})
        return nm

    def write(self, outdir, outputs):
        d = os.path.join(outdir, self.name)
        os.makedirs(d, exist_ok=True)
        buf = b''.join(a.tobytes() for _, a, _ in self.weights)
        with open(os.path.join(d, 'weights.bin'), 'wb') as f:
            f.write(buf)
        outs = {o: {'name': o if ':' in o else o + ':0'} for o in outputs}
        mj = {'format': 'graph-model', 'generatedBy': 'tfjs_opcases.py', 'convertedBy': None,
              'signature': {'outputs': outs},
              'modelTopology': {'node': self.nodes, 'library': {}, 'versions': {}},
              'weightsManifest': [{'paths': ['weights.bin'], 'weights': [
                  {'name': n, 'shape': list(a.shape), 'dtype': dt} for n, a, dt in self.weights]}]}
        with open(os.path.join(d, 'model.json'), 'w') as f:
            json.dump(mj, f)
        return d


def cases():
    out = []

    # convs: SAME with stride 2 on even/odd sizes (asymmetric pad), dilation, EXPLICIT, depthwise, fused
    g = G('conv_same', [1, 17, 20, 3])
    a = g.op('Conv2D', ['x', g.rand([3, 3, 3, 8], 0.3)], strides=[1, 2, 2, 1], padding='SAME',
             data_format='NHWC', dilations=[1, 1, 1, 1])
    b = g.op('_FusedConv2D', [a, g.rand([5, 5, 8, 6], 0.2), g.rand([6]), g.rand([6], 0.1)],
             strides=[1, 1, 1, 1], padding='SAME', data_format='NHWC', dilations=[1, 2, 2, 1],
             fused_ops=['BiasAdd', 'Prelu'], num_args=2)
    c = g.op('FusedDepthwiseConv2dNative', [b, g.rand([3, 3, 6, 2], 0.3), g.rand([12])],
             strides=[1, 2, 2, 1], padding='SAME', data_format='NHWC', dilations=[1, 1, 1, 1],
             fused_ops=['BiasAdd', 'Relu6'], num_args=1)
    e = g.op('Conv2D', ['x', g.rand([2, 4, 3, 4], 0.3)], strides=[1, 1, 2, 1], padding='EXPLICIT',
             explicit_paddings=[0, 0, 1, 2, 3, 0, 0, 0], data_format='NHWC', dilations=[1, 1, 1, 1])
    f = g.op('_FusedConv2D', [a, g.rand([1, 1, 8, 4], 0.3), g.rand([4])], strides=[1, 1, 1, 1],
             padding='VALID', data_format='NHWC', dilations=[1, 1, 1, 1], fused_ops=['BiasAdd', 'LeakyRelu'],
             num_args=1, leakyrelu_alpha=0.1)
    out.append((g, [c, e, f]))

    # transposed conv (SAME, stride 2, odd output), pools with SAME padding
    g = G('deconv_pool', [1, 9, 10, 4])
    d = g.op('Conv2DBackpropInput', [g.const([1, 17, 20, 3]), g.rand([3, 3, 3, 4], 0.3), 'x'],
             strides=[1, 2, 2, 1], padding='SAME', data_format='NHWC', dilations=[1, 1, 1, 1])
    d2 = g.op('Conv2DBackpropInput', [g.const([1, 20, 22, 2]), g.rand([4, 4, 2, 4], 0.3), 'x'],
              strides=[1, 2, 2, 1], padding='VALID', data_format='NHWC', dilations=[1, 1, 1, 1])
    m = g.op('MaxPool', ['x'], ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding='SAME', data_format='NHWC')
    av = g.op('AvgPool', ['x'], ksize=[1, 3, 2, 1], strides=[1, 2, 2, 1], padding='SAME', data_format='NHWC')
    av2 = g.op('AvgPool', ['x'], ksize=[1, 2, 2, 1], strides=[1, 1, 1, 1], padding='SAME', data_format='NHWC')
    out.append((g, [d, d2, m, av, av2]))

    # resize modes
    g = G('resize', [1, 5, 7, 2])
    outs = []
    for (h, w) in ((11, 9), (3, 4)):
        sz = g.const([h, w])
        for ac, hp in ((False, False), (True, False), (False, True)):
            outs.append(g.op('ResizeBilinear', ['x', sz], align_corners=ac, half_pixel_centers=hp))
            outs.append(g.op('ResizeNearestNeighbor', ['x', sz], align_corners=ac, half_pixel_centers=hp))
    out.append((g, outs))

    # StridedSlice masks, Slice, negative strides
    g = G('slicing', [2, 6, 7, 5])
    s1 = g.op('StridedSlice', ['x', g.const([0, 1, -1]), g.const([0, 5, 0]), g.const([1, 2, -2])],
              begin_mask=1, end_mask=5, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0, Index='DT_INT32')
    s2 = g.op('StridedSlice', ['x', g.const([0, 0, 2]), g.const([0, 0, 3]), g.const([1, 1, 1])],
              begin_mask=0, end_mask=0, ellipsis_mask=1, new_axis_mask=2, shrink_axis_mask=4, Index='DT_INT32')
    s3 = g.op('StridedSlice', ['x', g.const([1, -3]), g.const([2, -6]), g.const([1, -1])],
              begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0, Index='DT_INT32')
    # (TFJS 4.22 mis-slices when a shrink axis meets a non-unit stride, so they are kept apart)
    s5 = g.op('StridedSlice', ['x', g.const([0, -2, 1]), g.const([0, 0, 6]), g.const([1, 1, 1])],
              begin_mask=1, end_mask=1, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=2, Index='DT_INT32')
    s4 = g.op('Slice', ['x', g.const([1, 2, 0, 1]), g.const([-1, 3, 4, -1])], Index='DT_INT32')
    out.append((g, [s1, s2, s3, s4, s5]))

    # padding, space<->batch, depth<->space, tile, transpose
    g = G('layout', [1, 6, 8, 4])
    p1 = g.op('MirrorPad', ['x', g.const([[0, 0], [2, 1], [1, 3], [0, 0]])], mode='REFLECT')
    p2 = g.op('MirrorPad', ['x', g.const([[0, 0], [2, 1], [1, 3], [0, 0]])], mode='SYMMETRIC')
    p3 = g.op('PadV2', ['x', g.const([[0, 0], [1, 2], [0, 1], [1, 0]]), g.const(np.float32(-1.5))])
    sb = g.op('SpaceToBatchND', ['x', g.const([2, 3]), g.const([[1, 1], [2, 2]])])
    cv = g.op('DepthwiseConv2dNative', [sb, g.rand([3, 3, 4, 1])], strides=[1, 1, 1, 1], padding='VALID',
              data_format='NHWC', dilations=[1, 1, 1, 1])
    bs = g.op('BatchToSpaceND', [cv, g.const([2, 3]), g.const([[0, 1], [1, 0]])])
    d2s = g.op('DepthToSpace', ['x'], block_size=2, data_format='NHWC')
    tl = g.op('Tile', ['x', g.const([1, 2, 1, 3])])
    tr = g.op('Transpose', ['x', g.const([2, 0, 3, 1])])
    out.append((g, [p1, p2, p3, bs, d2s, tl, tr]))

    # math, reductions, gather, split, topk, casts
    g = G('math', [3, 4, 10])
    xs = g.op('Mul', ['x', g.const(np.float32(4.0))])
    r1 = g.op('Mean', [xs, g.const([0, 2])], keep_dims=True)
    r2 = g.op('Max', [xs, g.const([-1])], keep_dims=False)
    r3 = g.op('Prod', [g.op('Tanh', ['x']), g.const([1])], keep_dims=False)
    sm = g.op('Softmax', [xs])
    ga = g.op('GatherV2', [xs, g.const([[3, 0], [1, 1]]), g.const(1)], batch_dims=0)
    sp = g.op('SplitV', [xs, g.const([3, -1, 2]), g.const(2)], num_split=3)
    sp2 = g.op('Split', [g.const(1), xs], num_split=2)
    un = g.op('Unpack', [xs], num=3, axis=0)
    tk = g.op('TopKV2', [g.op('Round', [xs]), g.const(4)], sorted=True)
    am = g.op('ArgMax', [xs, g.const(1)], output_type='DT_INT32')
    ci = g.op('Cast', [xs], DstT='DT_INT32', SrcT='DT_FLOAT')
    fd = g.op('FloorDiv', [ci, g.const(np.int32(3))], T='DT_INT32')
    fm = g.op('FloorMod', [ci, g.const(np.int32(-3))], T='DT_INT32')
    bm = g.op('BatchMatMulV2', [xs, g.rand([3, 6, 10])], adj_x=False, adj_y=True)
    mm = g.op('_FusedMatMul', [g.op('Reshape', [xs, g.const([12, 10])]), g.rand([10, 5]), g.rand([5])],
              transpose_a=False, transpose_b=False, fused_ops=['BiasAdd', 'Elu'], num_args=1)
    el = g.op('SquaredDifference', [g.op('Rsqrt', [g.op('Abs', [xs])]), g.op('Sigmoid', [xs])])
    st = g.op('Pack', [g.op('Squeeze', [g.op('ExpandDims', [r2, g.const(1)])], squeeze_dims=[1]), r2], axis=2)
    sel = g.op('SelectV2', [g.op('Greater', [xs, g.const(np.float32(0.5))]), xs, g.op('Neg', [xs])])
    out.append((g, [r1, r2, r3, sm, ga, sp + ':0', sp + ':1', sp + ':2', sp2 + ':1', un + ':2', tk + ':0',
                    tk + ':1', am, fd, fm, bm, mm, el, st, sel]))
    return out


def main():
    outdir = sys.argv[1]
    for g, outs in cases():
        g.write(outdir, outs)
        print(g.name, ','.join(map(str, g.in_shape)))


if __name__ == '__main__':
    main()
