#!/usr/bin/python3
"""Known answers for tests/unit/test_mask_ops.cpp and test_amg.cpp (not run in CI).

Runs facebookresearch/segment-anything's own functions (segment_anything/utils/amg.py,
utils/transforms.py, modeling/sam.py Sam.postprocess_masks) from a checkout given as the first
argument, and torch's F.interpolate, and prints the numbers pasted into the tests. Also measures
how far cv2.resize(INTER_LINEAR), and the double-position bilinear that mask_ops.cpp uses instead,
are from F.interpolate(bilinear, align_corners=False) on random arrays, up and down. Needs numpy,
torch, cv2 (Debian: /usr/bin/python3); torchvision is stubbed since only its image resize (unused
here) needs it.

The RLE strings in test_mask_ops.cpp come from cocodataset/cocoapi common/maskApi.c
(rleToString / rleToBbox) built with a small C driver; pycocotools is not packaged here.

    /usr/bin/python3 tests/unit/gen_mask_ops_expected.py /path/to/segment-anything
"""
import sys
import types
from types import SimpleNamespace

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def load_upstream(root):
    for name in ["torchvision", "torchvision.transforms", "torchvision.transforms.functional",
                 "torchvision.ops", "torchvision.ops.boxes"]:
        sys.modules[name] = types.ModuleType(name)
    tf = sys.modules["torchvision.transforms.functional"]
    tf.resize = tf.to_pil_image = None
    ob = sys.modules["torchvision.ops.boxes"]
    ob.batched_nms = ob.box_area = None
    sys.path.insert(0, root)
    from segment_anything.modeling.sam import Sam
    from segment_anything.utils import amg
    from segment_anything.utils.transforms import ResizeLongestSide
    return Sam, amg, ResizeLongestSide


def pattern(h, w):
    """The deterministic logits the C++ tests build too (exact in float32)."""
    y, x = np.mgrid[0:h, 0:w]
    return ((((x * 31 + y * 17 + x * y) % 23) - 11) / 4.0).astype(np.float32)


def torch_like_resize(a, oh, ow):
    """What mask_ops.cpp does: float scale in / out, source position in double, float weights."""
    def axis(n_in, n_out):
        scale = float(np.float32(n_in) / np.float32(n_out))
        x = np.maximum(scale * (np.arange(n_out) + 0.5) - 0.5, 0.0)
        i0 = np.minimum(x.astype(np.int64), n_in - 1)
        w1 = np.clip((x - i0).astype(np.float32), 0, 1)
        return i0, np.minimum(i0 + 1, n_in - 1), w1
    x0, x1, wx = axis(a.shape[1], ow)
    y0, y1, wy = axis(a.shape[0], oh)
    rows = (1 - wx) * a[:, x0] + wx * a[:, x1]
    return (1 - wy)[:, None] * rows[y0] + wy[:, None] * rows[y1]


def mask_from_rows(rows):
    return np.array([[c == "#" for c in r] for r in rows], dtype=bool)


