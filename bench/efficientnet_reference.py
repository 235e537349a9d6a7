#!/usr/bin/env python3
"""Reference timing for `funad bench efficientnet` (Sources/FunADBench/EfficientNetBench.swift):
timm's `efficientnet_lite0` (what a user would compare against) doing the work of funad's
extract: timm's forward_features (stem, the 7 stages, 1×1 head conv to 1280 + BN + ReLU6),
the global average pool of the head (the global vector), and the local grid: the outputs of
stage 2 (40 channels, 28×28) and stage 4 (112 channels, 14×14, resized bilinearly to 28×28)
concatenated and laid out patch-major (batch, 784, 152), as funad returns them. The stage
outputs are taken with forward hooks, so the network that runs is timm's forward_features
unchanged. Random weights (pretrained=False: the speed does not depend on the values), CPU,
eval(), torch.inference_mode(), one warm-up pass, then the median of ITERATIONS passes.

Usage: PY=$(scripts/python-env | tail -n1); $PY bench/efficientnet_reference.py [--batch 8] [--iterations 10] [--threads 2] [--json]
With --json the line goes to stderr and stdout gets one JSON object of measurements with the
same row names as `funad bench efficientnet --json` (bench/run-all pairs them).
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timm_import import import_timm  # noqa: E402

# The stages funad's EfficientNetLite.Layers uses by default for the local vectors.
LOCAL_STAGES = (2, 4)


class Extractor:
    """timm's model plus funad's feature contract: global = mean of the head, local = the
    chosen stages at the finest of their grids, concatenated along channels."""

    def __init__(self, model):
        self.model = model
        self.taps = {}
        for s in LOCAL_STAGES:
            model.blocks[s].register_forward_hook(lambda _m, _i, out, s=s: self.taps.__setitem__(s, out))

    def __call__(self, x):
        head = self.model.forward_features(x)
        glob = head.mean(dim=(2, 3))
        maps = [self.taps[s] for s in LOCAL_STAGES]
        side = max(m.shape[-1] for m in maps)
        maps = [m if m.shape[-1] == side else F.interpolate(m, size=(side, side), mode="bilinear", align_corners=False)
                for m in maps]
        local = torch.cat(maps, dim=1).permute(0, 2, 3, 1).reshape(x.shape[0], side * side, -1).contiguous()
        return glob, local


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--side", type=int, default=224)
    p.add_argument("--json", action="store_true", help="one JSON object of measurements on stdout")
    a = p.parse_args()
    if a.batch < 1 or a.iterations < 1:
        sys.exit("efficientnet_reference.py: --batch and --iterations must be at least 1")
    timm, import_note = import_timm()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    extract = Extractor(timm.create_model("efficientnet_lite0", pretrained=False).eval())
    x = torch.rand(a.batch, 3, a.side, a.side, generator=torch.Generator().manual_seed(1)) * 2 - 1
    times = []
    with torch.inference_mode():
        glob, local = extract(x)
        for _ in range(a.iterations):
            t0 = time.perf_counter()
            extract(x)
            times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    line = (f"timm {timm.__version__} efficientnet_lite0 {a.side}x{a.side} batch {a.batch}, {a.threads} threads, torch {torch.__version__}: "
            f"{a.batch / med:.1f} images/s (median {med * 1000:.1f} ms/batch, best {min(times) * 1000:.1f} ms, {len(times)} runs); "
            f"global {tuple(glob.shape)}, local {tuple(local.shape)}")
    print(line, file=sys.stderr if a.json else sys.stdout)
    if a.json:
        print(json.dumps({"area": "efficientnet", "tool": f"timm {timm.__version__} (torch {torch.__version__})", "threads": a.threads,
                          "notes": ["weights: random (pretrained=False); forward_features + head pool + stages 2 and 4 on a 28×28 grid",
                                    import_note],
                          "measurements": [
                              dict(name="images_per_s", value=a.batch / med, unit="images/s", higher_is_better=True,
                                   detail=f"batch {a.batch}, median of {len(times)} passes"),
                              dict(name="best_batch", value=min(times) * 1000, unit="ms", higher_is_better=False,
                                   detail=f"fastest pass of batch {a.batch}")]}))


if __name__ == "__main__":
    main()
