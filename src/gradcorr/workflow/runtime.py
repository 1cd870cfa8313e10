"""Device choice, seeding and logging shared by every stage.

torch is imported only by `pick_device`, so that stages without a model start without it.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
DEVICES = ("auto", "cpu", "cuda")


def pick_device(preference: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else CPU; says which in the log.

    On CUDA it turns TF32 off, so that maps keep float32 precision as on the CPU: with PyTorch's default (TF32
    in cuDNN convolutions) saliency on an H200 differed from the CPU's by 1.6e-2 of its largest value, without
    it by 6e-4 (`benchmarks/motif_stage.py`).
    """
    import torch

    if preference not in DEVICES:
        raise ValueError(f"unknown device {preference!r}; choose one of {DEVICES}")
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA device")
    use_cuda = preference == "cuda" or (preference == "auto" and torch.cuda.is_available())
    device = torch.device("cuda" if use_cuda else "cpu")
    if use_cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        log.info("device: cuda (%s), TF32 off (float32 as on the CPU)", torch.cuda.get_device_name(device))
    else:
        log.info("device: cpu (%d threads)", torch.get_num_threads())
    return device


def derive_seed(base: int, *keys: object) -> int:
    """A stable 31-bit seed for one named unit of work (a model, a split), independent of run order."""
    text = "/".join([str(base), *map(str, keys)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO) -> None:
    """Log to stderr and, when given, to a file (the Snakemake rule's log)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=level, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
