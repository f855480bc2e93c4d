#!/usr/bin/python3
"""Depth sanity check of a PyDNet TorchScript model on Middlebury 'motorcycle'.

    eval_pydnet.py MODEL.pt [--image PNG] [--gt NPZ] [--output K | --all]
                   [--space auto|depth|disparity] [--png OUT.png]
                   [--max-absrel X] [--min-delta1 Y]

MODEL.pt is the TorchScript made by tflite2ts.py: NCHW float input [B,3,H,W] with RGB/255
values, outputs [B,1,H,W].  The image is resized to the model's input size (read from the
archive's tflite2ts.json, default 640x448); each prediction is resized bilinearly to the
ground-truth size; a scale and shift are fitted by least squares on valid pixels, and

    AbsRel = mean(|pred_aligned - gt| / gt)
    delta1 = fraction of valid pixels with max(pred_aligned/gt, gt/pred_aligned) < 1.25

Ground truth is skimage's motorcycle_disp.npz (key arr_0: disparity in pixels of the 741x500
image, inf where unknown).  With the calibration of that downsampled pair (f = 994.978 px,
doffs = 31.086 px, baseline = 193.001 mm) metric depth is Z = f*B / (disp + doffs).

Which space the fit is done in:
  disparity  pred is taken as disparity-like (grows when closer) and fitted to GT disparity;
  depth      pred is taken as depth-like (grows with distance) and fitted to GT depth Z;
  auto       (default) picks by the sign of the Spearman rank correlation of pred with GT
             disparity: negative -> depth, positive -> disparity.
The literal disparity-space fit is always reported too ("disparity_fit"), as is a
constant-prediction baseline.  One JSON line per evaluated output.  Exit 1 when a threshold
given with --max-absrel / --min-delta1 fails for the selected output.
Needs torch, numpy, cv2 and scripts/eval_depth.py beside this folder.
"""

import argparse
import json
import os
import sys

import numpy as np

# ground truth, calibration, metrics and the fit are scripts/eval_depth.py's
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from eval_depth import (BASELINE_MM, DOFFS_PX, FOCAL_PX, SKIMAGE_DATA,  # noqa: E402
                        affine_fit, load_gt)
from eval_depth import metrics as depth_metrics  # noqa: E402


def model_input_size(path):
    import torch
    extra = {"tflite2ts.json": ""}
    try:
        torch.jit.load(path, map_location="cpu", _extra_files=extra)
        info = json.loads(extra["tflite2ts.json"] or "{}")
        _, _, h, w = info["input"]["shape"]
        return int(w), int(h)
    except (KeyError, ValueError, RuntimeError):
        return 640, 448


