#!/usr/bin/python3
"""Convert clovaai/ext_portrait_segmentation's SINet portrait segmenter to TorchScript.

Usage:
  sinet_pth.py SRC.pth OUT.pt [--size W H] [--quiet]

SRC: result/SINet/SINet.pth, the state dict of the repository's Dnc_SINet(classes=2, p=2, q=8,
chnn=1) (models/SINet.py). The network is this file's own implementation of SINet (Park et al.,
WACV 2020, arXiv:1911.09099): CBR stem; depthwise-separable down-samplers with a squeeze block
(global average -> FC + PReLU layers -> channel re-weighting, no sigmoid, as upstream trains it);
S2 modules (grouped 1x1 reduce, channel shuffle, two S2 blocks each = optional k x k average
pool, depthwise k x k + BN, PReLU, 1x1 conv, optional bilinear re-upsampling (align_corners),
BN; concat, residual, BN + PReLU) with upstream's per-module (kernel, pool) configuration; and the
information-blocking decoder (1/8 logits upsampled; their (1 - max softmax) confidence gates the
1/4 encoder features; 2x bilinear + 3x3 conv to full size). Strict key and shape matching.

OUTPUT CONTRACT (OUT.pt, traced TorchScript)
  input   x: float32 [B, 3, H, W], BGR channel order, the image resized to W x H and then
          normalised as upstream's demo code (etc/Visualize_webCam.py, evaluateModelCV):
              x = (pixel_bgr - MEAN) / STD / 255
          MEAN (B, G, R) = (107.304565, 115.69884, 132.35703)
          STD  (B, G, R) = (63.97182, 65.1337, 68.29726)
          The model does no normalisation itself. Traced at --size (default 224 224, the
          training size); H and W must be multiples of 32 (the S2 blocks that pool by 4 at 1/8
          scale must upsample back to the same size); verified at a second size.
  output  [B, 2, H, W] logits: channel 0 background, channel 1 person (foreground =
          softmax(.)[:, 1] > 0.5, or argmax).
The traced file carries extra_files['config.txt'] (JSON: mean, std, scale, size, classes).

Runs on Debian's /usr/bin/python3 (torch CPU). Errors: one line `error: sinet_pth: <file>:
<what>` on stderr, exit 2, nothing left at OUT.
"""

import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pth_common as pc  # noqa: E402

TOOL = "sinet_pth"
MEAN_BGR = [107.304565, 115.69884, 132.35703]
STD_BGR = [63.97182, 65.1337, 68.29726]
EPS = 1e-3

# (kernel, pool) of the two S2 blocks of each S2 module: 2 modules at 1/4, 8 at 1/8 (p=2, q=8)
S2_CONFIG = [[(3, 1), (5, 1)], [(3, 1), (3, 1)],
             [(3, 1), (5, 1)], [(3, 1), (3, 1)], [(5, 1), (3, 2)], [(5, 2), (3, 4)],
             [(3, 1), (3, 1)], [(5, 1), (5, 1)], [(3, 2), (3, 4)], [(3, 1), (5, 2)]]


def up2(x, factor=2):
    return F.interpolate(x, scale_factor=float(factor), mode="bilinear", align_corners=True)


BR = pc.BNPReLU
CBR = pc.ConvBNPReLU


