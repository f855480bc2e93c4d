#!/usr/bin/env python3
"""Score `detect` output against YOLO-format ground truth with COCO-style box metrics.

Usage:
  eval_detect.py --pred OUT_DIR --labels LABEL_DIR [--images IMAGE_DIR] [--max-dets 100]
  eval_detect.py --self-test

Predictions: the per-image JSON files that `detect` writes, OUT_DIR/<stem>.json, holding
  {"image": ..., "width": W, "height": H,
   "detections": [{"box": [x1, y1, x2, y2], "score": s, "class_id": c, "label": ...}]}
with boxes in original-image pixels. Other JSON files in OUT_DIR (run.json, coco_*.json) are
skipped because they have no "detections" list.

Ground truth: LABEL_DIR/<stem>.txt, one object a line, "class cx cy w h" normalised to [0, 1]
(a line with more than four coordinates is read as a polygon and its bounding box is used).
A missing or empty file means the image has no objects. Pixel sizes come from the prediction
JSON; an image without one has no detections, so its objects are all misses whatever their size.

Images evaluated: with --images, every image file stem under IMAGE_DIR (recursively); an image
without a prediction JSON counts as having no detections. Without --images, the union of the
label stems and the prediction stems.

Metric, as pycocotools' COCOeval does it for iouType "bbox" (areaRng "all", maxDets 100):
  * IoU thresholds 0.50:0.05:0.95; IoU of pixel boxes with no "+1" in widths and areas.
  * Each image keeps its top --max-dets detections by score (all classes together; `detect`
    caps per image already, and pycocotools caps per image and class, which is the same thing
    whenever an image has at most that many detections).
  * Per image and class, detections in descending score order are matched greedily to the
    not yet matched ground truth box of that class with the highest IoU >= threshold.
  * Per class, detections of all images are ranked by score; precision is made monotonic
    (envelope from the right) and sampled at the 101 recall points 0, 0.01, ..., 1 (a recall
    point beyond the largest recall reached contributes 0).
  * AP is averaged over the classes with at least one ground truth instance; a class with
    instances but no detections scores 0, a class with detections but no instances is skipped.
  * mAP50 is the mean AP at IoU 0.50; mAP50_95 the mean over the ten thresholds.

Output: a JSON object on stdout, a one-line summary on stderr. Needs Python 3 and numpy only.
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coco80 import COCO80  # noqa: E402

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}

# The same grids COCOeval builds, so that comparisons at grid points round identically.
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_POINTS = np.linspace(0.0, 1.0, int(np.round((1.0 - 0.0) / 0.01)) + 1, endpoint=True)


class Image:
    """Ground truth and detections of one image; boxes are float64 [N, 4] arrays in x, y, w, h."""

    def __init__(self, stem):
        self.stem = stem
        self.gt_cls = np.zeros(0, dtype=np.int64)
        self.gt_box = np.zeros((0, 4))
        self.dt_cls = np.zeros(0, dtype=np.int64)
        self.dt_box = np.zeros((0, 4))
        self.dt_score = np.zeros(0)


# ----------------------------------------------------------------------------------------------
# Reading


def read_yolo_labels(path, width, height):
    """Returns (classes, xywh pixel boxes) from a YOLO txt file; ([], []) if it does not exist."""
    classes, boxes = [], []
    if path is None or not os.path.isfile(path):
        return np.zeros(0, dtype=np.int64), np.zeros((0, 4))
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                cls = int(float(parts[0]))
                vals = [float(v) for v in parts[1:]]
            except ValueError:
                raise SystemExit("eval_detect: %s:%d: not a YOLO label line" % (path, lineno))
            if len(vals) == 4:
                cx, cy, bw, bh = vals
                x, y = (cx - bw / 2.0) * width, (cy - bh / 2.0) * height
                w, h = bw * width, bh * height
            elif len(vals) >= 6 and len(vals) % 2 == 0:
                xs, ys = vals[0::2], vals[1::2]
                x, y = min(xs) * width, min(ys) * height
                w, h = (max(xs) - min(xs)) * width, (max(ys) - min(ys)) * height
            else:
                raise SystemExit("eval_detect: %s:%d: expected 'class cx cy w h'" % (path, lineno))
            classes.append(cls)
            boxes.append((x, y, w, h))
    return np.array(classes, dtype=np.int64), np.array(boxes, dtype=np.float64).reshape(-1, 4)


def read_prediction(path):
    """Returns the parsed per-image JSON, or None if the file is not one (run.json and the like)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit("eval_detect: cannot read %s: %s" % (path, e))
    if not isinstance(data, dict) or not isinstance(data.get("detections"), list):
        return None
    return data


