#!/usr/bin/python3
"""Checks a `segment` output folder against the real pycocotools.

For the run's COCO dataset file(s) (coco.json, or coco.shard-K-of-N.json per shard) it:
  * loads the file with pycocotools.coco.COCO and decodes every annotation with annToMask;
  * decodes the matching record of the per-image JSON (<out>/<rel minus extension>.json, the
    k-th mask of an image being that image's k-th annotation by id) with pycocotools.mask.decode
    and checks its RLE string and mask equal the annotation's;
  * compares each decoded mask pixel for pixel with vfm's per-mask PNG
    <out>/masks/<rel minus extension>/<k>.png (nonzero = inside; must be 0/255, HxW);
  * re-encodes the PNG with pycocotools.mask.encode and requires vfm's counts string verbatim;
  * checks `area` against pycocotools.mask.area and `bbox` against pycocotools.mask.toBbox.
    vfm writes amg.py's box (w = x_max - x_min, i.e. toBbox's w - 1), so --bbox auto expects
    that for the sam and semantic families; yolov8-seg's bbox is the detector box (reported only).
Prints one JSON line (images, annotations, mismatched pixels, max area/bbox differences, ...)
and exits 0 when everything matches, 1 on any mismatch, 2 when the folder cannot be checked.

    /usr/bin/python3 scripts/check_coco_rle.py OUT_DIR [--pycocotools /path/to/PythonAPI]
        [--bbox auto|amg|coco|none] [--no-png] [-v]

Without --pycocotools, `import pycocotools` must work in the environment (pip/apt package).
"""
import argparse
import contextlib
import io
import json
import os
import re
import sys