def predict(model_path, image_path, size=None):
    import cv2
    import torch
    torch.set_num_threads(2)
    w, h = size or model_input_size(model_path)
    bgr = cv2.imread(image_path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit("error: eval_pydnet: cannot read image %s" % image_path)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    x = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    x = torch.from_numpy(x.transpose(2, 0, 1).copy())[None]
    model = torch.jit.load(model_path, map_location="cpu").eval()
    with torch.no_grad():
        out = model(x)
    if isinstance(out, torch.Tensor):
        out = (out,)
    return bgr, [o[0, 0].numpy().astype(np.float64) for o in out]


def metrics(pred, gt):
    rec = depth_metrics(pred, gt)
    rec["nonpositive_after_fit"] = int((pred <= 0).sum())
    return rec


def spearman(a, b):
    ra = np.empty(a.size)
    rb = np.empty(b.size)
    ra[np.argsort(a, kind="stable")] = np.arange(a.size)
    rb[np.argsort(b, kind="stable")] = np.arange(b.size)
    return float(np.corrcoef(ra, rb)[0, 1])


def evaluate(pred, gt_disp, space):
    """Returns (record, aligned prediction expressed as disparity for display)."""
    import cv2
    H, W = gt_disp.shape
    p = cv2.resize(pred.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    valid = np.isfinite(gt_disp) & (gt_disp > 0) & np.isfinite(p)
    gd = gt_disp[valid]
    gz = FOCAL_PX * BASELINE_MM / (gd + DOFFS_PX)
    rho = spearman(p[valid], gd)
    chosen = space if space != "auto" else ("depth" if rho < 0 else "disparity")

    s_d, t_d = affine_fit(p[valid], gd)
    disp_fit = {"scale": s_d, "shift": t_d}
    disp_fit.update(metrics(s_d * p[valid] + t_d, gd))
    s_z, t_z = affine_fit(p[valid], gz)
    depth_fit = {"scale": s_z, "shift": t_z}
    depth_fit.update(metrics(s_z * p[valid] + t_z, gz))

    if chosen == "depth":
        z = np.maximum(s_z * p + t_z, 1e-6)
        shown = FOCAL_PX * BASELINE_MM / z - DOFFS_PX
        primary = depth_fit
    else:
        shown = s_d * p + t_d
        primary = disp_fit
    rec = {"space": chosen, "spearman_vs_gt_disparity": rho, "valid_px": int(valid.sum()),
           "abs_rel": primary["abs_rel"], "delta1": primary["delta1"],
           "scale": primary["scale"], "shift": primary["shift"],
           "disparity_fit": disp_fit, "depth_fit": depth_fit}
    return rec, shown


def colourise(values, lo, hi):
    import cv2
    finite = np.isfinite(values)
    n = np.clip((np.where(finite, values, lo) - lo) / max(hi - lo, 1e-12), 0, 1)
    img = cv2.applyColorMap((n * 255).astype(np.uint8), cv2.COLORMAP_MAGMA)
    img[~finite] = 0
    return img


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--image", default=os.path.join(SKIMAGE_DATA, "motorcycle_left.png"))
    ap.add_argument("--gt", default=os.path.join(SKIMAGE_DATA, "motorcycle_disp.npz"))
    ap.add_argument("--output", type=int, default=0,
                    help="model output to score (default 0: PyDNet's finest head)")
    ap.add_argument("--all", action="store_true", help="score every output")
    ap.add_argument("--space", choices=("auto", "depth", "disparity"), default="auto")
    ap.add_argument("--png", help="write image | prediction (as disparity) | GT disparity")
    ap.add_argument("--max-absrel", type=float, help="fail (exit 1) if AbsRel is above this")
    ap.add_argument("--min-delta1", type=float, help="fail (exit 1) if delta<1.25 is below this")
    args = ap.parse_args(argv)

    import cv2
    gt = load_gt(args.gt)
    bgr, outs = predict(args.model, args.image)
    if not 0 <= args.output < len(outs):
        raise SystemExit("error: eval_pydnet: model has %d outputs" % len(outs))
    chosen = range(len(outs)) if args.all else [args.output]

    valid = np.isfinite(gt) & (gt > 0)
    gd = gt[valid]
    base = {"disparity": metrics(np.full(gd.size, gd.mean()), gd)}
    gz = FOCAL_PX * BASELINE_MM / (gd + DOFFS_PX)
    base["depth"] = metrics(np.full(gz.size, gz.mean()), gz)
    status = 0
    shown_sel = None
    for k in chosen:
        rec, shown = evaluate(outs[k], gt, args.space)
        if k == args.output:
            shown_sel = shown
        out = {"model": os.path.basename(args.model), "image": os.path.basename(args.image),
               "output": k, "pred_range": [float(outs[k].min()), float(outs[k].max())],
               "gt_size": list(gt.shape)}
        out.update(rec)
        out["baseline_const"] = {s: {"abs_rel": b["abs_rel"], "delta1": b["delta1"]}
                                 for s, b in base.items()}
        if k == args.output:
            ok = True
            if args.max_absrel is not None and rec["abs_rel"] > args.max_absrel:
                ok = False
            if args.min_delta1 is not None and rec["delta1"] < args.min_delta1:
                ok = False
            out["pass"] = ok
            status = 0 if ok else 1
        print(json.dumps(out), flush=True)

    if args.png:
        gtv = np.where(valid, gt, np.nan)
        lo, hi = np.nanpercentile(gtv, 1), np.nanpercentile(gtv, 99)
        H, W = gt.shape
        img = cv2.resize(bgr, (W, H), interpolation=cv2.INTER_AREA)
        panel = np.concatenate([img, colourise(shown_sel, lo, hi), colourise(gtv, lo, hi)], axis=1)
        if not cv2.imwrite(args.png, panel):
            raise SystemExit("error: eval_pydnet: cannot write %s" % args.png)
    return status


if __name__ == "__main__":
    sys.exit(main())
