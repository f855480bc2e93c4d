#!/usr/bin/python3
"""Exports a Segment Anything (SAM) or MobileSAM model to the two TorchScript files vfm's `sam`
segmentation family runs, plus the config that names them.

    export_sam.py --package DIR --model-type vit_b|vit_l|vit_h|vit_t
                  (--checkpoint FILE | --random-weights SEED [--save-random-checkpoint FILE])
                  --out DIR [--name NAME] [--skip-upstream-check]

--package is a checkout of https://github.com/facebookresearch/segment-anything (imports
`segment_anything`) or of https://github.com/ChaoningZhang/MobileSAM (imports `mobile_sam`; the
only one with vit_t, TinyViT). The model is built by upstream's own `sam_model_registry` and the
weights loaded with load_state_dict (strict). Nothing of upstream is copied into vfm. Upstream
imports torchvision (resize, to_pil_image, batched_nms, box_area) and MobileSAM's TinyViT imports
timm (DropPath, to_2tuple, trunc_normal_, register_model); when those packages are missing this
script puts small stand-ins of its own into sys.modules (see install_shims) so that Debian's
python3-torch is enough.

--random-weights SEED builds the architecture with torch.manual_seed(SEED) instead of loading a
checkpoint and draws variance-preserving random weights (see randomize_weights: upstream's own
initialisation gives an encoder whose output hardly depends on the image), so that every code
path carries signal; --save-random-checkpoint writes that state_dict so that a parity run
(scripts/parity_sam.py --checkpoint FILE) gives upstream exactly the same weights.

Files written to --out (NAME defaults to sam_<model-type>):
  NAME-encoder.pt   forward(x: float [B, 3, 1024, 1024]) -> [B, 256, 64, 64]
                    x is ALREADY normalised by vfm the way upstream Sam.preprocess does it
                    (segment_anything/modeling/sam.py): RGB resized so its longest side is 1024
                    (ResizeLongestSide, segment_anything/utils/transforms.py), (x - mean) / std
                    with mean (123.675, 116.28, 103.53), std (58.395, 57.12, 57.375), then padded
                    at the bottom/right with zeros (zeros AFTER normalisation). This is
                    upstream's image_encoder only. Works for any batch size B.
  NAME-decoder.pt   forward(image_embeddings [1, 256, 64, 64],
                            point_coords [B, N, 2] float, (x, y) in the resized 1024 frame,
                            point_labels [B, N] float: 1 fg, 0 bg, 2 box top-left,
                                                 3 box bottom-right, -1 padding,
                            mask_input [1, 1, 256, 256] float (low-res logits),
                            has_mask_input [1] float (1: use mask_input, 0: ignore it),
                            orig_im_size [2] float (h, w); accepted for interface parity
                                         with upstream's ONNX model, unused)
                    -> (iou_predictions [B, 4], low_res_masks [B, 4, 256, 256])
                    The inputs are those of upstream segment_anything/utils/onnx.py SamOnnxModel;
                    the outputs are ALL 4 mask tokens (index 0: the single-mask output upstream
                    returns for multimask_output=False; 1..3: the three multimask outputs), with
                    no selection and NO full-resolution `masks` output: vfm upsamples the 256x256
                    logits itself (1024x1024 bilinear, crop to the resized size, bilinear to the
                    original size, as Sam.postprocess_masks), and only for the masks it keeps,
                    which is much cheaper than upsampling B x 4 masks inside the model.
                    Works for any B and N (checked after tracing for B in {1, 2, 16, 64} and
                    N in {1, 2, 3, 5}).
  NAME.json         vfm config, with the sha256 of both files:
                    {"task": "segment",
                     "model": {"family": "sam", "file": "NAME-encoder.pt",
                               "input_size": [1024, 1024], "sha256": "<hex>"},
                     "decoder": {"file": "NAME-decoder.pt", "sha256": "<hex>",
                                 "outputs": {"iou_predictions": 0, "low_res_masks": 1}},
                     "preprocess": {"color": "rgb", "mean": [123.675, 116.28, 103.53],
                                    "std": [58.395, 57.12, 57.375]},
                     "sam": {"variant": "vit_b|vit_l|vit_h|vit_t", "mask_threshold": 0.0}}

Resizing: upstream resizes with PIL's bilinear filter (torchvision resize on a PIL image), which
is antialiased when shrinking. LibTorch's interpolate(bilinear, align_corners=false,
antialias=true) on the float image, rounded to uint8, is within 1 grey level of it both ways
(measured); OpenCV's INTER_LINEAR is not when shrinking (mean 3.7, max 29 grey levels).

Prompt conventions (upstream PromptEncoder / SamOnnxModel): coordinates are in the resized frame
(x * new_w / w, y * new_h / h with new_h, new_w = int(h * s + 0.5), int(w * s + 0.5),
s = 1024 / max(h, w)); the +0.5 pixel-centre shift is done inside the decoder. A prompt with
points but no box must get one padding point (0, 0) with label -1 appended, as upstream's
PromptEncoder does (pad = boxes is None); a box is the two corners labelled 2 and 3, after the
points and with no padding point.

Tracing notes: both files are torch.jit.trace results, valid for any B (and N) because
  * the decoder wrapper (SamPromptDecoder, written for vfm after SamOnnxModel's _embed_points /
    _embed_masks) uses no Python ints taken from shapes, and holds the dense positional encoding
    as a buffer (upstream builds it per call from a CPU torch.ones grid, which a trace would pin
    to the CPU);
  * MobileSAM's TinyViT PatchMerging reads the batch with len(x), which a trace freezes; for the
    export its forward is replaced by the same computation reading x.shape[0] (patch_for_trace).
  The SAM ViT encoder still builds its small relative-position index with torch.arange on the
  CPU (segment_anything/modeling/image_encoder.py get_rel_pos) and indexes the weights with it,
  which PyTorch allows for CUDA weights too; untested on a GPU here.

Checks before writing (the script fails with exit 1 otherwise):
  * traced encoder vs eager image_encoder for B = 1 and B = 2;
  * traced decoder vs the eager wrapper for several (B, N), labels in {-1, 0, 1, 2, 3}, with and
    without a mask input;
  * eager wrapper vs upstream SamPredictor.predict_torch(..., return_logits=True) low-res logits
    for point, box, point+box and mask prompts with B > 1 (multimask True and False), unless
    --skip-upstream-check.
"""
import argparse
import hashlib
import importlib
import json
import os
import sys
import time
import types

