#!/usr/bin/env python3
"""Reference timing of the exact kNN rows of `funad bench eval` (Sources/FunADBench/EvalBench.swift)
with faiss-cpu's IndexFlatL2, the exact index PatchCore's released code and most anomaly
detection code search their memory banks with:

  patchcore_score  one image's 784 patches against a 16,384-row bank, nearest distance
                   (best of --repeats searches)
  bank_knn         --knn-queries patches (default 3,136: four images) against a
                   --knn-bank-row bank (default 78,400: 100 images), nearest distance (one search)

1536-d seeded uniform data; adding the bank to the index is not timed (funad's bank norms
are not either); the square root of faiss's squared distances is, as funad returns
distances. faiss uses --threads OpenMP threads. This script imports no torch: faiss and
torch each bring their own OpenMP runtime, and one process should hold one.

Usage: PY=$(scripts/python-env | tail -n1); $PY bench/knn_reference.py [--threads 2] [--only patchcore_score,bank_knn] [--json]
With --json the lines go to stderr and stdout gets one JSON object of measurements with the
same row names as `funad bench eval --json` (bench/run-all pairs them).
"""
import argparse
import json
import sys
import time

import faiss
import numpy as np

ROWS = ("patchcore_score", "bank_knn")


def search_seconds(bank, queries, repeats):
    """Best wall time of `repeats` exact 1-NN searches (distance = sqrt of faiss's squared L2)."""
    index = faiss.IndexFlatL2(bank.shape[1])
    index.add(bank)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        d2, _ = index.search(queries, 1)
        np.sqrt(np.maximum(d2[:, 0], 0))
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default=",".join(ROWS))
    ap.add_argument("--bank", type=int, default=16384)
    ap.add_argument("--dim", type=int, default=1536)
    ap.add_argument("--knn-queries", type=int, default=3136)
    ap.add_argument("--knn-bank", type=int, default=78400)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="one JSON object of measurements on stdout")
    a = ap.parse_args()
    only = a.only.split(",")
    unknown = [r for r in only if r not in ROWS]
    if unknown:
        sys.exit(f"knn_reference.py: --only: unknown row {', '.join(unknown)}; expected {', '.join(ROWS)}")
    if min(a.threads, a.bank, a.dim, a.knn_queries, a.knn_bank, a.repeats) < 1:
        sys.exit("knn_reference.py: --threads, --bank, --dim, --knn-queries, --knn-bank and --repeats must be at least 1")
    faiss.omp_set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    rows = []

    def emit(name, seconds, detail):
        print(f"{name} {seconds:.6f} s  {detail}", file=sys.stderr if a.json else sys.stdout, flush=True)
        rows.append(dict(name=name, value=seconds, unit="s", higher_is_better=False, detail=detail))

    if "patchcore_score" in only:
        bank = rng.random((a.bank, a.dim), dtype=np.float32)
        q = rng.random((784, a.dim), dtype=np.float32)
        emit("patchcore_score", search_seconds(bank, q, a.repeats),
             f"faiss IndexFlatL2({a.dim}) search k=1: 784 queries vs {a.bank} rows")
    if "bank_knn" in only:
        bank = rng.random((a.knn_bank, a.dim), dtype=np.float32)
        q = rng.random((a.knn_queries, a.dim), dtype=np.float32)
        t = search_seconds(bank, q, 1)
        tflop = 2 * a.knn_queries * a.knn_bank * a.dim / 1e12
        emit("bank_knn", t, f"faiss IndexFlatL2({a.dim}) search k=1: {a.knn_queries} queries vs {a.knn_bank} rows "
                            f"({tflop:.2f} TFLOP of products, {tflop * 1e3 / t:.0f} GFLOP/s)")
    if a.json:
        print(json.dumps({"area": "eval", "tool": f"faiss-cpu {faiss.__version__} IndexFlatL2", "threads": a.threads,
                          "notes": [], "measurements": rows}))


if __name__ == "__main__":
    main()
