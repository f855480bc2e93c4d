#!/usr/bin/python3
"""Checks vfm's semantic label maps against the upstream model run eagerly in Python.

    parity_semantic.py --arch ARCH (--checkpoint FILE | --random-weights SEED) [--package DIR]
                       [--mm-config FILE | --d2-config FILE]
                       --config VFM_CONFIG.json --vfm-labels DIR --image IMG [--image IMG ...]
                       [--min-agreement 0.99]

The model is rebuilt by export_semantic.build (upstream code, the same weights). The reference
pipeline is written here, from the config's numbers, with OpenCV and torch, independently of
vfm's C++: the input size (lower_bound: the shorter side to input_size, the other side
round(scale x side) rounded half to even and to model.multiple_of; stretch: input_size;
letterbox: fitted, centred or top-left, padded with preprocess.pad_value, or with 0 after
normalising for preprocess.pad_mean), cv2.resize with the config's
interpolation, (x - mean) / std in the
config's channel order, the eager forward, the logits resized to the original image with
F.interpolate (bilinear, align_corners False: what torchvision's references and vfm do), argmax.

For each image it compares with vfm's <vfm-labels>/<stem>.png: the fraction of pixels with the
same label, and the IoU of every class present on either side (pixel-weighted mean printed).
Exit 1 when an image's agreement is below --min-agreement.

--upstream-pipeline: the reference is upstream's own inference path instead, imported from the
checkout. schp-*: SimpleFolderDataset's affine fit, the model, the align_corners upsampling and
transform_logits, as simple_extractor.py runs them. oneformer: demo/defaults.py's
DefaultPredictor steps (detectron2's ResizeShortestEdge on the image, the OneFormer module called
with the task "The task is semantic", its sem_seg output's argmax).
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

INTERP = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA,
          "nearest": cv2.INTER_NEAREST}


def input_size(w, h, cfg):
    tw, th = cfg["model"]["input_size"]
    pre = cfg.get("preprocess", {})
    resize = pre.get("resize", "letterbox")
    if resize == "stretch":
        return tw, th
    if resize != "lower_bound":
        raise SystemExit(f"parity_semantic: preprocess.resize {resize} not supported here")
    mult = cfg["model"].get("multiple_of", 1)
    scale = max(tw / w, th / h)

    def fit(x, lo):
        y = np.round(x / mult) * mult  # half to even, as np.round
        if y < lo:
            y = np.ceil(x / mult) * mult
        return max(mult, int(y))

    return fit(scale * w, tw), fit(scale * h, th)


def letterbox(w, h, cfg):
    """(new_w, new_h, pad_left, pad_top), centred or top-left; the size rounded (centred, as the
    Ultralytics-style references; preprocess.letterbox_rounding nearest) or truncated (top-left,
    as YOLOX; letterbox_rounding truncate)."""
    tw, th = cfg["model"]["input_size"]
    pre = cfg.get("preprocess", {})
    centre = pre.get("letterbox_centre", True)
    rounding = pre.get("letterbox_rounding", "auto")
    r = min(tw / w, th / h)
    if rounding == "nearest" or (rounding == "auto" and centre):
        nw, nh = min(tw, int(np.floor(w * r + 0.5))), min(th, int(np.floor(h * r + 0.5)))
    else:
        nw, nh = min(tw, int(w * r)), min(th, int(h * r))
    if not centre:
        return nw, nh, 0, 0
    return nw, nh, int(np.floor((tw - nw) / 2 - 0.1 + 0.5)), int(np.floor((th - nh) / 2 - 0.1 + 0.5))


def reference_labels(model, bgr, cfg):
    return reference_scores(model, bgr, cfg).argmax(0).numpy().astype(np.int32)


def reference_scores(model, bgr, cfg):
    """The model's per-class scores [C, H, W] at the original size, vfm's steps."""
    import torch
    import torch.nn.functional as F
    pre = cfg.get("preprocess", {})
    h, w = bgr.shape[:2]
    interp = INTERP[pre.get("interpolation", "linear")]
    crop, pad_mean = None, None
    if pre.get("resize") == "letterbox":
        tw, th = cfg["model"]["input_size"]
        nw, nh, pl, pt = letterbox(w, h, cfg)
        x = cv2.resize(bgr, (nw, nh), interpolation=interp)
        if pre.get("pad_mean"):
            pad_mean = (pl, pt, tw, th)  # padded after normalising
        else:
            pad = pre.get("pad_value", 114)
            x = cv2.copyMakeBorder(x, pt, th - nh - pt, pl, tw - nw - pl, cv2.BORDER_CONSTANT,
                                   value=(pad, pad, pad))
        crop = (pl, pt, min(tw / w, th / h))
    else:
        iw, ih = input_size(w, h, cfg)
        x = cv2.resize(bgr, (iw, ih), interpolation=interp)
    if pre.get("color", "rgb") == "rgb":
        x = cv2.cvtColor(x, cv2.COLOR_BGR2RGB)
    x = (x.astype(np.float32) - np.float32(pre.get("mean", [0, 0, 0]))) / np.float32(
        pre.get("std", [255, 255, 255]))
    if pad_mean:
        pl, pt, tw, th = pad_mean
        canvas = np.zeros((th, tw, 3), np.float32)
        canvas[pt:pt + x.shape[0], pl:pl + x.shape[1]] = x
        x = canvas
    t = torch.from_numpy(x).permute(2, 0, 1)[None].contiguous()
    with torch.no_grad():
        logits = model(t)
        if crop:
            # original pixel centre x -> input position (x + 0.5) r - 0.5 + pad, bilinear with the
            # border replicated: grid_sample's (align_corners=False) normalised coordinates
            pl, pt, r = crop
            ih, iw = logits.shape[2:]
            gx = ((torch.arange(w, dtype=torch.float64) + 0.5) * r + pl) / iw * 2 - 1
            gy = ((torch.arange(h, dtype=torch.float64) + 0.5) * r + pt) / ih * 2 - 1
            grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], -1)[None].float()
            logits = F.grid_sample(logits, grid, mode="bilinear", padding_mode="border",
                                   align_corners=False)
        else:
            logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
    return logits[0]


def schp_upstream_labels(package, upstream_model, path, arch):
    """simple_extractor.py's steps, with upstream's own dataset and transform functions."""
    import shutil
    import tempfile
    import torch
    import torchvision.transforms as T
    sys.path.insert(0, os.path.abspath(package))
    from datasets.simple_extractor_dataset import SimpleFolderDataset
    from utils.transforms import transform_logits
    from export_semantic import schp_settings
    size = schp_settings(package)[arch.split("-", 1)[1]]["input_size"]
    tmp = tempfile.mkdtemp()
    try:
        shutil.copy(path, tmp)
        ds = SimpleFolderDataset(root=tmp, input_size=size, transform=T.Compose([
            T.ToTensor(), T.Normalize(mean=[0.406, 0.456, 0.485], std=[0.225, 0.224, 0.229])]))
        image, meta = ds[0]
    finally:
        shutil.rmtree(tmp)
    with torch.no_grad():
        out = upstream_model(image[None])[0][-1]
        up = torch.nn.functional.interpolate(out, size=size, mode="bilinear", align_corners=True)
    logits = transform_logits(up[0].permute(1, 2, 0).numpy(), meta["center"], meta["scale"],
                              meta["width"], meta["height"], input_size=size)
    return np.argmax(logits, axis=2).astype(np.int32)


def oneformer_upstream_scores(package, d2_config, upstream_model, bgr):
    """demo/defaults.py DefaultPredictor.__call__ with task "semantic": sem_seg [C, H, W]."""
    import torch
    from detectron2.data import transforms as T
    from export_semantic import oneformer_cfg
    cfg = oneformer_cfg(package, d2_config)
    aug = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MIN_SIZE_TEST],
                               cfg.INPUT.MAX_SIZE_TEST)
    img = bgr[:, :, ::-1] if cfg.INPUT.FORMAT == "RGB" else bgr
    h, w = img.shape[:2]
    image = aug.get_transform(img).apply_image(img)
    t = torch.as_tensor(image.astype("float32").transpose(2, 0, 1))
    with torch.no_grad():
        out = upstream_model([{"image": t, "height": h, "width": w,
                               "task": "The task is semantic"}])[0]["sem_seg"]
    return out


def compare(ref, got):
    agree = float((ref == got).mean())
    ious = {}
    for k in np.union1d(np.unique(ref), np.unique(got)):
        a, b = ref == k, got == k
        ious[int(k)] = (float((a & b).sum() / max(1, (a | b).sum())), int(a.sum()))
    total = sum(n for _, n in ious.values())
    mean_iou = sum(i * n for i, n in ious.values()) / max(1, total)
    return agree, mean_iou, ious


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", required=True)
    w = ap.add_mutually_exclusive_group(required=True)
    w.add_argument("--checkpoint")
    w.add_argument("--random-weights", type=int, metavar="SEED")
    ap.add_argument("--package")
    ap.add_argument("--mm-config", dest="model_config",
                    help="topformer: the mmseg config the export used")
    ap.add_argument("--d2-config", dest="model_config",
                    help="oneformer: the detectron2 config the export used")
    ap.add_argument("--config", required=True, help="the vfm config the binary ran")
    ap.add_argument("--vfm-labels", required=True, help="vfm's labels/ folder")
    ap.add_argument("--image", action="append", required=True)
    ap.add_argument("--min-agreement", type=float, default=0.99)
    ap.add_argument("--upstream-pipeline", action="store_true",
                    help="schp-*, oneformer: upstream's own preprocessing and mapping back as "
                    "the reference")
    args = ap.parse_args(argv)

    from export_semantic import build
    cfg = json.load(open(args.config))
    upstream, model = build(args.arch, args.checkpoint, args.random_weights, args.package,
                            args.model_config)
    if args.upstream_pipeline and not (args.arch.startswith("schp-") or args.arch == "oneformer"):
        print("error: parity_semantic: --upstream-pipeline is for schp-* and oneformer",
              file=sys.stderr)
        return 2
    worst = 1.0
    for path in args.image:
        stem = os.path.splitext(os.path.basename(path))[0]
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        got = cv2.imread(os.path.join(args.vfm_labels, stem + ".png"), cv2.IMREAD_UNCHANGED)
        if bgr is None or got is None:
            print(f"error: parity_semantic: cannot read {path} or vfm's {stem}.png",
                  file=sys.stderr)
            return 2
        if not args.upstream_pipeline:
            ref = reference_labels(model, bgr, cfg)
        elif args.arch == "oneformer":
            # Random weights give OneFormer near-constant label maps (every query predicts the
            # same class), so the class scores are compared too: upstream's pipeline against
            # the same model on vfm's preprocessing and mapping back.
            up_scores = oneformer_upstream_scores(args.package, args.model_config, upstream, bgr)
            ref = up_scores.argmax(0).numpy().astype(np.int32)
            mine = reference_scores(model, bgr, cfg)
            if mine.shape == up_scores.shape:
                d = (mine - up_scores).abs()
                print(f"{stem}: class scores, vfm's steps vs upstream's pipeline: max abs diff "
                      f"{float(d.max()):.4g}, mean {float(d.mean()):.4g} (score range "
                      f"{float(up_scores.min()):.3g}..{float(up_scores.max()):.3g})")
        else:
            ref = schp_upstream_labels(args.package, upstream, path, args.arch)
        if ref.shape != got.shape:
            print(f"error: parity_semantic: {stem}: vfm map {got.shape} vs {ref.shape}",
                  file=sys.stderr)
            return 1
        agree, miou, ious = compare(ref, got.astype(np.int32))
        worst = min(worst, agree)
        classes = " ".join(f"{k}:{i:.3f}" for k, (i, n) in sorted(ious.items()) if n)
        print(f"{stem}: {bgr.shape[1]}x{bgr.shape[0]} agreement {agree:.5f}, "
              f"pixel-weighted class IoU {miou:.4f}; per class {classes}")
    print(json.dumps({"images": len(args.image), "min_agreement": worst}))
    return 0 if worst >= args.min_agreement else 1


if __name__ == "__main__":
    sys.exit(main())
