#!/usr/bin/env python3
"""Reference timing for `funad bench imaging`: decode + Resize((256,256), BILINEAR) +
CenterCrop(224) + ToTensor-style /255 + ImageNet normalisation of every MTD image, with
Pillow and NumPy (what torchvision's transforms do on a PIL image), on 1 and 2 processes.

Usage: PY=$(scripts/python-env | tail -n1); $PY bench/imaging_reference.py [MTD root] [--processes 1,2] [--json]
(default root: ../shared/data/MTD relative to the repository, or $FUNAD_MTD_ROOT).
Prints images/s; the ratio to funad's number is the comparison. With --json the lines go to
stderr and stdout gets one JSON object of measurements with the same row name as
`funad bench imaging --json` (decode_preprocess_mtd, for the last process count given).
"""
import argparse
import glob
import json
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
    ap = argparse.ArgumentParser()
    ap.add_argument("root", nargs="?", default=os.environ.get(
        "FUNAD_MTD_ROOT", os.path.join(here, "..", "..", "shared", "data", "MTD")))
    ap.add_argument("--processes", default="1,2", help="comma-separated process counts")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="one JSON object of measurements on stdout")
    a = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(a.root, "MT_*", "Imgs", "*.jpg")))
    if not paths:
        sys.exit(f"no MTD images under {a.root}")
    rows = []
    for processes in [int(p) for p in a.processes.split(",")]:
        s = run(paths, processes, a.repeats)
        print(f"pillow+numpy decode+preprocess: {len(paths)} images, {processes} process(es), "
              f"{s:.3f} s, {len(paths) / s:.1f} images/s", file=sys.stderr if a.json else sys.stdout, flush=True)
        rows = [dict(name="decode_preprocess_mtd", value=len(paths) / s, unit="images/s", higher_is_better=True,
                     detail=f"{len(paths)} MTD JPEGs, Pillow + NumPy, {processes} processes, best of {a.repeats}")]
    if a.json:
        import PIL
        print(json.dumps({"area": "imaging", "tool": f"pillow {PIL.__version__} + numpy {np.__version__}",
                          "threads": processes, "notes": [], "measurements": rows}))


if __name__ == "__main__":
    main()
