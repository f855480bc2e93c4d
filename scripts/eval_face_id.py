#!/usr/bin/python3
"""Leave-one-out face identification and verification scores for a `face --embeddings` run.

Usage:
  eval_face_id.py RUN_DIR [--identity dir|stem] [--json] [--min-accuracy X]
  eval_face_id.py --self-test

RUN_DIR is a face run's output folder (or its embeddings.npy / embeddings.csv), holding
  embeddings.npy  float32 [N, D], one L2-normalised embedding per detected face
  embeddings.csv  header row,image,face,x1,y1,x2,y2,score (more columns are ignored); `row`
                  indexes embeddings.npy, `image` is the path relative to the run's input folder
and, when the run wrote it, results.jsonl (one record per input image).

Identity of an image: its first path component (`--identity dir`, amy/amy1.png -> amy) or its
file stem without trailing digits (`--identity stem`, amy1.png -> amy). Each image keeps only its
highest-score face, so a spurious second detection on a face crop does not become a probe.

Scores, cosine similarity between the kept embeddings:
  top-1     each image is a probe against a gallery of all the other images; an identity scores
            the best similarity over its gallery images (nearest neighbour), and the probe is
            right when its own identity scores strictly highest (a tie counts as wrong). Probes
            whose identity has no other image are left out (they cannot be right) but stay in
            the gallery as distractors. Images that results.jsonl lists without any face count
            as wrong probes: a missed face is a failed identification.
  genuine   all same-identity pairs: mean and min similarity; impostor: all other pairs, max.
  EER       over those pairs; FAR(t) = impostors >= t, FRR(t) = genuines < t, t over every
            observed similarity and +inf; the EER is (FAR + FRR) / 2 where |FAR - FRR| is
            smallest. Also the best pair-verification accuracy and its threshold.

Exit status: 0, or 1 when top-1 accuracy is below --min-accuracy (a fraction, 0..1) or the
self-test fails, 2 for unreadable input. Needs Python 3 and numpy only.
"""

import argparse
import csv
import json
import math
import os
import re
import sys
import tempfile

import numpy as np


