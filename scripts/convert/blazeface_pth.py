#!/usr/bin/python3
"""Convert hollance/BlazeFace-PyTorch weights (MediaPipe BlazeFace) to TorchScript.

Usage:
  blazeface_pth.py SRC.pth OUT.pt --variant front|back [--quiet]

SRC: blazeface.pth (front camera / short range, 128x128) or blazefaceback.pth (back camera,
256x256), plain state dicts of the repository's BlazeFace module. The network here is this
file's own implementation of MediaPipe's BlazeFace as that repository lays it out (single
BlazeBlocks: depthwise 3x3 + pointwise 1x1 with a residual; stride-2 blocks pad the conv input
by 0/2 px (TFLite SAME) and max-pool + zero-channel-pad the shortcut), loaded with strict key and
shape matching.

OUTPUT CONTRACT (OUT.pt, traced TorchScript)
  input   x: float32 [B, 3, S, S], RGB, pixel / 127.5 - 1 (range [-1, 1]); S = 128 (front) or
          256 (back). Fixed size: the 896 anchors (anchors.npy / anchorsback.npy beside the
          weights, [896, 4] = x_center, y_center, w, h normalised, w = h = 1) only fit S.
  outputs (regressors, scores):
          regressors [B, 896, 16] raw: box (dx, dy, w, h) then 6 keypoints (dx, dy), in input
                     pixels relative to the anchor centre (divide by S, scale by anchor w/h)
          scores     [B, 896, 1] raw logits (clip to +-100, sigmoid; MediaPipe thresholds 0.75
                     front / 0.65 back, weighted NMS 0.3)
  Anchor order: the 16x16 grid (2 anchors per cell) first, then the 8x8 grid (6 per cell),
  cell-major, as in anchors.npy.
The traced file carries extra_files['config.txt'] (JSON) with these facts.

Runs on Debian's /usr/bin/python3 (torch CPU). Errors: one line `error: blazeface_pth: <file>:
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

TOOL = "blazeface_pth"


class BlazeBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.stride = stride
        self.extra = cout - cin
        self.convs = nn.Sequential(
            nn.Conv2d(cin, cin, 3, stride, 0 if stride == 2 else 1, groups=cin),
            nn.Conv2d(cin, cout, 1))

    def forward(self, x):
        if self.stride == 2:
            y = self.convs(F.pad(x, [0, 2, 0, 2]))
            x = F.max_pool2d(x, 2, 2)
        else:
            y = self.convs(x)
        if self.extra > 0:
            x = F.pad(x, [0, 0, 0, 0, 0, self.extra])
        return F.relu(y + x)


class FinalBlock(nn.Module):
    """Stride-2 depthwise-separable conv without shortcut (back model's 16x16 -> 8x8)."""

    def __init__(self, ch):
        super().__init__()
        self.convs = nn.Sequential(nn.Conv2d(ch, ch, 3, 2, 0, groups=ch), nn.Conv2d(ch, ch, 1))

    def forward(self, x):
        return F.relu(self.convs(F.pad(x, [0, 2, 0, 2])))


def _stem():
    return [nn.Conv2d(3, 24, 5, 2, 0), nn.ReLU(inplace=True)]


class BlazeFace(nn.Module):
    def __init__(self, back=False):
        super().__init__()
        self.back = back
        if back:
            blocks = [BlazeBlock(24, 24) for _ in range(7)]
            for cin, cout in ((24, 24), (24, 48), (48, 96)):
                blocks += [BlazeBlock(cin, cout, 2)] + [BlazeBlock(cout, cout) for _ in range(7)]
            self.backbone = nn.Sequential(*_stem(), *blocks)
            self.final = FinalBlock(96)
            c16 = 96
        else:
            spec = [(24, 24, 1), (24, 28, 1), (28, 32, 2), (32, 36, 1), (36, 42, 1), (42, 48, 2),
                    (48, 56, 1), (56, 64, 1), (64, 72, 1), (72, 80, 1), (80, 88, 1)]
            self.backbone1 = nn.Sequential(*_stem(), *[BlazeBlock(a, b, s) for a, b, s in spec])
            self.backbone2 = nn.Sequential(BlazeBlock(88, 96, 2),
                                           *[BlazeBlock(96, 96) for _ in range(4)])
            c16 = 88
        self.classifier_8 = nn.Conv2d(c16, 2, 1)
        self.classifier_16 = nn.Conv2d(96, 6, 1)
        self.regressor_8 = nn.Conv2d(c16, 32, 1)
        self.regressor_16 = nn.Conv2d(96, 96, 1)

    def forward(self, x):
        x = F.pad(x, [1, 2, 1, 2])  # TFLite SAME padding of the 5x5 stride-2 stem
        if self.back:
            a = self.backbone(x)
            b = self.final(a)
        else:
            a = self.backbone1(x)
            b = self.backbone2(a)
        n = x.shape[0]
        scores = torch.cat([self.classifier_8(a).permute(0, 2, 3, 1).reshape(n, -1, 1),
                            self.classifier_16(b).permute(0, 2, 3, 1).reshape(n, -1, 1)], 1)
        regs = torch.cat([self.regressor_8(a).permute(0, 2, 3, 1).reshape(n, -1, 16),
                          self.regressor_16(b).permute(0, 2, 3, 1).reshape(n, -1, 16)], 1)
        return regs, scores


def build(variant):
    if variant == "front":
        return BlazeFace(back=False)
    return BlazeFace(back=True)


def convert(args):
    log = (lambda *a: None) if args.quiet else print
    t0 = time.time()
    size = 128 if args.variant == "front" else 256
    state = pc.load_state_dict(args.src)
    model = build(args.variant)
    pc.load_strict(model, state, args.src)
    log("%s: %s variant %s, %d parameters" % (TOOL, args.src, args.variant, pc.count_params(model)))
    cfg = {"variant": args.variant, "size": [size, size], "input": "NCHW float RGB, x/127.5-1",
           "outputs": ["regressors [B,896,16] raw", "scores [B,896,1] logits"],
           "scale": size, "score_threshold": 0.75 if args.variant == "front" else 0.65,
           "nms_threshold": 0.3, "anchors": "anchors.npy" if args.variant == "front" else "anchorsback.npy"}
    pc.trace_and_save(model, torch.zeros(1, 3, size, size), args.out, args.src,
                      extra_files={"config.txt": json.dumps(cfg)}, log=log)
    log("%s: wrote %s (%dx%d) in %.1f s" % (TOOL, args.out, size, size, time.time() - t0))


def main():
    p = pc.OneLineParser(prog=TOOL, tool=TOOL, description="BlazeFace-PyTorch .pth -> TorchScript")
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--variant", required=True, choices=["front", "back"])
    p.add_argument("--quiet", action="store_true")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    pc.run_converter(TOOL, convert, p)


if __name__ == "__main__":
    main()
