#!/usr/bin/python3
"""Exports a Depth Anything V2 checkpoint to the TorchScript file vfm's `dpt` depth family runs.

    export_depth_anything_v2.py --repo PATH --checkpoint CKPT.pth --encoder vits
                                [--metric [--max-depth 20]] [--output OUT.pt] [--config OUT.json]

--repo is a checkout of https://github.com/DepthAnything/Depth-Anything-V2 (the package
`depth_anything_v2` is imported from it; with --metric from PATH/metric_depth, whose head ends in
a sigmoid). Nothing of upstream is copied into vfm; the model is built by upstream's own classes
and the weights loaded with load_state_dict (strict).

The file written takes [B, 3, H, W] float RGB, ImageNet-normalised ((x/255 - mean) / std), with
H and W multiples of 14 and any size (the position embedding is interpolated per call, as
upstream's DINOv2 interpolate_pos_encoding does), and returns [B, 1, H, W]:
  relative  relu(head) -- relative inverse depth (disparity), as upstream DepthAnythingV2.forward
  metric    sigmoid(head) in [0, 1]; vfm multiplies by model.max_depth from the config (upstream
            metric_depth/depth_anything_v2/dpt.py multiplies inside forward: 20 for the Hypersim
            indoor models, 80 for the Virtual KITTI outdoor ones, per metric_depth/README.md)

Why not plain torch.jit.trace of the upstream module: upstream computes the position-embedding
size and the head's final upsampling size with Python arithmetic on the input shape
(dinov2.py interpolate_pos_encoding, dpt.py DPTHead.forward int(patch_h * 14)), which a trace
freezes to the example size. This script replaces those two places, for the export only, by
code that reads the size at run time:
  * the position embedding: a scripted function doing upstream's bicubic resize with its
    scale factors ((n + interpolate_offset) / sqrt(N)) passed explicitly, and upstream's
    shortcut (no interpolation when the token count matches and H == W);
  * the head: the same submodules in the same order, the last upsampling to (H, W) taken from
    the traced input shape.
The export is checked against the eager upstream model at three input sizes before writing
(--check-tol, relative to the output's max).

A config for vfm's `depth` binary is written beside the file (--config, default OUT.json).
"""
import argparse
import json
import math
import os
import sys
import warnings

ENCODERS = {  # upstream run.py model_configs
    "vits": {"encoder": "vits", "features": 64, "out_channels": [48, 96, 192, 384]},
    "vitb": {"encoder": "vitb", "features": 128, "out_channels": [96, 192, 384, 768]},
    "vitl": {"encoder": "vitl", "features": 256, "out_channels": [256, 512, 1024, 1024]},
    "vitg": {"encoder": "vitg", "features": 384, "out_channels": [1536, 1536, 1536, 1536]},
}


def die(msg):
    print("error: export_depth_anything_v2: " + msg, file=sys.stderr)
    sys.exit(2)


