#!/usr/bin/python3
"""Agreement check: blazeface_pth.py output vs the same network converted from ONNX by onnx2ts.py.

Usage:
  blazeface_check.py --pth FRONT.pt --onnx FRONT_ONNX.pt --size 128 --anchors anchors.npy \
      [--image PHOTO]... [--tol 1e-4] [--json OUT.json]

FRONT.pt: NCHW RGB in [-1,1] -> (regressors [B,896,16], scores [B,896,1]).
FRONT_ONNX.pt (onnx2ts of face_detection_*_barracuda.onnx): NHWC in [-1,1] -> four outputs
(scores 16x16 grid [1,512,1], scores 8x8 grid [1,384,1], regressors [1,512,16], [1,384,16]),
which are concatenated here in that grid order. Inputs: one random tensor (seed 0) and each
--image (BGR file -> RGB, resized to SIZE x SIZE, /127.5 - 1). Prints per input and output the
max |diff| and the output's range and their ratio; exit 1 if any ratio exceeds --tol.
Also decodes the photo's detections (sigmoid > 0.5, anchors) from the .pth conversion and
prints them as a sanity figure.

--transplant ONNX_FILE --variant front|back: diagnostic for a disagreement. Loads the ONNX
graph's Conv weights (graph order, missing biases = 0) into blazeface_pth.py's own network and
compares THAT with the onnx2ts module: a ~0 difference proves the architecture, anchor order
and output splitting are identical and only the weight values differ.

--expect same (default): pass when every direct ratio <= --tol.
--expect different: pass when the direct comparison exceeds --tol (different weights) AND the
transplant comparison (requires --transplant) is within --tol.
"""

import argparse
import json
import os
import sys

import cv2
import numpy as np
import torch


def run_pair(pth, onnx, x_nchw):
    with torch.no_grad():
        r, s = pth(x_nchw)
        o = onnx(x_nchw.permute(0, 2, 3, 1).contiguous())
    if not isinstance(o, (tuple, list)) or len(o) != 4:
        raise SystemExit("unexpected ONNX-converted outputs: %r" % type(o))
    by_width = sorted(o, key=lambda t: (t.shape[-1], -t.shape[1]))  # scores first, 512 before 384
    s2 = torch.cat(by_width[:2], 1)
    r2 = torch.cat(by_width[2:], 1)
    res = {}
    for name, a, b in (("regressors", r, r2), ("scores", s, s2)):
        rng = float(b.max() - b.min())
        d = float((a - b).abs().max())
        res[name] = {"shape": list(a.shape), "max_abs_diff": d, "range": rng, "ratio": d / max(rng, 1e-12)}
    return res, r, s


def decode(r, s, anchors, size, thr=0.5):
    sc = torch.sigmoid(s.clamp(-100, 100))[0, :, 0].numpy()
    r = r[0].numpy()
    keep = np.where(sc > thr)[0]
    out = []
    for i in keep[np.argsort(-sc[keep])]:
        a = anchors[i]
        cx = r[i, 0] / size * a[2] + a[0]
        cy = r[i, 1] / size * a[3] + a[1]
        w = r[i, 2] / size * a[2]
        h = r[i, 3] / size * a[3]
        out.append((float(sc[i]), [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]))
    # plain NMS at 0.3 for counting
    final = []
    for sc_, b in out:
        ok = True
        for _, f in final:
            ix = max(0, min(b[2], f[2]) - max(b[0], f[0])) * max(0, min(b[3], f[3]) - max(b[1], f[1]))
            u = (b[2] - b[0]) * (b[3] - b[1]) + (f[2] - f[0]) * (f[3] - f[1]) - ix
            if ix / max(u, 1e-9) > 0.3:
                ok = False
                break
        if ok:
            final.append((sc_, b))
    return final


