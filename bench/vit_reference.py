#!/usr/bin/env python3
"""PyTorch reference timing for `funad bench vit` (Sources/FunADBench/ViTBench.swift):
the same DINO ViT (scripts/fixtures/vit.py's model) at 224 px on random weights, CPU,
torch.set_num_threads(THREADS), inference_mode, one warm-up batch, then IMAGES images
timed in batches of BATCH. Prints images/s and GFLOP/s per configuration.

Usage: $PY bench/vit_reference.py [--images N] [--threads T] [--batch B] [--configs vit-b8,vit-s8] [--json]
With --json the lines go to stderr and stdout gets one JSON object of measurements with the
same row names as `funad bench vit --json` (bench/run-all pairs them).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "fixtures"))
from vit import VisionTransformer, init_like_swift  # noqa: E402

CONFIGS = {
    "vit-s8": dict(patch=8, dim=384, heads=6),
    "vit-b8": dict(patch=8, dim=768, heads=12),
    "vit-s16": dict(patch=16, dim=384, heads=6),
    "vit-b16": dict(patch=16, dim=768, heads=12),
}


def flops(patch, dim, side=224, depth=12):
    g = side // patch
    n, h = g * g + 1, 4 * dim
    return 2 * (g * g * dim * 3 * patch * patch + depth * (n * dim * (4 * dim + 2 * h) + 2 * n * n * dim))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--configs", default="vit-b8,vit-s8")
    ap.add_argument("--json", action="store_true", help="one JSON object of measurements on stdout")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    rows = []
    for name in args.configs.split(","):
        cfg = CONFIGS[name]
        model = init_like_swift(VisionTransformer(depth=12, **cfg), g).eval()
        x = torch.randn(args.images, 3, 224, 224, generator=g)
        with torch.inference_mode():
            model(x[: args.batch])
            start, cpu_start = time.perf_counter(), time.process_time()
            for i in range(0, args.images, args.batch):
                model(x[i:i + args.batch])
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        ips = args.images / seconds
        print(f"pytorch {name}: {ips:.3f} images/s, {flops(cfg['patch'], cfg['dim']) * ips / 1e9:.1f} GFLOP/s "
              f"[{args.images / cpu:.3f} images/CPU-s] ({args.images} images, batch {args.batch}, {args.threads} threads, torch {torch.__version__})",
              file=sys.stderr if args.json else sys.stdout, flush=True)
        rows.append(dict(name=f"{name}_images_per_s", value=ips, unit="images/s", higher_is_better=True,
                         detail=f"{args.images} images at 224, batch {args.batch}, wall clock"))
        rows.append(dict(name=f"{name}_images_per_cpu_s", value=args.images / cpu, unit="images/CPU-s", higher_is_better=True,
                         detail="per CPU-second of the process"))
    if args.json:
        print(json.dumps({"area": "vit", "tool": f"pytorch {torch.__version__}", "threads": args.threads, "notes": [],
                          "measurements": rows}))


if __name__ == "__main__":
    main()