def build_export_module(model):
    """nn.Module around an upstream DepthAnythingV2 whose trace works for any input size."""
    import torch
    import torch.nn.functional as F
    from torch import Tensor

    @torch.jit.script
    def pos_embed_for(pos_embed: Tensor, img: Tensor, patch: int, offset: float) -> Tensor:
        n_trained = pos_embed.size(1) - 1
        rows = img.size(2) // patch
        cols = img.size(3) // patch
        if rows * cols == n_trained and img.size(2) == img.size(3):
            return pos_embed
        side = int(math.sqrt(float(n_trained)))
        dim = pos_embed.size(2)
        grid = pos_embed[:, 1:].float().reshape(1, side, side, dim).permute(0, 3, 1, 2)
        sh = (float(rows) + offset) / math.sqrt(float(n_trained))
        sw = (float(cols) + offset) / math.sqrt(float(n_trained))
        grid = torch.ops.aten.upsample_bicubic2d(grid, [rows, cols], False, sh, sw)
        grid = grid.permute(0, 2, 3, 1).reshape(1, rows * cols, dim)
        return torch.cat((pos_embed[:, :1].float(), grid), dim=1).to(pos_embed.dtype)

    dino = model.pretrained
    if getattr(dino, "register_tokens", None) is not None or dino.interpolate_antialias:
        die("this DINOv2 variant (register tokens or antialiased position embedding) is not "
            "handled by this export")

    def prepare_tokens(x, masks=None):
        t = dino.patch_embed(x)
        t = torch.cat((dino.cls_token.expand(t.shape[0], -1, -1), t), dim=1)
        return t + pos_embed_for(dino.pos_embed, x, dino.patch_size, float(dino.interpolate_offset))

    dino.prepare_tokens_with_masks = prepare_tokens  # instance attribute: this export only

    class Export(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            m = self.m
            head = m.depth_head
            ph, pw = x.shape[-2] // 14, x.shape[-1] // 14
            feats = m.pretrained.get_intermediate_layers(
                x, m.intermediate_layer_idx[m.encoder], return_class_token=True)
            layers = []
            for i, (tok, cls) in enumerate(feats):
                if head.use_clstoken:
                    tok = head.readout_projects[i](
                        torch.cat((tok, cls.unsqueeze(1).expand_as(tok)), -1))
                f = tok.permute(0, 2, 1).reshape(tok.shape[0], tok.shape[-1], ph, pw)
                layers.append(head.resize_layers[i](head.projects[i](f)))
            s = head.scratch
            r1, r2 = s.layer1_rn(layers[0]), s.layer2_rn(layers[1])
            r3, r4 = s.layer3_rn(layers[2]), s.layer4_rn(layers[3])
            p = s.refinenet4(r4, size=r3.shape[2:])
            p = s.refinenet3(p, r3, size=r2.shape[2:])
            p = s.refinenet2(p, r2, size=r1.shape[2:])
            p = s.refinenet1(p, r1)
            out = s.output_conv1(p)
            out = F.interpolate(out, size=(ph * 14, pw * 14), mode="bilinear", align_corners=True)
            out = s.output_conv2(out)  # relative: ends in ReLU; metric: in Sigmoid
            return F.relu(out)  # relative: upstream forward's relu; metric: a no-op on [0, 1]

    return Export(model).eval()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", required=True, help="Depth-Anything-V2 checkout")
    ap.add_argument("--checkpoint", required=True, help="upstream .pth state dict")
    ap.add_argument("--encoder", choices=sorted(ENCODERS), default="vits")
    ap.add_argument("--metric", action="store_true", help="a metric_depth checkpoint")
    ap.add_argument("--max-depth", type=float, default=20.0,
                    help="metric: metres at sigmoid 1 (upstream: 20 Hypersim, 80 VKITTI)")
    ap.add_argument("--output", help="TorchScript file (default: CKPT name with .pt)")
    ap.add_argument("--config", help="vfm depth config (default: OUTPUT with .json)")
    ap.add_argument("--input-size", type=int, default=518, help="trace and config input size")
    ap.add_argument("--check-tol", type=float, default=1e-4,
                    help="max |export - upstream| / max|upstream| accepted at the check sizes")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args(argv)

    import torch
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    root = os.path.join(args.repo, "metric_depth") if args.metric else args.repo
    if not os.path.isfile(os.path.join(root, "depth_anything_v2", "dpt.py")):
        die("%s: no depth_anything_v2/dpt.py there (give the Depth-Anything-V2 checkout)" % root)
    sys.path.insert(0, os.path.abspath(root))
    try:
        from depth_anything_v2.dpt import DepthAnythingV2
    except ImportError as e:
        die("cannot import depth_anything_v2 from %s: %s" % (root, e))

    kw = dict(ENCODERS[args.encoder])
    if args.metric:
        kw["max_depth"] = 1.0  # vfm applies model.max_depth
    model = DepthAnythingV2(**kw)
    try:
        state = torch.load(args.checkpoint, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - one-line error for any load failure
        die("%s: cannot load checkpoint: %s" % (args.checkpoint, str(e).splitlines()[0]))
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        detail = " ".join(line.strip() for line in str(e).splitlines()[1:2])
        die("%s: does not fit the %s model: %s" % (args.checkpoint, args.encoder,
                                                     detail[:300]))
    model.eval()

    out_path = args.output or os.path.splitext(args.checkpoint)[0] + ".pt"
    cfg_path = args.config or os.path.splitext(out_path)[0] + ".json"
    s = args.input_size
    if s % 14:
        die("--input-size %d is not a multiple of 14" % s)

    with torch.no_grad():
        # the eager references first: the export module patches the DINOv2 instance
        sizes = [(s, s), (s, s + 14 * 12), (s + 14 * 5, s)]
        torch.manual_seed(0)
        xs = [torch.randn(1, 3, h, w) for h, w in sizes]
        refs = [model(x) for x in xs]  # [1, H, W]
        exp = build_export_module(model)
        with warnings.catch_warnings():
            # upstream's shape asserts in PatchEmbed; the shapes that matter are handled above
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(exp, torch.randn(1, 3, s, s), check_trace=False)
        worst = 0.0
        for x, ref in zip(xs, refs):
            got = traced(x)
            if tuple(got.shape) != (1, 1) + tuple(ref.shape[1:]):
                die("exported output %s for input %s, expected [1, 1, %d, %d]"
                    % (list(got.shape), list(x.shape), ref.shape[1], ref.shape[2]))
            d = float((got[:, 0] - ref).abs().max() / ref.abs().max().clamp_min(1e-12))
            worst = max(worst, d)
        if worst > args.check_tol:
            die("export differs from upstream by %.3g (relative), above --check-tol %g"
                % (worst, args.check_tol))

    info = {"exporter": "export_depth_anything_v2.py", "encoder": args.encoder,
            "metric": args.metric, "max_depth": args.max_depth if args.metric else None,
            "checkpoint": os.path.basename(args.checkpoint), "check_rel_diff": worst}
    tmp = out_path + ".tmp"
    torch.jit.save(traced, tmp, _extra_files={"vfm_export.json": json.dumps(info)})
    os.replace(tmp, out_path)

    name = os.path.splitext(os.path.basename(out_path))[0]
    cfg = {
        "task": "depth",
        "description": "Depth Anything V2 (%s%s) exported by scripts/export_depth_anything_v2.py "
                       "from %s" % (args.encoder, ", metric" if args.metric else "",
                                    os.path.basename(args.checkpoint)),
        "model": {
            "file": os.path.basename(out_path),
            "family": "dpt",
            "input_size": [s, s],
            "multiple_of": 14,
            "prediction": "metric_depth" if args.metric else "disparity",
        },
        "preprocess": {
            "color": "rgb",
            "mean": [123.675, 116.28, 103.53],
            "std": [58.395, 57.12, 57.375],
            "resize": "lower_bound",
            "interpolation": "cubic",
        },
        "postprocess": {"align_corners": True},
        "outputs": {"json": True, "png16": True,
                    "normalize": "metric_mm" if args.metric else "per_image",
                    "color": True, "colormap": "spectral"},
    }
    if args.metric:
        cfg["model"]["max_depth"] = args.max_depth
    tmp = cfg_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    os.replace(tmp, cfg_path)
    print(json.dumps({"model": out_path, "config": cfg_path, "check_rel_diff": worst,
                      "name": name}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
