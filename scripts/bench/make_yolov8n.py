#!/usr/bin/python3
"""Builds a YOLOv8n-sized detector with random weights and saves it as TorchScript.

Usage: /usr/bin/python3 scripts/bench/make_yolov8n.py OUT.pt [--seed S]

The network follows the YOLOv8 "n" scale (width 0.25, depth 0.33, channels capped at 1024, so
16/32/64/128/256 channels): a CSP backbone of strided 3x3 convolutions and C2f blocks, an SPPF
block, a PAN-FPN neck and the decoupled anchor-free head with DFL box regression (reg_max 16)
and 80 classes. It is written here from the published architecture description; it is meant
to cost what YOLOv8n costs (about 3.2 M parameters, about 8.7 GFLOPs at 640x640), not to
detect anything. The random weights are calibrated on a few synthetic images from make_images.py
(He-normal convolutions, BatchNorm statistics measured then perturbed, class bias set so a few
dozen anchors per image pass conf 0.25), so outputs depend on the input and NMS has real work.
The build is deterministic for a given --seed.

forward(x [B, 3, 640, 640], RGB in 0..1) returns [B, 84, 8400]: rows 0-3 are cx, cy, w, h in
input pixels, rows 4-83 are sigmoid class scores, i.e. the Ultralytics export layout that vfm's
"yolov8" family decodes.
"""
import argparse
import math
import os
import sys

import torch
from torch import Tensor, nn

WIDTH, DEPTH, MAX_CH = 0.25, 0.33, 1024
NUM_CLASSES, REG_MAX = 80, 16
STRIDES = (8, 16, 32)
IMGSZ = 640


def ch(c: int) -> int:
    """Channels at this scale, rounded up to a multiple of 8."""
    return int(math.ceil(min(c, MAX_CH) * WIDTH / 8) * 8)


def reps(n: int) -> int:
    return max(round(n * DEPTH), 1)


