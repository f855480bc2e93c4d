#!/usr/bin/python3
"""Exports a semantic segmenter to the TorchScript file vfm's `semantic` family runs, plus the
config that names it.

    export_semantic.py --arch ARCH (--checkpoint FILE | --random-weights SEED)
                       [--package DIR] --out DIR [--name NAME]

Architectures (--arch), each built by its upstream code, weights loaded with load_state_dict
(strict); nothing of upstream is copied into vfm:

  torchvision (Debian's python3-torchvision; checkpoints from download.pytorch.org, e.g.
  lraspp_mobilenet_v3_large-d234d4ea.pth, the COCO-with-VOC-labels weights torchvision ships):
    deeplabv3_resnet50  deeplabv3_resnet101  deeplabv3_mobilenet_v3_large
    fcn_resnet50        fcn_resnet101        lraspp_mobilenet_v3_large
      21 classes (background + Pascal VOC's 20). Preprocessing as torchvision's weights
      transforms (torchvision/transforms/_presets.py SemanticSegmentation(resize_size=520)):
      RGB, shorter side to 520 keeping the aspect (vfm: preprocess.resize lower_bound), ImageNet
      mean/std. The model upsamples its logits to the input size itself; the auxiliary head of
      the ResNet checkpoints is loaded (strict) but not exported.
  bisenet-face (face parsing: hair, clothes, skin, ...; --package: a checkout of
  https://github.com/zllrunning/face-parsing.PyTorch, checkpoint 79999_iter.pth from its README):
      19 classes of CelebAMask-HQ, in the order of upstream's prepropess_data.py (0 background,
      then skin ... hat). Preprocessing as upstream test.py: RGB, stretched to 512x512
      (PIL bilinear; vfm: area), ImageNet mean/std; the first of BiSeNet's three outputs (the
      fused head; the other two are training-only auxiliary heads).

The exported forward(x: float [B, 3, H, W], already normalised by vfm) -> logits [B, C, H', W'].
It is traced, then checked against the eager model at two input shapes (the traced graph must
follow the input size, since preprocess.resize lower_bound gives every aspect its own size).

A checkpoint whose name carries torchvision's hash suffix (NAME-<hex>.pth) is checked as
torch.hub does: its sha256 must start with that hex.

--random-weights SEED: the architecture with variance-preserving random weights
(export_sam.randomize_weights), for contract tests and parity runs (scripts/parity_semantic.py
rebuilds the same weights from the seed).

Files written to --out (NAME defaults to ARCH): NAME.pt and NAME.json (the vfm config, with the
file's sha256). The last line on stdout is a JSON summary.
"""
import argparse
import hashlib
import importlib
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

IMAGENET_MEAN = [123.675, 116.28, 103.53]  # (0.485, 0.456, 0.406) x 255
IMAGENET_STD = [58.395, 57.12, 57.375]  # (0.229, 0.224, 0.225) x 255

# torchvision/models/segmentation/_utils.py _VOC_CATEGORIES (torchvision 0.14)
VOC_LABELS = ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
              "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
              "sheep", "sofa", "train", "tvmonitor"]
# face-parsing.PyTorch prepropess_data.py `atts`, label l = index + 1 (0: background)
CELEBAMASK_LABELS = ["background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g",
                     "l_ear", "r_ear", "ear_r", "nose", "mouth", "u_lip", "l_lip", "neck",
                     "neck_l", "cloth", "hair", "hat"]

TORCHVISION_ARCHS = ("deeplabv3_resnet50", "deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large",
                     "fcn_resnet50", "fcn_resnet101", "lraspp_mobilenet_v3_large")
ARCHS = TORCHVISION_ARCHS + ("bisenet-face",)


class ExportError(Exception):
    pass


def arch_spec(arch):
    """What vfm needs to run ARCH: labels, input size, preprocessing, check shapes (H, W)."""
    if arch in TORCHVISION_ARCHS:
        return {"labels": VOC_LABELS, "input_size": [520, 520],
                "preprocess": {"color": "rgb", "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                               "resize": "lower_bound", "interpolation": "area"},
                "check_shapes": [(1, 520, 520), (2, 520, 692)],
                "reference": "torchvision " + arch + " (SemanticSegmentation(resize_size=520))"}
    if arch == "bisenet-face":
        return {"labels": CELEBAMASK_LABELS, "input_size": [512, 512],
                "preprocess": {"color": "rgb", "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
                               "resize": "stretch", "interpolation": "area"},
                "check_shapes": [(1, 512, 512), (2, 384, 512)],
                "reference": "zllrunning/face-parsing.PyTorch test.py (512x512, BiSeNet out[0])"}
    raise ExportError(f"unknown --arch {arch} (known: {', '.join(ARCHS)})")


def load_state_dict(path):
    import torch
    sd = torch.load(path, map_location="cpu")
    if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):
        sd = sd["model"]  # torchvision training references save {"model": ..., ...}
    if not isinstance(sd, dict):
        raise ExportError(f"{path}: not a state_dict")
    return sd


def check_hash_suffix(path):
    """torch.hub's convention (hub.py HASH_REGEX): NAME-<hex>.ext, sha256 starting with hex."""
    m = re.search(r"-([a-f0-9]{6,})\.", os.path.basename(path))
    if not m:
        return None
    digest = sha256_of(path)
    if not digest.startswith(m.group(1)):
        raise ExportError(f"{path}: sha256 {digest} does not start with the file name's "
                          f"{m.group(1)} (corrupt or renamed download)")
    return digest


