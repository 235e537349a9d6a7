"""Imports timm on the CPU-only PyTorch wheel this machine kind ships.

timm imports torchvision (for FrozenBatchNorm2d and its data transforms). PyPI's
torchvision is built against PyPI's CUDA torch, so its compiled operators (_C.so) do not
load beside a `+cpu` torch; torchvision then still registers fake kernels for two of those
operators (torchvision::nms and torchvision::qnms) without checking that they exist, and
its import fails with "operator torchvision::nms does not exist" (pytorch/vision#9085).
None of torchvision's compiled operators is used by the timm models timed here, so when
_C cannot load, the two operator schemas are declared before the import and nothing else
changes: every layer that runs is timm's and PyTorch's own.
"""
import glob
import os

import torch


def _torchvision_ops_load():
    import importlib.util
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # not installed: timm's own ImportError says so
    for folder in spec.submodule_search_locations:
        for lib in glob.glob(os.path.join(folder, "_C*.so")):
            try:
                torch.ops.load_library(lib)
                return True
            except OSError:
                return False
    return False


def import_timm():
    """Returns the timm module, with torchvision's missing operator schemas declared
    when its compiled library does not load against this torch. Also says which."""
    note = "torchvision's compiled operators loaded"
    if not _torchvision_ops_load():
        for name in ("nms", "qnms"):
            torch.library.define(f"torchvision::{name}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        note = ("torchvision's compiled operators do not load beside this CPU torch (PyPI builds them for CUDA); "
                "declared torchvision::nms/qnms so that its Python layers import (no model here uses them)")
    import timm
    return timm, note
