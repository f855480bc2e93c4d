#!/usr/bin/python3
"""Convert the face detectors of biubug6/Face-Detector-1MB-with-landmark to TorchScript.

Usage:
  retinaface_pth.py SRC.pth OUT.pt --arch mnet025|slim|rfb [--size W H] [--quiet]

SRC is one of the repository's weights/ files (plain state dicts):
  --arch mnet025  mobilenet0.25_Final.pth  RetinaFace: MobileNet-0.25 backbone (stages 1-3),
                                           3-level FPN, SSH context modules, 1x1 Class/Bbox/
                                           Landmark heads, 2 anchors per cell
  --arch slim     slim_Final.pth           "Slim": depthwise-separable backbone, 4 detection
                                           levels, depthwise heads, 3/2/2/3 anchors per cell
  --arch rfb      RBF_Final.pth            "RFB": Slim with an RFB (receptive field block) as
                                           its 8th layer
The network is this file's own implementation of those architectures (module names follow the
checkpoint keys); the state dict is loaded with strict key and shape matching.

OUTPUT CONTRACT (OUT.pt, a traced TorchScript module)
  input   x: float32 [B, 3, H, W], BGR channel order, pixel values 0..255 MINUS the per-channel
          mean (104, 117, 123) (B, G, R); no scaling. The module does no normalisation itself.
          H and W are free: the module is traced at --size (default 640 640) but every shape it
          uses is computed from the input, so any H, W >= 32 works (the converter verifies a
          second size against the eager model).
  outputs (loc, conf, landms):
          loc    [B, N, 4]   box regression (dx, dy, dw, dh) w.r.t. the priors, in variance units
          conf   [B, N, 2]   softmax over (background, face)
          landms [B, N, 10]  5 landmark offsets (dx, dy) w.r.t. the priors, in variance units
  N priors, ordered level by level (steps 8, 16, 32[, 64]), within a level row-major over the
  feature map (ceil(H/step) x ceil(W/step)), then over that level's min sizes. Prior k of cell
  (i, j) is (cx, cy, w, h) = ((j + .5) * step / W, (i + .5) * step / H, min_size / W,
  min_size / H). Decoding, outside the network, with variances (0.1, 0.2):
      cxcy = prior_cxcy + loc[:2] * 0.1 * prior_wh;  wh = prior_wh * exp(loc[2:] * 0.2)
      landmark_k = prior_cxcy + landms[2k:2k+2] * 0.1 * prior_wh
  (all normalised to [0, 1] by W, H). Min sizes per level (the repository's data/config.py):
      mnet025     [[10, 20], [32, 64], [128, 256]],          steps [8, 16, 32]
      slim, rfb   [[10, 16, 24], [32, 48], [64, 96], [128, 192, 256]], steps [8, 16, 32, 64]
  NOTE: [[16, 32], [64, 128], [256, 512]] is the cfg_mnet of the sibling repository
  biubug6/Pytorch_Retinaface; the Face-Detector-1MB weights were trained with the values above
  (checked against YuNet boxes, see tests/convert/retinaface_check.py: mean IoU 0.89 with these
  values, 0.28 with the sibling repository's). The chosen arch's min sizes, steps, variances and
  mean are written into the file as extra_files['config.txt'] (JSON).

Runs on Debian's /usr/bin/python3 (torch CPU). Errors: one line `error: retinaface_pth: <file>:
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

TOOL = "retinaface_pth"

CFG = {
    "mnet025": {"min_sizes": [[10, 20], [32, 64], [128, 256]], "steps": [8, 16, 32]},
    "slim": {"min_sizes": [[10, 16, 24], [32, 48], [64, 96], [128, 192, 256]],
             "steps": [8, 16, 32, 64]},
    "rfb": {"min_sizes": [[10, 16, 24], [32, 48], [64, 96], [128, 192, 256]],
            "steps": [8, 16, 32, 64]},
}
MEAN_BGR = [104.0, 117.0, 123.0]
VARIANCE = [0.1, 0.2]


# ----------------------------------------------------------------------------------------------
# building blocks (index layout of each nn.Sequential follows the checkpoint keys)
# ----------------------------------------------------------------------------------------------

def conv3x3_bn(cin, cout, stride=1, relu=True):
    """[0] conv 3x3 no bias, [1] BN, [2] ReLU (when relu)."""
    layers = [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def conv1x1_bn(cin, cout):
    """[0] conv 1x1 no bias, [1] BN, [2] ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def dw_separable(cin, cout, stride):
    """[0] depthwise 3x3, [1] BN, [2] ReLU, [3] pointwise 1x1, [4] BN, [5] ReLU (no biases)."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
        nn.ReLU(inplace=True),
        nn.Conv2d(cin, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def dw_head(cin, cout, stride=1):
    """[0] depthwise 3x3 with bias, [1] ReLU, [2] 1x1 conv with bias."""
    return nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin), nn.ReLU(inplace=True),
                         nn.Conv2d(cin, cout, 1))


def flatten_head(y, width):
    """[B, A*width, h, w] -> [B, h*w*A, width] (cell-major, anchor-minor)."""
    return y.permute(0, 2, 3, 1).reshape(y.shape[0], -1, width)


# ----------------------------------------------------------------------------------------------
# RetinaFace with MobileNet-0.25
# ----------------------------------------------------------------------------------------------

class MobileNetQuarter(nn.Module):
    """MobileNetV1 at width 0.25, split after the stride-8, -16 and -32 stages."""

    def __init__(self):
        super().__init__()
        self.stage1 = nn.Sequential(
            conv3x3_bn(3, 8, 2), dw_separable(8, 16, 1), dw_separable(16, 32, 2),
            dw_separable(32, 32, 1), dw_separable(32, 64, 2), dw_separable(64, 64, 1))
        self.stage2 = nn.Sequential(dw_separable(64, 128, 2),
                                    *[dw_separable(128, 128, 1) for _ in range(5)])
        self.stage3 = nn.Sequential(dw_separable(128, 256, 2), dw_separable(256, 256, 1))

    def forward(self, x):
        c3 = self.stage1(x)
        c4 = self.stage2(c3)
        c5 = self.stage3(c4)
        return c3, c4, c5


class TopDownFPN(nn.Module):
    def __init__(self, in_chs, ch):
        super().__init__()
        self.output1 = conv1x1_bn(in_chs[0], ch)
        self.output2 = conv1x1_bn(in_chs[1], ch)
        self.output3 = conv1x1_bn(in_chs[2], ch)
        self.merge1 = conv3x3_bn(ch, ch)
        self.merge2 = conv3x3_bn(ch, ch)

    def forward(self, c3, c4, c5):
        p5 = self.output3(c5)
        p4 = self.output2(c4)
        p4 = self.merge2(p4 + F.interpolate(p5, size=(p4.shape[2], p4.shape[3]), mode="nearest"))
        p3 = self.output1(c3)
        p3 = self.merge1(p3 + F.interpolate(p4, size=(p3.shape[2], p3.shape[3]), mode="nearest"))
        return p3, p4, p5


class ContextModule(nn.Module):
    """SSH: a 3x3 branch (C/2) and two stacked-3x3 branches (5x5 and 7x7 fields, C/4 each)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv3X3 = conv3x3_bn(cin, cout // 2, relu=False)
        self.conv5X5_1 = conv3x3_bn(cin, cout // 4)
        self.conv5X5_2 = conv3x3_bn(cout // 4, cout // 4, relu=False)
        self.conv7X7_2 = conv3x3_bn(cout // 4, cout // 4)
        self.conv7x7_3 = conv3x3_bn(cout // 4, cout // 4, relu=False)

    def forward(self, x):
        a = self.conv3X3(x)
        t = self.conv5X5_1(x)
        b = self.conv5X5_2(t)
        c = self.conv7x7_3(self.conv7X7_2(t))
        return F.relu(torch.cat([a, b, c], 1))


class Head1x1(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1x1 = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.conv1x1(x)


class RetinaFaceMNet(nn.Module):
    def __init__(self, anchors=2, ch=64):
        super().__init__()
        self.body = MobileNetQuarter()
        self.fpn = TopDownFPN([64, 128, 256], ch)
        self.ssh1 = ContextModule(ch, ch)
        self.ssh2 = ContextModule(ch, ch)
        self.ssh3 = ContextModule(ch, ch)
        self.ClassHead = nn.ModuleList([Head1x1(ch, anchors * 2) for _ in range(3)])
        self.BboxHead = nn.ModuleList([Head1x1(ch, anchors * 4) for _ in range(3)])
        self.LandmarkHead = nn.ModuleList([Head1x1(ch, anchors * 10) for _ in range(3)])

    def forward(self, x):
        p3, p4, p5 = self.fpn(*self.body(x))
        feats = [self.ssh1(p3), self.ssh2(p4), self.ssh3(p5)]
        loc = torch.cat([flatten_head(h(f), 4) for h, f in zip(self.BboxHead, feats)], 1)
        conf = torch.cat([flatten_head(h(f), 2) for h, f in zip(self.ClassHead, feats)], 1)
        landm = torch.cat([flatten_head(h(f), 10) for h, f in zip(self.LandmarkHead, feats)], 1)
        return loc, F.softmax(conf, dim=-1), landm


# ----------------------------------------------------------------------------------------------
# Slim and RFB
# ----------------------------------------------------------------------------------------------

class ConvBNAct(nn.Module):
    """conv (no bias) + BN + optional ReLU; attribute names as the RFB checkpoint has them."""

    def __init__(self, cin, cout, k, stride=1, pad=0, dil=1, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, pad, dilation=dil, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.01)
        self.relu = relu

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu(x) if self.relu else x


class ReceptiveFieldBlock(nn.Module):
    """Three reduce/transform/dilate branches (dilations 2, 3, 5), linear fuse + shortcut."""

    def __init__(self, cin, cout, scale=1.0, reduce=8):
        super().__init__()
        m = cin // reduce
        self.scale = scale
        self.branch0 = nn.Sequential(ConvBNAct(cin, m, 1, relu=False),
                                     ConvBNAct(m, 2 * m, 3, pad=1),
                                     ConvBNAct(2 * m, 2 * m, 3, pad=2, dil=2, relu=False))
        self.branch1 = nn.Sequential(ConvBNAct(cin, m, 1, relu=False),
                                     ConvBNAct(m, 2 * m, 3, pad=1),
                                     ConvBNAct(2 * m, 2 * m, 3, pad=3, dil=3, relu=False))
        self.branch2 = nn.Sequential(ConvBNAct(cin, m, 1, relu=False),
                                     ConvBNAct(m, (m // 2) * 3, 3, pad=1),
                                     ConvBNAct((m // 2) * 3, 2 * m, 3, pad=1),
                                     ConvBNAct(2 * m, 2 * m, 3, pad=5, dil=5, relu=False))
        self.ConvLinear = ConvBNAct(6 * m, cout, 1, relu=False)
        self.shortcut = ConvBNAct(cin, cout, 1, relu=False)

    def forward(self, x):
        y = torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)
        return F.relu(self.ConvLinear(y) * self.scale + self.shortcut(x))


class SlimDetector(nn.Module):
    """Slim (rfb=False) or RFB (rfb=True) detector; outputs as RetinaFaceMNet."""

    ANCHORS = (3, 2, 2, 3)

    def __init__(self, rfb=False):
        super().__init__()
        self.conv1 = conv3x3_bn(3, 16, 2)
        self.conv2 = dw_separable(16, 32, 1)
        self.conv3 = dw_separable(32, 32, 2)
        self.conv4 = dw_separable(32, 32, 1)
        self.conv5 = dw_separable(32, 64, 2)
        self.conv6 = dw_separable(64, 64, 1)
        self.conv7 = dw_separable(64, 64, 1)
        self.conv8 = ReceptiveFieldBlock(64, 64, scale=1.0) if rfb else dw_separable(64, 64, 1)
        self.conv9 = dw_separable(64, 128, 2)
        self.conv10 = dw_separable(128, 128, 1)
        self.conv11 = dw_separable(128, 128, 1)
        self.conv12 = dw_separable(128, 256, 2)
        self.conv13 = dw_separable(256, 256, 1)
        self.conv14 = nn.Sequential(nn.Conv2d(256, 64, 1), nn.ReLU(inplace=True),
                                    dw_head(64, 256, stride=2), nn.ReLU(inplace=True))
        chs = (64, 128, 256)
        a = self.ANCHORS

        def heads(width):
            return nn.Sequential(*[dw_head(c, a[i] * width) for i, c in enumerate(chs)],
                                 nn.Conv2d(256, a[3] * width, 3, padding=1))
        self.loc = heads(4)
        self.conf = heads(2)
        self.landm = heads(10)

    def forward(self, x):
        x = self.conv8(self.conv7(self.conv6(self.conv5(self.conv4(self.conv3(self.conv2(
            self.conv1(x))))))))
        f1 = x
        f2 = self.conv11(self.conv10(self.conv9(f1)))
        f3 = self.conv13(self.conv12(f2))
        f4 = self.conv14(f3)
        feats = [f1, f2, f3, f4]
        loc = torch.cat([flatten_head(h(f), 4) for h, f in zip(self.loc, feats)], 1)
        conf = torch.cat([flatten_head(h(f), 2) for h, f in zip(self.conf, feats)], 1)
        landm = torch.cat([flatten_head(h(f), 10) for h, f in zip(self.landm, feats)], 1)
        return loc, F.softmax(conf, dim=-1), landm


def build(arch):
    if arch == "mnet025":
        return RetinaFaceMNet()
    if arch == "slim":
        return SlimDetector(rfb=False)
    if arch == "rfb":
        return SlimDetector(rfb=True)
    raise ValueError(arch)


def num_priors(arch, w, h):
    n = 0
    for step, sizes in zip(CFG[arch]["steps"], CFG[arch]["min_sizes"]):
        n += -(-h // step) * -(-w // step) * len(sizes)
    return n


def convert(args):
    log = (lambda *a: None) if args.quiet else print
    t0 = time.time()
    w, h = args.size
    if w < 32 or h < 32:
        raise pc.ConvertError(args.src, "--size must be at least 32 32")
    state = pc.load_state_dict(args.src)
    model = build(args.arch)
    pc.load_strict(model, state, args.src)
    log("%s: %s arch %s, %d parameters" % (TOOL, args.src, args.arch, pc.count_params(model)))
    cfg = dict(CFG[args.arch], arch=args.arch, variance=VARIANCE, mean_bgr=MEAN_BGR,
               input="NCHW float BGR minus mean, no scaling", size=[w, h],
               outputs=["loc [B,N,4]", "conf [B,N,2] softmax", "landms [B,N,10]"])
    example = torch.zeros(1, 3, h, w)
    second = (3, h // 2 + 37, w // 2 + 13)  # an odd size, not a multiple of any step
    pc.trace_and_save(model, example, args.out, args.src, extra_sizes=[second],
                      extra_files={"config.txt": json.dumps(cfg)}, log=log)
    log("%s: wrote %s (traced at %dx%d, N=%d priors there) in %.1f s"
        % (TOOL, args.out, w, h, num_priors(args.arch, w, h), time.time() - t0))


def main():
    p = pc.OneLineParser(prog=TOOL, tool=TOOL, description="biubug6 RetinaFace/Slim/RFB .pth -> TorchScript")
    p.add_argument("src")
    p.add_argument("out")
    p.add_argument("--arch", required=True, choices=sorted(CFG))
    p.add_argument("--size", nargs=2, type=int, default=[640, 640], metavar=("W", "H"))
    p.add_argument("--quiet", action="store_true")
    torch.set_num_threads(min(2, torch.get_num_threads()))
    pc.run_converter(TOOL, convert, p)


if __name__ == "__main__":
    main()