class PlainConv(nn.Module):
    def __init__(self, cin, cout, k=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, 1, (k - 1) // 2, groups=groups, bias=False)

    def forward(self, x):
        return self.conv(x)


class Squeeze(nn.Module):
    """Channel re-weighting by FC layers on the global average (no gating non-linearity)."""

    def __init__(self, ch, divide):
        super().__init__()
        if divide > 1:
            mid = int(ch / divide)
            self.dense = nn.Sequential(nn.Linear(ch, mid), nn.PReLU(mid), nn.Linear(mid, ch),
                                       nn.PReLU(ch))
        else:
            self.dense = nn.Sequential(nn.Linear(ch, ch), nn.PReLU(ch))

    def forward(self, x):
        w = self.dense(x.mean((2, 3)))
        return x * w.unsqueeze(2).unsqueeze(3)


class SEDownsample(nn.Module):
    """depthwise 3x3/2 -> squeeze -> pointwise 1x1 -> BN -> PReLU."""

    def __init__(self, cin, cout, divide):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, cin, 3, 2, 1, groups=cin, bias=False),
                                  Squeeze(cin, divide),
                                  nn.Conv2d(cin, cout, 1, bias=False))
        self.bn = nn.BatchNorm2d(cout, eps=EPS)
        self.act = nn.PReLU(cout)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class S2Block(nn.Module):
    def __init__(self, cin, cout, k, pool):
        super().__init__()
        self.pool = pool
        self.conv = nn.Sequential(nn.Conv2d(cin, cin, k, 1, (k - 1) // 2, groups=cin, bias=False),
                                  nn.BatchNorm2d(cin, eps=EPS))
        self.act_conv1x1 = nn.Sequential(nn.PReLU(cin), nn.Conv2d(cin, cout, 1, bias=False))
        self.bn = nn.BatchNorm2d(cout, eps=EPS)

    def forward(self, x):
        if self.pool > 1:
            x = F.avg_pool2d(x, self.pool, self.pool)
        x = self.act_conv1x1(self.conv(x))
        if self.pool > 1:
            x = up2(x, self.pool)
        return self.bn(x)


class S2Module(nn.Module):
    def __init__(self, cin, cout, config, residual=True):
        super().__init__()
        groups = len(config)
        n = cout // groups
        n1 = cout - groups * n
        self.groups = groups
        self.c1 = PlainConv(cin, n, 1, groups=groups)
        self.d1 = S2Block(n, n + n1, *config[0])
        self.d2 = S2Block(n, n, *config[1])
        self.BR = BR(cout)
        self.residual = residual

    def forward(self, x):
        r = self.c1(x)
        b, c, h, w = r.shape[0], r.shape[1], r.shape[2], r.shape[3]
        r = r.reshape(b, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(b, c, h, w)
        y = torch.cat([self.d1(r), self.d2(r)], 1)
        if self.residual:
            y = y + x
        return self.BR(y)


class SINetEncoder(nn.Module):
    def __init__(self, classes, p, q):
        super().__init__()
        d1, d2, d3 = 16, 48, 96
        self.level1 = CBR(3, 12, 3, 2)
        self.level2_0 = SEDownsample(12, d1, divide=1)
        self.level2 = nn.ModuleList(
            [S2Module(d1 if i == 0 else d2, d2, S2_CONFIG[i], residual=i > 0) for i in range(p)])
        self.BR2 = BR(d2 + d1)
        self.level3_0 = SEDownsample(d2 + d1, d2, divide=2)
        self.level3 = nn.ModuleList(
            [S2Module(d2 if i == 0 else d3, d3, S2_CONFIG[2 + i], residual=i > 0) for i in range(q)])
        self.BR3 = BR(d3 + d2)
        self.classifier = PlainConv(d3 + d2, classes, 1)


class SINet(nn.Module):
    def __init__(self, classes=2, p=2, q=8):
        super().__init__()
        self.encoder = SINetEncoder(classes, p, q)
        self.bn_3 = nn.BatchNorm2d(classes, eps=EPS)
        self.level2_C = CBR(48, classes, 1, 1)
        self.bn_2 = nn.BatchNorm2d(classes, eps=EPS)
        self.classifier = nn.Sequential(nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=True),
                                        nn.Conv2d(classes, classes, 3, 1, 1, bias=False))

    def forward(self, x):
        e = self.encoder
        quarter_in = e.level2_0(e.level1(x))
        y = quarter_in
        for m in e.level2:
            y = m(y)
        quarter = y
        z = e.level3_0(e.BR2(torch.cat([quarter_in, quarter], 1)))
        eighth_in = z
        for m in e.level3:
            z = m(z)
        logits8 = e.classifier(e.BR3(torch.cat([eighth_in, z], 1)))
        stage1 = self.bn_3(up2(logits8))                      # 1/4
        confidence = torch.softmax(stage1, 1).max(1, keepdim=True)[0]
        gated = self.level2_C(quarter) * (1 - confidence)     # information blocking
        stage2 = self.bn_2(up2(gated + stage1))               # 1/2
        return self.classifier(stage2)


def convert(args):
    log = (lambda *a: None) if args.quiet else print
    t0 = time.time()
    w, h = args.size
    if w % 32 or h % 32 or w < 32 or h < 32:
        raise pc.ConvertError(args.src, "--size W H must be multiples of 32 (got %d %d)" % (w, h))
    state = pc.load_state_dict(args.src)
    model = SINet(2, 2, 8)
    pc.load_strict(model, state, args.src)
    log("%s: %s SINet(classes=2, p=2, q=8), %d parameters" % (TOOL, args.src, pc.count_params(model)))
    cfg = {"size": [w, h], "input": "NCHW float BGR resized to size, (x - mean) / std / 255",
           "mean_bgr": MEAN_BGR, "std_bgr": STD_BGR, "scale": 1.0 / 255,
           "output": "[B,2,H,W] logits", "classes": ["background", "person"]}
    second = (3, h + 64, w + 32)
    pc.trace_and_save(model, torch.zeros(1, 3, h, w), args.out, args.src, extra_sizes=[second],
                      extra_files={"config.txt": json.dumps(cfg)}, log=log)
    log("%s: wrote %s (traced at %dx%d) in %.1f s" % (TOOL, args.out, w, h, time.time() - t0))


def main():
    p = pc.OneLineParser(prog=TOOL, tool=TOOL, description="clovaai SINet .pth -> TorchScript")
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--size", nargs=2, type=int, default=[224, 224], metavar=("W", "H"))
    p.add_argument("--quiet", action="store_true")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    pc.run_converter(TOOL, convert, p)


if __name__ == "__main__":
    main()