def list_image_stems(root):
    stems = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            stem, ext = os.path.splitext(name)
            if ext.lower() in IMAGE_EXTS:
                if stem in stems:
                    print("eval_detect: warning: image stem %r appears twice (%s, %s)"
                          % (stem, stems[stem], os.path.join(dirpath, name)), file=sys.stderr)
                stems[stem] = os.path.join(dirpath, name)
    return sorted(stems)


def load_dataset(pred_dir, label_dir, image_dir=None):
    """Returns (images sorted by stem, {class_id: label} seen in the predictions)."""
    preds = {}
    for name in sorted(os.listdir(pred_dir)):
        stem, ext = os.path.splitext(name)
        if ext.lower() != ".json":
            continue
        data = read_prediction(os.path.join(pred_dir, name))
        if data is not None:
            preds[stem] = data

    label_stems = set()
    if os.path.isdir(label_dir):
        for name in os.listdir(label_dir):
            stem, ext = os.path.splitext(name)
            if ext == ".txt":
                label_stems.add(stem)
    else:
        raise SystemExit("eval_detect: label folder %s does not exist" % label_dir)

    if image_dir is not None:
        stems = list_image_stems(image_dir)
        if not stems:
            raise SystemExit("eval_detect: no images under %s" % image_dir)
        for what, found in (("prediction", preds), ("label", label_stems)):
            extra = sorted(set(found) - set(stems))
            if extra:
                print("eval_detect: note: %d %s file(s) for images not in %s are ignored (%s%s)"
                      % (len(extra), what, image_dir, ", ".join(extra[:3]),
                         ", ..." if len(extra) > 3 else ""), file=sys.stderr)
    else:
        stems = sorted(label_stems | set(preds))

    names = {}
    images = []
    missing_pred = 0
    for stem in stems:
        img = Image(stem)
        data = preds.get(stem)
        if data is None:
            missing_pred += 1
            # No detections, so only the count of objects matters, not their pixel size.
            width = height = 1.0
        else:
            width, height = float(data.get("width", 0)), float(data.get("height", 0))
            if width <= 0 or height <= 0:
                raise SystemExit("eval_detect: %s.json has no valid width/height" % stem)
            cls, box, score = [], [], []
            for det in data["detections"]:
                x1, y1, x2, y2 = (float(v) for v in det["box"])
                cid = int(det["class_id"])
                cls.append(cid)
                box.append((x1, y1, x2 - x1, y2 - y1))
                score.append(float(det["score"]))
                if "label" in det and cid not in names:
                    names[cid] = str(det["label"])
            img.dt_cls = np.array(cls, dtype=np.int64)
            img.dt_box = np.array(box, dtype=np.float64).reshape(-1, 4)
            img.dt_score = np.array(score, dtype=np.float64)
        label_path = os.path.join(label_dir, stem + ".txt") if stem in label_stems else None
        img.gt_cls, img.gt_box = read_yolo_labels(label_path, width, height)
        images.append(img)
    if missing_pred:
        print("eval_detect: note: %d image(s) have no prediction file and count as having no "
              "detections" % missing_pred, file=sys.stderr)
    return images, names


# ----------------------------------------------------------------------------------------------
# Metric


