#!/usr/bin/python3
"""Convert sacmehta/ESPNet's Cityscapes ESPNet (encoder + light decoder) to TorchScript.

Usage:
  espnet_pth.py SRC.pth OUT.pt [--size W H] [--p 2] [--q 8] [--classes 20] [--quiet]

SRC: pretrained/decoder/espnet_p_2_q_8.pth (also _q_3, _q_5 with --q), the state dict of the
repository's test/Model.py ESPNet(classes=20, p=2, q=8). The network is this file's own
implementation of ESPNet (Mehta et al., ECCV 2018, arXiv:1803.06815): ESP modules (1x1 reduce to
C/5, five parallel 3x3 convs with dilation 1/2/4/8/16, hierarchical feature fusion by running
sums, concat, optional residual, BN + PReLU), strided ESP down-samplers, input image reinforcement
(average-pooled image concatenated at 1/2 and 1/4), and the ESPNet decoder (1/8 logits -> BN ->
2x transposed conv, concat with 1/4 projection, BN+PReLU, ESP, 2x transposed conv, BN+PReLU,
concat with the 1/2 features, 3x3 CBR, 2x transposed conv). Strict key and shape matching.
(The checkpoint has no BatchNorm num_batches_tracked entries: PyTorch 0.3 era; tolerated.)

OUTPUT CONTRACT (OUT.pt, traced TorchScript)
  input   x: float32 [B, 3, H, W], BGR channel order, normalised exactly as upstream's
          test/VisualizeResults.py does:  x = (pixel_bgr - MEAN) / STD / 255  with
              MEAN (B, G, R) = (72.3923111, 82.90893555, 73.15840149)
              STD  (B, G, R) = (45.3192215, 46.15289307, 44.91483307)
          (i.e. (pixel - MEAN) / (255 * STD)). The model does no normalisation itself.
          Traced at --size (default 1024 512, the Cityscapes half resolution the model was
          evaluated at); H and W must be multiples of 8 (the decoder's 2x transposed convs have to
          meet the encoder's 1/2 and 1/4 maps); other such sizes work (verified at a second size).
  output  [B, 20, H, W] logits (no softmax). Class index = Cityscapes train id:
          0 road, 1 sidewalk, 2 building, 3 wall, 4 fence, 5 pole, 6 traffic light,
          7 traffic sign, 8 vegetation, 9 terrain, 10 sky, 11 person, 12 rider, 13 car,
          14 truck, 15 bus, 16 train, 17 motorcycle, 18 bicycle, 19 background/void.
The traced file carries extra_files['config.txt'] (JSON: mean, std, scale, classes, palette).

Runs on Debian's /usr/bin/python3 (torch CPU). Errors: one line `error: espnet_pth: <file>:
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

TOOL = "espnet_pth"
MEAN_BGR = [72.3923111, 82.90893555, 73.15840149]
STD_BGR = [45.3192215, 46.15289307, 44.91483307]
CLASSES = ["road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
           "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car", "truck",
           "bus", "train", "motorcycle", "bicycle", "background"]
PALETTE_RGB = [[128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153],
               [153, 153, 153], [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152],
               [70, 130, 180], [220, 20, 60], [255, 0, 0], [0, 0, 142], [0, 0, 70],
               [0, 60, 100], [0, 80, 100], [0, 0, 230], [119, 11, 32], [0, 0, 0]]
BN_EPS = 1e-3


class Conv(nn.Module):
    """Bare conv ('<name>.conv.weight'), 'same' padding for odd k, optional stride/dilation."""

    def __init__(self, cin, cout, k, stride=1, dil=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, (k - 1) // 2 * dil, dilation=dil, bias=False)

    def forward(self, x):
        return self.conv(x)


BNPReLU = pc.BNPReLU
ConvBNPReLU = pc.ConvBNPReLU


class ESPBranches(nn.Module):
    """reduce (c1) -> d1, d2, d4, d8, d16 -> hierarchical sums -> concat (shared by both kinds)."""

    def __init__(self, cin, cout, reduce_k, stride):
        super().__init__()
        n = cout // 5
        n1 = cout - 4 * n
        self.c1 = Conv(cin, n, reduce_k, stride)
        self.d1 = Conv(n, n1, 3, 1, 1)
        self.d2 = Conv(n, n, 3, 1, 2)
        self.d4 = Conv(n, n, 3, 1, 4)
        self.d8 = Conv(n, n, 3, 1, 8)
        self.d16 = Conv(n, n, 3, 1, 16)

    def branches(self, x):
        r = self.c1(x)
        s2 = self.d2(r)
        s4 = s2 + self.d4(r)
        s8 = s4 + self.d8(r)
        s16 = s8 + self.d16(r)
        return torch.cat([self.d1(r), s2, s4, s8, s16], 1)


class ESPDown(ESPBranches):
    """Strided ESP (3x3/2 reduce), BN + PReLU as flat 'bn'/'act' members."""

    def __init__(self, cin, cout):
        super().__init__(cin, cout, 3, 2)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.act = nn.PReLU(cout)

    def forward(self, x):
        return self.act(self.bn(self.branches(x)))


class ESPBlock(ESPBranches):
    """ESP module (1x1 reduce) with optional identity residual, then BR as member 'bn'."""

    def __init__(self, cin, cout, residual=True):
        super().__init__(cin, cout, 1, 1)
        self.bn = BNPReLU(cout)
        self.residual = residual

    def forward(self, x):
        y = self.branches(x)
        if self.residual:
            y = y + x
        return self.bn(y)


class ImagePyramid(nn.Module):
    """Average-pool the image `times` times (3x3/2, pad 1) — 'input image reinforcement'."""

    def __init__(self, times):
        super().__init__()
        self.times = times

    def forward(self, x):
        for _ in range(self.times):
            x = F.avg_pool2d(x, 3, 2, 1)
        return x


class ESPNetC(nn.Module):
    """The encoder (ESPNet-C); forward returns the intermediate maps the decoder needs."""

    def __init__(self, classes, p, q):
        super().__init__()
        self.level1 = ConvBNPReLU(3, 16, 3, 2)
        self.sample1 = ImagePyramid(1)
        self.sample2 = ImagePyramid(2)
        self.b1 = BNPReLU(16 + 3)
        self.level2_0 = ESPDown(16 + 3, 64)
        self.level2 = nn.ModuleList([ESPBlock(64, 64) for _ in range(p)])
        self.b2 = BNPReLU(128 + 3)
        self.level3_0 = ESPDown(128 + 3, 128)
        self.level3 = nn.ModuleList([ESPBlock(128, 128) for _ in range(q)])
        self.b3 = BNPReLU(256)
        self.classifier = Conv(256, classes, 1)

    def forward(self, x):
        half = self.level1(x)
        l2_in = self.level2_0(self.b1(torch.cat([half, self.sample1(x)], 1)))
        y = l2_in
        for blk in self.level2:
            y = blk(y)
        quarter = self.b2(torch.cat([y, l2_in, self.sample2(x)], 1))
        l3_in = self.level3_0(quarter)
        z = l3_in
        for blk in self.level3:
            z = blk(z)
        eighth_logits = self.classifier(self.b3(torch.cat([l3_in, z], 1)))
        return half, quarter, eighth_logits


class ESPNet(nn.Module):
    def __init__(self, classes=20, p=2, q=8):
        super().__init__()
        self.encoder = ESPNetC(classes, p, q)
        self.level3_C = Conv(128 + 3, classes, 1)
        self.br = nn.BatchNorm2d(classes, eps=BN_EPS)
        self.conv = ConvBNPReLU(16 + classes, classes, 3, 1)
        self.up_l3 = nn.Sequential(nn.ConvTranspose2d(classes, classes, 2, 2, bias=False))
        self.combine_l2_l3 = nn.Sequential(BNPReLU(2 * classes),
                                           ESPBlock(2 * classes, classes, residual=False))
        self.up_l2 = nn.Sequential(nn.ConvTranspose2d(classes, classes, 2, 2, bias=False),
                                   BNPReLU(classes))
        self.classifier = nn.ConvTranspose2d(classes, classes, 2, 2, bias=False)

    def forward(self, x):
        half, quarter, eighth = self.encoder(x)
        up3 = self.up_l3(self.br(eighth))
        q = self.up_l2(self.combine_l2_l3(torch.cat([self.level3_C(quarter), up3], 1)))
        return self.classifier(self.conv(torch.cat([q, half], 1)))


def convert(args):
    log = (lambda *a: None) if args.quiet else print
    t0 = time.time()
    w, h = args.size
    if w % 8 or h % 8 or w < 16 or h < 16:
        raise pc.ConvertError(args.src, "--size W H must be multiples of 8 (got %d %d)" % (w, h))
    state = pc.load_state_dict(args.src)
    model = ESPNet(args.classes, args.p, args.q)
    pc.load_strict(model, state, args.src)
    log("%s: %s ESPNet(classes=%d, p=%d, q=%d), %d parameters"
        % (TOOL, args.src, args.classes, args.p, args.q, pc.count_params(model)))
    cfg = {"size": [w, h], "input": "NCHW float BGR, (x - mean) / std / 255",
           "mean_bgr": MEAN_BGR, "std_bgr": STD_BGR, "scale": 1.0 / 255,
           "output": "[B,%d,H,W] logits" % args.classes,
           "classes": CLASSES if args.classes == 20 else None,
           "palette_rgb": PALETTE_RGB if args.classes == 20 else None}
    second = (3, max(16, (h // 2) // 8 * 8 + 8), max(16, (w // 2) // 8 * 8 + 24))
    pc.trace_and_save(model, torch.zeros(1, 3, h, w), args.out, args.src, extra_sizes=[second],
                      extra_files={"config.txt": json.dumps(cfg)}, log=log)
    log("%s: wrote %s (traced at %dx%d) in %.1f s" % (TOOL, args.out, w, h, time.time() - t0))


def main():
    p = pc.OneLineParser(prog=TOOL, tool=TOOL, description="sacmehta/ESPNet .pth -> TorchScript")
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--size", nargs=2, type=int, default=[1024, 512], metavar=("W", "H"))
    p.add_argument("--p", type=int, default=2)
    p.add_argument("--q", type=int, default=8)
    p.add_argument("--classes", type=int, default=20)
    p.add_argument("--quiet", action="store_true")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    pc.run_converter(TOOL, convert, p)


if __name__ == "__main__":
    main()
