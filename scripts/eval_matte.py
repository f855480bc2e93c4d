#!/usr/bin/python3
"""Agreement of `matte` alphas with COCO person masks on images with one prominent person.

Usage: /usr/bin/python3 scripts/eval_matte.py DATA_DIR --list          (the selected images)
       /usr/bin/python3 scripts/eval_matte.py DATA_DIR RUN_DIR [--min-iou X]
       /usr/bin/python3 scripts/eval_matte.py --self-test

DATA_DIR: ../shared/data/coco128-train (labels-seg/<id>.txt instance polygons, class 1 =
person there; masks-semantic/<id>.png with person = 1). An image has "one prominent person" when
its largest person polygon covers at least --min-person (default 0.10) of the frame and every
other person is smaller than --max-other (default 0.15) times that one. RUN_DIR: a matte output
folder (RUN_DIR/alpha/<id>.png, 8- or 16-bit). A pixel is foreground when alpha > 0.5; the
ground truth is the semantic person mask (all people). Prints per-image IoU, the mean IoU and
the pooled IoU; --min-iou makes it exit 1 below a mean.
"""
import argparse
import glob
import os
import sys

import cv2
import numpy as np


# labels-seg here numbers classes from 1 (as masks-semantic): person is 1, not YOLO's 0.
PERSON_SEG = 1


def polygon_areas(txt, w, h):
    """Areas (fraction of the frame) of the person polygons of a labels-seg file."""
    areas = []
    for line in open(txt):
        v = line.split()
        if len(v) < 7 or int(v[0]) != PERSON_SEG:
            continue
        pts = np.array(v[1:], np.float64).reshape(-1, 2) * [w, h]
        areas.append(abs(cv2.contourArea(pts.astype(np.float32))) / (w * h))
    return areas


def prominent(areas, min_person, max_other):
    if not areas:
        return False
    a = sorted(areas, reverse=True)
    return a[0] >= min_person and all(x < max_other * a[0] for x in a[1:])


def select(data, min_person, max_other):
    out = []
    for txt in sorted(glob.glob(os.path.join(data, "labels-seg", "*.txt"))):
        stem = os.path.splitext(os.path.basename(txt))[0]
        m = os.path.join(data, "masks-semantic", stem + ".png")
        imgs = glob.glob(os.path.join(data, "images", stem + ".*"))
        if not os.path.exists(m) or not imgs:
            continue
        gt = cv2.imread(m, cv2.IMREAD_UNCHANGED)
        if prominent(polygon_areas(txt, gt.shape[1], gt.shape[0]), min_person, max_other):
            out.append((stem, imgs[0], m))
    return out


def read_alpha(p):
    a = cv2.imread(p, cv2.IMREAD_UNCHANGED)
    if a is None:
        return None
    return a.astype(np.float64) / (65535.0 if a.dtype == np.uint16 else 255.0)


def score(rows, run_dir):
    res = []
    for stem, _, m in rows:
        gt = cv2.imread(m, cv2.IMREAD_UNCHANGED) == 1
        f = os.path.join(run_dir, "alpha", stem + ".png")
        a = read_alpha(f) if os.path.exists(f) else None
        if a is None or a.shape != gt.shape:
            res.append((stem, None, 0, int(gt.sum())))
            continue
        p = a > 0.5
        inter, union = int((p & gt).sum()), int((p | gt).sum())
        res.append((stem, inter / max(union, 1), inter, union))
    return res


def self_test():
    # prominence rule
    assert prominent([0.3, 0.01], 0.1, 0.15) and not prominent([0.3, 0.1], 0.1, 0.15)
    assert not prominent([0.05], 0.1, 0.15) and not prominent([], 0.1, 0.15)
    # polygon area: a 0.5 x 0.5 square of a 100 x 80 frame is a quarter of it
    import tempfile
    d = tempfile.mkdtemp()
    t = os.path.join(d, "x.txt")
    with open(t, "w") as f:
        f.write("1 0.25 0.25 0.75 0.25 0.75 0.75 0.25 0.75\n3 0 0 1 0 1 1\n")
    a = polygon_areas(t, 100, 80)
    assert len(a) == 1 and abs(a[0] - 0.25) < 1e-9, a
    # scoring: alpha 0.6 on half of the person, 0.4 on the rest -> IoU 0.5
    os.makedirs(os.path.join(d, "masks-semantic"))
    os.makedirs(os.path.join(d, "run", "alpha"))
    gt = np.zeros((10, 10), np.uint8)
    gt[:, :4] = 1
    cv2.imwrite(os.path.join(d, "masks-semantic", "x.png"), gt)
    al = np.zeros((10, 10), np.uint8)
    al[:, :2] = 153
    al[:, 2:4] = 102
    cv2.imwrite(os.path.join(d, "run", "alpha", "x.png"), al)
    r = score([("x", None, os.path.join(d, "masks-semantic", "x.png"))], os.path.join(d, "run"))
    assert r[0][1] == 0.5, r
    r = score([("x", None, os.path.join(d, "masks-semantic", "x.png"))], os.path.join(d, "none"))
    assert r[0][1] is None and r[0][3] == 40, r
    print("eval_matte self-test: ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="?")
    ap.add_argument("run", nargs="?")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--min-person", type=float, default=0.10)
    ap.add_argument("--max-other", type=float, default=0.15)
    ap.add_argument("--min-iou", type=float)
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return 0
    if not a.data:
        ap.error("DATA_DIR is needed")
    rows = select(a.data, a.min_person, a.max_other)
    if a.list:
        for _, img, _ in rows:
            print(img)
        return 0
    if not a.run:
        ap.error("RUN_DIR is needed (or --list)")
    res = score(rows, a.run)
    for stem, iou, _, _ in res:
        print(f"{stem}\t{'missing' if iou is None else f'{iou:.4f}'}")
    ious = [r[1] if r[1] is not None else 0.0 for r in res]
    mean = float(np.mean(ious)) if ious else 0.0
    pooled = sum(r[2] for r in res) / max(1, sum(r[3] for r in res))
    print(f"images {len(res)}  mean IoU {mean:.4f}  pooled IoU {pooled:.4f}")
    if a.min_iou is not None and mean < a.min_iou:
        print(f"mean IoU {mean:.4f} is below {a.min_iou}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