def box_iou(dt, gt):
    """IoU matrix [D, G] of xywh boxes, computed as the COCO mask API does (no "+1")."""
    if len(dt) == 0 or len(gt) == 0:
        return np.zeros((len(dt), len(gt)))
    dx, dy, dw, dh = (dt[:, i:i + 1] for i in range(4))
    gx, gy, gw, gh = (gt[None, :, i] for i in range(4))
    iw = np.minimum(dx + dw, gx + gw) - np.maximum(dx, gx)
    ih = np.minimum(dy + dh, gy + gh) - np.maximum(dy, gy)
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    union = dw * dh + gw * gh - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return iou


def match_image_class(dt_box, gt_box):
    """Greedy matching of score-sorted detections to ground truth at every IoU threshold.

    Returns a bool array [T, D]: whether detection d is a true positive at threshold t.
    """
    T, D, G = len(IOU_THRESHOLDS), len(dt_box), len(gt_box)
    tp = np.zeros((T, D), dtype=bool)
    if D == 0 or G == 0:
        return tp
    iou = box_iou(dt_box, gt_box)
    for t, thr in enumerate(IOU_THRESHOLDS):
        floor = min(thr, 1 - 1e-10)
        taken = np.zeros(G, dtype=bool)
        for d in range(D):
            ok = (~taken) & (iou[d] >= floor)
            if not ok.any():
                continue
            cand = np.where(ok, iou[d], -1.0)
            # Highest IoU wins; on a tie the later ground truth box, as COCOeval's scan does.
            g = G - 1 - int(np.argmax(cand[::-1]))
            taken[g] = True
            tp[t, d] = True
    return tp


def average_precision(tp, scores, n_gt):
    """COCO 101-point AP per threshold from tp [T, N] in image order and their scores."""
    T = tp.shape[0]
    order = np.argsort(-scores, kind="mergesort")
    tp = tp[:, order]
    tps = np.cumsum(tp, axis=1).astype(np.float64)
    fps = np.cumsum(~tp, axis=1).astype(np.float64)
    ap = np.zeros(T)
    for t in range(T):
        n = tps.shape[1]
        if n == 0:
            continue
        recall = tps[t] / n_gt
        precision = tps[t] / (tps[t] + fps[t] + np.spacing(1))
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        idx = np.searchsorted(recall, RECALL_POINTS, side="left")
        sampled = np.zeros(len(RECALL_POINTS))
        valid = idx < n
        sampled[valid] = precision[idx[valid]]
        ap[t] = sampled.mean()
    return ap


def evaluate(images, max_dets=100):
    """Returns {class_id: (n_gt, AP per threshold [T])} for classes with ground truth."""
    per_class_tp, per_class_score = {}, {}
    n_gt = {}
    for img in images:
        for c in img.gt_cls.tolist():
            n_gt[c] = n_gt.get(c, 0) + 1
        keep = np.argsort(-img.dt_score, kind="mergesort")[:max_dets]
        keep = np.sort(keep)  # back to file order; the per-class sort below is stable
        dt_cls, dt_box, dt_score = img.dt_cls[keep], img.dt_box[keep], img.dt_score[keep]
        for c in np.unique(np.concatenate([dt_cls, img.gt_cls])).tolist():
            di = np.flatnonzero(dt_cls == c)
            di = di[np.argsort(-dt_score[di], kind="mergesort")]
            if len(di) == 0:
                continue
            gi = np.flatnonzero(img.gt_cls == c)
            tp = match_image_class(dt_box[di], img.gt_box[gi])
            per_class_tp.setdefault(c, []).append(tp)
            per_class_score.setdefault(c, []).append(dt_score[di])
    results = {}
    T = len(IOU_THRESHOLDS)
    for c in sorted(n_gt):
        if c in per_class_tp:
            tp = np.concatenate(per_class_tp[c], axis=1)
            scores = np.concatenate(per_class_score[c])
            ap = average_precision(tp, scores, n_gt[c])
        else:
            ap = np.zeros(T)
        results[c] = (n_gt[c], ap)
    return results