MEAN = [123.675, 116.28, 103.53]  # segment_anything/build_sam.py pixel_mean
STD = [58.395, 57.12, 57.375]  # segment_anything/build_sam.py pixel_std
IMG = 1024  # build_sam.py image_size
EMB = 64  # image_size // vit_patch_size
MODEL_TYPES = ("vit_b", "vit_l", "vit_h", "vit_t")


def die(msg, code=2):
    print("error: export_sam: " + msg, file=sys.stderr)
    sys.exit(code)


# ---------------------------------------------------------------------------------------------
# Stand-ins for the few names upstream imports from torchvision and timm (written for vfm).
# ---------------------------------------------------------------------------------------------
def _shim_torchvision():
    import torch
    from PIL import Image

    def to_pil_image(pic, mode=None):
        # Only the case upstream uses: HWC uint8 numpy array (ResizeLongestSide.apply_image).
        import numpy as np
        arr = np.asarray(pic)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        return Image.fromarray(arr, mode=mode)

    def resize(img, size, interpolation=None, max_size=None, antialias=None):
        # torchvision.transforms.functional.resize on a PIL image with a [h, w] size and the
        # default InterpolationMode.BILINEAR is PIL's Image.resize((w, h), BILINEAR).
        if interpolation is not None and str(interpolation).lower().find("bilinear") < 0:
            raise NotImplementedError("torchvision shim: only bilinear resize")
        h, w = int(size[0]), int(size[1])
        return img.resize((w, h), Image.BILINEAR)

    def box_area(boxes):
        return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])

    def nms(boxes, scores, iou_threshold):
        # Greedy NMS as torchvision's CPU kernel: visit by descending score, drop later boxes
        # whose IoU with a kept box is > iou_threshold; returns kept indices, best first.
        if boxes.numel() == 0:
            return torch.empty((0,), dtype=torch.int64)
        x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
        areas = (x2 - x1) * (y2 - y1)
        order = scores.sort(0, descending=True)[1]
        suppressed = torch.zeros(boxes.shape[0], dtype=torch.bool)
        keep = []
        for ii in range(order.numel()):
            i = int(order[ii])
            if suppressed[i]:
                continue
            keep.append(i)
            rest = order[ii + 1:]
            if rest.numel() == 0:
                break
            xx1 = torch.maximum(x1[rest], x1[i])
            yy1 = torch.maximum(y1[rest], y1[i])
            xx2 = torch.minimum(x2[rest], x2[i])
            yy2 = torch.minimum(y2[rest], y2[i])
            inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
            iou = inter / (areas[i] + areas[rest] - inter)
            suppressed[rest[iou > iou_threshold]] = True
        return torch.tensor(keep, dtype=torch.int64)

    def batched_nms(boxes, scores, idxs, iou_threshold):
        # torchvision's coordinate trick: offset each category's boxes so they never overlap.
        if boxes.numel() == 0:
            return torch.empty((0,), dtype=torch.int64)
        offsets = idxs.to(boxes) * (boxes.max() + 1)
        return nms(boxes + offsets[:, None], scores, iou_threshold)

    tv = types.ModuleType("torchvision")
    tv.__vfm_shim__ = True
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.resize = resize
    functional.to_pil_image = to_pil_image
    transforms.functional = functional
    ops = types.ModuleType("torchvision.ops")
    boxes_mod = types.ModuleType("torchvision.ops.boxes")
    boxes_mod.batched_nms = batched_nms
    boxes_mod.box_area = box_area
    boxes_mod.nms = nms
    ops.boxes = boxes_mod
    ops.batched_nms = batched_nms
    ops.box_area = box_area
    ops.nms = nms
    tv.transforms = transforms
    tv.ops = ops
    sys.modules.update({
        "torchvision": tv, "torchvision.transforms": transforms,
        "torchvision.transforms.functional": functional, "torchvision.ops": ops,
        "torchvision.ops.boxes": boxes_mod})


