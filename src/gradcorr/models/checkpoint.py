"""Save and load trained models together with their configuration and training history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from gradcorr.data.io import atomic_path
from gradcorr.models.architectures import build_model

FORMAT = "gradcorr-model-1"


def save_model(path: str | Path, model: nn.Module, arch: str, model_kwargs: dict[str, Any],
               history: list[dict], train_config: dict[str, Any], **meta: Any) -> None:
    """Write weights (on the CPU), architecture, training config and history to one file, atomically."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "arch": arch, "model_kwargs": dict(model_kwargs), "state_dict": state,
               "history": history, "train_config": dict(train_config), "meta": meta}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a saved model in inference mode; returns (model, everything else that was saved)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several unrelated types for a foreign or corrupt file
        raise ValueError(f"{path}: not a readable model file: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a gradcorr model file (expected format {FORMAT!r})")
    model = build_model(payload["arch"], **payload["model_kwargs"])
    model.load_state_dict(payload.pop("state_dict"))
    return model.to(device).eval(), payload
