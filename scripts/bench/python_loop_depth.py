#!/usr/bin/python3
"""The plain Python baseline for the depth benchmark: Depth Anything V2's own loop (run.py /
dpt.py infer_image), one image at a time, writing what vfm's bench config writes.

Usage: /usr/bin/python3 scripts/bench/python_loop_depth.py MODEL.pt DIR OUTDIR [--threads N]
       [--size 518]

For each image in DIR (sorted .jpg/.jpeg/.png, not recursive): cv2.imread, BGR->RGB, /255,
resize keeping the aspect ratio with the shorter side at `size` and both sides multiples of 14
(cubic, as upstream util/transform.py Resize lower_bound), ImageNet mean/std, forward of the
TorchScript model (torch.inference_mode, torch.set_num_threads = all cores), bilinear
align_corners resize back to the image size (upstream infer_image), then a 16-bit PNG
normalised per image (min -> 0, max -> 65535) and a JSON with min and max, like vfm's
`outputs.png16` + `outputs.json`.

Prints one JSON line on stdout: images, seconds (the loop, after the model is loaded),
images_per_s, load_s, mean_ms per stage, peak_rss_kb.
"""
import argparse
import json
import os
import resource
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def input_size(w: int, h: int, size: int, mult: int = 14):
    # Upstream Resize(keep_aspect_ratio, lower_bound): the larger scale wins, sides rounded to
    # the nearest multiple, floored up to `size`.
    s = max(size / h, size / w)
    def fit(x):
        y = int(round(x / mult) * mult)
        return y if y >= size else int(np.ceil(x / mult) * mult)
    return fit(s * w), fit(s * h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("dir")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--size", type=int, default=518)
    a = ap.parse_args()
    torch.set_num_threads(a.threads or os.cpu_count())
    t0 = time.perf_counter()
    m = torch.jit.load(a.model).eval()
    load_s = time.perf_counter() - t0
    os.makedirs(a.out, exist_ok=True)
    files = sorted(f for f in os.listdir(a.dir)
                   if f.lower().endswith((".jpg", ".jpeg", ".png")))
    st = dict(decode=0.0, pre=0.0, infer=0.0, post=0.0, write=0.0)
    t_loop = time.perf_counter()
    with torch.inference_mode():
        for f in files:
            t = time.perf_counter()
            bgr = cv2.imread(os.path.join(a.dir, f))
            st["decode"] += time.perf_counter() - t
            t = time.perf_counter()
            h, w = bgr.shape[:2]
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
            iw, ih = input_size(w, h, a.size)
            x = (cv2.resize(rgb, (iw, ih), interpolation=cv2.INTER_CUBIC) - MEAN) / STD
            x = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
            st["pre"] += time.perf_counter() - t
            t = time.perf_counter()
            d = m(x)
            st["infer"] += time.perf_counter() - t
            t = time.perf_counter()
            if d.dim() == 3:
                d = d[:, None]
            d = F.interpolate(d, (h, w), mode="bilinear", align_corners=True)[0, 0].numpy()
            lo, hi = float(d.min()), float(d.max())
            q = np.round((d - lo) / max(hi - lo, 1e-12) * 65535).astype(np.uint16)
            st["post"] += time.perf_counter() - t
            t = time.perf_counter()
            stem = os.path.splitext(f)[0]
            cv2.imwrite(os.path.join(a.out, stem + ".png"), q)
            with open(os.path.join(a.out, stem + ".json"), "w") as fh:
                json.dump({"image": f, "width": w, "height": h, "min": lo, "max": hi}, fh)
            st["write"] += time.perf_counter() - t
    secs = time.perf_counter() - t_loop
    n = len(files)
    print(json.dumps({"images": n, "seconds": round(secs, 3),
                      "images_per_s": round(n / secs, 3) if secs else 0, "load_s": round(load_s, 3),
                      "mean_ms": {k: round(v * 1000 / max(n, 1), 2) for k, v in st.items()},
                      "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
