#!/usr/bin/env python3
"""Reference timings for `funad bench eval` (Sources/FunAD/Bench/EvalBench.swift): the
same work in PyTorch / SciPy / scikit-learn. Usage:
    PY=${PY:-$(scripts/python-env | tail -n1)}; $PY bench/eval_bench.py [--images 100]
Prints one line per measurement: name, best seconds, detail.
"""
import argparse
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
    a = ap.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    side = 224

    g = torch.from_numpy(rng.random((1, 1, 28, 28), dtype=np.float32))
    t = best(lambda: [ndimage.gaussian_filter(F.interpolate(g, size=(side, side), mode="bilinear",
                                                            align_corners=False)[0, 0].numpy(), 4) for _ in range(10)],
             a.repeats) / 10
    print(f"anomaly_map {t:.6f} F.interpolate + scipy gaussian_filter(sigma=4), one 224x224 map")

    n = side * side
    yy, xx = np.mgrid[0:side, 0:side]
    blob = ((yy % 64) < 16) & ((xx % 64) < 16)
    labels = np.concatenate([blob.ravel() if i % 3 == 0 else np.zeros(n, bool) for i in range(a.images)])
    scores = rng.random(a.images * n, dtype=np.float32) + 0.3 * labels
    t = best(lambda: roc_auc_score(labels, scores), a.repeats)
    print(f"pixel_auroc {t:.6f} sklearn roc_auc_score over {a.images * n} pixels")

    bank = torch.from_numpy(rng.random((a.bank, a.dim), dtype=np.float32))
    q = torch.from_numpy(rng.random((784, a.dim), dtype=np.float32))
    t = best(lambda: torch.cdist(q, bank).min(1).values, a.repeats)
    print(f"patchcore_score {t:.6f} torch.cdist(784x{a.dim}, {a.bank}x{a.dim}).min(1)")

    imgs = [torch.from_numpy(rng.random((784, a.dim), dtype=np.float32)) for _ in range(8)]

    def infer():
        for f in imgs:
            s = torch.cdist(f, bank).min(1).values
            _ = float(s.max())
            up = F.interpolate(s.reshape(1, 1, 28, 28), size=(side, side), mode="bilinear", align_corners=False)
            ndimage.gaussian_filter(up[0, 0].numpy(), 4)

    t = best(infer, 1) / 8
    print(f"inference_patchcore {t:.6f} per image: cdist min + max + interpolate + gaussian_filter ({1 / t:.1f} images/s)")

    m = (a.coreset_patches // 784) * 784
    feats = torch.from_numpy(rng.random((m, a.dim), dtype=np.float32))
    t = best(lambda: coreset(feats, 0.1), 1)
    print(f"coreset {t:.6f} PatchCore approximate greedy coreset, 10% of {m} patches x {a.dim}, projected to 128")


if __name__ == "__main__":
    main()
