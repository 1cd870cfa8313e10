"""The runtime every job shares: seeds per unit of work, the device it says it uses, its log file."""

import hashlib
import logging

import pytest
import torch

from gradcorr.workflow import runtime
from gradcorr.workflow.runtime import derive_seed, pick_device, resolve_compile, setup_logging


def test_derived_seeds_are_stable_distinct_and_31_bit():
    seeds = {derive_seed(2022, "synthetic-model", "cnn_deep", "exp", t) for t in range(200)}
    assert len(seeds) == 200 and all(0 <= s < 2**31 for s in seeds)
    assert derive_seed(2022, "a", 1) == derive_seed(2022, "a", 1) != derive_seed(2023, "a", 1)
    # the same on every machine and run (sha256 of the names, not Python's salted hash()), so results reproduce
    digest = hashlib.sha256(b"7/synthetic-dataset").digest()
    assert derive_seed(7, "synthetic-dataset") == int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def test_pick_device_says_which_and_refuses_what_is_not_there(caplog):
    with caplog.at_level(logging.INFO, logger="gradcorr.workflow.runtime"):
        device = pick_device("auto")
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert f"device: {device.type}" in caplog.text
    assert pick_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            pick_device("cuda")


def test_cuda_turns_tf32_off(monkeypatch, caplog):
    """Picked on a machine with CUDA (stood in for here), float32 stays float32: no TF32 convolutions or matmuls."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Stand-in GPU")
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32  # the backend's own setters
    try:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
        with caplog.at_level(logging.INFO, logger="gradcorr.workflow.runtime"):
            assert pick_device("auto").type == "cuda"
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
    assert "device: cuda (Stand-in GPU), TF32 off" in caplog.text


def test_setup_logging_writes_the_rules_log_file(tmp_path):
    path = tmp_path / "logs" / "job.log"
    setup_logging(path)
    logging.getLogger("gradcorr.test").info("epoch 1/2")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "INFO gradcorr.test: epoch 1/2" in path.read_text()
    setup_logging()  # back to stderr only, for the tests that follow


def test_resolve_compile_follows_the_setting_and_the_toolchain(monkeypatch, caplog):
    """auto compiles only where inductor finds its compiler, and says so once when it does not; on without one is
    an error naming the cause; off never looks; an unknown value names the choices."""
    found, missing = (lambda device: None), (lambda device: "no C++ compiler for inductor (stand-in)")
    assert resolve_compile("auto", compiler_check=found) and resolve_compile("on", compiler_check=found)
    with caplog.at_level(logging.INFO, logger="gradcorr.workflow.runtime"):
        assert not resolve_compile("auto", compiler_check=missing)
    assert caplog.text.count("training eagerly (no C++ compiler") == 1
    with pytest.raises(RuntimeError, match="compile: on .*no C\\+\\+ compiler"):
        resolve_compile("on", compiler_check=missing)
    assert not resolve_compile("off", compiler_check=lambda device: pytest.fail("off must not check"))
    # auto: only jobs long enough to repay compiling, and not the ensemble engine on a CPU (measured slower)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gradcorr.workflow.runtime"):
        assert not resolve_compile("auto", steps=runtime.AUTO_MIN_STEPS - 1, compiler_check=found)
        assert not resolve_compile("auto", steps=runtime.AUTO_MIN_STEPS, ensemble=True, compiler_check=found)
    assert "fewer than the" in caplog.text and "ensemble engine compiled is slower" in caplog.text
    assert resolve_compile("auto", steps=runtime.AUTO_MIN_STEPS, compiler_check=found)
    assert resolve_compile("auto", "cuda", steps=runtime.AUTO_MIN_STEPS, ensemble=True, compiler_check=found)
    assert resolve_compile("on", steps=1, ensemble=True, compiler_check=found)
    assert resolve_compile(True, compiler_check=found) and not resolve_compile(False)  # YAML's unquoted on / off
    with pytest.raises(ValueError, match="unknown compile setting 'yes'.*'auto', 'on', 'off'"):
        resolve_compile("yes")
    # the real check: inductor's own compiler search, which fails when it finds no compiler
    from torch._inductor import cpp_builder

    def no_compiler() -> str:
        raise RuntimeError("Failed to find a working C++ compiler")

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    assert "no C++ compiler" in runtime.compiler_toolchain("cpu")
    assert not resolve_compile("auto")
