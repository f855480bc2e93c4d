#!/usr/bin/python3
"""Parity harness for vfm's `sam` segmentation family against upstream Segment Anything /
MobileSAM (Python, eager).

    parity_sam.py --package DIR --model-type vit_b|vit_l|vit_h|vit_t --checkpoint FILE
                  --image IMG [--image IMG2 ...] [--prompts PROMPTS.json]
                  [--upstream-out DIR] [--vfm-prompts DIR] [--vfm-everything DIR]
                  [--everything] [--points-per-side N] [--pred-iou-thresh T]
                  [--stability-score-thresh T] [--box-nms-thresh T] [--box-multimask]
                  [--min-iou 0.9]
                  [--export-config NAME.json] [--reuse-upstream]
    parity_sam.py --package DIR --torchscript CONFIG.json --image IMG ...   (same options)
    parity_sam.py --self-test [--coco-json FILE]

--checkpoint is the state_dict the export used (for random weights, the one export_sam.py
--save-random-checkpoint wrote), so that upstream and vfm run the same model.

Prompt mode (--prompts, vfm's format {"image.jpg": {"points": [[x, y, label], ...],
"boxes": [[x1, y1, x2, y2], ...]}}, original-image pixel coordinates, keyed by the image's file
name): upstream SamPredictor makes one prediction per box (multimask_output=False, mask index 0,
as upstream's notebooks do for boxes; --box-multimask: the best of 1..3 instead), then one for
all the points together as a single prompt with multimask_output=True keeping the mask with the
highest predicted IoU (upstream's notebooks). Upstream's masks are written, in that order (boxes
first, then the points prompt), to UPSTREAM_OUT/prompts/<image stem>.json in the same schema as
vfm's per-image JSON; with --vfm-prompts DIR, DIR/<image stem>.json (vfm's, one mask per prompt
in the same order) is compared: IoU per prompt and predicted-IoU difference.

Everything mode (--everything): upstream SamAutomaticMaskGenerator with its default knobs
(points_per_side 32, points_per_batch 64, pred_iou_thresh 0.88, stability_score_thresh 0.95,
box_nms_thresh 0.7, no crops), optionally --points-per-side N (faster) and the three thresholds
(use the same values for vfm: random-weight models rarely pass the default IoU and stability
filters, and their large overlapping masks collapse to one under box NMS, so a random-weight
run is best made with --pred-iou-thresh 0 --stability-score-thresh 0 --box-nms-thresh 1). Written to
UPSTREAM_OUT/everything/<image stem>.json; with --vfm-everything DIR compared with
DIR/<image stem>.json: mask counts, then a one-to-one matching by mask IoU (Hungarian, scipy's
linear_sum_assignment; greedy where scipy is missing) with matched IoU min / mean.

vfm's per-image JSON (what the comparison reads): {"masks": [{"segmentation": {"size": [h, w],
"counts": "<pycocotools compressed RLE string>"}, "predicted_iou": f, "stability_score": f,
"bbox": [x, y, w, h], "point_coords": [[x, y]], "crop_box": [x, y, w, h], "area": n}, ...]}.
Upstream's bbox convention (segment_anything/utils/amg.py batched_mask_to_box +
box_xyxy_to_xywh) is [x_min, y_min, x_max - x_min, y_max - y_min] with x_max / y_max the last
mask pixel (so w, h are one less than the pixel extent); this harness writes it that way.

--export-config NAME.json (what scripts/export_sam.py wrote) checks the exported TorchScript
files against upstream on the given image(s) without vfm: the encoder on upstream's own resized
image (normalised and zero-padded as vfm's contract says) against SamPredictor.features, and
the decoder against SamPredictor for each box, the points prompt, all boxes as one batch (B > 1)
and one batch of 64 single-point prompts (an everything-mode batch).

--torchscript CONFIG.json runs upstream's SamPredictor / SamAutomaticMaskGenerator code over the
two TorchScript files of a vfm `sam` config instead of the eager model (TorchScriptSam stands in
for upstream's Sam object), e.g. to get upstream's expected output for the test fixture
(tests/fixtures/make_sam_fixtures.py); --model-type and --checkpoint are then not needed.

The RLE codec is this file's own numpy implementation of pycocotools' compressed format
(column-major runs starting with a run of zeros; counts as LEB128-like 6-bit characters
offset by 48, each count after the third stored as the difference to the count two before;
cocodataset/cocoapi common/maskApi.c rleEncode / rleToString / rleFrString). --self-test checks
it on hand-worked cases and random masks; --coco-json FILE also round-trips every "counts" string
of a pycocotools-produced results file (e.g. cocoapi results/instances_val2014_fakesegm100_
results.json) through decode and encode.

Exit status: 0 when every comparison made passes (prompt IoU >= --min-iou, everything mode: equal
counts and matched IoU min >= --min-iou), 1 otherwise, 2 on usage errors.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------------
# COCO compressed RLE (pycocotools' string format), numpy
# ---------------------------------------------------------------------------------------------
def rle_counts(mask):
    """Run lengths of a HxW mask in column-major order, starting with a run of zeros."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    n = flat.size
    if n == 0:
        return [0]
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate(([0], change, [n]))).tolist()
    if flat[0]:
        runs = [0] + runs
    return [int(r) for r in runs]