def transplant(onnx_path, variant, onnx_mod, size):
    import onnx
    from onnx import numpy_helper
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "scripts", "convert"))
    import blazeface_pth
    g = onnx.load(onnx_path)
    inits = {i.name: numpy_helper.to_array(i) for i in g.graph.initializer}
    net = blazeface_pth.build(variant).eval()
    own = net.state_dict()
    wkeys = [k for k, v in own.items() if k.endswith("weight") and v.ndim == 4]
    body = [k for k in wkeys if k.startswith("backbone") or k.startswith("final")]
    heads = [k for k in wkeys if k not in body]
    new, bi, zero_bias = {}, 0, 0
    for n in (n for n in g.graph.node if n.op_type == "Conv"):
        w = inits[n.input[1]]
        if len(n.input) > 2 and n.input[2] in inits:
            b = inits[n.input[2]]
        else:
            b = np.zeros(w.shape[0], np.float32)
            zero_bias += 1
        if bi < len(body) and tuple(own[body[bi]].shape) == w.shape:
            k = body[bi]
            bi += 1
        else:
            k = [h for h in heads if tuple(own[h].shape) == w.shape][0]
        new[k] = torch.from_numpy(w.copy())
        new[k[:-len("weight")] + "bias"] = torch.from_numpy(b.copy())
    net.load_state_dict(new)
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    res, _, _ = run_pair(net, onnx_mod, x)
    print("transplant (ONNX weights in blazeface_pth's network, %d convs without bias): %s" % (
        zero_bias, "  ".join("%s max|diff| %.3g ratio %.2e" % (k, v["max_abs_diff"], v["ratio"])
                             for k, v in res.items())))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pth", required=True)
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--anchors")
    ap.add_argument("--image", action="append", default=[])
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--json")
    ap.add_argument("--transplant")
    ap.add_argument("--variant", default="front")
    ap.add_argument("--expect", choices=["same", "different"], default="same")
    args = ap.parse_args()
    torch.set_num_threads(2)
    pth = torch.jit.load(args.pth, map_location="cpu").eval()
    onnx = torch.jit.load(args.onnx, map_location="cpu").eval()
    anchors = np.load(args.anchors) if args.anchors else None
    g = torch.Generator().manual_seed(0)
    inputs = [("random", torch.rand(1, 3, args.size, args.size, generator=g) * 2 - 1)]
    for path in args.image:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise SystemExit("cannot read %s" % path)
        img = cv2.resize(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), (args.size, args.size),
                         interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(img.astype(np.float32).transpose(2, 0, 1)[None].copy()) / 127.5 - 1
        inputs.append((path, x))
    report, worst = {}, 0.0
    for name, x in inputs:
        res, r, s = run_pair(pth, onnx, x)
        line = "%s:" % name
        for k, v in res.items():
            line += "  %s %s max|diff| %.3g range %.3g ratio %.2e" % (k, v["shape"], v["max_abs_diff"], v["range"], v["ratio"])
            worst = max(worst, v["ratio"])
        if anchors is not None and name != "random":
            dets = decode(r, s, anchors, args.size)
            res["faces_score>0.5"] = [[round(sc, 3)] + [round(float(c), 3) for c in b] for sc, b in dets]
            line += "  faces(sigmoid>0.5, NMS 0.3): %d %s" % (
                len(dets), " ".join("%.2f" % d[0] for d in dets))
        print(line)
        report[name] = res
    worst_t = None
    if args.transplant:
        report["transplant"] = transplant(args.transplant, args.variant, onnx, args.size)
        worst_t = max(v["ratio"] for v in report["transplant"].values())
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.expect == "same":
        if worst > args.tol:
            print("FAIL: worst ratio %.2e > %.0e" % (worst, args.tol))
            sys.exit(1)
        print("ok: same weights, worst max|diff|/range %.2e" % worst)
    else:
        if worst_t is None or worst_t > args.tol or worst <= args.tol:
            print("FAIL: expected different weights in the same architecture: direct %.2e, "
                  "transplant %s" % (worst, "n/a" if worst_t is None else "%.2e" % worst_t))
            sys.exit(1)
        print("ok: weights differ (direct worst %.2e) but the architecture/ordering agree "
              "(transplant worst %.2e)" % (worst, worst_t))


if __name__ == "__main__":
    main()
