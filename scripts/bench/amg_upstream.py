#!/usr/bin/python3
"""Runs upstream's own segment-everything script (MobileSAM / segment-anything `scripts/amg.py`)
unchanged, for scripts/bench/bench_segment.sh, and says where its time went.

Usage: /usr/bin/python3 scripts/bench/amg_upstream.py --package DIR [--amg FILE] [--threads N]
           [--as-is] [--stats FILE] [--no-stage-times] [--profile FILE.pstats]
           -- AMG.PY ARGS...

--package is a checkout of https://github.com/ChaoningZhang/MobileSAM (imports `mobile_sam`) or
of https://github.com/facebookresearch/segment-anything (`segment_anything`); --amg defaults to
DIR/scripts/amg.py. Everything after `--` is amg.py's own command line (--checkpoint,
--model-type, --input, --output, --device, --points-per-side, --pred-iou-thresh, ...): the file
is executed with runpy as __main__, so what runs is upstream's loop itself (cv2.imread,
SamAutomaticMaskGenerator.generate, write_masks_to_folder: one PNG per mask + metadata.csv).
Nothing of upstream is copied here.

What this wrapper does around it, and why:
  * torchvision / timm: when missing, the stand-ins of scripts/export_sam.py (install_shims) are
    put in sys.modules, exactly as export_sam.py and parity_sam.py do.
  * Threads: amg.py never sets torch's thread count. Debian's torch 1.13 defaults to ONE intra-op
    thread on some machines (measured on a 2-vCPU KVM guest: torch.get_num_threads() == 1,
    omp_get_max_threads() == 1), while vfm uses all cores by default; so torch.set_num_threads
    is called with --threads (default 0: os.cpu_count()) before amg.py runs. --threads -1 leaves
    torch's default alone.
  * eval() after loading (skipped with --as-is): MobileSAM's build_sam_vit_t calls
    mobile_sam.eval() BEFORE load_state_dict, and TinyViT's Attention caches its bias table
    (`ab`, a non-persistent buffer) in train(False); so amg.py runs with the bias table of the
    constructor (zeros), not the checkpoint's attention_biases. export_sam.py (what vfm runs) and
    parity_sam.py call eval() after loading. To run the SAME network on both sides, the
    registry's builder is wrapped to call .eval() once more after it returns (a few
    microseconds; it changes the masks, not the cost). segment-anything's builders are wrapped
    the same way (a no-op there).
  * Stage times (off with --no-stage-times): a handful of upstream functions are wrapped with a
    wall-clock accumulator (cost: about a microsecond per call), reported as seconds in all:
      read          cv2.imread
      encoder       SamPredictor.set_image (resize, normalise, image_encoder)
      decoder       MaskDecoder.forward (all points of a batch, 4 mask tokens)
      upscale       Sam.postprocess_masks (every B x 3 low-res mask to full size, before any
                    filtering)
      stability     calculate_stability_score
      mask_to_box   batched_mask_to_box
      rle_encode    mask_to_rle_pytorch
      nms           batched_nms (the torchvision stand-in's when torchvision is missing)
      rle_to_mask   rle_to_mask (binary_mask output: RLE back to a HxW array per mask)
      png_write     cv2.imwrite (one PNG per mask)
      process_batch SamAutomaticMaskGenerator._process_batch (contains decoder..rle_encode)
      generate      SamAutomaticMaskGenerator.generate (contains all but read and png_write)
    plus `load_s` (start of this script to the first image read: imports, model build and
    checkpoint load) and `total_s`. Printed as one JSON line on stderr (`amg_upstream: {...}`)
    and written to --stats FILE.
  * --profile FILE.pstats: runs amg.py under cProfile instead (for diagnostics only: cProfile
    slows Python-heavy code a lot) and prints the top functions by own time to stderr.
"""
import argparse
import functools
import json
import os
import runpy
import sys
import time

