#!/usr/bin/python3
"""A TorchScript model the size and shape of Depth Anything V2 Small, with random weights, for
the depth benchmark (scripts/bench/bench_depth.sh). No upstream code is needed.

Usage: /usr/bin/python3 scripts/bench/make_dpt_small.py OUT.pt [--seed S]

Architecture (layer sizes of Depth-Anything-V2 depth_anything_v2/dpt.py with encoder 'vits',
written here from the paper's description, not copied): a ViT-S/14 backbone (embed 384, 12
pre-norm blocks, 6 heads, MLP x4, GELU, learned position embedding for a 37x37 grid resized
bicubically to the image's grid) whose blocks 2, 5, 8 and 11 feed a DPT head (features 64,
projections to 48/96/192/384 channels, resampled x4, x2, x1, x0.5, four fusion blocks of two
residual 3x3 conv units, output convs 64->32->32->1 with ReLU). Input [B, 3, H, W] normalised,
H and W multiples of 14; output [B, H, W] (relative disparity), as export_depth_anything_v2.py
produces. About 24.8 M parameters, as the released checkpoint.

Attention is written as DINOv2's Attention.forward (qkv projection, q scaled, softmax(q k^T) v
as separate ops), the form a trace of upstream contains (export_depth_anything_v2.py on the
upstream repo gives 12 matmul-softmax-matmul chains). An earlier version used
nn.MultiheadAttention, whose one-op fast path (_native_multi_head_attention) no export has and
which allocates far less: it made the Python loop 3x faster than on the real export.
"""
import argparse

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PATCH = 14  # ViT-S/14


class Attention(nn.Module):
    """DINOv2's attention as Depth Anything V2 runs it without xformers (one qkv projection,
    q scaled, softmax(q k^T) v per head): the form its traced export contains."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        a = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.ls1 = nn.Parameter(torch.full((dim,), 1e-5))
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.ls2 = nn.Parameter(torch.full((dim,), 1e-5))

    def forward(self, x: Tensor) -> Tensor:
        y = self.norm1(x)
        x = x + self.ls1 * self.attn(y)
        return x + self.ls2 * self.mlp(self.norm2(x))


class ResidualUnit(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class Fusion(nn.Module):
    def __init__(self, c: int, with_skip: bool):
        super().__init__()
        self.unit1 = ResidualUnit(c)  # unused by the coarsest block (no skip input)
        self.unit2 = ResidualUnit(c)
        self.out = nn.Conv2d(c, c, 1)

    def forward(self, x: Tensor, skip: Tensor, size: list[int]) -> Tensor:
        if skip.numel() > 0:
            x = x + self.unit1(skip)
        x = self.unit2(x)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        return self.out(x)


class DptSmall(nn.Module):
    def __init__(self):
        super().__init__()
        dim, self.layers = 384, [2, 5, 8, 11]
        self.patch = nn.Conv2d(3, dim, 14, stride=14)
        self.cls = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, 1 + 37 * 37, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, 6) for _ in range(12)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        oc, feat = [48, 96, 192, 384], 64
        self.proj = nn.ModuleList([nn.Conv2d(dim, c, 1) for c in oc])
        self.resample = nn.ModuleList([
            nn.ConvTranspose2d(oc[0], oc[0], 4, stride=4),
            nn.ConvTranspose2d(oc[1], oc[1], 2, stride=2),
            nn.Identity(),
            nn.Conv2d(oc[3], oc[3], 3, stride=2, padding=1)])
        self.rn = nn.ModuleList([nn.Conv2d(c, feat, 3, padding=1, bias=False) for c in oc])
        self.fuse_coarse_first = nn.ModuleList([Fusion(feat, i > 0) for i in range(4)])
        self.out1 = nn.Conv2d(feat, feat // 2, 3, padding=1)
        self.out2 = nn.Sequential(nn.Conv2d(feat // 2, 32, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(32, 1, 1), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        gh, gw = h // 14, w // 14  # patch size
        t = self.patch(x).flatten(2).transpose(1, 2)
        grid = self.pos[:, 1:].reshape(1, 37, 37, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=[gh, gw], mode="bicubic", align_corners=False)
        pos = torch.cat([self.pos[:, :1], grid.flatten(2).transpose(1, 2)], 1)
        t = torch.cat([self.cls.expand(b, -1, -1), t], 1) + pos
        feats: list[Tensor] = []
        for i, blk in enumerate(self.blocks):
            t = blk(t)
            if i in self.layers:
                f = self.norm(t)[:, 1:].transpose(1, 2).reshape(b, -1, gh, gw)
                feats.append(f)
        maps: list[Tensor] = []
        i = 0
        for proj, res, rn in zip(self.proj, self.resample, self.rn):
            maps.append(rn(res(proj(feats[i]))))
            i += 1
        # Coarsest first, each fusion upsampled to the next finer map's size.
        sizes = [list(maps[2].shape[2:]), list(maps[1].shape[2:]), list(maps[0].shape[2:]),
                 [maps[0].shape[2] * 2, maps[0].shape[3] * 2]]
        skips = [torch.zeros(0), maps[2], maps[1], maps[0]]
        y = maps[3]
        i = 0
        for fuse in self.fuse_coarse_first:
            y = fuse(y, skips[i], sizes[i])
            i += 1
        y = self.out1(y)
        y = F.interpolate(y, size=[gh * 14, gw * 14], mode="bilinear", align_corners=True)
        return self.out2(y)[:, 0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    m = DptSmall().eval()
    n = sum(p.numel() for p in m.parameters())
    with torch.no_grad():
        ts = torch.jit.script(m)
        x = torch.randn(1, 3, 518, 686)
        d = (ts(x) - m(x)).abs().max().item()
        assert ts(x).shape == (1, 518, 686), ts(x).shape
    ts.save(a.out)
    print(f"{a.out}: {n / 1e6:.1f} M parameters, scripted vs eager max diff {d:.2e}")


if __name__ == "__main__":
    main()
