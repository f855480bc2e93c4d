#!/usr/bin/python3
"""Run an espnet_pth.py or sinet_pth.py TorchScript file on photos; write PNGs; print figures.

Usage:
  seg_check.py espnet --model ESPNET.pt IMAGE... [--out DIR] [--json OUT.json] [--expect ...]
  seg_check.py sinet  --model SINET.pt  IMAGE... [--out DIR] [--json OUT.json] [--expect ...]

espnet: image (BGR) -> (x - mean) / std (BGR, from the file's config.txt) -> resize to the
  traced size (1024x512) -> / 255, as upstream's VisualizeResults.py; argmax -> colourised with
  the Cityscapes palette (DIR/<name>_espnet.png: image | colour map | 50% overlay), prints
  the class pixel fractions. --expect CLASS:MIN[:MAX] (fraction) checks, e.g. road:0.2 sky:0.01.
sinet: image (BGR) -> resize to 224x224 -> (x - mean) / std (BGR, from config.txt) / 255, as
  upstream's demo code; foreground = softmax channel 1 > 0.5; writes DIR/<name>_sinet.png
  (image | mask | overlay with the background dimmed) at the image's aspect, prints the
  foreground fraction. --expect fg:MIN[:MAX].
  --coco DIR (sinet only): also the person-mask IoU on DIR/images/*.jpg whose
  DIR/masks-semantic/*.png (person = 1) has > 15 % person pixels (coco128-train: 20 images);
  these are generic COCO photos, out of domain for a portrait model: a sanity figure only
  (checked: BGR 0.555, RGB order 0.473, without the /255 0.178). --expect-coco-iou MIN.
Exit 1 when an --expect range is violated.
"""

import argparse
import glob
import json
import os
import sys

import cv2
import numpy as np
import torch


def load(path):
    extra = {"config.txt": ""}
    m = torch.jit.load(path, map_location="cpu", _extra_files=extra).eval()
    return m, json.loads(extra["config.txt"])


def espnet(model, cfg, img):
    w, h = cfg["size"]
    x = (img.astype(np.float32) - np.array(cfg["mean_bgr"], np.float32)) / np.array(cfg["std_bgr"], np.float32)
    x = cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR) / 255.0
    with torch.no_grad():
        y = model(torch.from_numpy(x.transpose(2, 0, 1)[None].copy()))
    return y[0].argmax(0).numpy()


def sinet(model, cfg, img):
    w, h = cfg["size"]
    x = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    x = (x - np.array(cfg["mean_bgr"], np.float32)) / np.array(cfg["std_bgr"], np.float32) / 255.0
    with torch.no_grad():
        y = model(torch.from_numpy(x.transpose(2, 0, 1)[None].copy()))
    return torch.softmax(y, 1)[0, 1].numpy()