import cv2
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", help="segment output folder (-o)")
    ap.add_argument("--pycocotools", metavar="DIR",
                    help="folder holding the pycocotools package (cocoapi's PythonAPI)")
    ap.add_argument("--bbox", choices=["auto", "amg", "coco", "none"], default="auto",
                    help="bbox convention to require (default auto: amg for sam/semantic)")
    ap.add_argument("--no-png", action="store_true", help="skip the per-mask PNG comparison")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per annotation")
    a = ap.parse_args()

    if a.pycocotools:
        sys.path.insert(0, os.path.abspath(a.pycocotools))
    try:
        from pycocotools import mask as mask_utils
        from pycocotools.coco import COCO
    except ImportError as e:
        sys.exit(f"check_coco_rle: cannot import pycocotools: {e}")

    out = a.out_dir
    coco_files = sorted(f for f in os.listdir(out)
                        if re.fullmatch(r"coco(\.shard-\d+-of-\d+)?\.json", f))
    if not coco_files:
        print(f"check_coco_rle: no coco.json in {out}", file=sys.stderr)
        sys.exit(2)

    errors = []
    s = {"coco_files": coco_files, "images": 0, "annotations": 0, "pngs_compared": 0,
         "mismatched_pixels": 0, "masks_with_mismatch": 0, "json_vs_coco_mismatches": 0,
         "rle_strings_differing_from_encode": 0,
         "max_area_diff": 0, "max_bbox_diff": 0.0, "max_bbox_diff_vs_toBbox": 0.0,
         "bbox_convention": None, "families": []}

    def err(msg):
        errors.append(msg)

    families = set()
    for cf in coco_files:
        with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints timing lines
            coco = COCO(os.path.join(out, cf))
        for img_id in sorted(coco.getImgIds()):
            img = coco.imgs[img_id]
            rel = img["file_name"]
            stem = os.path.splitext(rel)[0]
            H, W = img["height"], img["width"]
            s["images"] += 1
            pj = os.path.join(out, stem + ".json")
            try:
                rec = json.load(open(pj))
            except (OSError, ValueError) as e:
                err(f"{rel}: per-image JSON {pj}: {e}")
                rec = None
            family = rec.get("family") if rec else None
            families.add(family)
            conv = a.bbox
            if conv == "auto":
                conv = "amg" if family in ("sam", "semantic") else "none"
            recs = rec["masks"] if rec else []
            if rec and (rec.get("width"), rec.get("height")) != (W, H):
                err(f"{rel}: per-image JSON is {rec.get('width')}x{rec.get('height')}, "
                    f"COCO image {W}x{H}")
            ann_ids = sorted(coco.getAnnIds(imgIds=[img_id]))
            if rec and len(recs) != len(ann_ids):
                err(f"{rel}: {len(recs)} masks in the per-image JSON, {len(ann_ids)} annotations")
            for k, aid in enumerate(ann_ids):
                ann = coco.anns[aid]
                s["annotations"] += 1
                seg = ann["segmentation"]
                if list(seg["size"]) != [H, W]:
                    err(f"{rel}#{k}: RLE size {seg['size']} but image is HxW {H}x{W}")
                m = coco.annToMask(ann)  # pycocotools' own path: annToRLE + mask.decode
                if m.shape != (H, W):
                    err(f"{rel}#{k}: annToMask shape {m.shape}, image {H}x{W}")
                    continue
                rle = coco.annToRLE(ann)
                # the per-image record, decoded on its own
                if k < len(recs):
                    r = recs[k]
                    mj = mask_utils.decode(r["segmentation"])
                    if r["segmentation"]["counts"] != seg["counts"] or not np.array_equal(mj, m):
                        s["json_vs_coco_mismatches"] += 1
                        err(f"{rel}#{k}: per-image RLE differs from the COCO annotation")
                    if r["area"] != ann["area"] or r["bbox"] != ann["bbox"]:
                        s["json_vs_coco_mismatches"] += 1
                        err(f"{rel}#{k}: per-image area/bbox differ from the COCO annotation")
                # area
                area = int(mask_utils.area(rle))
                if area != int(m.sum()):
                    err(f"{rel}#{k}: mask.area {area} != decoded pixel count {int(m.sum())}")
                d = abs(area - ann["area"])
                s["max_area_diff"] = max(s["max_area_diff"], d)
                if d:
                    err(f"{rel}#{k}: area {ann['area']} in JSON, pycocotools {area}")
                # bbox: toBbox is [x, y, w, h] with w = x_max - x_min + 1 (pixel extent)
                tb = [float(v) for v in mask_utils.toBbox(rle)]
                amg = tb if tb[2] == 0 else [tb[0], tb[1], tb[2] - 1, tb[3] - 1]
                jb = [float(v) for v in ann["bbox"]]
                dt = max(abs(x - y) for x, y in zip(jb, tb))
                s["max_bbox_diff_vs_toBbox"] = max(s["max_bbox_diff_vs_toBbox"], dt)
                if conv != "none":
                    want = amg if conv == "amg" else tb
                    db = max(abs(x - y) for x, y in zip(jb, want))
                    s["max_bbox_diff"] = max(s["max_bbox_diff"], db)
                    if db > 0.011:
                        err(f"{rel}#{k}: bbox {jb}, pycocotools toBbox {tb} ({conv}: {want})")
                s["bbox_convention"] = conv if s["bbox_convention"] in (None, conv) else "mixed"
                # vfm's own PNG
                if not a.no_png:
                    pp = os.path.join(out, "masks", stem, f"{k}.png")
                    png = cv2.imread(pp, cv2.IMREAD_UNCHANGED)
                    if png is None:
                        err(f"{rel}#{k}: no mask PNG {pp}")
                        continue
                    if png.shape != (H, W):
                        err(f"{rel}#{k}: PNG shape {png.shape}, image {H}x{W}")
                        continue
                    if not set(np.unique(png).tolist()) <= {0, 255}:
                        err(f"{rel}#{k}: PNG values {np.unique(png)[:8]} not 0/255")
                    diff = int(np.count_nonzero((png > 0) != (m > 0)))
                    # pycocotools' own encoder on the PNG must give vfm's counts string
                    enc = mask_utils.encode(np.asfortranarray((png > 0).astype(np.uint8)))
                    counts = enc["counts"].decode() if isinstance(enc["counts"], bytes) \
                        else enc["counts"]
                    if counts != seg["counts"]:
                        s["rle_strings_differing_from_encode"] += 1
                        err(f"{rel}#{k}: counts differ from pycocotools.mask.encode of {pp}")
                    s["pngs_compared"] += 1
                    s["mismatched_pixels"] += diff
                    if diff:
                        s["masks_with_mismatch"] += 1
                        # transposed / flipped decode would show here; say which fits
                        hint = ""
                        if H == W and np.array_equal(png > 0, (m > 0).T):
                            hint = " (PNG equals the transpose)"
                        err(f"{rel}#{k}: {diff} pixels differ from {pp}{hint}")
                    if a.verbose:
                        print(f"{rel}#{k} ann {aid}: area {area} bbox {jb} toBbox {tb} "
                              f"png_diff {diff}", file=sys.stderr)
            if not a.no_png and os.path.isdir(os.path.join(out, "masks", stem)):
                extra = [f for f in os.listdir(os.path.join(out, "masks", stem))
                         if f.endswith(".png") and not (f[:-4].isdigit()
                                                        and int(f[:-4]) < len(ann_ids))]
                if extra:
                    err(f"{rel}: mask PNGs without an annotation: {sorted(extra)[:5]}")

    # per-image JSONs that the COCO file(s) do not list
    listed = set()
    for cf in coco_files:
        listed |= {os.path.splitext(i["file_name"])[0]
                   for i in json.load(open(os.path.join(out, cf)))["images"]}
    for root, dirs, files in os.walk(out):
        dirs[:] = [d for d in dirs if not (root == out and d in
                   ("masks", "instances", "labels", "labels_color", "overlay", "yolo",
                    "embeddings"))]
        for f in files:
            if not f.endswith(".json") or (root == out and (f in coco_files or f == "run.json")):
                continue
            p = os.path.join(root, f)
            try:
                j = json.load(open(p))
            except ValueError:
                continue
            if isinstance(j, dict) and "masks" in j and "family" in j:
                stem = os.path.splitext(os.path.relpath(p, out))[0]
                if stem not in listed:
                    err(f"{os.path.relpath(p, out)}: per-image JSON not in the COCO file")

    s["families"] = sorted(f for f in families if f)
    s["errors"] = len(errors)
    for e in errors[:20]:
        print("mismatch: " + e, file=sys.stderr)
    if len(errors) > 20:
        print(f"... and {len(errors) - 20} more", file=sys.stderr)
    print(json.dumps(s))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