T_START = time.perf_counter()
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--package", required=True, help="MobileSAM or segment-anything checkout")
    ap.add_argument("--amg", help="amg.py to run (default: PACKAGE/scripts/amg.py)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch intra-op threads (0: all cores, -1: torch's default)")
    ap.add_argument("--as-is", action="store_true",
                    help="do not call eval() again after the checkpoint is loaded")
    ap.add_argument("--stats", help="write the stage times here (JSON)")
    ap.add_argument("--no-stage-times", action="store_true")
    ap.add_argument("--profile", help="run under cProfile, write the stats here")
    ap.add_argument("amg_args", nargs=argparse.REMAINDER, help="-- then amg.py's arguments")
    a = ap.parse_args()
    amg_args = a.amg_args[1:] if a.amg_args[:1] == ["--"] else a.amg_args
    package = os.path.abspath(a.package)
    amg = os.path.abspath(a.amg or os.path.join(package, "scripts", "amg.py"))
    if not os.path.isfile(amg):
        sys.exit(f"amg_upstream: {amg} not found")

    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(HERE)))  # scripts/: export_sam
    import export_sam
    export_sam.install_shims(verbose=False)
    default_threads = torch.get_num_threads()
    if a.threads >= 0:
        torch.set_num_threads(a.threads or os.cpu_count())
    sys.path.insert(0, package)
    if os.path.isdir(os.path.join(package, "mobile_sam")):
        import mobile_sam as up
        pkg = "mobile_sam"
    else:
        import segment_anything as up
        pkg = "segment_anything"
    amg_mod = sys.modules[pkg + ".automatic_mask_generator"]
    tv = sys.modules["torchvision"]

    if not a.as_is:
        reg = up.sam_model_registry  # the dict amg.py imports: patched in place

        def eval_after_load(build):
            @functools.wraps(build)
            def wrapped(*args, **kwargs):
                return build(*args, **kwargs).eval()
            return wrapped
        for k in list(reg):
            reg[k] = eval_after_load(reg[k])

    stats = {"s": {}, "calls": {}}
    first_read = []

    def timed(name, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            t0 = time.perf_counter()
            if name == "read" and not first_read:
                first_read.append(t0)
            try:
                return fn(*args, **kwargs)
            finally:
                stats["s"][name] = stats["s"].get(name, 0.0) + time.perf_counter() - t0
                stats["calls"][name] = stats["calls"].get(name, 0) + 1
        return wrapped

    if not a.no_stage_times and not a.profile:
        import cv2
        cv2.imread = timed("read", cv2.imread)
        cv2.imwrite = timed("png_write", cv2.imwrite)
        up.SamPredictor.set_image = timed("encoder", up.SamPredictor.set_image)
        from importlib import import_module
        modeling = import_module(pkg + ".modeling")
        modeling.MaskDecoder.forward = timed("decoder", modeling.MaskDecoder.forward)
        modeling.Sam.postprocess_masks = timed("upscale", modeling.Sam.postprocess_masks)
        for name, attr in (("stability", "calculate_stability_score"),
                           ("mask_to_box", "batched_mask_to_box"),
                           ("rle_encode", "mask_to_rle_pytorch"),
                           ("nms", "batched_nms"),
                           ("rle_to_mask", "rle_to_mask")):
            setattr(amg_mod, attr, timed(name, getattr(amg_mod, attr)))
        gen = amg_mod.SamAutomaticMaskGenerator
        gen._process_batch = timed("process_batch", gen._process_batch)
        gen.generate = timed("generate", gen.generate)

    sys.argv = [amg] + amg_args
    print(f"amg_upstream: {pkg} from {package}, torch {torch.__version__}, threads "
          f"{torch.get_num_threads()} (torch's default here: {default_threads}), torchvision "
          f"{'stand-in' if getattr(tv, '__vfm_shim__', False) else 'real'}, "
          f"eval after load: {not a.as_is}", file=sys.stderr)
    if a.profile:
        import cProfile
        import pstats
        prof = cProfile.Profile()
        prof.enable()
        try:
            runpy.run_path(amg, run_name="__main__")
        finally:
            prof.disable()
            prof.dump_stats(a.profile)
            pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(30)
        return
    runpy.run_path(amg, run_name="__main__")
    t_end = time.perf_counter()
    out = {"package": pkg, "threads": torch.get_num_threads(),
           "torch_default_threads": default_threads,
           "torchvision": "stand-in" if getattr(tv, "__vfm_shim__", False) else "real",
           "eval_after_load": not a.as_is,
           "load_s": round((first_read[0] if first_read else t_end) - T_START, 3),
           "total_s": round(t_end - T_START, 3),
           "images": stats["calls"].get("generate", 0),
           "stage_s": {k: round(v, 3) for k, v in sorted(stats["s"].items())},
           "calls": dict(sorted(stats["calls"].items()))}
    line = json.dumps(out)
    print("amg_upstream: " + line, file=sys.stderr)
    if a.stats:
        with open(a.stats, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
