#!/usr/bin/python3
"""Re-runnable parity check of onnx2ts.py on a Depth Anything V2 ONNX export.

    check_dav2_onnx.py --repo DIR [--encoder vits] [--checkpoint FILE | --random-weights SEED]
                       [--size 518,518] [--opset 17] [--work DIR] [--threads 1]

--repo: a checkout of DepthAnything/Depth-Anything-V2 (the package `depth_anything_v2` is
imported from it; nothing of upstream is copied into vfm). The model is upstream's
DepthAnythingV2 with upstream run.py's settings for the encoder (vits: features 64,
out_channels [48, 96, 192, 384]), loaded from --checkpoint (strict) or, by default, with random
weights (--random-weights 0): every Linear / Conv weight N(0, 1/fan_in), small biases, norm
weights near 1, position embedding / class token N(0, 0.5), LayerScale gammas in [0.1, 0.5),
and the bias of the head's last conv shifted so that ~90% of the depth map is above the final
ReLU -- upstream's own initialisation (std 0.02 linears) leaves the output nearly independent of
the image, and unshifted random weights leave most of it at zero, either of which would make a
parity figure meaningless. The parity lines also give the output's fraction of zeros.

Upstream's dpt.py imports torchvision.transforms.Compose (used only by its image2tensor helper);
where torchvision is missing a stand-in module with a minimal Compose is installed. DINOv2's
layers import xformers optionally and fall back to plain PyTorch attention without it (they log
"xFormers not available"), which is also what an ONNX export traces.

Steps: export with torch.onnx.export ([1, 3, H, W] input "image", output "depth" [1, H, W],
static shape, opset 17 by default -- the highest torch 1.13 exports, with LayerNormalization; 16
decomposes LayerNorm), then onnx2ts.py --check --reference ort with an ImageNet-normalised input
range [-2.2, 2.7), then the converted TorchScript against the eager upstream model on two more
random images. Prints the parity lines and a JSON line; exit 0 when every ratio max|diff| / range
is <= 1e-4, 1 otherwise, 2 on errors. At 518x518 DINOv2 uses its position embedding as is; a
non-square --size (e.g. 518,686) also exports the bicubic position-embedding Resize.

Example:
  /usr/bin/python3 scripts/convert/check_dav2_onnx.py --repo /tmp/da2-ref --work /tmp/dav2
"""

import argparse
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 1e-4
ENCODERS = {  # upstream run.py model_configs
    "vits": {"encoder": "vits", "features": 64, "out_channels": [48, 96, 192, 384]},
    "vitb": {"encoder": "vitb", "features": 128, "out_channels": [96, 192, 384, 768]},
    "vitl": {"encoder": "vitl", "features": 256, "out_channels": [256, 512, 1024, 1024]},
}


def die(msg):
    print("error: check_dav2_onnx: %s" % msg, file=sys.stderr)
    sys.exit(2)


def install_torchvision_stand_in():
    try:
        import torchvision  # noqa: F401
        return
    except ImportError:
        pass

    class Compose:
        def __init__(self, transforms):
            self.transforms = list(transforms)

        def __call__(self, x):
            for t in self.transforms:
                x = t(x)
            return x

    tv = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    transforms.Compose = Compose
    tv.transforms = transforms
    sys.modules.update({"torchvision": tv, "torchvision.transforms": transforms})


def randomize(model, seed):
    import torch
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                w = m.weight
                fan_in = w.shape[1] * (w[0, 0].numel() if w.dim() > 2 else 1)
                if isinstance(m, torch.nn.ConvTranspose2d):
                    fan_in = w.shape[0] * w[0, 0].numel() // max(1, m.stride[0] * m.stride[1])
                w.copy_(torch.randn(w.shape, generator=g) / math.sqrt(fan_in))
                if m.bias is not None:
                    m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
            elif isinstance(m, (torch.nn.LayerNorm, torch.nn.BatchNorm2d, torch.nn.GroupNorm)):
                if m.weight is not None:
                    m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                    m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
        for name, p in model.named_parameters():
            if name.endswith(("pos_embed", "cls_token", "mask_token", "register_tokens")):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            elif name.endswith(".gamma"):  # LayerScale
                p.copy_(0.1 + 0.4 * torch.rand(p.shape, generator=g))


def calibrate_head(model, h, w, seed):
    """Shift the bias of the last conv (before the head's final ReLU) so that about 90% of the
    output is positive on a random image: random weights otherwise leave most of the depth map
    at ReLU's zero, and the parity figure would rest on a few pixels."""
    import torch
    last = [m for m in model.depth_head.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    seen = []
    hook = last.register_forward_hook(lambda m, i, o: seen.append(o.detach().clone()))  # before the in-place ReLU
    with torch.no_grad():
        model(torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(seed + 100)))
        hook.remove()
        last.bias -= torch.quantile(seen[0].flatten()[::7], 0.1)


