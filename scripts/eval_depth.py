#!/usr/bin/python3
"""Scores a depth map written by vfm's `depth` against a ground-truth disparity map.

    eval_depth.py PRED [--json IMAGE.json] [--kind disparity|depth] [--gt NPZ]
                  [--max-absrel X] [--min-delta1 Y]
    eval_depth.py --self-test

PRED is the map at the original image size: a .npy (outputs.npy), float TIFF (outputs.tiff), PFM
(outputs.pfm) or a 16-bit PNG (outputs.png16, decoded with the mapping in --json). Whether it is
disparity-like (grows towards the camera) or depth-like comes from --json ("prediction":
disparity, relative_depth or metric_depth) or --kind.

Alignment is done in DISPARITY space, as relative depth models are evaluated (MiDaS, Depth
Anything): a depth-like prediction is inverted first (1 / pred, pred > 0), then a scale and
shift are fitted by least squares on the valid ground-truth pixels (finite, > 0), and

    AbsRel  = mean(|d - gt| / gt)
    delta1  = fraction of valid pixels with max(d / gt, gt / d) < 1.25   (d clamped to >= 1e-6)

are computed on the aligned disparity d against the ground-truth disparity gt. The default
ground truth is Debian python3-skimage's Middlebury 'motorcycle' (motorcycle_disp.npz, key arr_0,
inf where unknown). For that pair the same metrics are also reported in depth space, both maps
turned into depth with the calibration of the downsampled pair (Z = f B / (d + doffs); f =
994.978 px, doffs = 31.086 px, B = 193.001 mm), and for a constant prediction as a floor.
One JSON line; exit 1 when a --max-absrel / --min-delta1 threshold fails.
"""
import argparse
import json
import os
import sys

import numpy as np

SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
FOCAL_PX, DOFFS_PX, BASELINE_MM = 994.978, 31.086, 193.001


def die(msg):
    print("error: eval_depth: " + msg, file=sys.stderr)
    sys.exit(2)


def read_pfm(path):
    with open(path, "rb") as f:
        kind = f.readline().strip()
        if kind not in (b"Pf", b"PF"):
            die("%s: not a PFM file" % path)
        w, h = (int(v) for v in f.readline().split())
        scale = float(f.readline())
        ch = 1 if kind == b"Pf" else 3
        data = np.frombuffer(f.read(), dtype="<f4" if scale < 0 else ">f4")
    if data.size != w * h * ch:
        die("%s: expected %d floats, found %d" % (path, w * h * ch, data.size))
    return data.reshape(h, w, ch)[::-1, :, 0].astype(np.float64)


def load_pred(path, meta):
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        return np.load(path).astype(np.float64)
    if ext == ".pfm":
        return read_pfm(path)
    import cv2
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        die("%s: cannot read" % path)
    if img.dtype == np.uint16:
        if not meta or "png16" not in meta:
            die("%s: a 16-bit PNG needs --json with its png16 mapping" % path)
        lo, hi = meta["png16"]["lo"], meta["png16"]["hi"]
        return lo + img.astype(np.float64) * (hi - lo) / 65535.0
    return img.astype(np.float64)


def load_gt(path):
    d = np.load(path)
    key = "arr_0" if "arr_0" in d.files else d.files[0]
    gt = d[key].astype(np.float64)
    return gt[..., 0] if gt.ndim == 3 else gt


def resize_to(pred, shape):
    if pred.shape == shape:
        return pred
    import cv2
    return cv2.resize(pred.astype(np.float32), (shape[1], shape[0]),
                      interpolation=cv2.INTER_LINEAR).astype(np.float64)


def metrics(pred, gt):
    pred = np.maximum(pred, 1e-6)
    return {"abs_rel": float(np.mean(np.abs(pred - gt) / gt)),
            "delta1": float(np.mean(np.maximum(pred / gt, gt / pred) < 1.25))}


def affine_fit(p, target):
    """Least-squares scale and shift mapping p onto target."""
    A = np.stack([p, np.ones_like(p)], axis=1)
    (s, t), *_ = np.linalg.lstsq(A, target, rcond=None)
    return float(s), float(t)


