#!/usr/bin/python3
"""Person-mask IoU of a `segment` run against COCO semantic masks.

Usage: /usr/bin/python3 scripts/eval_segment.py RUN_DIR GT_DIR [--min-person 0.05]
           [--person-labels 1,2,...] [--min-iou X] [--self-test]

RUN_DIR: a segment output folder written with outputs.label_map (RUN_DIR/labels/<stem>.png,
uint8/uint16 class ids). GT_DIR: single-channel PNGs <stem>.png with person = 1
(../shared/data/coco128-train/masks-semantic: 0 unlabelled, class id + 1). Images whose ground
truth has person pixels covering at least --min-person of the frame are scored; a prediction
pixel is "person" when its label is in --person-labels (default: any label > 0, as BodyPix's
parts and the binary person segmenters give). Prints per-image IoU, the mean IoU over images
and the pooled IoU (all intersections / all unions); --min-iou makes it exit 1 below a mean.
"""
import argparse
import glob
import os
import sys

import cv2
import numpy as np


def person_iou(pred, gt):
    inter = np.logical_and(pred, gt).sum()
    union = np.logical_or(pred, gt).sum()
    return inter, union


def evaluate(run_dir, gt_dir, min_person, person_labels):
    rows = []
    for g in sorted(glob.glob(os.path.join(gt_dir, "*.png"))):
        stem = os.path.splitext(os.path.basename(g))[0]
        gt = cv2.imread(g, cv2.IMREAD_UNCHANGED) == 1
        if gt.mean() < min_person:
            continue
        p = os.path.join(run_dir, "labels", stem + ".png")
        if not os.path.exists(p):
            rows.append((stem, gt.mean(), None, 0, int(gt.sum())))
            continue
        lab = cv2.imread(p, cv2.IMREAD_UNCHANGED)
        if lab.shape != gt.shape:
            raise SystemExit(f"eval_segment: {p}: size {lab.shape} differs from {g} {gt.shape}")
        pred = np.isin(lab, person_labels) if person_labels else lab > 0
        i, u = person_iou(pred, gt)
        rows.append((stem, gt.mean(), i / u if u else 1.0, int(i), int(u)))
    return rows


def self_test():
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4), bool)
    b[1:3] = True
    i, u = person_iou(a, b)
    assert (i, u) == (4, 12), (i, u)
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "run", "labels"))
        os.makedirs(os.path.join(d, "gt"))
        gt = np.zeros((10, 10), np.uint8)
        gt[:5] = 1          # 50 % person
        lab = np.zeros((10, 10), np.uint8)
        lab[:5, :5] = 7     # a part label: person under the default rule
        lab[5:, :] = 0
        cv2.imwrite(os.path.join(d, "gt", "a.png"), gt)
        cv2.imwrite(os.path.join(d, "run", "labels", "a.png"), lab)
        small = np.zeros((10, 10), np.uint8)
        small[0, 0] = 1     # 1 %: below --min-person, not scored
        cv2.imwrite(os.path.join(d, "gt", "b.png"), small)
        rows = evaluate(os.path.join(d, "run"), os.path.join(d, "gt"), 0.05, [])
        assert [r[0] for r in rows] == ["a"], rows
        assert abs(rows[0][2] - 0.5) < 1e-9, rows
        rows = evaluate(os.path.join(d, "run"), os.path.join(d, "gt"), 0.05, [1])
        assert rows[0][2] == 0.0, rows
    print("eval_segment self-test: ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", nargs="?")
    ap.add_argument("gt_dir", nargs="?")
    ap.add_argument("--min-person", type=float, default=0.05)
    ap.add_argument("--person-labels", default="")
    ap.add_argument("--min-iou", type=float, default=None)
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.run_dir or not a.gt_dir:
        ap.error("RUN_DIR and GT_DIR are needed")
    labels = [int(x) for x in a.person_labels.split(",") if x.strip()]
    rows = evaluate(a.run_dir, a.gt_dir, a.min_person, labels)
    if not rows:
        raise SystemExit("eval_segment: no ground-truth image reaches --min-person")
    for stem, frac, iou, _, _ in rows:
        print(f"{stem}  person {frac:6.1%}  IoU {'missing' if iou is None else f'{iou:.3f}'}")
    ious = [r[2] if r[2] is not None else 0.0 for r in rows]
    pooled = sum(r[3] for r in rows) / max(1, sum(r[4] for r in rows))
    mean = float(np.mean(ious))
    print(f"images {len(rows)}  mean IoU {mean:.3f}  pooled IoU {pooled:.3f}")
    if a.min_iou is not None and mean < a.min_iou:
        print(f"eval_segment: mean IoU {mean:.3f} < {a.min_iou}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