def _shim_timm():
    import collections.abc
    import torch

    class DropPath(torch.nn.Module):
        """Stochastic depth per sample; the identity in eval mode or with drop_prob 0."""

        def __init__(self, drop_prob=None, scale_by_keep=True):
            super().__init__()
            self.drop_prob = 0.0 if drop_prob is None else float(drop_prob)
            self.scale_by_keep = scale_by_keep

        def forward(self, x):
            if self.drop_prob == 0.0 or not self.training:
                return x
            keep = 1.0 - self.drop_prob
            shape = (x.shape[0],) + (1,) * (x.ndim - 1)
            mask = x.new_empty(shape).bernoulli_(keep)
            if self.scale_by_keep and keep > 0.0:
                mask = mask / keep
            return x * mask

    def to_2tuple(x):
        if isinstance(x, collections.abc.Iterable) and not isinstance(x, str):
            return tuple(x)
        return (x, x)

    def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
        return torch.nn.init.trunc_normal_(tensor, mean=mean, std=std, a=a, b=b)

    def register_model(fn):
        return fn

    timm = types.ModuleType("timm")
    timm.__vfm_shim__ = True
    models = types.ModuleType("timm.models")
    layers = types.ModuleType("timm.models.layers")
    registry = types.ModuleType("timm.models.registry")
    layers.DropPath = DropPath
    layers.to_2tuple = to_2tuple
    layers.trunc_normal_ = trunc_normal_
    registry.register_model = register_model
    models.layers = layers
    models.registry = registry
    timm.models = models
    sys.modules.update({"timm": timm, "timm.models": models, "timm.models.layers": layers,
                        "timm.models.registry": registry})


