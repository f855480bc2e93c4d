#!/usr/bin/python3
"""Writes N synthetic 1920x1080 JPEGs (quality 90) for benchmarking.

Usage: /usr/bin/python3 scripts/bench/make_images.py DIR N [--seed S] [--size WxH]

Each image is a smooth colour gradient with a few dozen filled and outlined shapes (rectangles,
ellipses, polygons, lines), a little text, and both fine and coarse noise, so the JPEG carries
real detail and decodes at a realistic cost (roughly 300-600 KB per file). Image i depends only
on (seed, i): the files are reproducible, and a folder of N is a prefix of a folder of M > N.
Existing files of the right name are left alone, so re-running only adds what is missing.
"""
import argparse
import os
import sys

import cv2
import numpy as np


def make_image(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    # Background: a bilinear gradient between four random corner colours.
    corners = rng.uniform(0, 255, size=(2, 2, 3)).astype(np.float32)
    img = cv2.resize(corners, (w, h), interpolation=cv2.INTER_LINEAR)
    # Coarse noise: low-resolution noise upsampled (texture, "clouds").
    coarse = rng.normal(0, 25, size=(h // 40 + 1, w // 40 + 1, 3)).astype(np.float32)
    img += cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img, 0, 255).astype(np.uint8)

    for _ in range(int(rng.integers(20, 60))):
        color = tuple(int(c) for c in rng.integers(0, 256, size=3))
        thick = -1 if rng.random() < 0.6 else int(rng.integers(1, 12))
        kind = rng.integers(0, 4)
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        sx, sy = int(rng.integers(10, w // 4)), int(rng.integers(10, h // 4))
        if kind == 0:
            cv2.rectangle(img, (cx - sx // 2, cy - sy // 2), (cx + sx // 2, cy + sy // 2), color,
                          thick, cv2.LINE_AA)
        elif kind == 1:
            cv2.ellipse(img, (cx, cy), (sx // 2, sy // 2), float(rng.uniform(0, 180)), 0, 360,
                        color, thick, cv2.LINE_AA)
        elif kind == 2:
            k = int(rng.integers(3, 8))
            pts = np.stack([rng.integers(cx - sx, cx + sx, k), rng.integers(cy - sy, cy + sy, k)],
                           1).astype(np.int32)
            if thick < 0:
                cv2.fillPoly(img, [pts], color, cv2.LINE_AA)
            else:
                cv2.polylines(img, [pts], True, color, thick, cv2.LINE_AA)
        else:
            cv2.line(img, (cx, cy), (cx + sx, cy + sy), color, max(1, thick), cv2.LINE_AA)
    for _ in range(int(rng.integers(2, 6))):
        text = "".join(chr(int(c)) for c in rng.integers(65, 91, size=int(rng.integers(4, 12))))
        cv2.putText(img, text, (int(rng.integers(0, w - 200)), int(rng.integers(40, h))),
                    cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(1, 4)),
                    tuple(int(c) for c in rng.integers(0, 256, size=3)), int(rng.integers(1, 6)),
                    cv2.LINE_AA)
    # Fine noise: sensor-like grain, which keeps the JPEG's high frequencies busy.
    grain = rng.normal(0, 6, size=img.shape).astype(np.float32)
    return np.clip(img.astype(np.float32) + grain, 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--size", default="1920x1080", help="WxH")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.lower().split("x"))
    os.makedirs(a.dir, exist_ok=True)
    made = 0
    for i in range(a.n):
        path = os.path.join(a.dir, f"img_{i:05d}.jpg")
        if os.path.exists(path):
            continue
        rng = np.random.default_rng([a.seed, i])
        img = make_image(rng, w, h)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            sys.exit(f"make_images: cannot encode {path}")
        tmp = path + ".part"  # not an image extension: a killed run leaves no half input
        with open(tmp, "wb") as f:
            f.write(buf.tobytes())
        os.replace(tmp, path)
        made += 1
    print(f"{a.dir}: {a.n} images {w}x{h} ({made} new)")


if __name__ == "__main__":
    main()
