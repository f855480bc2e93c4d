#!/usr/bin/python3
"""Re-runnable parity check of onnx2ts.py on a real-layout SAM / MobileSAM decoder ONNX export.

    check_sam_decoder_onnx.py --package DIR --model-type vit_t|vit_b|vit_l|vit_h --checkpoint FILE
                              [--opset 16] [--return-single-mask] [--num-points 5]
                              [--work DIR] [--threads 1] [--seed 0]

--package: a checkout of facebookresearch/segment-anything (imports `segment_anything`) or of
ChaoningZhang/MobileSAM (`mobile_sam`, the one with vit_t); --checkpoint: an upstream state_dict
(a random-weight one from scripts/export_sam.py --save-random-checkpoint is fine). The model is
built by upstream's sam_model_registry through scripts/export_sam.py (build_model, with its
torchvision / timm stand-ins where those are missing). Nothing of upstream is copied into vfm.

Steps:
  1. export the prompt encoder + mask decoder ONNX the way upstream's
     scripts/export_onnx_model.py does: upstream's SamOnnxModel (return_single_mask False unless
     --return-single-mask, as upstream's flag), its dummy inputs (5 points, orig_im_size
     1500x2250), opset 16 (upstream's default; torch 1.13 exports up to 17), constant folding,
     input names image_embeddings, point_coords, point_labels, mask_input, has_mask_input,
     orig_im_size, output names masks, iou_predictions, low_res_masks, and the dynamic axis
     num_points on point_coords / point_labels;
  2. convert it with onnx2ts.py --check --reference ort (onnxruntime-node), one --input-shape per
     input (num_points = --num-points) and input values that make sense for SAM:
     image_embeddings in [-1, 1), point_coords in [0, 1024), point_labels from {-1, 0, 1, 2, 3},
     mask_input in [-8, 8), has_mask_input in [0, 1) (a blend: both mask paths carry signal),
     orig_im_size in [200, 2000) -- onnx2ts keeps the orig_im_size-dependent crop and resize of
     `masks` as run-time values, and its retrace check runs a second orig_im_size;
  3. run the converted TorchScript against upstream's eager SamOnnxModel on realistic inputs
     (fixed label patterns, has_mask_input 0 and 1, several orig_im_size values).
Prints one parity line per step and a final JSON line; exit 0 when every output of every step
has max|diff| / range <= 1e-4, 1 otherwise, 2 on errors. The ONNX and .pt files are kept in
--work (default: a temporary folder, removed at exit).

Example:
  /usr/bin/python3 scripts/convert/check_sam_decoder_onnx.py --package /tmp/sam-ref/mobilesam \\
      --model-type vit_t --checkpoint /tmp/sam-out/vit_t_rand0.pth
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.dirname(HERE)
TOLERANCE = 1e-4
INPUT_NAMES = ["image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input",
               "orig_im_size"]
OUTPUT_NAMES = ["masks", "iou_predictions", "low_res_masks"]


def die(msg):
    print("error: check_sam_decoder_onnx: %s" % msg, file=sys.stderr)
    sys.exit(2)


def export_onnx(sam, mod, path, opset, single):
    """SamOnnxModel -> ONNX with upstream export script's arguments."""
    import importlib
    import torch
    onnx_utils = importlib.import_module(mod.__name__ + ".utils.onnx")
    model = onnx_utils.SamOnnxModel(model=sam, return_single_mask=single)
    embed_dim = sam.prompt_encoder.embed_dim
    embed_size = sam.prompt_encoder.image_embedding_size
    mask_size = [4 * x for x in embed_size]
    dummy = {
        "image_embeddings": torch.randn(1, embed_dim, *embed_size, dtype=torch.float),
        "point_coords": torch.randint(low=0, high=1024, size=(1, 5, 2), dtype=torch.float),
        "point_labels": torch.randint(low=0, high=4, size=(1, 5), dtype=torch.float),
        "mask_input": torch.randn(1, 1, *mask_size, dtype=torch.float),
        "has_mask_input": torch.tensor([1], dtype=torch.float),
        "orig_im_size": torch.tensor([1500, 2250], dtype=torch.float),
    }
    model(**dummy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(dummy.values()), path, export_params=True, verbose=False,
                          opset_version=opset, do_constant_folding=True,
                          input_names=list(dummy.keys()), output_names=OUTPUT_NAMES,
                          dynamic_axes={"point_coords": {1: "num_points"},
                                        "point_labels": {1: "num_points"}})
    return model, embed_dim, list(embed_size), mask_size


def run_onnx2ts(onnx_path, pt_path, shapes, threads, seed):
    cmd = [sys.executable, os.path.join(HERE, "onnx2ts.py"), onnx_path, pt_path, "--check",
           "--reference", "ort", "--threads", str(threads), "--seed", str(seed),
           "--input-range", "image_embeddings=-1,1", "--input-range", "point_coords=0,1024",
           "--input-values", "point_labels=-1,0,1,2,3", "--input-range", "mask_input=-8,8",
           "--input-range", "has_mask_input=0,1", "--input-range", "orig_im_size=200,2000"]
    for s in shapes:
        cmd += ["--input-shape", ",".join(str(d) for d in s)]
    t0 = time.time()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.time() - t0
    lines = [l for l in r.stdout.decode().splitlines() if l.startswith("{")]
    report = json.loads(lines[-1]) if lines else None
    return r.returncode, report, r.stderr.decode(errors="replace").strip(), wall, cmd