def main():
    Sam, amg, RLS = load_upstream(sys.argv[1])
    np.set_printoptions(precision=9, suppress=True, linewidth=120)

    print("== generate_crop_boxes")
    for (h, w, layers, ratio) in [(480, 640, 1, 512 / 1500), (480, 640, 2, 512 / 1500),
                                  (1080, 1920, 1, 0.25)]:
        boxes, idx = amg.generate_crop_boxes((h, w), layers, ratio)
        print(w, h, layers, ratio, [b + [l] for b, l in zip(boxes, idx)])

    print("== point grids")
    for n in [1, 2, 32]:
        g = amg.build_point_grid(n)
        print(n, g.shape, g[0].tolist(), g[min(1, len(g) - 1)].tolist(), g[-1].tolist())
    for args in [(32, 2, 2), (5, 2, 2), (16, 1, 1)]:
        print(args, [len(g) for g in amg.build_all_layer_point_grids(*args)])

    print("== is_box_near_crop_edge (orig 640x480)")
    crop = [0, 0, 402, 322]
    for b in [[10, 10, 100, 100], [10, 10, 390, 100], [10, 10, 100, 305], [10, 10, 381, 301],
              [10, 10, 382, 100], [300, 200, 402, 322]]:
        r = amg.is_box_near_crop_edge(torch.tensor([b], dtype=torch.float), crop, [0, 0, 640, 480])
        print(crop, b, bool(r[0]))
    crop = [239, 159, 640, 480]
    for b in [[0, 0, 50, 50], [25, 25, 50, 50], [21, 100, 50, 120], [20, 100, 50, 120],
              [100, 100, 401, 321]]:
        r = amg.is_box_near_crop_edge(torch.tensor([b], dtype=torch.float), crop, [0, 0, 640, 480])
        print(crop, b, bool(r[0]))

    print("== stability score of pattern(7, 9)")
    t = torch.from_numpy(pattern(7, 9))[None]
    for thr, off in [(0.0, 1.0), (0.5, 0.25), (1.0, 0.3), (10.0, 1.0)]:
        s = amg.calculate_stability_score(t, thr, off)
        print(thr, off, float(s[0]), int((t > thr + off).sum()), int((t > thr - off).sum()))

    print("== batched_mask_to_box")
    m = mask_from_rows(["......", "...#..", "......", ".#....", "......"])
    print(amg.batched_mask_to_box(torch.from_numpy(m)).tolist())
    print(amg.batched_mask_to_box(torch.zeros(4, 5, dtype=torch.bool)).tolist())

    print("== remove_small_regions")
    cases = {
        "holes": ["##########", "#.######.#", "#.###..###", "######..##", "##########",
                  "###....###", "###....###", "##########"],
        "islands": ["##....#...", "##.......#", "......##..", ".....###..", "#....##...",
                    "..........", "###......#", "###.....##"],
        "small": ["#.........", "..........", ".....##...", "..........", ".........#"],
        "diag": ["#.....", ".#....", "..#...", "......", "....##", "....##"],
    }
    for name, rows in cases.items():
        m = mask_from_rows(rows)
        for mode in ["holes", "islands"]:
            for thr in [2, 3, 5, 7]:
                out, changed = amg.remove_small_regions(m, thr, mode)
                print(name, mode, thr, changed, ["".join("#" if v else "." for v in r) for r in out])

    print("== mask_to_rle_pytorch")
    m = mask_from_rows([".##.", ".#..", "##.#"])
    print(amg.mask_to_rle_pytorch(torch.from_numpy(m)[None]))

    print("== get_preprocess_shape / apply_coords / apply_boxes (long side 1024)")
    t = RLS(1024)
    for w, h in [(640, 480), (480, 640), (1920, 1080), (1, 1), (1000, 3), (3, 1000), (1024, 1024),
                 (2000, 1500), (333, 777)]:
        nh, nw = t.get_preprocess_shape(h, w, 1024)
        c = t.apply_coords(np.array([[0.0, 0.0], [w, h], [100.5, 2.25]]), (h, w))
        b = t.apply_boxes(np.array([[10.0, 20.0, 30.5, 40.25]]), (h, w))
        print(w, h, "->", nw, nh, c.tolist(), b.tolist())

    print("== postprocess_masks")
    fake = SimpleNamespace(image_encoder=SimpleNamespace(img_size=None))
    for (lh, lw, long_side, w, h, samples) in [
            (256, 256, 1024, 640, 480, [(0, 0), (0, 639), (479, 0), (479, 639), (100, 200),
                                        (240, 320), (333, 517), (17, 3)]),
            (8, 8, 32, 10, 7, None),
            (16, 16, 64, 1500, 1000, [(0, 0), (999, 1499), (500, 750), (123, 987), (7, 1)]),
            (16, 16, 64, 30, 40, [(0, 0), (0, 29), (39, 0), (39, 29), (1, 1), (20, 13), (37, 28)])]:
        fake.image_encoder.img_size = long_side
        nh, nw = RLS.get_preprocess_shape(h, w, long_side)
        low = torch.from_numpy(pattern(lh, lw))[None, None]
        out = Sam.postprocess_masks(fake, low, (nh, nw), (h, w))[0, 0].numpy()
        print(lw, lh, long_side, w, h, out.shape)
        if samples is None:
            print(np.array2string(out, separator=", "))
        else:
            print([(y, x, float(out[y, x])) for y, x in samples])

    # Logits in SAM's range (8 * pattern: +-22) to 1900x1000: the points where cv2.resize is
    # furthest from torch, and a few others.
    fake.image_encoder.img_size = 1024
    nh, nw = RLS.get_preprocess_shape(1000, 1900, 1024)
    a = 8 * pattern(256, 256)
    ref = Sam.postprocess_masks(fake, torch.from_numpy(a)[None, None], (nh, nw), (1000, 1900))
    ref = ref[0, 0].numpy()
    sq = cv2.resize(a, (1024, 1024), interpolation=cv2.INTER_LINEAR)
    d = np.abs(ref - cv2.resize(sq[:nh, :nw], (1900, 1000), interpolation=cv2.INTER_LINEAR))
    pts = [divmod(int(i), 1900) for i in np.argsort(d.ravel())[::-1][:3]]
    pts += [(0, 1899), (999, 0), (500, 950), (123, 1500)]
    print("8 * pattern(256, 256) -> 1900x1000:",
          [(y, x, float(ref[y, x]), float(d[y, x])) for y, x in pts])

    print("== cv2.resize INTER_LINEAR vs F.interpolate bilinear align_corners=False")
    rng = np.random.default_rng(0)
    worst = 0.0
    for (ih, iw, oh, ow) in [(256, 256, 1024, 1024), (1024, 1024, 256, 256), (37, 53, 101, 29),
                             (101, 29, 37, 53), (256, 256, 1000, 333), (768, 1024, 480, 640),
                             (576, 1024, 1080, 1920), (50, 50, 7, 3), (64, 64, 32, 32)]:
        a = rng.normal(0, 10, (ih, iw)).astype(np.float32)
        ref = F.interpolate(torch.from_numpy(a)[None, None], (oh, ow), mode="bilinear",
                            align_corners=False)[0, 0].numpy()
        got = cv2.resize(a, (ow, oh), interpolation=cv2.INTER_LINEAR)
        d = float(np.abs(ref - got).max())
        worst = max(worst, d)
        d2 = float(np.abs(ref - torch_like_resize(a, oh, ow)).max())
        print(f"{ih}x{iw} -> {oh}x{ow}: max |diff| cv2.resize {d:.3g}, double-position {d2:.3g}")
    for (w, h) in [(640, 480), (1920, 1080), (333, 777), (3000, 2000)]:
        fake.image_encoder.img_size = 1024
        nh, nw = RLS.get_preprocess_shape(h, w, 1024)
        a = rng.normal(0, 10, (256, 256)).astype(np.float32)
        ref = Sam.postprocess_masks(fake, torch.from_numpy(a)[None, None], (nh, nw), (h, w))[0, 0]
        sq = cv2.resize(a, (1024, 1024), interpolation=cv2.INTER_LINEAR)
        got = cv2.resize(sq[:nh, :nw], (w, h), interpolation=cv2.INTER_LINEAR)
        d = float(np.abs(ref.numpy() - got).max())
        worst = max(worst, d)
        sq = torch_like_resize(a, 1024, 1024)
        d2 = float(np.abs(ref.numpy() - torch_like_resize(sq[:nh, :nw], h, w)).max())
        print(f"postprocess_masks 256x256 -> {w}x{h}: max |diff| cv2.resize {d:.3g}, "
              f"double-position {d2:.3g}")
    print(f"cv2.resize worst {worst:.3g} (values ~N(0, 10))")


if __name__ == "__main__":
    main()
