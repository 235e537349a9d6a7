#!/usr/bin/env python3
"""Reference timing for `funad bench imaging`: decode + Resize((256,256), BILINEAR) +
CenterCrop(224) + ToTensor-style /255 + ImageNet normalisation of every MTD image, with
Pillow and NumPy (what torchvision's transforms do on a PIL image), on 1 and 2 processes.

Usage: PY=$(scripts/python-env | tail -n1); $PY bench/imaging_reference.py [MTD root]
(default root: ../shared/data/MTD relative to the repository, or $FUNAD_MTD_ROOT).
Prints images/s; the ratio to funad's number is the comparison.
"""
import glob
import os
import sys
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)


def preprocess(path):
    img = Image.open(path).convert("RGB").resize((256, 256), Image.BILINEAR)
    arr = np.asarray(img)
    top = int(round((256 - 224) / 2.0))
    arr = arr[top:top + 224, top:top + 224]
    chw = arr.transpose(2, 0, 1).astype(np.float32) / 255.0
    return ((chw - MEAN) / STD)[0, 0, 0]


def run(paths, processes, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        if processes == 1:
            for p in paths:
                preprocess(p)
        else:
            with Pool(processes) as pool:
                pool.map(preprocess, paths, chunksize=16)
        best = min(best, time.perf_counter() - start)
    return best


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        "FUNAD_MTD_ROOT", os.path.join(here, "..", "..", "shared", "data", "MTD"))
    paths = sorted(glob.glob(os.path.join(root, "MT_*", "Imgs", "*.jpg")))
    if not paths:
        sys.exit(f"no MTD images under {root}")
    for processes in (1, 2):
        s = run(paths, processes)
        print(f"pillow+numpy decode+preprocess: {len(paths)} images, {processes} process(es), "
              f"{s:.3f} s, {len(paths) / s:.1f} images/s")


if __name__ == "__main__":
    main()