def counts_to_string(counts):
    out = []
    for i, c in enumerate(counts):
        x = int(c)
        if i > 2:
            x -= int(counts[i - 2])
        more = True
        while more:
            ch = x & 0x1F
            x >>= 5  # arithmetic shift, as C's on a signed long
            more = (x != -1) if (ch & 0x10) else (x != 0)
            if more:
                ch |= 0x20
            out.append(chr(ch + 48))
    return "".join(out)


def string_to_counts(s):
    counts = []
    p, n = 0, len(s)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_encode(mask):
    mask = np.asarray(mask)
    h, w = mask.shape
    return {"size": [int(h), int(w)], "counts": counts_to_string(rle_counts(mask))}


def counts_to_mask(counts, h, w):
    counts = np.asarray(counts, dtype=np.int64)
    if counts.sum() != h * w or (counts < 0).any():
        raise ValueError(f"RLE counts sum to {int(counts.sum())}, not {h} x {w} = {h * w}")
    values = (np.arange(len(counts)) % 2).astype(bool)
    return np.repeat(values, counts).reshape(w, h).T


def rle_decode(rle):
    h, w = rle["size"]
    counts = rle["counts"]
    if isinstance(counts, (bytes, str)):
        counts = string_to_counts(counts.decode() if isinstance(counts, bytes) else counts)
    return counts_to_mask(counts, int(h), int(w))