def summarise(images, results, names):
    def name_of(c):
        if c in names:
            return names[c]
        return COCO80[c] if 0 <= c < len(COCO80) else "class_%d" % c

    keys = {}
    for c in results:
        k = name_of(c)
        keys[c] = k if list(map(name_of, results)).count(k) == 1 else "%s (%d)" % (k, c)
    if results:
        ap = np.stack([results[c][1] for c in sorted(results)])
        map50, map50_95 = float(ap[:, 0].mean()), float(ap.mean())
    else:
        map50 = map50_95 = 0.0
    return {
        "images": len(images),
        "instances": int(sum(n for n, _ in results.values())),
        "classes_evaluated": len(results),
        "mAP50": map50,
        "mAP50_95": map50_95,
        "per_class_AP50": {keys[c]: float(results[c][1][0]) for c in sorted(results)},
        "per_class_AP50_95": {keys[c]: float(results[c][1].mean()) for c in sorted(results)},
        "per_class_instances": {keys[c]: int(results[c][0]) for c in sorted(results)},
    }


# ----------------------------------------------------------------------------------------------
# Self-test: synthetic cases whose answers were worked out by hand.


def _img(stem, gts=(), dts=()):
    """gts: (class, x1, y1, x2, y2); dts: (class, x1, y1, x2, y2, score)."""
    img = Image(stem)
    if gts:
        img.gt_cls = np.array([g[0] for g in gts], dtype=np.int64)
        img.gt_box = np.array([(g[1], g[2], g[3] - g[1], g[4] - g[2]) for g in gts], float)
    if dts:
        img.dt_cls = np.array([d[0] for d in dts], dtype=np.int64)
        img.dt_box = np.array([(d[1], d[2], d[3] - d[1], d[4] - d[2]) for d in dts], float)
        img.dt_score = np.array([d[5] for d in dts], float)
    return img