def parse_expect(items):
    out = []
    for it in items:
        parts = it.split(":")
        lo = float(parts[1])
        hi = float(parts[2]) if len(parts) > 2 else 1.0
        out.append((parts[0], lo, hi))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["espnet", "sinet"])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out")
    ap.add_argument("--json")
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--coco")
    ap.add_argument("--expect-coco-iou", type=float, default=0.0)
    ap.add_argument("images", nargs="*")
    args = ap.parse_intermixed_args()
    torch.set_num_threads(2)
    model, cfg = load(args.model)
    expect = parse_expect(args.expect)
    report, rc = {}, 0
    for path in args.images:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise SystemExit("cannot read %s" % path)
        name = os.path.splitext(os.path.basename(path))[0]
        if args.kind == "espnet":
            lab = espnet(model, cfg, img)
            counts = np.bincount(lab.ravel(), minlength=len(cfg["classes"]))
            frac = {c: float(n) / lab.size for c, n in zip(cfg["classes"], counts)}
            top = sorted(frac.items(), key=lambda kv: -kv[1])
            print("%s: %s" % (os.path.basename(path), ", ".join("%s %.3f" % kv for kv in top if kv[1] >= 0.001)))
            report[path] = frac
            if args.out:
                pal = np.array(cfg["palette_rgb"], np.uint8)[:, ::-1]  # to BGR
                colour = pal[lab]
                small = cv2.resize(img, (lab.shape[1], lab.shape[0]), interpolation=cv2.INTER_AREA)
                over = cv2.addWeighted(small, 0.5, colour, 0.5, 0)
                sheet = np.vstack([np.hstack([small, colour]), np.hstack([over, legend(cfg, lab.shape[0], lab.shape[1], frac)])])
                cv2.imwrite(os.path.join(args.out, name + "_espnet.png"), sheet)
            for cls, lo, hi in expect:
                v = frac.get(cls, 0.0)
                if not lo <= v <= hi:
                    print("FAIL %s: %s fraction %.3f not in [%.3f, %.3f]" % (path, cls, v, lo, hi))
                    rc = 1
        else:
            prob = sinet(model, cfg, img)
            fg = float((prob > 0.5).mean())
            print("%s: foreground fraction %.3f (mean prob %.3f)" % (os.path.basename(path), fg, float(prob.mean())))
            report[path] = {"fg": fg}
            if args.out:
                h = 320
                w = int(round(img.shape[1] * h / img.shape[0]))
                small = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
                m = cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
                mask = np.repeat((m * 255).astype(np.uint8)[..., None], 3, 2)
                over = small.copy()
                over[~m] = (over[~m] * 0.25).astype(np.uint8)
                over[m] = (0.6 * over[m] + 0.4 * np.array([0, 255, 0])).astype(np.uint8)
                cv2.imwrite(os.path.join(args.out, name + "_sinet.png"), np.hstack([small, mask, over]))
            for cls, lo, hi in expect:
                if not lo <= fg <= hi:
                    print("FAIL %s: fg fraction %.3f not in [%.3f, %.3f]" % (path, fg, lo, hi))
                    rc = 1
    if args.coco and args.kind == "sinet":
        ious = []
        for f in sorted(glob.glob(os.path.join(args.coco, "masks-semantic", "*.png"))):
            gt = cv2.imread(f, cv2.IMREAD_GRAYSCALE) == 1
            if gt.mean() <= 0.15:
                continue
            img = cv2.imread(os.path.join(args.coco, "images", os.path.basename(f)[:-4] + ".jpg"))
            if img is None:
                continue
            pm = cv2.resize(sinet(model, cfg, img), (gt.shape[1], gt.shape[0])) > 0.5
            ious.append(float((pm & gt).sum()) / max(float((pm | gt).sum()), 1.0))
        miou = float(np.mean(ious)) if ious else 0.0
        print("coco person IoU over %d images (> 15%% person): mean %.3f, median %.3f"
              % (len(ious), miou, float(np.median(ious)) if ious else 0.0))
        report["coco_person_iou"] = {"n": len(ious), "mean": miou}
        if miou < args.expect_coco_iou:
            print("FAIL coco person IoU %.3f < %.3f" % (miou, args.expect_coco_iou))
            rc = 1
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    sys.exit(rc)


def legend(cfg, h, w, frac):
    canvas = np.full((h, w, 3), 255, np.uint8)
    rows = [(i, c) for i, c in enumerate(cfg["classes"])]
    step = max(12, h // (len(rows) + 1))
    for k, (i, c) in enumerate(rows):
        y = 8 + k * step
        colour = tuple(int(v) for v in cfg["palette_rgb"][i][::-1])
        cv2.rectangle(canvas, (10, y), (10 + step - 4, y + step - 4), colour, -1)
        cv2.putText(canvas, "%d %s %.3f" % (i, c, frac[c]), (20 + step, y + step - 6),
                    cv2.FONT_HERSHEY_SIMPLEX, step / 30.0, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


if __name__ == "__main__":
    main()
