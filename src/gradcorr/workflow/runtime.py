"""Device choice, compilation choice, seeding and logging shared by every stage.

torch is imported only by `pick_device` and `resolve_compile`, so that stages without a model start without it.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
DEVICES = ("auto", "cpu", "cuda")
COMPILE_SETTINGS = ("auto", "on", "off")
AUTO_MIN_STEPS = 10_000  # full batches per model below which "auto" trains eagerly (resolve_compile)


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


def compiler_toolchain(device: str = "cpu") -> str | None:
    """Why torch.compile (inductor) cannot build kernels for `device` here, or None when it can: on the CPU the
    C++ compiler inductor would call (its own search, `cpp_builder.get_cpp_compiler`), on CUDA Triton. A check
    of what inductor looks up, not a trial compilation (that costs seconds)."""
    import torch

    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    if device == "cuda":
        from torch.utils._triton import has_triton

        return None if has_triton() else "no Triton for CUDA kernels"
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except Exception as error:  # inductor raises its own error types when no compiler is found
        return f"no C++ compiler for inductor ({type(error).__name__}: {error})".strip()
    return None


def resolve_compile(setting: str | bool, device: str = "cpu", steps: int | None = None, ensemble: bool = False,
                    compiler_check: Callable[[str], str | None] = compiler_toolchain) -> bool:
    """Whether to train with torch.compile, from the workflow's `compile` setting (True / False: on / off): "on"
    compiles (RuntimeError when no toolchain is found), "off" trains eagerly, "auto" compiles where a toolchain is
    found, the job trains at least `AUTO_MIN_STEPS` full batches per model (`steps`; None: enough), and, on the
    CPU, models one at a time (not `ensemble`, the vectorised engine); else it trains eagerly, said in one log line.

    Measured on the CPU, one thread (`benchmarks/compile_speed.py`): a compiled step of CNN-deep alone is 1.13x an
    eager one, of CNN-shallow 0.98x, of the engine (K = 10) 0.87x and 0.76x; compiling costs about 30 s a model
    (minutes on a loaded machine). So "auto" compiles only long single-model jobs there. `compiler_check` (device
    -> reason or None) is the toolchain check (`compiler_toolchain`; tests swap it)."""
    if isinstance(setting, bool):  # YAML reads an unquoted on / off as true / false
        setting = "on" if setting else "off"
    if setting not in COMPILE_SETTINGS:
        raise ValueError(f"unknown compile setting {setting!r}; choose one of {COMPILE_SETTINGS}")
    if setting == "off":
        return False
    if setting == "auto" and ensemble and device == "cpu":
        log.info("compile: auto: training eagerly (the ensemble engine compiled is slower on a CPU)")
        return False
    if setting == "auto" and steps is not None and steps < AUTO_MIN_STEPS:
        log.info("compile: auto: training eagerly (%d training steps, fewer than the %d that repay compiling)",
                 steps, AUTO_MIN_STEPS)
        return False
    missing = compiler_check(device)
    if missing is None:
        return True
    if setting == "on":
        raise RuntimeError(f"compile: on was asked for, but torch.compile cannot run here: {missing}; set compile "
                           "to auto or off")
    log.info("compile: auto: training eagerly (%s)", missing)
    return False


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
