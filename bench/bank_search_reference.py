#!/usr/bin/env python3
"""Reference timings for `funad bench bank-search` (Sources/FunADBench/BankSearchBench.swift):
the exact nearest bank row of each query with faiss-cpu IndexFlatL2 (what a PatchCore user
runs: PatchCore's own code and anomalib use faiss or torch.cdist), on banks of the same
shapes and the same layout (per-image global part shared by the image's rows, then a
local part). faiss searches the full rows; it has no notion of the shared part. Usage:
    PY=${PY:-$(scripts/python-env | tail -n1)}; $PY bench/bank_search_reference.py [--threads 2] [--json]
With --json the human lines go to stderr and stdout carries one JSON object with rows
bank_knn_lite0 and bank_knn_vitb8 (bench/run-all pairs them with funad's rows).
"""
import argparse
import json
import sys
import time

import numpy as np

LAYOUTS = [  # name, global, local, bank images, bank rows, query images, patches per image
    ("lite0", 1280, 152, 837, 65620, 2, 784),
    ("vitb8", 768, 768, 100, 78400, 2, 784),
]


def rows(images, count, g, l, rng):
    globals_ = rng.uniform(-3, 3, size=(images, g)).astype(np.float32)
    owner = (np.arange(count) * images) // count
    return np.ascontiguousarray(np.hstack([globals_[owner], rng.uniform(-1, 1, size=(count, l)).astype(np.float32)]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    import faiss
    faiss.omp_set_num_threads(a.threads)
    out = sys.stderr if a.json else sys.stdout
    measurements = []
    rng = np.random.default_rng(0)
    for name, g, l, images, bank_rows, query_images, p in LAYOUTS:
        bank = rows(images, bank_rows, g, l, rng)
        queries = rows(query_images, query_images * p, g, l, rng)
        index = faiss.IndexFlatL2(g + l)
        index.add(bank)
        best = float("inf")
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            index.search(queries, 1)
            best = min(best, time.perf_counter() - t0)
        detail = f"{query_images}×{p} queries vs {bank_rows} rows × {g + l}, faiss {faiss.__version__} IndexFlatL2, k=1"
        print(f"bank_knn_{name} {best:.4f} s  {detail}", file=out)
        measurements.append({"name": f"bank_knn_{name}", "value": best, "unit": "s", "higher_is_better": False, "detail": detail})
    if a.json:
        print(json.dumps({"area": "bank-search", "tool": "faiss-cpu", "threads": a.threads, "notes": [], "measurements": measurements}))


if __name__ == "__main__":
    main()