def install_shims(verbose=True):
    """Puts the torchvision / timm stand-ins into sys.modules where the real ones are missing."""
    for name, fn in (("torchvision", _shim_torchvision), ("timm", _shim_timm)):
        try:
            importlib.import_module(name)
        except ImportError:
            fn()
            if verbose:
                print(f"export_sam: using vfm's stand-in for the missing module {name}",
                      file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Building the upstream model
# ---------------------------------------------------------------------------------------------
def import_upstream(package_dir, model_type):
    """Imports segment_anything or mobile_sam from package_dir; returns the module."""
    package_dir = os.path.abspath(package_dir)
    candidates = []
    if os.path.isdir(os.path.join(package_dir, "segment_anything")) and model_type != "vit_t":
        candidates.append("segment_anything")
    if os.path.isdir(os.path.join(package_dir, "mobile_sam")):
        candidates.append("mobile_sam")
    if not candidates:
        die(f"--package {package_dir} has no segment_anything/ "
            f"{'' if model_type != 'vit_t' else '(vit_t needs MobileSAM) '}or mobile_sam/")
    install_shims()
    sys.path.insert(0, package_dir)
    mod = importlib.import_module(candidates[0])
    if model_type not in mod.sam_model_registry:
        die(f"{candidates[0]} has no model type {model_type} "
            f"(has {sorted(mod.sam_model_registry)})")
    return mod


def randomize_weights(model, seed):
    """Random weights that keep the input's signal: upstream's own initialisation (tiny
    trunc_normal(0.02) linears in TinyViT, zero-initialised residual BatchNorms and position
    tables) gives an image encoder whose output barely depends on the image (measured: 1e-5 of
    its magnitude for vit_t), which would let a parity run miss a preprocessing error. So every
    Linear / Conv weight is drawn N(0, 1 / fan_in), norms get weights near 1 and small biases,
    BatchNorm running statistics near (0, 1), and every other parameter that upstream sets to a
    constant (position embeddings, relative-position tables, attention biases) small noise."""
    import torch
    from torch import nn
    g = torch.Generator().manual_seed(seed + 1)

    def randn(shape, std):
        return torch.randn(shape, generator=g) * std

    done = set()
    with torch.no_grad():
        for m in model.modules():
            name = type(m).__name__
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                w = m.weight
                if isinstance(m, nn.ConvTranspose2d):
                    fan_in = w.shape[0] * w[0, 0].numel() / float(m.stride[0] * m.stride[1])
                else:
                    fan_in = w[0].numel()
                w.copy_(randn(w.shape, 1.0 / max(1.0, fan_in) ** 0.5))
                done.add(id(w))
                if m.bias is not None:
                    m.bias.copy_(randn(m.bias.shape, 0.02))
                    done.add(id(m.bias))
            elif isinstance(m, nn.modules.batchnorm._BatchNorm) or "LayerNorm" in name:
                if getattr(m, "weight", None) is not None:
                    m.weight.copy_(1.0 + randn(m.weight.shape, 0.1))
                    done.add(id(m.weight))
                if getattr(m, "bias", None) is not None:
                    m.bias.copy_(randn(m.bias.shape, 0.02))
                    done.add(id(m.bias))
                if getattr(m, "running_mean", None) is not None:
                    m.running_mean.copy_(randn(m.running_mean.shape, 0.02))
                    m.running_var.copy_(1.0 + 0.1 * torch.rand(m.running_var.shape, generator=g))
        for p in model.parameters():
            if id(p) in done or not p.dtype.is_floating_point or p.numel() < 2:
                continue
            if float(p.std()) == 0.0:
                p.add_(randn(p.shape, 0.02))


def build_model(package_dir, model_type, checkpoint=None, random_seed=None):
    """Returns (upstream module, Sam in eval mode)."""
    import torch
    mod = import_upstream(package_dir, model_type)
    if random_seed is not None:
        torch.manual_seed(random_seed)
    sam = mod.sam_model_registry[model_type](checkpoint=None)
    if checkpoint is not None:
        state = torch.load(checkpoint, map_location="cpu")
        if isinstance(state, dict) and "model" in state and not any(
                k.startswith("image_encoder.") for k in state):
            state = state["model"]
        sam.load_state_dict(state)  # strict, as upstream build_sam
    elif random_seed is not None:
        randomize_weights(sam, random_seed)
    # eval() AFTER loading: MobileSAM's TinyViT Attention caches its bias table `ab` from
    # attention_biases in train(False) (mobile_sam/modeling/tiny_vit_sam.py), so it must be
    # recomputed once the weights are in.
    sam.eval()
    return mod, sam


# ---------------------------------------------------------------------------------------------
# The two exported modules
# ---------------------------------------------------------------------------------------------
def make_wrappers(sam):
    import torch
    from torch import Tensor, nn

    class SamEncoder(nn.Module):
        """upstream Sam.image_encoder on an already normalised, padded 1024x1024 input."""

        def __init__(self, sam):
            super().__init__()
            self.image_encoder = sam.image_encoder

        def forward(self, x: Tensor) -> Tensor:
            return self.image_encoder(x)

    class SamPromptDecoder(nn.Module):
        """The prompt encoder + mask decoder with the inputs of upstream's SamOnnxModel
        (segment_anything/utils/onnx.py), written for vfm: every prompt embedding is computed
        with tensor arithmetic (no Python ints from shapes, no in-place masked assignment) so a
        trace works for any number of prompts B and points N. Returns all 4 mask tokens."""

        def __init__(self, sam):
            super().__init__()
            self.mask_decoder = sam.mask_decoder
            self.prompt_encoder = sam.prompt_encoder
            self.img_size = float(sam.image_encoder.img_size)
            self.num_point_embeddings = int(sam.prompt_encoder.num_point_embeddings)
            # The dense positional encoding depends on the weights only. Upstream computes it
            # per call from a torch.ones grid (PositionEmbeddingRandom.forward), which a trace
            # would pin to the CPU; as a buffer it follows module.to(device).
            with torch.no_grad():
                self.register_buffer("dense_pe", sam.prompt_encoder.get_dense_pe().clone())

        def embed_points(self, point_coords: Tensor, point_labels: Tensor) -> Tensor:
            pe = self.prompt_encoder
            # +0.5: pixel centre; /img_size: [0, 1] (PromptEncoder._embed_points,
            # PositionEmbeddingRandom.forward_with_coords, SamOnnxModel._embed_points)
            coords = (point_coords + 0.5) / self.img_size
            emb = pe.pe_layer._pe_encoding(coords)  # [B, N, C]
            labels = point_labels.unsqueeze(-1).to(emb.dtype)  # [B, N, 1]
            emb = emb * (labels != -1).to(emb.dtype)
            emb = emb + pe.not_a_point_embed.weight * (labels == -1).to(emb.dtype)
            # labels 0 bg, 1 fg, 2 box top-left, 3 box bottom-right -> point_embeddings[label]
            for i in range(self.num_point_embeddings):
                emb = emb + pe.point_embeddings[i].weight * (labels == i).to(emb.dtype)
            return emb

        def embed_masks(self, mask_input: Tensor, has_mask_input: Tensor) -> Tensor:
            pe = self.prompt_encoder
            has = has_mask_input.reshape(-1, 1, 1, 1).to(mask_input.dtype)
            dense = has * pe.mask_downscaling(mask_input)
            return dense + (1.0 - has) * pe.no_mask_embed.weight.reshape(1, -1, 1, 1)

        def predict_masks(self, image_embeddings: Tensor, sparse: Tensor, dense: Tensor):
            """upstream MaskDecoder.predict_masks (segment_anything/modeling/mask_decoder.py)
            without its repeat_interleave of the image embedding and positional encoding per
            prompt: they enter upstream's TwoWayTransformer with their own batch (1 with the
            ONNX-style inputs: one image, one mask_input) and broadcast against the B prompts.
            Until the first image-to-token attention adds prompt-specific values to the image
            tokens, every prompt's image tokens are the same, so the key and value projections
            of the first token-to-image attention and the query projection of the first
            image-to-token attention run once instead of B times, and the two B-fold copies of
            the 256x64x64 maps are never made. Upstream's Attention and TwoWayAttentionBlock
            broadcast as they are; the rest is upstream's arithmetic in upstream's order."""
            md = self.mask_decoder
            tokens = torch.cat([md.iou_token.weight, md.mask_tokens.weight], dim=0)
            tokens = tokens.unsqueeze(0).expand(sparse.size(0), -1, -1)
            tokens = torch.cat((tokens, sparse), dim=1)
            src = image_embeddings + dense  # [1 or B, C, h, w]
            hs, keys = md.transformer(src, self.dense_pe, tokens)
            b = hs.shape[0]
            keys = keys.expand(b, -1, -1)  # still batch 1 only if the transformer had no layers
            src = keys.transpose(1, 2).reshape(b, src.shape[1], src.shape[2], src.shape[3])
            up = md.output_upscaling(src)
            hyper = torch.stack([mlp(hs[:, 1 + i, :])
                                 for i, mlp in enumerate(md.output_hypernetworks_mlps)], dim=1)
            masks = (hyper @ up.flatten(2)).reshape(b, -1, up.shape[2], up.shape[3])
            return masks, md.iou_prediction_head(hs[:, 0, :])

        def forward(self, image_embeddings: Tensor, point_coords: Tensor, point_labels: Tensor,
                    mask_input: Tensor, has_mask_input: Tensor, orig_im_size: Tensor):
            sparse = self.embed_points(point_coords, point_labels)
            dense = self.embed_masks(mask_input, has_mask_input)
            masks, iou = self.predict_masks(image_embeddings, sparse, dense)
            return iou, masks

    return SamEncoder(sam).eval(), SamPromptDecoder(sam).eval()


def patch_for_trace(sam):
    """Makes the image encoder traceable for any batch size; returns the names patched.

    MobileSAM's TinyViT PatchMerging.forward (mobile_sam/modeling/tiny_vit_sam.py) reads the batch
    size with len(x), which a trace freezes to the example's batch. For the export only, its
    instances get a forward doing the same computation with the batch read as x.shape[0] (traced
    as a size). The traced encoder is compared with the unpatched eager one at B = 1 and 2."""
    import types as _types
    patched = []

    def patch_merging_forward(self, x):
        if x.ndim == 3:  # (B, H*W, C) tokens -> (B, C, H, W)
            h, w = self.input_resolution
            x = x.view(x.shape[0], h, w, -1).permute(0, 3, 1, 2)
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        x = self.conv3(x)
        return x.flatten(2).transpose(1, 2)

    for name, m in sam.image_encoder.named_modules():
        if type(m).__name__ == "PatchMerging" and hasattr(m, "input_resolution"):
            m.forward = _types.MethodType(patch_merging_forward, m)
            patched.append(name)
    return patched


def decoder_inputs(gen, b, n, has_mask, labels_from=(-1, 0, 1, 2, 3), emb=None):
    import torch
    if emb is None:
        emb = torch.randn(1, 256, EMB, EMB, generator=gen)
    coords = torch.rand(b, n, 2, generator=gen) * IMG
    choices = torch.tensor(labels_from, dtype=torch.float32)
    labels = choices[torch.randint(0, len(labels_from), (b, n), generator=gen)]
    mask = torch.randn(1, 1, 4 * EMB, 4 * EMB, generator=gen) * 4.0
    has = torch.tensor([1.0 if has_mask else 0.0])
    orig = torch.tensor([480.0, 640.0])
    return emb, coords, labels, mask, has, orig


def max_abs(a, b):
    return float((a - b).abs().max()) if a.numel() else 0.0


def scale_of(t):
    return max(1.0, float(t.abs().max()))


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def upstream_decoder_check(sam, mod, decoder, emb, tol, log):
    """Eager wrapper vs upstream SamPredictor.predict_torch low-res logits, B > 1."""
    import torch
    predictor = mod.SamPredictor(sam)
    predictor.reset_image()
    predictor.features = emb
    predictor.is_image_set = True
    predictor.original_size = (64, 64)  # only used by the full-size upsampling, not compared
    predictor.input_size = (64, 64)
    gen = torch.Generator().manual_seed(7)
    no_mask = torch.zeros(1, 1, 4 * EMB, 4 * EMB)
    worst = 0.0
    B = 6
    for case in ("points", "box", "points+box", "points+mask"):
        n = 3
        pts = torch.rand(B, n, 2, generator=gen) * IMG
        lab = torch.randint(0, 2, (B, n), generator=gen).to(torch.float32)
        x0y0 = torch.rand(B, 2, generator=gen) * 700
        boxes = torch.cat([x0y0, x0y0 + 50 + torch.rand(B, 2, generator=gen) * 300], dim=1)
        mask_in = torch.randn(1, 1, 4 * EMB, 4 * EMB, generator=gen) * 4.0
        kw = dict(point_coords=None, point_labels=None, boxes=None, mask_input=None)
        if case == "points":
            kw.update(point_coords=pts, point_labels=lab.to(torch.int))
            c = torch.cat([pts, torch.zeros(B, 1, 2)], dim=1)  # upstream's padding point
            l = torch.cat([lab, -torch.ones(B, 1)], dim=1)
        elif case == "box":
            kw.update(boxes=boxes)
            c, l = boxes.reshape(B, 2, 2), torch.tensor([[2.0, 3.0]]).repeat(B, 1)
        elif case == "points+box":
            kw.update(point_coords=pts, point_labels=lab.to(torch.int), boxes=boxes)
            c = torch.cat([pts, boxes.reshape(B, 2, 2)], dim=1)  # box: no padding point
            l = torch.cat([lab, torch.tensor([[2.0, 3.0]]).repeat(B, 1)], dim=1)
        else:
            kw.update(point_coords=pts, point_labels=lab.to(torch.int), mask_input=mask_in)
            c = torch.cat([pts, torch.zeros(B, 1, 2)], dim=1)
            l = torch.cat([lab, -torch.ones(B, 1)], dim=1)
        has = torch.tensor([1.0 if case == "points+mask" else 0.0])
        with torch.no_grad():
            iou, low = decoder(emb, c, l, mask_in if case == "points+mask" else no_mask, has,
                               torch.tensor([64.0, 64.0]))
            for multi in (True, False):
                _, up_iou, up_low = predictor.predict_torch(multimask_output=multi,
                                                            return_logits=True, **kw)
                sl = slice(1, 4) if multi else slice(0, 1)
                d = max(max_abs(low[:, sl], up_low) / scale_of(up_low),
                        max_abs(iou[:, sl], up_iou))
                log(f"  upstream SamPredictor.predict_torch {case:12s} B={B} multimask={multi}:"
                    f" low_res max abs diff {max_abs(low[:, sl], up_low):.3g}"
                    f" (|max| {float(up_low.abs().max()):.3g}), iou max abs diff"
                    f" {max_abs(iou[:, sl], up_iou):.3g}")
                worst = max(worst, d)
    if worst > tol:
        die(f"decoder wrapper differs from upstream SamPredictor by {worst:.3g} > {tol}", 1)
    return worst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True,
                    help="checkout with segment_anything/ or mobile_sam/")
    ap.add_argument("--model-type", required=True, choices=MODEL_TYPES)
    w = ap.add_mutually_exclusive_group(required=True)
    w.add_argument("--checkpoint", help="upstream .pth state_dict")
    w.add_argument("--random-weights", type=int, metavar="SEED",
                   help="random weights (tests, parity runs)")
    ap.add_argument("--save-random-checkpoint", metavar="FILE",
                    help="with --random-weights: save that state_dict for upstream parity runs")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--name", help="file name stem (default sam_<model-type>)")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="max abs diff allowed, relative to max(1, |output|) (default 1e-4)")
    ap.add_argument("--skip-upstream-check", action="store_true",
                    help="skip the decoder check against upstream SamPredictor")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.save_random_checkpoint and args.random_weights is None:
        die("--save-random-checkpoint needs --random-weights")

    import torch
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    name = args.name or f"sam_{args.model_type}"
    os.makedirs(args.out, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    t0 = time.time()
    mod, sam = build_model(args.package, args.model_type, args.checkpoint, args.random_weights)
    log(f"built {mod.__name__} {args.model_type} "
        f"({sum(p.numel() for p in sam.parameters()) / 1e6:.1f} M parameters) "
        f"in {time.time() - t0:.1f} s")
    if sam.image_encoder.img_size != IMG:
        die(f"image encoder size {sam.image_encoder.img_size} != {IMG}")
    if args.save_random_checkpoint:
        torch.save(sam.state_dict(), args.save_random_checkpoint)
        log(f"saved random checkpoint {args.save_random_checkpoint}")

    encoder, decoder = make_wrappers(sam)
    gen = torch.Generator().manual_seed(1234)

    # ---- encoder: trace with B=1, check B=1 and B=2 against eager ----
    t0 = time.time()
    x1 = torch.randn(1, 3, IMG, IMG, generator=gen)
    x2 = torch.randn(2, 3, IMG, IMG, generator=gen)
    with torch.no_grad():
        refs = [encoder(x) for x in (x1, x2)]  # eager, unpatched upstream
        patched = patch_for_trace(sam)
        if patched:
            log(f"patched for tracing (batch read as x.shape[0]): {', '.join(patched)}")
        enc_ts = torch.jit.trace(encoder, (x1,), check_trace=False)
        worst_enc = 0.0
        for x, ref in zip((x1, x2), refs):
            got = enc_ts(x)
            if tuple(got.shape) != (x.shape[0], 256, EMB, EMB):
                die(f"encoder output {tuple(got.shape)} for input {tuple(x.shape)}", 1)
            d = max_abs(got, ref) / scale_of(ref)
            log(f"encoder traced vs eager B={x.shape[0]}: max abs diff {max_abs(got, ref):.3g}"
                f" (|max| {float(ref.abs().max()):.3g})")
            worst_enc = max(worst_enc, d)
        emb = ref[:1].contiguous()  # a realistic embedding for the decoder checks
    log(f"encoder traced and checked in {time.time() - t0:.1f} s")
    if worst_enc > args.tol:
        die(f"traced encoder differs from eager by {worst_enc:.3g} (relative) > {args.tol}", 1)

    # ---- decoder: trace with B=2, N=3, check other shapes against the eager wrapper ----
    t0 = time.time()
    with torch.no_grad():
        example = decoder_inputs(gen, 2, 3, True, emb=emb)
        dec_ts = torch.jit.trace(decoder, example, check_trace=False)
        worst_dec = 0.0
        for b, n, has in ((1, 1, False), (1, 2, True), (2, 3, False), (16, 1, True),
                          (64, 5, False)):
            inp = decoder_inputs(gen, b, n, has, emb=emb)
            ref_iou, ref_low = decoder(*inp)
            got_iou, got_low = dec_ts(*inp)
            if tuple(got_low.shape) != (b, 4, 4 * EMB, 4 * EMB) or tuple(got_iou.shape) != (b, 4):
                die(f"decoder outputs {tuple(got_iou.shape)}, {tuple(got_low.shape)} "
                    f"for B={b}, N={n}", 1)
            d = max(max_abs(got_low, ref_low) / scale_of(ref_low), max_abs(got_iou, ref_iou))
            log(f"decoder traced vs eager B={b:2d} N={n} has_mask={int(has)}: low_res max abs "
                f"diff {max_abs(got_low, ref_low):.3g} "
                f"(|max| {float(ref_low.abs().max()):.3g}), iou {max_abs(got_iou, ref_iou):.3g}")
            worst_dec = max(worst_dec, d)
        # integer labels must give the same result as float ones
        inp = list(decoder_inputs(gen, 3, 2, False, emb=emb))
        a = dec_ts(*inp)[1]
        inp[2] = inp[2].to(torch.int64)
        d_int = max_abs(dec_ts(*inp)[1], a)
        log(f"decoder int64 labels vs float labels: max abs diff {d_int:.3g}")
        worst_dec = max(worst_dec, d_int)
    log(f"decoder traced and checked in {time.time() - t0:.1f} s")
    if worst_dec > args.tol:
        die(f"traced decoder differs from eager by {worst_dec:.3g} (relative) > {args.tol}", 1)
    worst_up = None
    if not args.skip_upstream_check:
        worst_up = upstream_decoder_check(sam, mod, decoder, emb, args.tol, log)

    # ---- write ----
    enc_file, dec_file = f"{name}-encoder.pt", f"{name}-decoder.pt"
    info = {"exporter": "vfm scripts/export_sam.py", "package": mod.__name__,
            "model_type": args.model_type,
            "weights": (os.path.basename(args.checkpoint) if args.checkpoint
                        else f"random seed {args.random_weights}")}
    for module, fname, part in ((enc_ts, enc_file, "encoder"), (dec_ts, dec_file, "decoder")):
        path = os.path.join(args.out, fname)
        torch.jit.save(module, path + ".tmp",
                       _extra_files={"vfm_export.json": json.dumps(dict(info, part=part))})
        os.replace(path + ".tmp", path)
    enc_sha = sha256_of(os.path.join(args.out, enc_file))
    dec_sha = sha256_of(os.path.join(args.out, dec_file))
    cfg = {
        "task": "segment",
        "model": {"family": "sam", "file": enc_file, "input_size": [IMG, IMG],
                  "sha256": enc_sha},
        "decoder": {"file": dec_file, "sha256": dec_sha,
                    "outputs": {"iou_predictions": 0, "low_res_masks": 1}},
        "preprocess": {"color": "rgb", "mean": MEAN, "std": STD},
        "sam": {"variant": args.model_type, "mask_threshold": float(sam.mask_threshold)},
    }
    cfg_path = os.path.join(args.out, f"{name}.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    summary = {"encoder": os.path.join(args.out, enc_file), "encoder_sha256": enc_sha,
               "decoder": os.path.join(args.out, dec_file), "decoder_sha256": dec_sha,
               "config": cfg_path, "encoder_traced_vs_eager_rel": worst_enc,
               "decoder_traced_vs_eager_rel": worst_dec,
               "decoder_vs_upstream_predictor_rel": worst_up}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