class ConvBnAct(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d -> SiLU, 'same' padding for odd kernels."""

    def __init__(self, cin: int, cout: int, k: int = 1, s: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.03)
        self.act = nn.SiLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    """Two 3x3 convolutions, with a residual connection when asked and shapes allow."""

    def __init__(self, c: int, residual: bool):
        super().__init__()
        self.a = ConvBnAct(c, c, 3)
        self.b = ConvBnAct(c, c, 3)
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        y = self.b(self.a(x))
        return x + y if self.residual else y


class C2f(nn.Module):
    """CSP block with two halves: one half runs through n bottlenecks and every intermediate
    output is kept, all of them are concatenated and fused by a 1x1 convolution."""

    def __init__(self, cin: int, cout: int, n: int, residual: bool):
        super().__init__()
        self.hidden = cout // 2
        self.split = ConvBnAct(cin, 2 * self.hidden, 1)
        self.blocks = nn.ModuleList(Bottleneck(self.hidden, residual) for _ in range(n))
        self.fuse = ConvBnAct((2 + n) * self.hidden, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        a, b = self.split(x).split(self.hidden, 1)
        parts = [a, b]
        for m in self.blocks:
            b = m(b)
            parts.append(b)
        return self.fuse(torch.cat(parts, 1))


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: three chained 5x5 max pools, concatenated."""

    def __init__(self, cin: int, cout: int, k: int = 5):
        super().__init__()
        hidden = cin // 2
        self.reduce = ConvBnAct(cin, hidden, 1)
        self.pool = nn.MaxPool2d(k, 1, k // 2)
        self.fuse = ConvBnAct(4 * hidden, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        y0 = self.reduce(x)
        y1 = self.pool(y0)
        y2 = self.pool(y1)
        y3 = self.pool(y2)
        return self.fuse(torch.cat([y0, y1, y2, y3], 1))


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBnAct(3, ch(64), 3, 2)                                  # P1/2
        self.down2 = ConvBnAct(ch(64), ch(128), 3, 2)                          # P2/4
        self.c2 = C2f(ch(128), ch(128), reps(3), True)
        self.down3 = ConvBnAct(ch(128), ch(256), 3, 2)                         # P3/8
        self.c3 = C2f(ch(256), ch(256), reps(6), True)
        self.down4 = ConvBnAct(ch(256), ch(512), 3, 2)                         # P4/16
        self.c4 = C2f(ch(512), ch(512), reps(6), True)
        self.down5 = ConvBnAct(ch(512), ch(1024), 3, 2)                        # P5/32
        self.c5 = C2f(ch(1024), ch(1024), reps(3), True)
        self.sppf = SPPF(ch(1024), ch(1024))

    def forward(self, x: Tensor):
        x = self.c2(self.down2(self.stem(x)))
        p3 = self.c3(self.down3(x))
        p4 = self.c4(self.down4(p3))
        p5 = self.sppf(self.c5(self.down5(p4)))
        return p3, p4, p5


class Neck(nn.Module):
    """PAN-FPN: top-down with nearest upsampling, then bottom-up with strided convolutions."""

    def __init__(self):
        super().__init__()
        c3, c4, c5 = ch(256), ch(512), ch(1024)
        self.up = nn.Upsample(scale_factor=2.0, mode="nearest")
        self.td4 = C2f(c5 + c4, c4, reps(3), False)
        self.td3 = C2f(c4 + c3, c3, reps(3), False)
        self.bu3 = ConvBnAct(c3, c3, 3, 2)
        self.bu4 = C2f(c3 + c4, c4, reps(3), False)
        self.bu4d = ConvBnAct(c4, c4, 3, 2)
        self.bu5 = C2f(c4 + c5, c5, reps(3), False)

    def forward(self, p3: Tensor, p4: Tensor, p5: Tensor):
        t4 = self.td4(torch.cat([self.up(p5), p4], 1))
        o3 = self.td3(torch.cat([self.up(t4), p3], 1))
        o4 = self.bu4(torch.cat([self.bu3(o3), t4], 1))
        o5 = self.bu5(torch.cat([self.bu4d(o4), p5], 1))
        return o3, o4, o5


class Head(nn.Module):
    """Decoupled head per level: a box branch emitting 4 x REG_MAX distance logits and a class
    branch emitting NUM_CLASSES logits. Decoding: softmax over the REG_MAX bins, expectation
    (a fixed 1x1 convolution with weights 0..15), distances left/top/right/bottom from the
    anchor point (cell centre), times the level's stride."""

    def __init__(self, chans, imgsz: int):
        super().__init__()
        cb = max(16, chans[0] // 4, 4 * REG_MAX)
        cc = max(chans[0], min(NUM_CLASSES, 100))
        self.box = nn.ModuleList(
            nn.Sequential(ConvBnAct(c, cb, 3), ConvBnAct(cb, cb, 3), nn.Conv2d(cb, 4 * REG_MAX, 1))
            for c in chans)
        self.cls = nn.ModuleList(
            nn.Sequential(ConvBnAct(c, cc, 3), ConvBnAct(cc, cc, 3), nn.Conv2d(cc, NUM_CLASSES, 1))
            for c in chans)
        self.dfl = nn.Conv2d(REG_MAX, 1, 1, bias=False)
        self.dfl.weight.data[:] = torch.arange(REG_MAX, dtype=torch.float32).view(1, REG_MAX, 1, 1)
        self.dfl.weight.requires_grad_(False)
        # Anchor points (cell centres, in grid units) and strides, fixed for the input size.
        pts, strd = [], []
        for s in STRIDES:
            n = imgsz // s
            g = torch.arange(n, dtype=torch.float32) + 0.5
            gy, gx = torch.meshgrid(g, g, indexing="ij")
            pts.append(torch.stack([gx.reshape(-1), gy.reshape(-1)], 0))          # [2, n*n]
            strd.append(torch.full((1, n * n), float(s)))
        self.register_buffer("anchors", torch.cat(pts, 1))                      # [2, A]
        self.register_buffer("strides", torch.cat(strd, 1))                     # [1, A]

    def forward(self, feats):
        boxes, scores = [], []
        for i, f in enumerate(feats):
            # flatten(2) keeps the batch dimension symbolic in the trace.
            boxes.append(self.box[i](f).flatten(2))      # [B, 64, h*w]
            scores.append(self.cls[i](f).flatten(2))     # [B, 80, h*w]
        dist = torch.cat(boxes, 2)
        logits = torch.cat(scores, 2)
        a = dist.shape[2]
        # [B, 4, 16, A] -> [B, 16, 4, A]: softmax over bins, expectation by the fixed conv.
        d = dist.view(-1, 4, REG_MAX, a).transpose(1, 2).softmax(1)
        d = self.dfl(d).view(-1, 4, a)                   # [B, 4, A]  (l, t, r, b) in cells
        lt, rb = d[:, :2], d[:, 2:]
        anc = self.anchors.unsqueeze(0)
        x1y1 = anc - lt
        x2y2 = anc + rb
        xywh = torch.cat([(x1y1 + x2y2) * 0.5, x2y2 - x1y1], 1) * self.strides
        return torch.cat([xywh, logits.sigmoid()], 1)    # [B, 84, A]


class YoloV8n(nn.Module):
    def __init__(self, imgsz: int = IMGSZ):
        super().__init__()
        self.backbone = Backbone()
        self.neck = Neck()
        self.head = Head((ch(256), ch(512), ch(1024)), imgsz)

    def forward(self, x: Tensor) -> Tensor:
        p3, p4, p5 = self.backbone(x)
        return self.head(self.neck(p3, p4, p5))


def calibration_batch(n: int, seed: int) -> Tensor:
    """n letterboxed 640x640 inputs (RGB, 0..1) of the same synthetic kind as make_images.py."""
    import cv2
    import numpy as np
    from make_images import make_image

    xs = []
    for i in range(n):
        img = make_image(np.random.default_rng([seed, 99, i]), 640, 360)
        img = cv2.copyMakeBorder(img, 140, 140, 0, 0, cv2.BORDER_CONSTANT, value=(114, 114, 114))
        xs.append(torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1])).permute(2, 0, 1))
    return torch.stack(xs).float() / 255


def randomise(model: nn.Module, gen: torch.Generator, calib: Tensor):
    """Random weights that keep the signal alive through the network, with non-trivial
    BatchNorm statistics, and a class bias that lets a realistic number of anchors through.

    - convolutions: He-normal initialisation (the default init shrinks activations layer by
      layer until every output is the same constant);
    - BatchNorm: running mean/var measured on calibration images (a cumulative average over one
      train-mode pass), then perturbed, with random affine terms;
    - class bias: shifted so that about 0.3% of anchors (~25 of 8400) reach score 0.25 on the
      calibration images, i.e. a few candidates per image for NMS as with a trained model."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m is not model.head.dfl:
            fan_in = m.weight[0].numel()
            m.weight.data.copy_(torch.randn(m.weight.shape, generator=gen) * math.sqrt(2.0 / fan_in))
            if m.bias is not None:
                m.bias.data.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
            n = m.num_features
            m.weight.data.copy_(1.0 + torch.randn(n, generator=gen) * 0.2)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.2)
    model.train()
    model(calib)
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.add_(torch.randn(n, generator=gen) * 0.05 * m.running_var.sqrt())
            m.running_var.mul_(torch.empty(n).uniform_(0.8, 1.25, generator=gen))
            m.momentum = 0.03
    for seq in model.head.box:
        seq[-1].bias.data.copy_(torch.randn(seq[-1].bias.shape, generator=gen) * 0.5)
    best = model(calib)[:, 4:].max(1).values.clamp(1e-6, 1 - 1e-6)   # [B, A], bias still 0
    q = torch.quantile(torch.logit(best).flatten(), 1 - 0.003)
    shift = math.log(0.25 / 0.75) - q.item()
    for seq in model.head.cls:
        seq[-1].bias.data.fill_(shift)


def count_gflops(model: nn.Module, imgsz: int) -> float:
    """Multiply-accumulates of convolutions x 2, as the usual YOLO GFLOPs figure."""
    macs = [0]

    def hook(m, inp, out):
        k = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
        macs[0] += out.numel() * k

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, imgsz, imgsz))
    for h in hs:
        h.remove()
    return 2 * macs[0] / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed + 1)
    model = YoloV8n(IMGSZ)
    with torch.no_grad():
        randomise(model, gen, calibration_batch(8, a.seed))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)

    n_params = sum(p.numel() for p in model.parameters())
    gflops = count_gflops(model, IMGSZ)
    print(f"yolov8n (random weights): {n_params} parameters ({n_params / 1e6:.2f} M), "
          f"{gflops:.1f} GFLOPs at {IMGSZ}x{IMGSZ}")

    example = torch.rand(1, 3, IMGSZ, IMGSZ, generator=gen)
    with torch.no_grad():
        traced = torch.jit.trace(model, example, check_trace=False)
        ref1 = model(example)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    tmp = a.out + ".tmp"
    traced.save(tmp)

    # Check the saved file: shape for batch 1 and 4, and agreement with the eager module.
    loaded = torch.jit.load(tmp).eval()
    x4 = torch.rand(4, 3, IMGSZ, IMGSZ, generator=gen)
    with torch.no_grad():
        y1 = loaded(example)
        y4 = loaded(x4)
        ref4 = model(x4)
    want = (4 + NUM_CLASSES, sum((IMGSZ // s) ** 2 for s in STRIDES))
    ok = (tuple(y1.shape) == (1,) + want and tuple(y4.shape) == (4,) + want
          and torch.allclose(y1, ref1, atol=1e-3, rtol=1e-4)
          and torch.allclose(y4, ref4, atol=1e-3, rtol=1e-4)
          and torch.allclose(y4[:1], loaded(x4[:1]), atol=1e-3, rtol=1e-4))
    if not ok:
        os.remove(tmp)
        sys.exit(f"make_yolov8n: traced model check failed: batch 1 {tuple(y1.shape)}, "
                 f"batch 4 {tuple(y4.shape)}, want [B, {want[0]}, {want[1]}]")
    os.replace(tmp, a.out)
    cand = (y4[:, 4:].max(1).values >= 0.25).sum(1).tolist()
    print(f"saved {a.out}: output [B, {want[0]}, {want[1]}] checked for batch 1 and 4; "
          f"anchors >= conf 0.25 on random inputs: {cand}")


if __name__ == "__main__":
    main()