def self_test():
    half = 51.0 / 101.0  # recall 0.5 reached at precision 1: recall points 0.00..0.50 = 51 of 101
    cases = []

    # 1. Perfect detections, two images, two classes: AP 1 everywhere.
    cases.append(("perfect", [
        _img("a", gts=[(0, 10, 10, 50, 60), (1, 100, 100, 180, 150)],
             dts=[(0, 10, 10, 50, 60, 0.9), (1, 100, 100, 180, 150, 0.8)]),
        _img("b", gts=[(0, 0, 0, 20, 20)], dts=[(0, 0, 0, 20, 20, 0.7)]),
    ], dict(mAP50=1.0, mAP50_95=1.0, classes=2, instances=3)))

    # 2. Two objects, one found exactly: recall 0.5 at precision 1 -> 51/101 at every threshold.
    cases.append(("one of two missed", [
        _img("a", gts=[(0, 0, 0, 10, 10), (0, 50, 50, 70, 70)], dts=[(0, 0, 0, 10, 10, 0.9)]),
    ], dict(mAP50=half, mAP50_95=half)))

    # 3. A false positive ranked above the only true positive: recall [0, 1], precision
    #    [0, 1/2]; the envelope is 1/2 at both, so every recall point samples 1/2 -> AP 0.5.
    cases.append(("FP above TP", [
        _img("a", gts=[(0, 0, 0, 10, 10)],
             dts=[(0, 100, 100, 110, 110, 0.9), (0, 0, 0, 10, 10, 0.8)]),
    ], dict(mAP50=0.5, mAP50_95=0.5)))

    # 4. The same false positive ranked below: recall 1 is reached at precision 1 -> AP 1.
    cases.append(("FP below TP", [
        _img("a", gts=[(0, 0, 0, 10, 10)],
             dts=[(0, 100, 100, 110, 110, 0.8), (0, 0, 0, 10, 10, 0.9)]),
    ], dict(mAP50=1.0, mAP50_95=1.0)))

    # 5. Ranking across images: FP 0.9 (img b), TP 0.6 (img a), TP 0.3 (img b).
    #    tp 0,1,2; fp 1,1,1; recall 0, .5, 1; precision 0, 1/2, 2/3 -> envelope 2/3 -> AP 2/3.
    cases.append(("ranking across images", [
        _img("a", gts=[(0, 0, 0, 10, 10)], dts=[(0, 0, 0, 10, 10, 0.6)]),
        _img("b", gts=[(0, 20, 20, 40, 40)],
             dts=[(0, 200, 200, 240, 240, 0.9), (0, 20, 20, 40, 40, 0.3)]),
    ], dict(mAP50=2.0 / 3.0, mAP50_95=2.0 / 3.0)))

    # 6. Localisation: box 10x10 against 10x7.7, IoU 77/100 = 0.77 -> true positive at
    #    0.50..0.75 (6 of 10 thresholds), a miss at 0.80..0.95 -> mAP50 1, mAP50_95 0.6.
    cases.append(("IoU 0.77", [
        _img("a", gts=[(0, 0, 0, 10, 10)], dts=[(0, 0, 0, 10, 7.7, 0.9)]),
    ], dict(mAP50=1.0, mAP50_95=0.6)))

    # 7. Wrong class: class 0 has one object and no detection (AP 0); class 1 has a detection
    #    but no objects and is not evaluated.
    cases.append(("wrong class", [
        _img("a", gts=[(0, 0, 0, 10, 10)], dts=[(1, 0, 0, 10, 10, 0.9)]),
    ], dict(mAP50=0.0, mAP50_95=0.0, classes=1, instances=1)))

    # 8. Greedy matching picks the highest IoU, not the first box over the threshold.
    #    A = [0,0,10,10], B = [2,0,12,10]; d1 (0.9) = [1.5,0,11.5,10]: IoU A 85/115 = .739,
    #    IoU B 95/105 = .905 -> takes B. d2 (0.8) = [-3,0,7,10]: IoU A 70/130 = .538,
    #    IoU B 50/150 = .333 -> takes A at 0.50 only.
    #    t = 0.50: both TP -> AP 1.  t = 0.55..0.90 (8 thresholds): d1 TP, d2 FP -> 51/101.
    #    t = 0.95: none -> 0.  mAP50_95 = (1 + 8 * 51/101) / 10 = 509/1010.
    cases.append(("greedy highest IoU", [
        _img("a", gts=[(0, 0, 0, 10, 10), (0, 2, 0, 12, 10)],
             dts=[(0, 1.5, 0, 11.5, 10, 0.9), (0, -3, 0, 7, 10, 0.8)]),
    ], dict(mAP50=1.0, mAP50_95=509.0 / 1010.0)))

    # 9. Two detections on one object: the second is a false positive ranked below the first
    #    -> recall 1 reached at precision 1 -> AP 1.
    cases.append(("duplicate", [
        _img("a", gts=[(0, 0, 0, 10, 10)],
             dts=[(0, 0, 0, 10, 10, 0.9), (0, 0, 0, 10, 10, 0.5)]),
    ], dict(mAP50=1.0, mAP50_95=1.0)))

    # 10. maxDets: 100 higher-scored false positives push the only true positive out -> AP 0.
    fps = [(0, 100 + 20 * i, 100, 110 + 20 * i, 110, 0.9) for i in range(100)]
    cases.append(("max_dets", [
        _img("a", gts=[(0, 0, 0, 10, 10)], dts=fps + [(0, 0, 0, 10, 10, 0.1)]),
    ], dict(mAP50=0.0, mAP50_95=0.0)))

    failures = 0

    def check(name, got, expected):
        nonlocal failures
        for key, want in expected.items():
            have = {"classes": got["classes_evaluated"], "instances": got["instances"],
                    "images": got["images"]}.get(key, got.get(key))
            if have is None or abs(float(have) - float(want)) > 1e-9:
                failures += 1
                print("self-test FAIL %-24s %s = %r, expected %r" % (name, key, have, want),
                      file=sys.stderr)

    for name, images, expected in cases:
        check(name, summarise(images, evaluate(images), {}), expected)

    # 11. End to end through the files: YOLO labels, detect JSONs, an image without a
    #     prediction file, an empty label file, a detection of a class with no objects.
    #     a (200x100): object x 50..150, y 25..75 found exactly (0.9); b: object, no JSON;
    #     c: no objects, class-0 detection 0.5 (FP below the TP). Class 0: tp 1,1 fp 0,1,
    #     recall .5,.5, precision 1,.5 -> 51/101 at every threshold. Class 3 is not evaluated.
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {k: os.path.join(tmp, k) for k in ("pred", "labels", "images")}
        for d in dirs.values():
            os.mkdir(d)
        for stem in ("a", "b", "c"):
            open(os.path.join(dirs["images"], stem + ".jpg"), "wb").close()
        with open(os.path.join(dirs["labels"], "a.txt"), "w") as f:
            f.write("0 0.5 0.5 0.5 0.5\n")
        with open(os.path.join(dirs["labels"], "b.txt"), "w") as f:
            f.write("0 0.5 0.5 0.2 0.2\n")
        open(os.path.join(dirs["labels"], "c.txt"), "w").close()
        with open(os.path.join(dirs["pred"], "a.json"), "w") as f:
            json.dump({"image": "a.jpg", "width": 200, "height": 100, "detections": [
                {"box": [50, 25, 150, 75], "score": 0.9, "class_id": 0, "label": "person"},
                {"box": [0, 0, 20, 20], "score": 0.95, "class_id": 3, "label": "motorcycle"}]},
                f)
        with open(os.path.join(dirs["pred"], "c.json"), "w") as f:
            json.dump({"image": "c.jpg", "width": 64, "height": 64, "detections": [
                {"box": [0, 0, 30, 30], "score": 0.5, "class_id": 0, "label": "person"}]}, f)
        with open(os.path.join(dirs["pred"], "run.json"), "w") as f:
            json.dump({"tool": "detect"}, f)
        saved, sys.stderr = sys.stderr, open(os.devnull, "w")
        try:
            images, names = load_dataset(dirs["pred"], dirs["labels"], dirs["images"])
        finally:
            sys.stderr.close()
            sys.stderr = saved
        got = summarise(images, evaluate(images), names)
        check("files", got, dict(mAP50=half, mAP50_95=half, classes=1, instances=2, images=3))
        if list(got["per_class_AP50"]) != ["person"]:
            failures += 1
            print("self-test FAIL files: per-class keys %r" % list(got["per_class_AP50"]),
                  file=sys.stderr)

    total = len(cases) + 1
    if failures:
        print("self-test: %d check(s) failed" % failures, file=sys.stderr)
        return 1
    print("self-test: %d cases passed" % total, file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pred", help="detect output folder with per-image <stem>.json files")
    ap.add_argument("--labels", help="folder of YOLO <stem>.txt ground-truth files")
    ap.add_argument("--images", help="image folder defining the evaluated set (optional)")
    ap.add_argument("--max-dets", type=int, default=100, help="detections kept per image (100)")
    ap.add_argument("--self-test", action="store_true", help="check the metric on known cases")
    args = ap.parse_args(argv)

    if args.self_test:
        return self_test()
    if not args.pred or not args.labels:
        ap.error("--pred and --labels are required")
    if not os.path.isdir(args.pred):
        ap.error("prediction folder %s does not exist" % args.pred)
    if args.images is not None and not os.path.isdir(args.images):
        ap.error("image folder %s does not exist" % args.images)

    images, names = load_dataset(args.pred, args.labels, args.images)
    summary = summarise(images, evaluate(images, args.max_dets), names)
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    print("eval_detect: %d images, %d instances, %d classes: mAP50 %.4f  mAP50-95 %.4f"
          % (summary["images"], summary["instances"], summary["classes_evaluated"],
             summary["mAP50"], summary["mAP50_95"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
