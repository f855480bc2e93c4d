#!/usr/bin/python3
"""Leave-one-out identification with a mobilefacenet_ckpt.py TorchScript file (TEST USE ONLY
weights). Rough sanity figure, not a benchmark.

Usage:
  mobilefacenet_check.py --model MFN.pt --identities DIR [--retinaface RF_MNET.pt]
                         [--expect-acc 0.8] [--json OUT.json] [--save-crops PNG]

DIR/<name>/*.png: grayscale face crops (here 150x150) -> 3 equal channels (RGB), then to the
112x96 (HxW) input in up to two ways:
  center   : crop the central 96:112 (w:h) window (150 tall, 129 wide) and resize to 96x112;
  aligned  : (with --retinaface, a retinaface_pth.py mnet025 file) detect the face's 5 landmarks
             in the crop (padded by 75 px so the face is not cut at the border), and warp with
             the similarity transform that maps them onto the SphereFace/MobileFaceNet 112x96
             reference points (30.29,51.70) (65.53,51.50) (48.03,71.74) (33.55,92.37)
             (62.73,92.20).
Normalisation (x - 127.5) / 128. Embedding = model(crop) concatenated with model(flipped crop)
(the upstream LFW protocol), L2-normalised. For each crop the most cosine-similar of the other
crops decides its identity; prints accuracy and the mean same / different-identity similarity.
Exit 1 if the best accuracy is below --expect-acc.
"""

import argparse
import glob
import json
import os
import sys

import cv2
import numpy as np
import torch

REF = np.array([[30.2946, 51.6963], [65.5318, 51.5014], [48.0252, 71.7366],
                [33.5493, 92.3655], [62.7299, 92.2041]], np.float32)


def center_crop(gray):
    h, w = gray.shape
    cw = int(round(h * 96 / 112))
    if cw <= w:
        x0 = (w - cw) // 2
        crop = gray[:, x0:x0 + cw]
    else:
        ch = int(round(w * 112 / 96))
        y0 = (h - ch) // 2
        crop = gray[y0:y0 + ch]
    return cv2.resize(crop, (96, 112), interpolation=cv2.INTER_AREA)


def landmarks(rf, cfg, gray):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import retinaface_check as rc
    pad = 75
    bgr = cv2.copyMakeBorder(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), pad, pad, pad, pad,
                             cv2.BORDER_CONSTANT, value=(127, 127, 127))
    boxes, scores, lms = rc.detect(rf, cfg, bgr, score=0.3, nms_thr=0.4)
    if len(boxes) == 0:
        return None
    # the face nearest the centre of the crop
    c = np.array([bgr.shape[1] / 2, bgr.shape[0] / 2])
    i = int(np.argmin([np.linalg.norm((b[:2] + b[2:]) / 2 - c) for b in boxes]))
    return lms[i].reshape(5, 2) - pad


def aligned_crop(gray, lm):
    m, _ = cv2.estimateAffinePartial2D(lm.astype(np.float32), REF, method=cv2.LMEDS)
    return cv2.warpAffine(gray, m, (96, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def embed(model, crops):
    x = np.stack([np.repeat(c[None], 3, 0) for c in crops]).astype(np.float32)
    x = torch.from_numpy((x - 127.5) / 128.0)
    with torch.no_grad():
        e = torch.cat([model(x), model(torch.flip(x, [3]))], 1)
    return torch.nn.functional.normalize(e, dim=1).numpy()


def loo(emb, labels):
    sim = emb @ emb.T
    np.fill_diagonal(sim, -2)
    pred = [labels[j] for j in sim.argmax(1)]
    acc = float(np.mean([p == l for p, l in zip(pred, labels)]))
    same = np.array([[a == b for b in labels] for a in labels])
    off = ~np.eye(len(labels), dtype=bool)
    return acc, float(sim[same & off].mean()), float(sim[~same].mean()), pred


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--identities", required=True)
    ap.add_argument("--retinaface")
    ap.add_argument("--expect-acc", type=float, default=0.0)
    ap.add_argument("--json")
    ap.add_argument("--save-crops")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model = torch.jit.load(args.model, map_location="cpu").eval()
    files = sorted(glob.glob(os.path.join(args.identities, "*", "*.png")))
    if not files:
        raise SystemExit("no crops under %s" % args.identities)
    labels = [os.path.basename(os.path.dirname(f)) for f in files]
    grays = [cv2.imread(f, cv2.IMREAD_GRAYSCALE) for f in files]
    methods = {"center": [center_crop(g) for g in grays]}
    if args.retinaface:
        extra = {"config.txt": ""}
        rf = torch.jit.load(args.retinaface, map_location="cpu", _extra_files=extra).eval()
        cfg = json.loads(extra["config.txt"])
        crops, missing = [], 0
        for g in grays:
            lm = landmarks(rf, cfg, g)
            if lm is None:
                missing += 1
                crops.append(center_crop(g))
            else:
                crops.append(aligned_crop(g, lm))
        methods["aligned"] = crops
        if missing:
            print("aligned: no face found in %d crops (centre crop used)" % missing)
    report, best = {}, 0.0
    for name, crops in methods.items():
        acc, s_same, s_diff, pred = loo(embed(model, crops), labels)
        best = max(best, acc)
        wrong = ["%s->%s" % (os.path.basename(f), p) for f, p, l in zip(files, pred, labels) if p != l]
        print("%-8s leave-one-out accuracy %d/%d = %.2f; mean cosine same %.3f, different %.3f; wrong: %s"
              % (name, round(acc * len(files)), len(files), acc, s_same, s_diff, " ".join(wrong) or "-"))
        report[name] = {"accuracy": acc, "n": len(files), "mean_cos_same": s_same,
                        "mean_cos_diff": s_diff, "wrong": wrong}
        if args.save_crops:
            rows = [np.hstack(crops[i:i + 5]) for i in range(0, len(crops), 5)]
            cv2.imwrite(args.save_crops.replace(".png", "_%s.png" % name), np.vstack(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if best < args.expect_acc:
        print("FAIL: accuracy %.2f < %.2f" % (best, args.expect_acc))
        sys.exit(1)


if __name__ == "__main__":
    main()