def _build_torchvision(arch, sd):
    from torchvision.models import segmentation
    aux = sd is not None and any(k.startswith("aux_classifier.") for k in sd)
    kwargs = {"weights": None, "weights_backbone": None, "num_classes": len(VOC_LABELS)}
    if not arch.startswith("lraspp"):
        kwargs["aux_loss"] = aux
    model = getattr(segmentation, arch)(**kwargs)

    class Out(__import__("torch").nn.Module):
        """torchvision's segmentation models return {"out": logits, "aux": ...}."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m(x)["out"]

    return model, Out(model)


def _build_bisenet(package, sd):
    import torch
    if not package or not os.path.isfile(os.path.join(package, "model.py")):
        raise ExportError("--arch bisenet-face needs --package, a face-parsing.PyTorch checkout "
                          "(model.py, resnet.py)")
    sys.path.insert(0, os.path.abspath(package))
    resnet = importlib.import_module("resnet")
    # Upstream's Resnet18.__init__ downloads ImageNet weights (init_weight, model_zoo.load_url);
    # the checkpoint (or random weights) replaces them all, so skip the download.
    resnet.Resnet18.init_weight = lambda self: None
    model = importlib.import_module("model").BiSeNet(n_classes=len(CELEBAMASK_LABELS))

    class Out(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m(x)[0]

    return model, Out(model)


def build(arch, checkpoint=None, random_seed=None, package=None):
    """Returns (upstream model, exportable wrapper) in eval mode with the weights loaded."""
    import torch
    sd = load_state_dict(checkpoint) if checkpoint else None
    if random_seed is not None:
        torch.manual_seed(random_seed)
    if arch in TORCHVISION_ARCHS:
        model, wrapper = _build_torchvision(arch, sd)
    elif arch == "bisenet-face":
        model, wrapper = _build_bisenet(package, sd)
    else:
        raise ExportError(f"unknown --arch {arch}")
    if sd is not None:
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            raise ExportError(f"{checkpoint}: not a {arch} checkpoint: {str(e).splitlines()[0]}")
    else:
        from export_sam import randomize_weights
        randomize_weights(model, random_seed)
    model.eval()
    wrapper.eval()
    return model, wrapper


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", required=True, choices=ARCHS)
    w = ap.add_mutually_exclusive_group(required=True)
    w.add_argument("--checkpoint", help="upstream .pth state_dict")
    w.add_argument("--random-weights", type=int, metavar="SEED",
                   help="random weights (tests, parity runs)")
    ap.add_argument("--package", help="bisenet-face: face-parsing.PyTorch checkout")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--name", help="file name stem (default ARCH)")
    ap.add_argument("--tol", type=float, default=1e-4,
                    help="max abs diff traced vs eager, relative to max(1, |logits|)")
    args = ap.parse_args(argv)

    import torch
    name = args.name or args.arch
    spec = arch_spec(args.arch)
    t0 = time.time()
    try:
        ck_sha = check_hash_suffix(args.checkpoint) if args.checkpoint else None
        _, wrapper = build(args.arch, args.checkpoint, args.random_weights, args.package)
    except (ExportError, OSError) as e:
        print(f"error: export_semantic: {e}", file=sys.stderr)
        return 2
    print(f"built {args.arch} ({sum(p.numel() for p in wrapper.parameters()) / 1e6:.2f} M "
          f"parameters) in {time.time() - t0:.1f} s", flush=True)

    gen = torch.Generator().manual_seed(1234)
    shapes = spec["check_shapes"]
    xs = [torch.randn(b, 3, h, w_, generator=gen) for b, h, w_ in shapes]
    worst = 0.0
    with torch.no_grad():
        ts = torch.jit.trace(wrapper, (xs[0],), check_trace=False)
        for x in xs:
            ref, got = wrapper(x), ts(x)
            if got.shape != ref.shape or got.shape[1] != len(spec["labels"]):
                print(f"error: export_semantic: traced output {tuple(got.shape)} vs eager "
                      f"{tuple(ref.shape)} for input {tuple(x.shape)} ({len(spec['labels'])} "
                      "classes expected)", file=sys.stderr)
                return 1
            d = float((got - ref).abs().max()) / max(1.0, float(ref.abs().max()))
            print(f"traced vs eager {tuple(x.shape)} -> {tuple(got.shape)}: max abs diff "
                  f"{float((got - ref).abs().max()):.3g} (|max| {float(ref.abs().max()):.3g})",
                  flush=True)
            worst = max(worst, d)
    if worst > args.tol:
        print(f"error: export_semantic: traced differs from eager by {worst:.3g} (relative) > "
              f"{args.tol}", file=sys.stderr)
        return 1

    os.makedirs(args.out, exist_ok=True)
    fname = f"{name}.pt"
    path = os.path.join(args.out, fname)
    info = {"exporter": "vfm scripts/export_semantic.py", "arch": args.arch,
            "weights": (os.path.basename(args.checkpoint) if args.checkpoint
                        else f"random seed {args.random_weights}")}
    torch.jit.save(ts, path + ".tmp", _extra_files={"vfm_export.json": json.dumps(info)})
    os.replace(path + ".tmp", path)
    sha = sha256_of(path)
    cfg = {
        "task": "segment",
        "description": f"{args.arch} exported by scripts/export_semantic.py ({info['weights']}); "
                       f"preprocessing as {spec['reference']}",
        "model": {"family": "semantic", "file": fname, "sha256": sha,
                  "input_size": spec["input_size"]},
        "preprocess": spec["preprocess"],
        "semantic": {"output": 0, "background": 0},
        "labels": spec["labels"],
        "outputs": {"json": True, "label_map": True, "overlay": True, "coco": True},
    }
    cfg_path = os.path.join(args.out, f"{name}.json")
    with open(cfg_path + ".tmp", "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    os.replace(cfg_path + ".tmp", cfg_path)
    print(json.dumps({"model": path, "sha256": sha, "config": cfg_path,
                      "checkpoint_sha256": ck_sha, "traced_vs_eager_rel": worst}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
