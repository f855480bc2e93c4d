#!/usr/bin/python3
"""Convert Xiaoccer/MobileFaceNet_Pytorch's checkpoint (model/best/068.ckpt) to TorchScript.

TEST USE ONLY: the upstream repository has NO license file and the model was trained on
CASIA-WebFace (research use only). The converter prints a warning saying so on every successful
run, and the file it writes records it in extra_files['config.txt']. Never make this model a
project default.

Usage:
  mobilefacenet_ckpt.py SRC.ckpt OUT.pt [--quiet]

SRC: a dict {'epoch': int, 'net_state_dict': state dict} as the repository's train.py saves it
(a bare state dict is accepted too). The network is this file's own implementation of
MobileFaceNet (Chen et al. 2018, arXiv:1804.07573) with the repository's layer names and
settings: 3x3/2 conv 64 + depthwise 3x3 64 (BN + PReLU), inverted-residual bottlenecks
(t, c, n, s) = (2,64,5,2) (4,128,1,2) (2,128,6,1) (4,128,1,2) (2,128,2,1) with PReLU, 1x1 conv
512 (BN + PReLU), linear global depthwise conv 7x6 (BN), linear 1x1 conv 128 (BN). Strict key and
shape matching.

OUTPUT CONTRACT (OUT.pt, traced TorchScript)
  input   x: float32 [B, 3, 112, 96] (H = 112, W = 96), an aligned face crop (SphereFace-style
          5-point alignment), RGB, (pixel - 127.5) / 128. Fixed size (the 7x6 global depthwise
          conv needs a 7x6 final map).
  output  [B, 128] embedding, NOT normalised (L2-normalise and compare with cosine similarity;
          upstream's LFW protocol also concatenates the embedding of the horizontally flipped
          crop).

Runs on Debian's /usr/bin/python3 (torch CPU). Errors: one line `error: mobilefacenet_ckpt:
<file>: <what>` on stderr, exit 2, nothing left at OUT.
"""

import json
import os
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pth_common as pc  # noqa: E402

TOOL = "mobilefacenet_ckpt"
LICENSE_WARNING = ("warning: mobilefacenet_ckpt: the MobileFaceNet_Pytorch weights have NO license "
                   "(no LICENSE in Xiaoccer/MobileFaceNet_Pytorch; trained on CASIA-WebFace, research "
                   "only): TEST USE ONLY, do not ship or make a default")

SETTING = [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)]


class ConvBlock(nn.Module):
    """conv (no bias) + BN (+ PReLU unless linear); names conv/bn/prelu as in the checkpoint."""

    def __init__(self, cin, cout, k, s, p, dw=False, linear=False):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, p, groups=cin if dw else 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.linear = linear
        if not linear:
            self.prelu = nn.PReLU(cout)

    def forward(self, x):
        x = self.bn(self.conv(x))
        return x if self.linear else self.prelu(x)


class InvertedResidual(nn.Module):
    """expand 1x1 (BN, PReLU) -> depthwise 3x3 (BN, PReLU) -> project 1x1 (BN); skip if same shape."""

    def __init__(self, cin, cout, stride, t):
        super().__init__()
        mid = cin * t
        self.skip = stride == 1 and cin == cout
        self.conv = nn.Sequential(
            nn.Conv2d(cin, mid, 1, 1, 0, bias=False), nn.BatchNorm2d(mid), nn.PReLU(mid),
            nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), nn.BatchNorm2d(mid),
            nn.PReLU(mid),
            nn.Conv2d(mid, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.skip else y


class MobileFaceNet(nn.Module):
    def __init__(self, emb=128):
        super().__init__()
        self.conv1 = ConvBlock(3, 64, 3, 2, 1)
        self.dw_conv1 = ConvBlock(64, 64, 3, 1, 1, dw=True)
        layers, cin = [], 64
        for t, c, n, s in SETTING:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        self.blocks = nn.Sequential(*layers)
        self.conv2 = ConvBlock(128, 512, 1, 1, 0)
        self.linear7 = ConvBlock(512, 512, (7, 6), 1, 0, dw=True, linear=True)
        self.linear1 = ConvBlock(512, emb, 1, 1, 0, linear=True)

    def forward(self, x):
        x = self.linear1(self.linear7(self.conv2(self.blocks(self.dw_conv1(self.conv1(x))))))
        return x.flatten(1)


def convert(args):
    log = (lambda *a: None) if args.quiet else print
    t0 = time.time()
    try:
        state = pc.load_state_dict(args.src, inner_key="net_state_dict")
    except pc.ConvertError as e:
        if "expected a dict with key" not in e.what:
            raise
        try:
            state = pc.load_state_dict(args.src)  # a bare state dict
        except pc.ConvertError:
            raise e from None
    model = MobileFaceNet()
    pc.load_strict(model, state, args.src)
    log("%s: %s, %d parameters" % (TOOL, args.src, pc.count_params(model)))
    cfg = {"size": [96, 112], "input": "NCHW float RGB, (x-127.5)/128, aligned 112x96 (HxW)",
           "output": "[B,128] embedding (not normalised)",
           "license": "NONE - test use only (Xiaoccer/MobileFaceNet_Pytorch has no license; CASIA-WebFace)"}
    pc.trace_and_save(model, torch.zeros(1, 3, 112, 96), args.out, args.src,
                      extra_files={"config.txt": json.dumps(cfg)}, log=log)
    log("%s: wrote %s (112x96) in %.1f s" % (TOOL, args.out, time.time() - t0))
    sys.stderr.write(LICENSE_WARNING + "\n")


def main():
    p = pc.OneLineParser(prog=TOOL, tool=TOOL, description="MobileFaceNet_Pytorch .ckpt -> TorchScript (test use only)")
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--quiet", action="store_true")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    pc.run_converter(TOOL, convert, p)


if __name__ == "__main__":
    main()
