#!/usr/bin/python3
"""Op-level self-test of tflite2ts.py without any model file.

Builds tiny one-op graphs in memory (TModel objects, no flatbuffer) for configurations the
PyDNet model does not exercise (odd sizes, SAME padding with stride 2, dilation, transpose
conv with non-zero padding and bias, all three RESIZE_BILINEAR modes with non-integer factors,
strided slices with negative strides / shrink / offset, broadcast constants, concat on every
axis) and checks that the torch path (NCHW) and the NumPy interpreter (NHWC) agree.
Half-pixel resize is also compared with OpenCV's INTER_LINEAR, an outside implementation of the
same convention.  Exit 0 on success, 1 on a mismatch.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "convert"))
import tflite2ts as t  # noqa: E402

RS = np.random.RandomState(0)
TOL = 1e-4


def tensor(idx, shape, data=None, type_name="FLOAT32"):
    dtype = np.int32 if type_name == "INT32" else np.float32
    arr = None if data is None else np.asarray(data, dtype).reshape(shape)
    return t.TTensor(idx, "t%d" % idx, shape, type_name, dtype, arr, None)


def run_case(name, x_shape, op_name, consts, out_shape, options, extra_inputs=None):
    """One op: input tensor 0 (activation), constants as tensors 1.., output last."""
    tensors = [tensor(0, x_shape)]
    inputs = []
    order = extra_inputs or ["x"] + list(range(len(consts)))
    for i, (shape, data, tname) in enumerate(consts):
        tensors.append(tensor(len(tensors), shape, data, tname))
    for item in order:
        inputs.append(0 if item == "x" else 1 + item)
    out = len(tensors)
    tensors.append(tensor(out, out_shape))
    op = t.TOp(0, t.OP[op_name], op_name, inputs, [out], options)
    model = t.TModel(name, 3, "", tensors, [op], [0], [out])
    t.validate(model)
    import torch
    mod = t.build_torch_module(model)
    x = RS.uniform(-1, 1, x_shape).astype(np.float32)
    with torch.no_grad():
        mod.check_shapes = True
        got = mod(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    ref = t.NumpyInterpreter(model).run(x)[0]
    if got.ndim == 4:
        got = got.transpose(0, 2, 3, 1)
    diff = float(np.abs(got - ref).max()) if ref.size else 0.0
    ok = got.shape == ref.shape and diff <= TOL
    print("%s %-48s maxdiff %.2e" % ("ok  " if ok else "FAIL", name, diff))
    return ok, x, ref


def conv_opts(pad, sh, sw, dh=1, dw=1, act=0):
    return {"padding": pad, "stride_h": sh, "stride_w": sw, "dilation_h_factor": dh,
            "dilation_w_factor": dw, "fused_activation_function": act}


def main():
    import cv2
    ok = True
    # CONV_2D
    for (H, W, k, s, d, pad, act) in [(7, 9, 3, 2, 1, 0, 0), (8, 10, 3, 2, 1, 0, 1), (9, 6, 5, 3, 1, 0, 3),
                                      (11, 13, 3, 1, 2, 0, 4), (10, 7, 4, 2, 1, 0, 2),
                                      (9, 9, 3, 2, 1, 1, 0), (12, 12, 2, 2, 1, 0, 0)]:
        Cin, Cout = 5, 4
        oh = -(-H // s) if pad == 0 else (H - (k - 1) * d - 1) // s + 1
        ow = -(-W // s) if pad == 0 else (W - (k - 1) * d - 1) // s + 1
        w = RS.randn(Cout, k, k, Cin)
        b = RS.randn(Cout)
        r, *_ = run_case("CONV_2D %dx%d k%d s%d d%d %s act%d" % (H, W, k, s, d, t.PADDING[pad], act),
                         (1, H, W, Cin), "CONV_2D", [((Cout, k, k, Cin), w, "FLOAT32"), ((Cout,), b, "FLOAT32")],
                         (1, oh, ow, Cout), conv_opts(pad, s, s, d, d, act))
        ok &= r
    # grouped conv
    r, *_ = run_case("CONV_2D grouped (6 in, 2 groups)", (1, 6, 5, 6), "CONV_2D",
                     [((4, 3, 3, 3), RS.randn(4, 3, 3, 3), "FLOAT32"), ((4,), RS.randn(4), "FLOAT32")],
                     (1, 6, 5, 4), conv_opts(0, 1, 1))
    ok &= r
    # TRANSPOSE_CONV
    for (H, W, k, s, OH, OW, pad) in [(4, 5, 3, 2, 8, 10, 0), (4, 5, 3, 2, 7, 9, 0), (3, 3, 4, 2, 6, 6, 0),
                                      (5, 4, 2, 2, 10, 8, 0), (3, 4, 3, 2, 7, 9, 1), (4, 4, 5, 3, 12, 12, 0)]:
        Cin, Cout = 3, 2
        r, *_ = run_case("TRANSPOSE_CONV %dx%d k%d s%d -> %dx%d %s bias" % (H, W, k, s, OH, OW, t.PADDING[pad]),
                         (1, H, W, Cin), "TRANSPOSE_CONV",
                         [((4,), [1, OH, OW, Cout], "INT32"), ((Cout, k, k, Cin), RS.randn(Cout, k, k, Cin), "FLOAT32"),
                          ((Cout,), RS.randn(Cout), "FLOAT32")],
                         (1, OH, OW, Cout), {"padding": pad, "stride_h": s, "stride_w": s,
                                             "fused_activation_function": 0},
                         extra_inputs=[0, 1, "x", 2])
        ok &= r
    # RESIZE_BILINEAR, three conventions, up and down, non-integer factors
    for (H, W, OH, OW) in [(5, 7, 12, 9), (9, 11, 4, 6), (4, 4, 8, 8), (6, 5, 1, 1)]:
        for ac, hp in [(0, 0), (1, 0), (0, 1)]:
            r, x, ref = run_case("RESIZE_BILINEAR %dx%d->%dx%d ac%d hp%d" % (H, W, OH, OW, ac, hp),
                                 (1, H, W, 3), "RESIZE_BILINEAR", [((2,), [OH, OW], "INT32")],
                                 (1, OH, OW, 3), {"align_corners": ac, "half_pixel_centers": hp,
                                                  "new_height": 0, "new_width": 0})
            ok &= r
            if hp and OH >= H and OW >= W:
                cvr = cv2.resize(x[0], (OW, OH), interpolation=cv2.INTER_LINEAR)
                d = float(np.abs(cvr - ref[0]).max())
                good = d <= 1e-4
                ok &= good
                print("%s %-48s maxdiff %.2e" % ("ok  " if good else "FAIL",
                                                 "  half-pixel vs cv2.INTER_LINEAR", d))
    # STRIDED_SLICE
    ss = {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0,
          "shrink_axis_mask": 0, "offset": 0}
    cases = [([0, 1, 0, 0], [1, 6, 7, 3], [1, 2, 3, 1], {}, (1, 3, 3, 3)),
             ([0, -1, -2, 2], [1, 0, 0, 0], [1, -1, -2, -1], {"end_mask": 1 + 4}, (1, 6, 4, 2)),
             ([0, 0, 0, 1], [0, 0, 0, 2], [1, 1, 1, 1], {"begin_mask": 7, "end_mask": 7}, (1, 7, 8, 1)),
             ([0, 2, 0, 0], [1, 5, 8, 4], [1, 1, 1, 1], {"offset": 1}, (1, 5, 8, 4)),
             ([0, 3, 0, 0], [1, 4, 8, 4], [1, 1, 1, 1], {"shrink_axis_mask": 2}, (1, 8, 4))]
    for b, e, st, opts, oshape in cases:
        o = dict(ss)
        o.update(opts)
        r, *_ = run_case("STRIDED_SLICE b%s e%s s%s %s" % (b, e, st, opts), (1, 7, 8, 4), "STRIDED_SLICE",
                         [((4,), b, "INT32"), ((4,), e, "INT32"), ((4,), st, "INT32")], oshape, o)
        ok &= r
    # elementwise with broadcast constants and activations
    for op_name in ("ADD", "MUL", "MAXIMUM"):
        for cshape in [(), (4,), (1, 1, 1, 4), (1, 5, 1, 1), (5, 6, 4)]:
            opts = {} if op_name == "MAXIMUM" else {"fused_activation_function": 3}
            r, *_ = run_case("%s const%s" % (op_name, list(cshape)), (1, 5, 6, 4), op_name,
                             [(cshape, RS.randn(*cshape) * 3, "FLOAT32")], (1, 5, 6, 4), opts)
            ok &= r
    # CONCATENATION on every axis (constant second operand)
    for axis in (0, 1, 2, 3, -1):
        shp = [1, 3, 4, 2]
        cshp = list(shp)
        cshp[axis] = 2
        oshp = list(shp)
        oshp[axis] = shp[axis] + 2
        r, *_ = run_case("CONCATENATION axis %d" % axis, tuple(shp), "CONCATENATION",
                         [(tuple(cshp), RS.randn(*cshp), "FLOAT32")], tuple(oshp),
                         {"axis": axis, "fused_activation_function": 1})
        ok &= r
    print("all op cases agree" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