def self_test(coco_json=None):
    ok = True

    def expect(cond, what):
        nonlocal ok
        print(("  ok    " if cond else "  FAIL  ") + what)
        ok = ok and bool(cond)

    # hand-worked from maskApi.c: runs in column-major order, first run counts zeros
    m = np.array([[0, 0], [1, 1]], bool)  # columns [0,1],[0,1] -> runs 1,1,1,1
    expect(rle_counts(m) == [1, 1, 1, 1], "2x2 runs [1,1,1,1]")
    expect(counts_to_string([1, 1, 1, 1]) == "1110", "runs [1,1,1,1] -> '1110' (4th is a delta)")
    expect(rle_counts(np.zeros((10, 10), bool)) == [100], "empty 10x10 -> [100]")
    expect(counts_to_string([100]) == "T3", "[100] -> 'T3' (100 = 4 + 3*32, continuation bit)")
    expect(rle_counts(np.ones((3, 4), bool)) == [0, 12], "full 3x4 -> [0, 12]")
    expect(counts_to_string([0, 12]) == "0<", "[0, 12] -> '0<'")
    # a negative delta: counts [5, 10, 2] then 3 -> 3 - 10 = -7 -> sign-extended 5-bit chunk
    expect(counts_to_string([5, 10, 2, 3]) == "5:2I", "negative delta -7 -> 'I'")
    expect(string_to_counts("5:2I") == [5, 10, 2, 3], "'5:2I' -> [5, 10, 2, 3]")
    expect(rle_counts(np.zeros((0, 5), bool)) == [0], "0-area mask -> [0]")
    # column-major: a single pixel at row 1, column 2 of a 3x4 mask is flat index 2*3+1 = 7
    m = np.zeros((3, 4), bool)
    m[1, 2] = True
    expect(rle_counts(m) == [7, 1, 4], "pixel (r1, c2) of 3x4 -> [7, 1, 4]")
    rng = np.random.default_rng(0)
    bad = 0
    for i in range(300):
        h, w = int(rng.integers(1, 70)), int(rng.integers(1, 70))
        kind = i % 3
        if kind == 0:
            mk = rng.random((h, w)) < rng.random()
        elif kind == 1:  # blobs: long runs, large deltas
            mk = np.zeros((h, w), bool)
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            mk[y0:y0 + int(rng.integers(1, h + 1)), x0:x0 + int(rng.integers(1, w + 1))] = True
        else:
            mk = np.zeros((h, w), bool) if i % 2 else np.ones((h, w), bool)
        rle = rle_encode(mk)
        back = rle_decode(json.loads(json.dumps(rle)))
        if not np.array_equal(back, mk) or sum(rle_counts(mk)[1::2]) != int(mk.sum()):
            bad += 1
    expect(bad == 0, f"300 random masks round-trip ({bad} failed)")
    big = np.zeros((1500, 2000), bool)
    big[100:1400, 37:1999] = True
    big[::7, ::3] ^= True
    t0 = time.time()
    back = rle_decode(rle_encode(big))
    expect(np.array_equal(back, big), f"1500x2000 mask round-trips ({time.time() - t0:.2f} s)")
    if coco_json:
        with open(coco_json) as f:
            anns = json.load(f)
        n, bad = 0, 0
        for a in anns:
            seg = a.get("segmentation")
            if isinstance(seg, dict) and isinstance(seg.get("counts"), str):
                n += 1
                mk = rle_decode(seg)
                if rle_encode(mk)["counts"] != seg["counts"] or list(mk.shape) != seg["size"]:
                    bad += 1
        expect(n > 0 and bad == 0,
               f"{coco_json}: {n} pycocotools strings decode and re-encode identically "
               f"({bad} differ)")
    print("self-test " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


# ---------------------------------------------------------------------------------------------
# Masks, records, comparisons
# ---------------------------------------------------------------------------------------------
def mask_iou(a, b):
    union = np.logical_or(a, b).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(a, b).sum()) / float(union)


