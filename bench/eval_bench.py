#!/usr/bin/env python3
"""Reference timings for `funad bench eval` (Sources/FunADBench/EvalBench.swift): the
same work in PyTorch / SciPy / scikit-learn. The exact kNN rows (patchcore_score, bank_knn)
are timed against faiss by bench/knn_reference.py instead. Usage:
    PY=${PY:-$(scripts/python-env | tail -n1)}; $PY bench/eval_bench.py [--images 100] [--threads 2] [--json]
Prints one line per measurement: name, best seconds, detail. With --json the lines go to
stderr and stdout gets one JSON object of measurements with the same row names as
`funad bench eval --json` (bench/run-all pairs them).
"""
import argparse
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from sklearn.metrics import roc_auc_score


def best(fn, repeats):
    t = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def coreset(features, fraction, proj=128, start=10, seed=7):
    """PatchCore's ApproximateGreedyCoresetSampler (torch, CPU)."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    with torch.no_grad():
        mapper = torch.nn.Linear(features.shape[1], proj, bias=False)
        x = mapper(features)

        def dists(a, b):
            return (a.pow(2).sum(1, keepdim=True) - 2 * a @ b.T + b.pow(2).sum(1)[None]).clamp(0).sqrt()

        starts = np.random.choice(len(x), start, replace=False).tolist()
        mind = dists(x, x[starts]).mean(-1, keepdim=True)
        picks = []
        for _ in range(int(len(x) * fraction)):
            j = int(torch.argmax(mind))
            picks.append(j)
            mind = torch.minimum(mind, dists(x, x[j:j + 1]))
    return picks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--bank", type=int, default=16384)
    ap.add_argument("--dim", type=int, default=1536)
    ap.add_argument("--coreset-patches", type=int, default=39200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="one JSON object of measurements on stdout")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = []

    def emit(name, seconds, detail):
        print(f"{name} {seconds:.6f} {detail}", file=sys.stderr if a.json else sys.stdout, flush=True)
        rows.append(dict(name=name, value=seconds, unit="s", higher_is_better=False, detail=detail))
    rng = np.random.default_rng(0)
    side = 224

    g = torch.from_numpy(rng.random((1, 1, 28, 28), dtype=np.float32))
    t = best(lambda: [ndimage.gaussian_filter(F.interpolate(g, size=(side, side), mode="bilinear",
                                                            align_corners=False)[0, 0].numpy(), 4) for _ in range(10)],
             a.repeats) / 10
    emit("anomaly_map", t, f"F.interpolate + scipy gaussian_filter(sigma=4), one 224x224 map")

    n = side * side
    yy, xx = np.mgrid[0:side, 0:side]
    blob = ((yy % 64) < 16) & ((xx % 64) < 16)
    labels = np.concatenate([blob.ravel() if i % 3 == 0 else np.zeros(n, bool) for i in range(a.images)])
    scores = rng.random(a.images * n, dtype=np.float32) + 0.3 * labels
    t = best(lambda: roc_auc_score(labels, scores), a.repeats)
    emit("pixel_auroc", t, f"sklearn roc_auc_score over {a.images * n} pixels")

    bank = torch.from_numpy(rng.random((a.bank, a.dim), dtype=np.float32))

    imgs = [torch.from_numpy(rng.random((784, a.dim), dtype=np.float32)) for _ in range(8)]

    def infer():
        for f in imgs:
            s = torch.cdist(f, bank).min(1).values
            _ = float(s.max())
            up = F.interpolate(s.reshape(1, 1, 28, 28), size=(side, side), mode="bilinear", align_corners=False)
            ndimage.gaussian_filter(up[0, 0].numpy(), 4)

    t = best(infer, 1) / 8
    emit("inference_patchcore", t, f"per image: cdist min + max + interpolate + gaussian_filter ({1 / t:.1f} images/s)")

    m = (a.coreset_patches // 784) * 784
    feats = torch.from_numpy(rng.random((m, a.dim), dtype=np.float32))
    t = best(lambda: coreset(feats, 0.1), 1)
    emit("coreset", t, f"PatchCore approximate greedy coreset, 10% of {m} patches x {a.dim}, projected to 128")


    if a.json:
        print(json.dumps({"area": "eval", "tool": f"pytorch {torch.__version__}", "threads": a.threads, "notes": [],
                          "measurements": rows}))


if __name__ == "__main__":
    main()
