#!/usr/bin/python3
"""Detection check for TorchScript files written by scripts/convert/retinaface_pth.py.

Usage:
  retinaface_check.py --model ARCH=FILE.pt [--model ...] --yunet YUNET.onnx IMAGE... \
      [--min-sizes JSON] [--score 0.5] [--nms 0.4] [--draw DIR] [--json OUT.json]
      [--expect-min-iou 0.5] [--expect-match 0.8]

Runs each model on each image at the image's own size (the traced modules are size-agnostic),
decodes the priors itself (variances 0.1, 0.2; min sizes and steps from the file's
extra_files['config.txt'] unless --min-sizes overrides them), keeps faces with score > --score
after a greedy NMS at IoU --nms, and compares the boxes with YuNet (yunet_n_320_320.onnx run by cv2.dnn at the image's size,
decoded as OpenCV 4.8's FaceDetectorYN does; boxes at score > --score, NMS 0.3): greedy one-to-one matching by
IoU; prints per image the counts and the IoU of each matched pair.
Exit status 1 when a model's mean matched IoU is below --expect-min-iou or the fraction of
YuNet faces it matches (IoU >= 0.3) is below --expect-match (over all images), else 0.
"""

import argparse
import json
import math
import os
import sys

import cv2
import numpy as np
import torch

MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)


def priors_for(cfg, w, h):
    """[N, 4] (cx, cy, pw, ph) normalised, in the order the network emits its predictions."""
    out = []
    for step, sizes in zip(cfg["steps"], cfg["min_sizes"]):
        fh, fw = math.ceil(h / step), math.ceil(w / step)
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        cx = ((xs + 0.5) * step / w).reshape(-1, 1)
        cy = ((ys + 0.5) * step / h).reshape(-1, 1)
        ones = np.ones((fh * fw, len(sizes)))
        block = np.stack([np.repeat(cx, len(sizes), 1), np.repeat(cy, len(sizes), 1),
                          ones * np.array(sizes) / w, ones * np.array(sizes) / h], -1)
        out.append(block.reshape(-1, 4))
    return np.concatenate(out, 0).astype(np.float32)


def decode(loc, landm, pri, var=(0.1, 0.2)):
    cxcy = pri[:, :2] + loc[:, :2] * var[0] * pri[:, 2:]
    wh = pri[:, 2:] * np.exp(loc[:, 2:] * var[1])
    boxes = np.concatenate([cxcy - wh / 2, cxcy + wh / 2], 1)
    lm = np.concatenate([pri[:, :2] + landm[:, 2 * k:2 * k + 2] * var[0] * pri[:, 2:]
                         for k in range(5)], 1)
    return boxes, lm


def iou_one(b, bs):
    x1 = np.maximum(b[0], bs[:, 0]); y1 = np.maximum(b[1], bs[:, 1])
    x2 = np.minimum(b[2], bs[:, 2]); y2 = np.minimum(b[3], bs[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda z: (z[..., 2] - z[..., 0]) * (z[..., 3] - z[..., 1])
    return inter / np.maximum(area(b) + area(bs) - inter, 1e-9)


def nms(boxes, scores, thr):
    order = np.argsort(-scores)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou_one(boxes[i], boxes[rest]) <= thr]
    return np.array(keep, int)


def detect(model, cfg, img, score=0.5, nms_thr=0.4):
    h, w = img.shape[:2]
    x = torch.from_numpy((img.astype(np.float32) - MEAN_BGR).transpose(2, 0, 1)[None].copy())
    with torch.no_grad():
        loc, conf, landm = model(x)
    pri = priors_for(cfg, w, h)
    if pri.shape[0] != loc.shape[1]:
        raise SystemExit("prior count %d != network output %d" % (pri.shape[0], loc.shape[1]))
    boxes, lm = decode(loc[0].numpy(), landm[0].numpy(), pri)
    s = conf[0, :, 1].numpy()
    m = s > score
    boxes, lm, s = boxes[m] * [w, h, w, h], lm[m] * np.tile([w, h], 5), s[m]
    k = nms(boxes, s, nms_thr)
    return boxes[k], s[k], lm[k]


def yunet_detect(path, img, score=0.5, nms_thr=0.3):
    """YuNet (libfacedetection.train 2023 ONNX: cls/obj/bbox/kps at strides 8/16/32) through
    cv2.dnn at the image's own size padded to a multiple of 32, decoded here the way OpenCV
    >= 4.8's FaceDetectorYN decodes it (OpenCV 4.6's FaceDetectorYN only knows the older
    loc/conf/iou YuNet outputs and fails on this file)."""
    h, w = img.shape[:2]
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    pad = cv2.copyMakeBorder(img, 0, ph - h, 0, pw - w, cv2.BORDER_CONSTANT, value=0)
    net = cv2.dnn.readNet(path)
    net.setInput(cv2.dnn.blobFromImage(pad))
    names = ["%s_%d" % (k, s) for s in (8, 16, 32) for k in ("cls", "obj", "bbox", "kps")]
    outs = dict(zip(names, net.forward(names)))
    boxes, scores = [], []
    for s in (8, 16, 32):
        cols = pw // s
        cls = np.clip(outs["cls_%d" % s][0, :, 0], 0, 1)
        obj = np.clip(outs["obj_%d" % s][0, :, 0], 0, 1)
        sc = np.sqrt(cls * obj)
        bb = outs["bbox_%d" % s][0]
        idx = np.arange(sc.shape[0])
        r, c = idx // cols, idx % cols
        cx, cy = (c + bb[:, 0]) * s, (r + bb[:, 1]) * s
        bw, bh = np.exp(bb[:, 2]) * s, np.exp(bb[:, 3]) * s
        boxes.append(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1))
        scores.append(sc)
    boxes, scores = np.concatenate(boxes), np.concatenate(scores)
    m = scores > score
    boxes, scores = boxes[m], scores[m]
    k = nms(boxes, scores, nms_thr)
    return boxes[k].astype(np.float32), scores[k]