def ratio_line(recs):
    return ", ".join("%s %s max|diff| %.3g range %.3g ratio %.2g"
                     % (r["name"], r["shape"], r["max_abs_diff"], r["range"], r["ratio"]) for r in recs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", required=True, help="Depth-Anything-V2 checkout")
    ap.add_argument("--encoder", choices=sorted(ENCODERS), default="vits")
    ap.add_argument("--checkpoint", help="upstream .pth state dict (default: random weights)")
    ap.add_argument("--random-weights", type=int, default=0, metavar="SEED")
    ap.add_argument("--size", default="518,518", help="H,W (multiples of 14)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--work", help="folder for the .onnx and .pt files (kept)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        h, w = (int(v) for v in args.size.split(","))
    except ValueError:
        die("bad --size %r" % args.size)
    if h % 14 or w % 14:
        die("--size %s: H and W must be multiples of 14" % args.size)

    import torch
    torch.set_num_threads(max(1, args.threads))
    if not os.path.isfile(os.path.join(args.repo, "depth_anything_v2", "dpt.py")):
        die("%s: no depth_anything_v2/dpt.py there" % args.repo)
    install_torchvision_stand_in()
    logging.getLogger("dinov2").setLevel(logging.ERROR)  # "xFormers not available"
    sys.path.insert(0, os.path.abspath(args.repo))
    from depth_anything_v2.dpt import DepthAnythingV2
    import depth_anything_v2.dinov2_layers.attention as attention
    xformers = bool(getattr(attention, "XFORMERS_AVAILABLE", False))

    model = DepthAnythingV2(**ENCODERS[args.encoder])
    if args.checkpoint:
        state = torch.load(args.checkpoint, map_location="cpu")
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]
        model.load_state_dict(state, strict=True)
        weights = os.path.basename(args.checkpoint)
    else:
        randomize(model, args.random_weights)
        model.eval()
        calibrate_head(model, h, w, args.random_weights)
        weights = "random seed %d" % args.random_weights
    model.eval()

    work = args.work or tempfile.mkdtemp(prefix="check-dav2-onnx-")
    os.makedirs(work, exist_ok=True)
    try:
        tag = "dav2_%s_%dx%d_op%d" % (args.encoder, h, w, args.opset)
        onnx_path, pt_path = os.path.join(work, tag + ".onnx"), os.path.join(work, tag + ".pt")
        t0 = time.time()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.randn(1, 3, h, w),), onnx_path, opset_version=args.opset,
                              do_constant_folding=True, input_names=["image"], output_names=["depth"])
        export_s = time.time() - t0
        cmd = [sys.executable, os.path.join(HERE, "onnx2ts.py"), onnx_path, pt_path, "--check",
               "--reference", "ort", "--threads", str(args.threads), "--seed", str(args.seed),
               "--input-range=-2.2,2.7"]
        t0 = time.time()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wall = time.time() - t0
        lines = [l for l in r.stdout.decode().splitlines() if l.startswith("{")]
        if not lines:
            err = r.stderr.decode(errors="replace").strip().splitlines()
            die("onnx2ts failed (exit %d): %s" % (r.returncode, err[-1] if err else "-"))
        report = json.loads(lines[-1])
        print("Depth Anything V2 %s %dx%d (%s, xformers %s), opset %d: onnx2ts vs %s "
              "(convert %.1f s, run %.1f s): %s"
              % (args.encoder, h, w, weights, "yes" if xformers else "no (plain attention)",
                 args.opset, report["reference"], report["convert_s"], wall,
                 ratio_line(report["outputs"])))
        ts = torch.jit.load(pt_path)
        g = torch.Generator().manual_seed(args.seed + 7)
        worst = 0.0
        with torch.no_grad():
            for k in range(2):
                x = torch.randn(1, 3, h, w, generator=g)
                want, got = model(x).double(), ts(x).double()
                d = float((got - want).abs().max()) if got.shape == want.shape else float("inf")
                rng = float(want.max() - want.min())
                ratio = d / (rng if rng > 0 else 1.0)
                worst = max(worst, ratio)
                print("  vs eager DepthAnythingV2, input %d: depth %s max|diff| %.3g range %.3g ratio %.2g "
                      "(zeros %.1f%%)" % (k, list(got.shape), d, rng, ratio, 100 * float((want == 0).double().mean())))
        ok = bool(report["pass"]) and r.returncode == 0 and worst <= TOLERANCE
        print(json.dumps({"encoder": args.encoder, "size": [h, w], "opset": args.opset,
                          "export_s": round(export_s, 2), "convert_s": report["convert_s"],
                          "ort": {o["name"]: o["ratio"] for o in report["outputs"]},
                          "eager_worst_ratio": worst, "pass": ok, "ops": report["ops"],
                          "onnx": onnx_path if args.work else None}))
        return 0 if ok else 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