def evaluate(pred, gt_disp, kind, middlebury=True):
    """pred and gt_disp of the same shape; kind: 'disparity' or 'depth' (depth-like)."""
    valid = np.isfinite(gt_disp) & (gt_disp > 0) & np.isfinite(pred)
    if kind == "depth":
        valid &= pred > 0
        p = np.zeros_like(pred)
        p[valid] = 1.0 / pred[valid]
    else:
        p = pred
    if valid.sum() < 2:
        die("fewer than 2 valid pixels")
    s, t = affine_fit(p[valid], gt_disp[valid])
    d = s * p[valid] + t
    g = gt_disp[valid]
    rec = {"space": "disparity", "pred_kind": kind, "scale": s, "shift": t,
           "valid_px": int(valid.sum())}
    rec.update(metrics(d, g))
    rec["nonpositive_after_fit"] = int((d <= 0).sum())
    if middlebury:
        z_gt = FOCAL_PX * BASELINE_MM / (g + DOFFS_PX)
        z = FOCAL_PX * BASELINE_MM / np.maximum(d + DOFFS_PX, 1e-6)
        rec["depth_space_from_aligned_disparity"] = metrics(z, z_gt)
        rec["constant_baseline"] = metrics(np.full(g.size, g.mean()), g)
    return rec


def self_test():
    rng = np.random.default_rng(0)
    gt = rng.uniform(5, 80, size=(40, 50))
    gt[0, :5] = np.inf  # unknown pixels are ignored
    ok = True

    def expect(name, cond):
        nonlocal ok
        print(("ok   " if cond else "FAIL ") + name)
        ok &= bool(cond)

    r = evaluate(3.0 * gt + 5.0, gt, "disparity", middlebury=False)
    expect("affine disparity aligns exactly", r["abs_rel"] < 1e-9 and r["delta1"] == 1.0
           and abs(r["scale"] - 1 / 3) < 1e-9 and abs(r["shift"] + 5 / 3) < 1e-9)
    r = evaluate(2.0 / gt, gt, "depth", middlebury=False)
    expect("depth-like prediction is inverted before the fit",
           r["abs_rel"] < 1e-9 and r["delta1"] == 1.0 and r["valid_px"] == 40 * 50 - 5)
    # constant prediction on gt (1, 2): min-norm fit gives 1.5 everywhere
    r = evaluate(np.array([[1.0, 1.0]]), np.array([[1.0, 2.0]]), "disparity", middlebury=False)
    expect("constant prediction: AbsRel 0.375, delta1 0",
           abs(r["abs_rel"] - 0.375) < 1e-12 and r["delta1"] == 0.0)
    # one pixel off by 50% of 4: AbsRel = 0.5 / 4, delta1 = 3/4
    gt4 = np.array([[1.0, 2.0, 3.0, 4.0]])
    s = evaluate(gt4, gt4, "disparity", middlebury=False)
    expect("identity", s["abs_rel"] < 1e-12)
    m = metrics(np.array([1.0, 2.0, 3.0, 6.0]), gt4[0])
    expect("metrics by hand: AbsRel 0.125, delta1 0.75",
           abs(m["abs_rel"] - 0.125) < 1e-12 and m["delta1"] == 0.75)
    tmp = "/tmp/eval_depth_selftest_%d.pfm" % os.getpid()
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    with open(tmp, "wb") as f:
        f.write(b"Pf\n3 2\n-1\n" + arr[::-1].astype("<f4").tobytes())
    expect("PFM read back", np.array_equal(read_pfm(tmp), arr))
    os.unlink(tmp)
    return 0 if ok else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pred", nargs="?")
    ap.add_argument("--json", help="vfm's per-image JSON (prediction kind, png16 mapping)")
    ap.add_argument("--kind", choices=("disparity", "depth"))
    ap.add_argument("--gt", default=os.path.join(SKIMAGE_DATA, "motorcycle_disp.npz"))
    ap.add_argument("--max-absrel", type=float)
    ap.add_argument("--min-delta1", type=float)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    if not args.pred:
        ap.error("PRED is required")
    meta = json.load(open(args.json)) if args.json else None
    kind = args.kind
    if kind is None:
        if not meta:
            die("give --json or --kind")
        kind = "disparity" if meta.get("prediction") == "disparity" else "depth"
    gt = load_gt(args.gt)
    pred = resize_to(load_pred(args.pred, meta), gt.shape)
    rec = {"pred": args.pred, "gt": args.gt}
    rec.update(evaluate(pred, gt, kind, middlebury="motorcycle" in os.path.basename(args.gt)))
    ok = True
    if args.max_absrel is not None and rec["abs_rel"] > args.max_absrel:
        ok = False
    if args.min_delta1 is not None and rec["delta1"] < args.min_delta1:
        ok = False
    rec["pass"] = ok
    print(json.dumps(rec))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