def upstream_bbox(mask):
    """[x_min, y_min, x_max - x_min, y_max - y_min] (amg.py batched_mask_to_box, xyxy->xywh)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return [0, 0, 0, 0]
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
    return [x0, y0, x1 - x0, y1 - y0]


def record(mask, predicted_iou, stability, point_coords, crop_box):
    return {"segmentation": rle_encode(mask), "predicted_iou": float(predicted_iou),
            "stability_score": float(stability), "bbox": upstream_bbox(mask),
            "point_coords": [[float(v) for v in p] for p in point_coords],
            "crop_box": [int(v) for v in crop_box], "area": int(mask.sum())}


def load_vfm(path):
    with open(path) as f:
        data = json.load(f)
    masks = data["masks"] if isinstance(data, dict) else data
    return masks


def match(iou):
    """One-to-one matching maximising IoU: [(i, j), ...]."""
    if iou.size == 0:
        return []
    try:
        from scipy.optimize import linear_sum_assignment
        r, c = linear_sum_assignment(-iou)
        return list(zip(r.tolist(), c.tolist()))
    except ImportError:
        pairs, used_r, used_c = [], set(), set()
        for flat in np.argsort(-iou, axis=None):
            i, j = np.unravel_index(flat, iou.shape)
            if i not in used_r and j not in used_c:
                pairs.append((int(i), int(j)))
                used_r.add(i)
                used_c.add(j)
        return pairs


def iou_matrix(masks_a, masks_b):
    if not masks_a or not masks_b:
        return np.zeros((len(masks_a), len(masks_b)))
    a = np.stack([m.ravel() for m in masks_a]).astype(np.float32)
    b = np.stack([m.ravel() for m in masks_b]).astype(np.float32)
    inter = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


# ---------------------------------------------------------------------------------------------
# Upstream runs
# ---------------------------------------------------------------------------------------------
def load_upstream(args):
    sys.path.insert(0, HERE)
    import export_sam  # vfm's exporter: shims + the same model building
    if args.torchscript:
        mod = export_sam.import_upstream(args.package, args.model_type or "vit_b")
        return export_sam, mod, TorchScriptSam(args.torchscript)
    mod, sam = export_sam.build_model(args.package, args.model_type, args.checkpoint)
    return export_sam, mod, sam


class TorchScriptSam:
    """Stands in for upstream's Sam object under upstream's SamPredictor and
    SamAutomaticMaskGenerator, running the two TorchScript files of a vfm `sam` config (vfm's
    contract, scripts/export_sam.py) instead of the eager model. So upstream's own pipeline logic
    (resize, coordinate transform, padding point, batching, multimask slicing, postprocessing,
    filters, NMS) runs over exactly the files vfm loads -- e.g. over the test fixture."""

    def __init__(self, cfg_path):
        import torch
        d = os.path.dirname(os.path.abspath(cfg_path))
        with open(cfg_path) as f:
            cfg = json.load(f)
        self.enc = torch.jit.load(os.path.join(d, cfg["model"]["file"]))
        self.dec = torch.jit.load(os.path.join(d, cfg["decoder"]["file"]))
        self.mean = torch.tensor(cfg["preprocess"]["mean"]).reshape(-1, 1, 1)
        self.std = torch.tensor(cfg["preprocess"]["std"]).reshape(-1, 1, 1)
        self.size = int(cfg["model"]["input_size"][0])
        self.mask_threshold = float(cfg.get("sam", {}).get("mask_threshold", 0.0))
        self.image_format = "RGB"
        self.device = torch.device("cpu")
        outer = self

        class Encoder:
            img_size = self.size

            def __call__(self, x):
                return outer.enc(x)

        class PromptEncoder:
            def __call__(self, points=None, boxes=None, masks=None):
                # the layout of upstream PromptEncoder.forward: the points, a padding point
                # (0, 0, -1) when there is no box, then the box corners labelled 2 and 3
                cs, ls = [], []
                if points is not None:
                    c, l = points[0].float(), points[1].float()
                    if boxes is None:
                        c = torch.cat([c, torch.zeros(c.shape[0], 1, 2)], dim=1)
                        l = torch.cat([l, -torch.ones(l.shape[0], 1)], dim=1)
                    cs.append(c)
                    ls.append(l)
                if boxes is not None:
                    b = boxes.float().reshape(-1, 2, 2)
                    cs.append(b)
                    ls.append(torch.tensor([[2.0, 3.0]]).repeat(b.shape[0], 1))
                return (torch.cat(cs, dim=1), torch.cat(ls, dim=1)), masks

            def get_dense_pe(self):
                return None

        class MaskDecoder:
            def __call__(self, image_embeddings, image_pe, sparse_prompt_embeddings,
                         dense_prompt_embeddings, multimask_output):
                coords, labels = sparse_prompt_embeddings
                m = dense_prompt_embeddings
                if m is None:
                    m, has = torch.zeros(1, 1, 256, 256), torch.zeros(1)
                else:
                    if m.shape[0] != 1:
                        raise ValueError("vfm's decoder takes one mask input for the batch")
                    has = torch.ones(1)
                iou, low = outer.dec(image_embeddings, coords, labels, m, has,
                                     torch.zeros(2))
                sl = slice(1, None) if multimask_output else slice(0, 1)
                return low[:, sl], iou[:, sl]

        self.image_encoder = Encoder()
        self.prompt_encoder = PromptEncoder()
        self.mask_decoder = MaskDecoder()

    def preprocess(self, x):
        # upstream Sam.preprocess: normalise, then pad bottom / right with zeros
        import torch.nn.functional as F
        x = (x - self.mean) / self.std
        return F.pad(x, (0, self.size - x.shape[-1], 0, self.size - x.shape[-2]))

    def postprocess_masks(self, masks, input_size, original_size):
        # upstream Sam.postprocess_masks
        import torch.nn.functional as F
        masks = F.interpolate(masks, (self.size, self.size), mode="bilinear",
                              align_corners=False)
        masks = masks[..., :input_size[0], :input_size[1]]
        return F.interpolate(masks, original_size, mode="bilinear", align_corners=False)


def stability_of(logits, offset=1.0, threshold=0.0):
    # upstream segment_anything/utils/amg.py calculate_stability_score
    inter = (logits > threshold + offset).sum()
    union = (logits > threshold - offset).sum()
    return float(inter) / float(max(union, 1))


def upstream_prompts(predictor, rgb, prompt, box_multimask):
    """[(record, low_res_logits [256,256], chosen index)] for the boxes then the points."""
    h, w = rgb.shape[:2]
    out = []
    for box in prompt.get("boxes", []):
        masks, ious, low = predictor.predict(box=np.asarray(box, np.float32),
                                             multimask_output=box_multimask, return_logits=True)
        k = int(np.argmax(ious)) if box_multimask else 0
        rec = record(masks[k] > 0.0, ious[k], stability_of(masks[k]), [box[:2], box[2:4]],
                     [0, 0, w, h])
        rec["upstream_mask_index"] = k + 1 if box_multimask else 0  # vfm's 0..3 numbering
        out.append((rec, low[k], rec["upstream_mask_index"]))
    points = prompt.get("points", [])
    if points:
        pts = np.asarray([p[:2] for p in points], np.float32)
        labels = np.asarray([p[2] for p in points], np.int64)
        masks, ious, low = predictor.predict(point_coords=pts, point_labels=labels,
                                             multimask_output=True, return_logits=True)
        k = int(np.argmax(ious))
        rec = record(masks[k] > 0.0, ious[k], stability_of(masks[k]), pts.tolist(), [0, 0, w, h])
        rec["upstream_mask_index"] = k + 1
        out.append((rec, low[k], k + 1))
    return out


def upstream_everything(mod, sam, rgb, args):
    kw = {"output_mode": "uncompressed_rle"}
    if args.points_per_side is not None:
        kw["points_per_side"] = args.points_per_side
    if args.pred_iou_thresh is not None:
        kw["pred_iou_thresh"] = args.pred_iou_thresh
    if args.stability_score_thresh is not None:
        kw["stability_score_thresh"] = args.stability_score_thresh
    if args.box_nms_thresh is not None:
        kw["box_nms_thresh"] = args.box_nms_thresh
    amg = mod.SamAutomaticMaskGenerator(sam, **kw)
    anns = amg.generate(rgb)
    recs = []
    for a in anns:
        seg = a["segmentation"]
        h, w = seg["size"]
        recs.append({"segmentation": {"size": [int(h), int(w)],
                                      "counts": counts_to_string(seg["counts"])},
                     "predicted_iou": float(a["predicted_iou"]),
                     "stability_score": float(a["stability_score"]),
                     "bbox": [float(v) for v in a["bbox"]],
                     "point_coords": [[float(v) for v in p] for p in a["point_coords"]],
                     "crop_box": [float(v) for v in a["crop_box"]], "area": int(a["area"])})
    return recs


# ---------------------------------------------------------------------------------------------
# Exported TorchScript files vs upstream (no vfm needed)
# ---------------------------------------------------------------------------------------------
def check_export(cfg_path, export_sam, predictor, rgb, prompt, ups, args, log):
    import torch
    import torch.nn.functional as F
    d = os.path.dirname(os.path.abspath(cfg_path))
    with open(cfg_path) as f:
        cfg = json.load(f)
    worst = {"encoder": 0.0, "decoder": 0.0, "mask_iou_min": 1.0}
    for part in (cfg["model"], cfg["decoder"]):
        got = export_sam.sha256_of(os.path.join(d, part["file"]))
        if got != part["sha256"]:
            log(f"  sha256 mismatch for {part['file']}: {got} != {part['sha256']}")
            worst["sha256"] = False
    enc = torch.jit.load(os.path.join(d, cfg["model"]["file"]))
    dec = torch.jit.load(os.path.join(d, cfg["decoder"]["file"]))
    h, w = rgb.shape[:2]
    resized = predictor.transform.apply_image(rgb)  # upstream's own resize (PIL bilinear)
    nh, nw = resized.shape[:2]
    mean = np.asarray(cfg["preprocess"]["mean"], np.float32)
    std = np.asarray(cfg["preprocess"]["std"], np.float32)

    def vfm_input(img):
        x = (img.astype(np.float32) - mean) / std  # normalise, THEN pad with zeros
        x = torch.from_numpy(x).permute(2, 0, 1)[None]
        return F.pad(x, (0, 1024 - x.shape[3], 0, 1024 - x.shape[2]))

    with torch.no_grad():
        t0 = time.time()
        emb = enc(vfm_input(resized))
        t_enc = time.time() - t0
        d_enc = float((emb - predictor.features).abs().max())
        log(f"  encoder vs SamPredictor.features: max abs diff {d_enc:.3g} "
            f"(|max| {float(predictor.features.abs().max()):.3g}, {t_enc:.1f} s)")
        worst["encoder"] = d_enc
        import cv2
        alt = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
        d_alt = float((enc(vfm_input(alt)) - predictor.features).abs().max())
        d_bgr = float((enc(vfm_input(resized[:, :, ::-1].copy())) - predictor.features)
                      .abs().max())
        log(f"  (informational: with cv2 INTER_LINEAR instead of upstream's PIL bilinear "
            f"resize the embedding differs by {d_alt:.3g}; with BGR instead of RGB by "
            f"{d_bgr:.3g})")
        sx, sy = nw / w, nh / h  # ResizeLongestSide.apply_coords
        no_mask = torch.zeros(1, 1, 256, 256)
        zero = torch.zeros(1)
        orig = torch.tensor([float(h), float(w)])

        def upscale(low):  # Sam.postprocess_masks
            m = F.interpolate(low, (1024, 1024), mode="bilinear", align_corners=False)
            m = m[..., :nh, :nw]
            return F.interpolate(m, (h, w), mode="bilinear", align_corners=False)

        def one(coords, labels):
            return dec(emb, torch.tensor(coords, dtype=torch.float32),
                       torch.tensor(labels, dtype=torch.float32), no_mask, zero, orig)

        boxes = prompt.get("boxes", [])
        box_coords = [[[b[0] * sx, b[1] * sy], [b[2] * sx, b[3] * sy]] for b in boxes]
        items = [(f"box {i}", [c], [[2.0, 3.0]]) for i, c in enumerate(box_coords)]
        points = prompt.get("points", [])
        if points:
            c = [[p[0] * sx, p[1] * sy] for p in points] + [[0.0, 0.0]]  # + padding point
            items.append(("points", [c], [[float(p[2]) for p in points] + [-1.0]]))
        for (name, c, l), (rec, up_low, k) in zip(items, ups):
            iou, low = one(c, l)
            dl = float((low[0, k] - torch.from_numpy(up_low)).abs().max())
            m = upscale(low[:, k:k + 1])[0, 0].numpy() > 0.0
            mi = mask_iou(m, rle_decode(rec["segmentation"]))
            log(f"  decoder {name:7s} (mask index {k}): low_res max abs diff {dl:.3g}, "
                f"predicted IoU {float(iou[0, k]):.4f} vs {rec['predicted_iou']:.4f}, "
                f"full-size mask IoU {mi:.4f}")
            worst["decoder"] = max(worst["decoder"], dl,
                                   abs(float(iou[0, k]) - rec["predicted_iou"]))
            worst["mask_iou_min"] = min(worst["mask_iou_min"], mi)
        if len(boxes) > 1:  # all boxes as one batch, B > 1
            iou, low = one(box_coords, [[2.0, 3.0]] * len(boxes))
            dl = max(float((low[i, 0] - torch.from_numpy(ups[i][1])).abs().max())
                     for i in range(len(boxes)))
            log(f"  decoder all {len(boxes)} boxes as one batch: low_res max abs diff {dl:.3g}")
            worst["decoder"] = max(worst["decoder"], dl)
        # one everything-mode batch: 64 single-point prompts, multimask, vs predict_torch
        g = np.random.default_rng(0)
        pts = g.random((64, 2)) * np.array([w, h])
        tp = predictor.transform.apply_coords(pts, (h, w))
        in_pts = torch.as_tensor(tp, dtype=torch.float32)[:, None, :]
        _, up_iou, up_low = predictor.predict_torch(in_pts, torch.ones(64, 1, dtype=torch.int),
                                                    multimask_output=True, return_logits=True)
        c = torch.cat([in_pts, torch.zeros(64, 1, 2)], dim=1)
        l = torch.tensor([[1.0, -1.0]]).repeat(64, 1)
        t0 = time.time()
        iou, low = dec(emb, c, l, no_mask, zero, orig)
        t_dec = time.time() - t0
        dl = float((low[:, 1:] - up_low).abs().max())
        di = float((iou[:, 1:] - up_iou).abs().max())
        log(f"  decoder 64 single-point prompts (B=64, N=2) vs predict_torch multimask: "
            f"low_res max abs diff {dl:.3g}, iou {di:.3g} ({t_dec:.1f} s)")
        worst["decoder"] = max(worst["decoder"], dl, di)
    return worst


# ---------------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--self-test", action="store_true", help="check the RLE codec and exit")
    ap.add_argument("--coco-json", help="with --self-test: round-trip a pycocotools results file")
    ap.add_argument("--package")
    ap.add_argument("--model-type", choices=("vit_b", "vit_l", "vit_h", "vit_t"))
    ap.add_argument("--checkpoint")
    ap.add_argument("--image", action="append", default=[])
    ap.add_argument("--prompts", help="vfm prompts JSON")
    ap.add_argument("--everything", action="store_true", help="run SamAutomaticMaskGenerator")
    ap.add_argument("--points-per-side", type=int)
    ap.add_argument("--pred-iou-thresh", type=float)
    ap.add_argument("--stability-score-thresh", type=float)
    ap.add_argument("--box-nms-thresh", type=float,
                    help="(random weights: 1.0 keeps every mask, making a fuller comparison)")
    ap.add_argument("--box-multimask", action="store_true",
                    help="boxes: best of the 3 multimask outputs instead of mask 0")
    ap.add_argument("--upstream-out", default="parity_sam_upstream",
                    help="folder for upstream's masks (default ./parity_sam_upstream)")
    ap.add_argument("--vfm-prompts", help="folder of vfm's prompt-mode <stem>.json")
    ap.add_argument("--vfm-everything", help="folder of vfm's everything-mode <stem>.json")
    ap.add_argument("--min-iou", type=float, default=0.9)
    ap.add_argument("--export-config", help="check export_sam.py's files against upstream")
    ap.add_argument("--torchscript", metavar="CONFIG.json",
                    help="run upstream's pipeline over these TorchScript files instead of the "
                         "eager model (e.g. the test fixture)")
    ap.add_argument("--reuse-upstream", action="store_true",
                    help="reuse UPSTREAM_OUT/{prompts,everything}/<stem>.json when present "
                         "(not with --export-config)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test(args.coco_json)
    if not (args.package and args.image and (args.torchscript or (args.model_type and
                                                                   args.checkpoint))):
        ap.error("--package, --image and either --torchscript or --model-type and "
                 "--checkpoint are required")
    if args.torchscript and args.export_config:
        ap.error("--export-config compares with the eager model: not with --torchscript")
    if not (args.prompts or args.everything):
        ap.error("nothing to do: give --prompts and/or --everything")
    import cv2
    import torch
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    def log(msg):
        print(msg, flush=True)

    loaded = {}

    def upstream():  # built on first use (not at all when every result is reused)
        if not loaded:
            export_sam, mod, sam = load_upstream(args)
            loaded.update(export_sam=export_sam, mod=mod, sam=sam,
                          predictor=mod.SamPredictor(sam))
        return loaded
    prompts = {}
    if args.prompts:
        with open(args.prompts) as f:
            prompts = json.load(f)
    failures = []
    for image in args.image:
        bgr = cv2.imread(image, cv2.IMREAD_COLOR)
        if bgr is None:
            log(f"error: cannot read {image}")
            return 2
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        stem = os.path.splitext(os.path.basename(image))[0]
        log(f"{image}: {rgb.shape[1]}x{rgb.shape[0]}")
        if args.prompts:
            prompt = prompts.get(os.path.basename(image))
            if prompt is None and len(prompts) == 1:
                prompt = next(iter(prompts.values()))
            if prompt is None:
                log(f"  no prompts for {os.path.basename(image)}")
            else:
                path = os.path.join(args.upstream_out, "prompts", stem + ".json")
                if args.reuse_upstream and os.path.exists(path) and not args.export_config:
                    ups = [(r, None, r.get("upstream_mask_index", -1)) for r in load_vfm(path)]
                    log(f"  reusing {path}")
                else:
                    t0 = time.time()
                    predictor = upstream()["predictor"]
                    with torch.no_grad():
                        predictor.set_image(rgb)
                    ups = upstream_prompts(predictor, rgb, prompt, args.box_multimask)
                    log(f"  upstream SamPredictor: {len(ups)} prompt(s) in "
                        f"{time.time() - t0:.1f} s")
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "w") as f:
                        json.dump({"image": os.path.basename(image),
                                   "masks": [u[0] for u in ups]}, f)
                    log(f"  wrote {path}")
                if args.export_config:
                    worst = check_export(args.export_config, upstream()["export_sam"],
                                         upstream()["predictor"], rgb, prompt, ups, args, log)
                    log(f"  export check: {json.dumps(worst)}")
                    if worst.get("sha256") is False:
                        failures.append(f"{stem}: sha256")
                    if worst["mask_iou_min"] < args.min_iou:
                        failures.append(f"{stem}: exported model mask IoU")
                if args.vfm_prompts:
                    vpath = os.path.join(args.vfm_prompts, stem + ".json")
                    vm = load_vfm(vpath)
                    names = [f"box {i}" for i in range(len(prompt.get("boxes", [])))]
                    if prompt.get("points"):
                        names.append("points")
                    if len(vm) != len(ups):
                        log(f"  vfm has {len(vm)} masks, upstream {len(ups)}")
                        failures.append(f"{stem}: prompt mask count")
                    for name, (rec, _, k), v in zip(names, ups, vm):
                        a = rle_decode(rec["segmentation"])
                        b = rle_decode(v["segmentation"])
                        if a.shape != b.shape:
                            log(f"  {name}: size {list(b.shape)} != upstream {list(a.shape)}")
                            failures.append(f"{stem} {name}: size")
                            continue
                        mi = mask_iou(a, b)
                        log(f"  {name:7s}: IoU {mi:.4f}  predicted IoU vfm "
                            f"{v.get('predicted_iou', float('nan')):.4f} upstream "
                            f"{rec['predicted_iou']:.4f} (upstream mask index {k}), area vfm "
                            f"{int(b.sum())} upstream {int(a.sum())}")
                        if mi < args.min_iou:
                            failures.append(f"{stem} {name}: IoU {mi:.3f}")
        if args.everything:
            path = os.path.join(args.upstream_out, "everything", stem + ".json")
            if args.reuse_upstream and os.path.exists(path):
                recs = load_vfm(path)
                log(f"  reusing {path} ({len(recs)} masks)")
            else:
                t0 = time.time()
                with torch.no_grad():
                    recs = upstream_everything(upstream()["mod"], upstream()["sam"], rgb, args)
                log(f"  upstream SamAutomaticMaskGenerator: {len(recs)} masks in "
                    f"{time.time() - t0:.1f} s")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    json.dump({"image": os.path.basename(image), "masks": recs}, f)
                log(f"  wrote {path}")
            if args.vfm_everything:
                vm = load_vfm(os.path.join(args.vfm_everything, stem + ".json"))
                a = [rle_decode(r["segmentation"]) for r in recs]
                b = [rle_decode(v["segmentation"]) for v in vm]
                iou = iou_matrix(a, b)
                pairs = match(iou)
                matched = [float(iou[i, j]) for i, j in pairs]
                log(f"  everything: upstream {len(a)} masks, vfm {len(b)} masks, "
                    f"{len(pairs)} matched one-to-one")
                if matched:
                    good = sum(1 for m in matched if m >= args.min_iou)
                    log(f"  matched IoU min {min(matched):.4f} mean {np.mean(matched):.4f} "
                        f"(>= {args.min_iou}: {good}/{len(matched)})")
                    dpi = [abs(recs[i]["predicted_iou"] - vm[j].get("predicted_iou", 0.0))
                           for i, j in pairs]
                    dst = [abs(recs[i]["stability_score"] - vm[j].get("stability_score", 0.0))
                           for i, j in pairs]
                    log(f"  matched predicted_iou max abs diff {max(dpi):.4g}, "
                        f"stability_score max abs diff {max(dst):.4g}")
                if len(a) != len(b):
                    failures.append(f"{stem}: everything count {len(b)} vs {len(a)}")
                if matched and min(matched) < args.min_iou:
                    failures.append(f"{stem}: everything matched IoU min {min(matched):.3f}")
    if failures:
        log("FAILED: " + "; ".join(failures))
        return 1
    log("all comparisons passed" if (args.vfm_prompts or args.vfm_everything
                                     or args.export_config) else "done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