class InputError(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# Reading


def run_paths(path):
    """(npy, csv, jsonl-or-None) from a run folder or one of its embeddings files."""
    if not os.path.exists(path):
        raise InputError("%s: not found" % path)
    if os.path.isdir(path):
        d, stem = path, "embeddings"
    else:
        d, base = os.path.split(path)
        stem = os.path.splitext(base)[0]
    npy = os.path.join(d, stem + ".npy")
    csvp = os.path.join(d, stem + ".csv")
    for p in (npy, csvp):
        if not os.path.isfile(p):
            raise InputError("%s: not found" % p)
    jsonl = os.path.join(d, "results.jsonl")
    return npy, csvp, jsonl if os.path.isfile(jsonl) else None


def read_rows(csv_path):
    """Dicts with row, image, face, score from embeddings.csv."""
    rows = []
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        need = {"row", "image", "score"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise InputError("%s: header must have row, image and score columns" % csv_path)
        for lineno, r in enumerate(reader, 2):
            try:
                rows.append({"row": int(r["row"]), "image": r["image"],
                             "face": int(r.get("face") or 0), "score": float(r["score"])})
            except (TypeError, ValueError):
                raise InputError("%s:%d: bad row" % (csv_path, lineno))
    return rows


def listed_images(jsonl_path):
    """Relative paths of every image the run recorded (later records of an image win)."""
    seen = set()
    with open(jsonl_path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn last line of an interrupted run
            rel = rec.get("rel") or (rec.get("result") or {}).get("image")
            if rel:
                seen.add(rel.replace(os.sep, "/"))
    return seen


def identity_of(image, mode):
    parts = [p for p in re.split(r"[\\/]", image) if p]
    if mode == "dir":
        if len(parts) < 2:
            raise InputError("%s: no folder to name the identity (try --identity stem)" % image)
        return parts[0]
    stem = os.path.splitext(parts[-1])[0]
    # amy1 -> amy, amy_02 -> amy; an all-digit stem stays whole rather than becoming ""
    name = re.sub(r"[\s_.-]*\d+$", "", stem)
    return name or stem


def best_faces(rows, emb):
    """{image: unit embedding} of each image's highest-score face (first row wins a tie)."""
    best = {}
    for r in rows:
        if not 0 <= r["row"] < len(emb):
            raise InputError("row %d out of range (embeddings.npy has %d)" % (r["row"], len(emb)))
        cur = best.get(r["image"])
        if cur is None or r["score"] > cur["score"]:
            best[r["image"]] = r
    out = {}
    for image, r in best.items():
        v = emb[r["row"]].astype(np.float64)
        n = np.linalg.norm(v)
        if not np.isfinite(n) or n == 0:
            raise InputError("%s: embedding row %d is zero or not finite" % (image, r["row"]))
        # rows should already be unit length; normalising again costs nothing and keeps cosine
        # similarity right for an embedder that forgot to
        out[image] = v / n
    return out


# ----------------------------------------------------------------------------------------------
# Scoring


def evaluate(faces, ids, missing=()):
    """faces: {image: unit vector}; ids: {image: identity}; missing: images without a face."""
    images = sorted(faces)
    n = len(images)
    E = np.array([faces[i] for i in images]) if n else np.zeros((0, 1))
    lab = np.array([ids[i] for i in images])
    S = E @ E.T
    names = sorted(set(lab))
    res = {"images": n, "identities": len(names), "no_face": sorted(missing)}

    correct, probes, wrong = 0, 0, []
    for i in range(n):
        others = np.arange(n) != i
        if not np.any(others & (lab == lab[i])):
            continue  # singleton identity: cannot be identified, only a distractor
        probes += 1
        score = {k: S[i, others & (lab == k)].max() for k in names if np.any(others & (lab == k))}
        own = score[lab[i]]
        rival = max((v, k) for k, v in score.items() if k != lab[i]) if len(score) > 1 else None
        if rival is None or own > rival[0]:
            correct += 1
        else:
            wrong.append({"image": images[i], "identity": str(lab[i]), "predicted": str(rival[1]),
                          "similarity": round(float(rival[0]), 6), "own": round(float(own), 6)})
    # a missed face is a failed probe, provided its identity could have been identified at all
    known = set(lab)
    missed = [m for m in missing if ids.get(m) in known]
    probes += len(missed)
    res.update(top1=correct, n=probes, accuracy=(correct / probes) if probes else None,
               misidentified=wrong)

    iu = np.triu_indices(n, 1)
    same = lab[iu[0]] == lab[iu[1]]
    sims = S[iu]
    gen, imp = sims[same], sims[~same]
    res["genuine_pairs"], res["impostor_pairs"] = int(gen.size), int(imp.size)
    res["genuine_mean"] = float(gen.mean()) if gen.size else None
    res["genuine_min"] = float(gen.min()) if gen.size else None
    res["impostor_max"] = float(imp.max()) if imp.size else None
    res["impostor_mean"] = float(imp.mean()) if imp.size else None
    res.update(eer_and_accuracy(gen, imp))
    return res


def eer_and_accuracy(gen, imp):
    if gen.size == 0 or imp.size == 0:
        return {"eer": None, "eer_threshold": None, "verify_accuracy": None,
                "verify_threshold": None}
    t = np.append(np.unique(np.concatenate([gen, imp])), np.inf)
    # counts at each threshold via sorted search: accept when similarity >= t
    g, i = np.sort(gen), np.sort(imp)
    frr = np.searchsorted(g, t, side="left") / g.size
    far = 1.0 - np.searchsorted(i, t, side="left") / i.size
    k = int(np.argmin(np.abs(far - frr)))
    acc = ((1 - frr) * g.size + (1 - far) * i.size) / (g.size + i.size)
    a = int(np.argmax(acc))
    finite = lambda x: float(x) if math.isfinite(x) else None  # noqa: E731
    return {"eer": float((far[k] + frr[k]) / 2), "eer_threshold": finite(t[k]),
            "verify_accuracy": float(acc[a]), "verify_threshold": finite(t[a])}


def load_and_evaluate(path, mode):
    npy, csvp, jsonl = run_paths(path)
    try:
        emb = np.load(npy, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise InputError("%s: %s" % (npy, e))
    if emb.ndim != 2:
        raise InputError("%s: expected a 2-D array, got shape %s" % (npy, emb.shape))
    rows = read_rows(csvp)
    faces = best_faces(rows, emb)
    listed = listed_images(jsonl) if jsonl else set()
    missing = sorted(listed - set(faces))
    ids = {im: identity_of(im, mode) for im in list(faces) + missing}
    res = evaluate(faces, ids, missing)
    res.update(run=os.path.abspath(path), face_rows=len(rows), dim=int(emb.shape[1]))
    return res


# ----------------------------------------------------------------------------------------------
# Output


def fmt(x, spec="%.3f"):
    return "n/a" if x is None else spec % x


def report(res):
    lines = ["%d images with a face (%d face rows), %d identities, dim %d"
             % (res["images"], res["face_rows"], res["identities"], res["dim"])]
    if res["no_face"]:
        lines.append("no face: %d (%s)" % (len(res["no_face"]), ", ".join(res["no_face"][:10])))
    acc = "n/a" if res["accuracy"] is None else "%.1f%%" % (100 * res["accuracy"])
    lines.append("top-1 (leave-one-out): %d/%d = %s" % (res["top1"], res["n"], acc))
    for w in res["misidentified"]:
        lines.append("  %s (%s) -> %s %.3f (own best %.3f)"
                     % (w["image"], w["identity"], w["predicted"], w["similarity"], w["own"]))
    lines.append("genuine similarity: mean %s, min %s (%d pairs)"
                 % (fmt(res["genuine_mean"]), fmt(res["genuine_min"]), res["genuine_pairs"]))
    lines.append("impostor similarity: max %s, mean %s (%d pairs)"
                 % (fmt(res["impostor_max"]), fmt(res["impostor_mean"]), res["impostor_pairs"]))
    eer = "n/a" if res["eer"] is None else "%.1f%%" % (100 * res["eer"])
    va = "n/a" if res["verify_accuracy"] is None else "%.1f%%" % (100 * res["verify_accuracy"])
    lines.append("EER: %s at threshold %s; best verification accuracy %s at %s"
                 % (eer, fmt(res["eer_threshold"]), va, fmt(res["verify_threshold"])))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Self-test


def _unit(deg):
    r = math.radians(deg)
    return [math.cos(r), math.sin(r)]


def _write_run(d, faces, listed=None):
    """faces: [(image, face, score, vector)] -> embeddings.npy/.csv (+ results.jsonl)."""
    np.save(os.path.join(d, "embeddings.npy"), np.array([f[3] for f in faces], dtype=np.float32))
    with open(os.path.join(d, "embeddings.csv"), "w", encoding="utf-8") as f:
        f.write("row,image,face,x1,y1,x2,y2,score,cluster\n")
        for k, (im, face, score, _) in enumerate(faces):
            q = '"%s"' % im if "," in im else im
            f.write("%d,%s,%d,0,0,10,10,%g,-1\n" % (k, q, face, score))
    if listed is not None:
        with open(os.path.join(d, "results.jsonl"), "w", encoding="utf-8") as f:
            for im in listed:
                f.write(json.dumps({"rel": im, "status": "ok"}) + "\n")


def self_test():
    """Known answers on 2-D unit vectors, where cosine similarity is cos(angle difference)."""
    failures = []

    def check(name, got, want, tol=1e-6):
        ok = (got is None and want is None) or (
            got is not None and want is not None and abs(got - want) <= tol)
        if not ok:
            failures.append("%s: got %r, want %r" % (name, got, want))

    # a: 0, 20 deg; b: 90, 100; c: 180, 50. a and b probes are right; c1's best rival is b2
    # (cos 80 > cos 130) and c2's is a2 (cos 30), so top-1 is 4/6. Genuine: cos 20, cos 10,
    # cos 130; impostor max cos 30. FRR is 1/3 for every t in (-0.643, 0.940]; FAR is 4/12 at
    # t = cos 50 (impostors at cos 30, cos 40 and two at cos 50), so the EER is exactly 1/3.
    # Best verification: t just above cos 30 accepts 2 genuines, rejects all 12 impostors.
    angles = {"a/a1.png": 0, "a/a2.png": 20, "b/b1.png": 90, "b/b2.png": 100,
              "c/c1.png": 180, "c/c2.png": 50}
    faces = [(im, 0, 0.9, _unit(a)) for im, a in angles.items()]
    # distractions the reader must handle: a lower-score second face that would flip a1 to b,
    # and a row that is not unit length
    faces.append(("a/a1.png", 1, 0.5, _unit(95)))
    faces[1] = ("a/a2.png", 0, 0.9, [3 * v for v in _unit(20)])
    with tempfile.TemporaryDirectory(prefix="eval_face_id-") as d:
        _write_run(d, faces)
        r = load_and_evaluate(d, "dir")
        check("top1", r["top1"], 4)
        check("n", r["n"], 6)
        check("genuine_mean", r["genuine_mean"],
              (math.cos(math.radians(20)) + math.cos(math.radians(10))
               + math.cos(math.radians(130))) / 3)
        check("genuine_min", r["genuine_min"], math.cos(math.radians(130)))
        check("impostor_max", r["impostor_max"], math.cos(math.radians(30)))
        check("eer", r["eer"], 1 / 3)
        check("eer_threshold", r["eer_threshold"], math.cos(math.radians(50)), 1e-5)
        check("verify_accuracy", r["verify_accuracy"], 14 / 15)
        check("images", r["images"], 6)
        wrong = sorted((w["image"], w["predicted"]) for w in r["misidentified"])
        if wrong != [("c/c1.png", "b"), ("c/c2.png", "a")]:
            failures.append("misidentified: %r" % wrong)

    # Separable set with --identity stem, a singleton distractor (with a comma in its name, so
    # quoted in the CSV) and a face the detector missed (listed in results.jsonl without a row):
    # top-1 4/5 (the miss counts, the singleton does not), EER 0.
    faces = [("x1.png", 0, 0.9, _unit(0)), ("x2.png", 0, 0.9, _unit(5)),
             ("y_1.png", 0, 0.9, _unit(90)), ("y_2.png", 0, 0.9, _unit(85)),
             ("z7,b.png", 0, 0.9, _unit(200))]
    listed = [f[0] for f in faces] + ["y_3.png"]
    with tempfile.TemporaryDirectory(prefix="eval_face_id-") as d:
        _write_run(d, faces, listed)
        r = load_and_evaluate(os.path.join(d, "embeddings.npy"), "stem")
        check("stem identities", r["identities"], 3)
        check("stem top1", r["top1"], 4)
        check("stem n", r["n"], 5)
        check("stem eer", r["eer"], 0.0)
        check("stem verify_accuracy", r["verify_accuracy"], 1.0)
        if r["no_face"] != ["y_3.png"]:
            failures.append("no_face: %r" % r["no_face"])

    check("identity stem", float(identity_of("p/amy12.jpg", "stem") == "amy"), 1.0)
    check("identity dir", float(identity_of("amy/x.png", "dir") == "amy"), 1.0)
    check("identity digits", float(identity_of("007.png", "stem") == "007"), 1.0)

    # A tie between the own identity and another counts as wrong.
    r = evaluate({"a1": np.array([1.0, 0]), "a2": np.array([0.0, 1]), "b1": np.array([0.0, 1])},
                 {"a1": "a", "a2": "a", "b1": "b"})
    check("tie top1", r["top1"], 0)

    for f in failures:
        print("self-test FAIL: " + f, file=sys.stderr)
    print("self-test: %s" % ("FAIL" if failures else "ok"), file=sys.stderr)
    return 1 if failures else 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="eval_face_id.py", description=__doc__.split("\n")[0])
    ap.add_argument("run", nargs="?", help="face run output folder, or its embeddings.npy/.csv")
    ap.add_argument("--identity", choices=("dir", "stem"), default="dir",
                    help="identity from the first folder (dir) or the file stem minus digits")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--min-accuracy", type=float, metavar="X",
                    help="exit 1 when top-1 accuracy (0..1) is below X")
    ap.add_argument("--self-test", action="store_true", help="run known-answer checks and exit")
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    if not a.run:
        ap.error("RUN_DIR is required (or --self-test)")
    if a.min_accuracy is not None and not 0 <= a.min_accuracy <= 1:
        ap.error("--min-accuracy is a fraction between 0 and 1")
    try:
        res = load_and_evaluate(a.run, a.identity)
    except InputError as e:
        print("error: eval_face_id: %s" % e, file=sys.stderr)
        return 2
    print(json.dumps(res, indent=1) if a.json else report(res))
    if a.min_accuracy is not None:
        acc = res["accuracy"]
        if acc is None or acc < a.min_accuracy:
            print("eval_face_id: top-1 accuracy %s below %.3f"
                  % ("n/a" if acc is None else "%.3f" % acc, a.min_accuracy), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