def match(a, b):
    """Greedy one-to-one IoU matching; returns list of (i, j, iou) with iou > 0."""
    if len(a) == 0 or len(b) == 0:
        return []
    m = np.stack([iou_one(x, b) for x in a])
    pairs = []
    while True:
        i, j = np.unravel_index(np.argmax(m), m.shape)
        if m[i, j] <= 0:
            break
        pairs.append((int(i), int(j), float(m[i, j])))
        m[i, :] = -1
        m[:, j] = -1
    return pairs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", required=True, help="ARCH=FILE.pt")
    ap.add_argument("--yunet", required=True)
    ap.add_argument("--min-sizes", help="JSON list overriding the file's min sizes")
    ap.add_argument("--score", type=float, default=0.5)
    ap.add_argument("--nms", type=float, default=0.4)
    ap.add_argument("--draw")
    ap.add_argument("--json")
    ap.add_argument("--expect-min-iou", type=float, default=0.0)
    ap.add_argument("--expect-match", type=float, default=0.0)
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(2)

    models = []
    for spec in args.model:
        name, path = spec.split("=", 1)
        files = {"config.txt": ""}
        m = torch.jit.load(path, map_location="cpu", _extra_files=files)
        cfg = json.loads(files["config.txt"])
        if args.min_sizes:
            cfg["min_sizes"] = json.loads(args.min_sizes)
        models.append((name, m.eval(), cfg))

    report = {"images": {}, "summary": {}}
    stats = {name: {"ious": [], "yunet": 0, "matched": 0, "faces": 0} for name, _, _ in models}
    for path in args.images:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise SystemExit("cannot read %s" % path)
        yb, ys = yunet_detect(args.yunet, img, args.score)
        entry = {"size": [img.shape[1], img.shape[0]], "yunet": len(yb)}
        line = "%s (%dx%d): yunet %d" % (os.path.basename(path), img.shape[1], img.shape[0], len(yb))
        canvas = img.copy() if args.draw else None
        if canvas is not None:
            for b in yb.astype(int):
                cv2.rectangle(canvas, tuple(b[:2]), tuple(b[2:]), (255, 0, 0), 1)
        for name, model, cfg in models:
            boxes, scores, lms = detect(model, cfg, img, args.score, args.nms)
            pairs = match(boxes, yb)
            ious = [p[2] for p in pairs]
            st = stats[name]
            st["ious"] += ious
            st["yunet"] += len(yb)
            st["faces"] += len(boxes)
            st["matched"] += sum(1 for v in ious if v >= 0.3)
            entry[name] = {"faces": len(boxes), "scores": [round(float(s), 3) for s in scores],
                           "matched_iou": [round(v, 3) for v in ious]}
            line += " | %s %d, IoU %s" % (name, len(boxes),
                                          " ".join("%.2f" % v for v in sorted(ious, reverse=True)))
            if canvas is not None:
                colour = {"mnet025": (0, 0, 255), "slim": (0, 255, 0), "rfb": (0, 255, 255)}.get(name, (255, 0, 255))
                for b, l in zip(boxes.astype(int), lms.astype(int)):
                    cv2.rectangle(canvas, tuple(b[:2]), tuple(b[2:]), colour, 1)
                    for k in range(5):
                        cv2.circle(canvas, (int(l[2 * k]), int(l[2 * k + 1])), 1, colour, -1)
        print(line)
        report["images"][path] = entry
        if canvas is not None:
            os.makedirs(args.draw, exist_ok=True)
            cv2.imwrite(os.path.join(args.draw, os.path.splitext(os.path.basename(path))[0] + "_faces.png"), canvas)
    rc = 0
    for name, st in stats.items():
        mean_iou = float(np.mean(st["ious"])) if st["ious"] else 0.0
        frac = st["matched"] / st["yunet"] if st["yunet"] else 1.0
        report["summary"][name] = {"faces": st["faces"], "yunet_faces": st["yunet"],
                                   "matched_iou>=0.3": st["matched"], "mean_matched_iou": round(mean_iou, 4),
                                   "median_matched_iou": round(float(np.median(st["ious"])), 4) if st["ious"] else 0}
        print("%s: %d faces, %d of %d YuNet faces matched (IoU>=0.3), mean IoU of matched pairs %.3f"
              % (name, st["faces"], st["matched"], st["yunet"], mean_iou))
        if mean_iou < args.expect_min_iou or frac < args.expect_match:
            print("FAIL %s: mean IoU %.3f (want >= %.2f), matched fraction %.2f (want >= %.2f)"
                  % (name, mean_iou, args.expect_min_iou, frac, args.expect_match))
            rc = 1
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    sys.exit(rc)


if __name__ == "__main__":
    main()