def ratio_line(recs):
    return ", ".join("%s %s max|diff| %.3g range %.3g ratio %.2g"
                     % (r["name"], r["shape"], r["max_abs_diff"], r["range"], r["ratio"]) for r in recs)


def compare(name, got, ref):
    got, ref = got.double(), ref.double()
    if got.shape != ref.shape:
        return {"name": name, "shape": list(got.shape), "max_abs_diff": float("inf"), "range": 0.0,
                "ratio": float("inf"), "ref_shape": list(ref.shape)}
    d = float((got - ref).abs().max())
    rng = float(ref.max() - ref.min())
    return {"name": name, "shape": list(got.shape), "max_abs_diff": d, "range": rng,
            "ratio": d / (rng if rng > 0 else max(float(ref.abs().max()), 1.0))}


def eager_cases(embed_dim, embed_size, mask_size, n, seed):
    """Realistic decoder inputs: fixed label patterns (points, a box as labels 2/3, padding -1),
    with and without a mask input, several original image sizes."""
    import torch
    g = torch.Generator().manual_seed(seed + 10)
    patterns = [[1, 0, 2, 3, -1], [1, 1, 0, -1, -1], [2, 3, -1, -1, -1], [0, 1, 1, 0, 1]]
    sizes = [(1500, 2250), (480, 640), (1024, 768), (333, 1999)]
    cases = []
    for k, (labels, hw) in enumerate(zip(patterns, sizes)):
        labels = (labels * ((n + 4) // 5))[:n]
        cases.append((
            torch.randn(1, embed_dim, *embed_size, generator=g),
            torch.rand(1, n, 2, generator=g) * 1024,
            torch.tensor([labels], dtype=torch.float),
            torch.randn(1, 1, *mask_size, generator=g) * 4,
            torch.tensor([float(k % 2)]),
            torch.tensor(hw, dtype=torch.float),
        ))
    return cases


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--package", required=True, help="segment-anything or MobileSAM checkout")
    ap.add_argument("--model-type", required=True, help="vit_t (MobileSAM), vit_b, vit_l, vit_h")
    ap.add_argument("--checkpoint", required=True, help="upstream state_dict (.pth)")
    ap.add_argument("--opset", type=int, default=16, help="ONNX opset (upstream's default 16)")
    ap.add_argument("--return-single-mask", action="store_true", help="as upstream's flag")
    ap.add_argument("--num-points", type=int, default=5, help="num_points to convert at")
    ap.add_argument("--work", help="folder for the .onnx and .pt files (kept)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch
    torch.set_num_threads(max(1, args.threads))
    sys.path.insert(0, SCRIPTS)
    sys.dont_write_bytecode = True
    import export_sam  # noqa: E402 - vfm's builder (upstream registry + stand-ins)

    work = args.work or tempfile.mkdtemp(prefix="check-sam-onnx-")
    os.makedirs(work, exist_ok=True)
    try:
        torch.manual_seed(args.seed)
        mod, sam = export_sam.build_model(args.package, args.model_type, checkpoint=args.checkpoint)
        tag = "%s_dec_op%d%s" % (args.model_type, args.opset, "_single" if args.return_single_mask else "")
        onnx_path, pt_path = os.path.join(work, tag + ".onnx"), os.path.join(work, tag + ".pt")
        t0 = time.time()
        model, embed_dim, embed_size, mask_size = export_onnx(sam, mod, onnx_path, args.opset,
                                                              args.return_single_mask)
        export_s = time.time() - t0
        n = args.num_points
        shapes = [[1, embed_dim] + embed_size, [1, n, 2], [1, n], [1, 1] + mask_size, [1], [2]]
        rc, report, err, wall, cmd = run_onnx2ts(onnx_path, pt_path, shapes, args.threads, args.seed)
        if report is None:
            die("onnx2ts failed (exit %d): %s" % (rc, err.splitlines()[-1] if err else "-"))
        print("%s decoder, opset %d, %s: onnx2ts vs %s (convert %.1f s, run %.1f s): %s"
              % (args.model_type, args.opset, "single mask" if args.return_single_mask else "multimask",
                 report["reference"], report["convert_s"], wall, ratio_line(report["outputs"])))

        ts = torch.jit.load(pt_path)
        worst_eager = []
        with torch.no_grad():
            for k, feeds in enumerate(eager_cases(embed_dim, embed_size, mask_size, n, args.seed)):
                want = model(*feeds)
                got = ts(*feeds)
                recs = [compare(nm, g, w) for nm, g, w in zip(OUTPUT_NAMES, got, want)]
                worst_eager.append(max(r["ratio"] for r in recs))
                print("  vs eager SamOnnxModel, labels %s, has_mask_input %g, orig_im_size %s: %s"
                      % ([int(v) for v in feeds[2][0].tolist()], float(feeds[4]),
                         [int(v) for v in feeds[5].tolist()], ratio_line(recs)))
        ok = bool(report["pass"]) and rc == 0 and max(worst_eager) <= TOLERANCE
        print(json.dumps({"model_type": args.model_type, "opset": args.opset,
                          "return_single_mask": args.return_single_mask, "num_points": n,
                          "export_s": round(export_s, 2), "convert_s": report["convert_s"],
                          "ort": {o["name"]: o["ratio"] for o in report["outputs"]},
                          "eager_worst_ratio": max(worst_eager), "pass": ok,
                          "onnx": onnx_path if args.work else None}))
        return 0 if ok else 1
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
