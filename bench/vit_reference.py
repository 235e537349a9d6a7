#!/usr/bin/env python3
"""Reference timing for `funad bench vit` (Sources/FunADBench/ViTBench.swift): timm's
ViT of the same shape (what a user would compare against), at 224 px on random weights
(pretrained=False: the arithmetic, hence the speed, does not depend on the values), CPU,
torch.set_num_threads(THREADS), eval(), torch.inference_mode(), attention through
F.scaled_dot_product_attention (timm's fused_attn, checked for every block), one warm-up
batch, then IMAGES images timed in batches of BATCH (default: all IMAGES in one forward,
as `funad bench vit` hands them to funad's forward; PyTorch runs faster per image in
larger batches, so a smaller one would flatter funad). The work is timm's forward_features
(patch embedding, 12 blocks, final norm): the class token and the patch tokens, which is
what funad's forward returns; the classifier head is left out (num_classes=0).

The hand-written model in scripts/fixtures/vit.py stays a parity fixture only: it spells
attention out, which is slower than what users run.

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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timm_import import import_timm  # noqa: E402

# funad's configuration name → timm's model of the same shape (DINO's ViTs are these).
MODELS = {
    "vit-s8": "vit_small_patch8_224",
    "vit-b8": "vit_base_patch8_224",
    "vit-s16": "vit_small_patch16_224",
    "vit-b16": "vit_base_patch16_224",
}


def flops(patch, dim, side=224, depth=12):
    """Multiply-adds × 2 of one forward, as ViTConfig.flops counts them."""
    g = side // patch
    n, h = g * g + 1, 4 * dim
    return 2 * (g * g * dim * 3 * patch * patch + depth * (n * dim * (4 * dim + 2 * h) + 2 * n * n * dim))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=0, help="images per forward (default: all --images at once, as funad's forward gets them)")
    ap.add_argument("--configs", default="vit-s8,vit-b8")
    ap.add_argument("--json", action="store_true", help="one JSON object of measurements on stdout")
    args = ap.parse_args()
    unknown = [c for c in args.configs.split(",") if c not in MODELS]
    if unknown:
        sys.exit(f"vit_reference.py: --configs: unknown ViT {', '.join(unknown)}; expected one of {', '.join(MODELS)}")
    args.batch = args.batch or args.images
    if args.images < 1 or args.batch < 1:
        sys.exit("vit_reference.py: --images and --batch must be at least 1")
    timm, import_note = import_timm()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    out = sys.stderr if args.json else sys.stdout
    rows, notes = [], [import_note]
    for name in args.configs.split(","):
        model = timm.create_model(MODELS[name], pretrained=False, num_classes=0).eval()
        fused = [blk.attn.fused_attn for blk in model.blocks]
        if not all(fused):
            sys.exit(f"vit_reference.py: timm {timm.__version__} does not use F.scaled_dot_product_attention in "
                     f"{fused.count(False)} of {len(fused)} blocks of {MODELS[name]} (TIMM_FUSED_ATTN set?)")
        patch, dim = model.patch_embed.patch_size[0], model.embed_dim
        x = torch.randn(args.images, 3, 224, 224, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            model.forward_features(x[: args.batch])
            start, cpu_start = time.perf_counter(), time.process_time()
            for i in range(0, args.images, args.batch):
                model.forward_features(x[i:i + args.batch])
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        ips = args.images / seconds
        print(f"timm {MODELS[name]}: {ips:.3f} images/s, {flops(patch, dim) * ips / 1e9:.1f} GFLOP/s "
              f"[{args.images / cpu:.3f} images/CPU-s] ({args.images} images, batch {args.batch}, {args.threads} threads, "
              f"timm {timm.__version__}, torch {torch.__version__}, SDPA)", file=out, flush=True)
        rows.append(dict(name=f"{name}_images_per_s", value=ips, unit="images/s", higher_is_better=True,
                         detail=f"timm {MODELS[name]} forward_features, {args.images} images at 224, batch {args.batch}, wall clock"))
        rows.append(dict(name=f"{name}_images_per_cpu_s", value=args.images / cpu, unit="images/CPU-s", higher_is_better=True,
                         detail="per CPU-second of the process"))
    if args.json:
        print(json.dumps({"area": "vit", "tool": f"timm {timm.__version__} (torch {torch.__version__}, SDPA)",
                          "threads": args.threads, "notes": notes, "measurements": rows}))


if __name__ == "__main__":
    main()
