#!/usr/bin/python3
"""The plain Python baseline for the detect benchmark: one image at a time, in one thread.

Usage: /usr/bin/python3 scripts/bench/python_loop.py MODEL.pt DIR OUTDIR [--conf C] [--iou T]
       [--max-det N] [--threads N] [--size S]

For each image in DIR (sorted; .jpg/.jpeg/.png/.bmp/.webp, not recursive): cv2.imread, letterbox
to SxS (keep aspect, centred, padded with 114, rounded as Ultralytics' LetterBox does), BGR->RGB,
/255, NCHW float tensor, forward of the TorchScript model (torch.jit.load, eval, under
torch.inference_mode, torch.set_num_threads = all usable cores), decode of the [1, 4+nc, N]
output (best class per anchor, score >= conf), letterbox undone and boxes clipped to the image,
class-aware greedy NMS (no torchvision), and one JSON per image, OUTDIR/<stem>.json, in the same
shape as vfm detect's per-image JSON.

The order of the post-processing steps follows vfm (boxes mapped to the original image and
clipped before NMS) so that the two give the same boxes; Ultralytics runs NMS in input pixels
first, which can differ only for boxes that cross the image border.

Prints one JSON line on stdout: images, seconds (the loop, after the model is loaded),
images_per_s, load_s, mean_ms per stage, peak_rss_kb, detections.
"""
import argparse
import json
import os
import resource
import sys
import time

import cv2
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from coco80 import COCO80  # noqa: E402
EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def letterbox(img: np.ndarray, size: int, pad: int = 114):
    """Resize keeping the aspect ratio so the image fits size x size, centred, padded.
    Returns the padded image, the scale and the (left, top) padding."""
    h, w = img.shape[:2]
    r = min(size / w, size / h)
    nw, nh = int(round(w * r)), int(round(h * r))
    if (nw, nh) != (w, h):
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    dw, dh = (size - nw) / 2, (size - nh) / 2
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT,
                             value=(pad, pad, pad))
    return img, r, left, top


def box_iou_one(b: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of box b [4] with boxes [K, 4] (x1, y1, x2, y2), float32."""
    ix1 = np.maximum(b[0], others[:, 0])
    iy1 = np.maximum(b[1], others[:, 1])
    ix2 = np.minimum(b[2], others[:, 2])
    iy2 = np.minimum(b[3], others[:, 3])
    inter = np.where((ix2 > ix1) & (iy2 > iy1), (ix2 - ix1) * (iy2 - iy1), np.float32(0))
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    area_o = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area_b + area_o - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, np.float32(0))


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float, max_det: int):
    """Greedy class-aware NMS: highest score first (stable on ties); a box suppresses later
    boxes of its class whose IoU with it exceeds `iou`. Returns kept indices."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size and len(keep) < max_det:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        same = classes[rest] == classes[i]
        ious = box_iou_one(boxes[i], boxes[rest])
        order = rest[~(same & (ious > iou))]
    return np.asarray(keep, dtype=np.int64)


def postprocess(out: torch.Tensor, conf: float, iou: float, max_det: int, r: float, left: int,
                top: int, w: int, h: int):
    """[1, 4+nc, N] -> (boxes [K, 4] in original pixels, scores [K], classes [K])."""
    p = out[0].transpose(0, 1)                    # [N, 4+nc]
    best, cls = p[:, 4:].max(1)
    m = best >= conf
    p, best, cls = p[m].numpy(), best[m].numpy(), cls[m].numpy()
    cx, cy, bw, bh = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    xyxy = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)
    # Undo the letterbox, clip to the image, drop empty boxes.
    xyxy[:, [0, 2]] = np.clip((xyxy[:, [0, 2]] - left) / np.float32(r), 0, w)
    xyxy[:, [1, 3]] = np.clip((xyxy[:, [1, 3]] - top) / np.float32(r), 0, h)
    ok = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    xyxy, best, cls = xyxy[ok].astype(np.float32), best[ok], cls[ok]
    k = nms(xyxy, best, cls, iou, max_det)
    return xyxy[k], best[k], cls[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("dir")
    ap.add_argument("outdir")
    ap.add_argument("--conf", type=float, default=0.25)
    ap.add_argument("--iou", type=float, default=0.45)
    ap.add_argument("--max-det", type=int, default=300)
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: all usable cores)")
    a = ap.parse_args()

    threads = a.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    files = sorted(f for f in os.listdir(a.dir) if f.lower().endswith(EXTS))
    if not files:
        sys.exit(f"python_loop: no images in {a.dir}")
    os.makedirs(a.outdir, exist_ok=True)

    t0 = time.perf_counter()
    model = torch.jit.load(a.model, map_location="cpu").eval()
    load_s = time.perf_counter() - t0

    stages = ("decode", "preprocess", "infer", "postprocess", "write")
    tot = dict.fromkeys(stages, 0.0)
    n_det = 0
    t_start = time.perf_counter()
    with torch.inference_mode():
        for name in files:
            t = time.perf_counter()
            img = cv2.imread(os.path.join(a.dir, name), cv2.IMREAD_COLOR)
            if img is None:
                sys.exit(f"python_loop: cannot read {name}")
            h, w = img.shape[:2]
            t1 = time.perf_counter()
            lb, r, left, top = letterbox(img, a.size)
            rgb = cv2.cvtColor(lb, cv2.COLOR_BGR2RGB)
            x = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).contiguous().float().div_(255.0)
            t2 = time.perf_counter()
            out = model(x)
            t3 = time.perf_counter()
            boxes, scores, classes = postprocess(out, a.conf, a.iou, a.max_det, r, left, top, w, h)
            t4 = time.perf_counter()
            dets = [{"box": [round(float(v), 2) for v in b],
                     "score": round(float(s), 5),
                     "class_id": int(c),
                     "label": COCO80[int(c)] if int(c) < len(COCO80) else str(int(c))}
                    for b, s, c in zip(boxes, scores, classes)]
            n_det += len(dets)
            rec = {"image": name, "width": w, "height": h, "detections": dets}
            stem = os.path.splitext(name)[0]
            with open(os.path.join(a.outdir, stem + ".json"), "w") as f:
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            t5 = time.perf_counter()
            for k, v in zip(stages, (t1 - t, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                tot[k] += v
    secs = time.perf_counter() - t_start
    n = len(files)
    print(json.dumps({
        "images": n,
        "seconds": round(secs, 3),
        "images_per_s": round(n / secs, 3),
        "load_s": round(load_s, 3),
        "threads": threads,
        "mean_ms": {k: round(1000 * v / n, 3) for k, v in tot.items()},
        "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "detections": n_det,
    }))


if __name__ == "__main__":
    main()
