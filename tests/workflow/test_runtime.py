"""The runtime every job shares: seeds per unit of work, the device it says it uses, its log file."""

import hashlib
import logging

import pytest
import torch

from gradcorr.workflow.runtime import derive_seed, pick_device, setup_logging


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
