"""The published training protocol (Adam, BCE, plateau LR decay and early stopping on validation AUROC).

Callback semantics follow Keras 2, which the authors used: the learning rate drops by `lr_factor`
after `lr_patience` epochs without a validation-AUROC gain of more than `lr_min_delta`; training
stops after `early_stopping_patience` epochs without any gain, and the best epoch's weights are
restored. The consistency paper's Appendix B states less (Adam at its defaults, the best validation
epoch kept): `lr_schedule="constant"`, `early_stopping_patience=None` and `l2=0` give that protocol.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gradcorr.models.architectures import l2_penalty
from gradcorr.models.regularizers import RegularizerConfig, SpectralNorm, batch_loss

log = logging.getLogger(__name__)


LR_SCHEDULES = ("plateau", "constant")


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss before any epoch completed."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of the published protocol (gradient-correction paper, Appendix A).

    `lr_schedule` "plateau" lowers the learning rate on a validation plateau (the gradient-correction
    code), "constant" keeps it; `early_stopping_patience` None trains all `max_epochs` (the best epoch is
    kept either way); `l2` weighs the L2 penalty on kernels (0: none).
    """

    max_epochs: int = 100
    batch_size: int = 100
    learning_rate: float = 1e-3
    lr_schedule: str = "plateau"
    lr_factor: float = 0.2
    lr_patience: int = 3
    lr_min_delta: float = 1e-4
    min_lr: float = 1e-7
    early_stopping_patience: int | None = 10
    l2: float = 1e-6
    seed: int = 0
    log_every: int = 50
    regularizer: RegularizerConfig = RegularizerConfig()

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Build from a config mapping, ignoring keys that are not hyper-parameters."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in values.items() if k in names}
        if kwargs.get("lr_schedule", "plateau") not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}; got {kwargs['lr_schedule']!r}")
        if isinstance(kwargs.get("regularizer"), dict):
            kwargs["regularizer"] = RegularizerConfig(**kwargs["regularizer"])
        return cls(**kwargs)


class KerasSchedule:
    """Keras 2's ReduceLROnPlateau and EarlyStopping on a maximised metric, stepped once per epoch.

    Early stopping counts any gain (min_delta 0); the plateau rule needs a gain above `lr_min_delta`.
    After `lr_patience` epochs without such a gain the rate is multiplied by `lr_factor` (not below
    `min_lr`) and the count restarts; after `early_stopping_patience` epochs without a gain, stop.
    With `lr_schedule` "constant" the rate never drops; with `early_stopping_patience` None it never stops.
    """

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.lr = config.learning_rate
        self.best = self.lr_best = -math.inf
        self.wait = self.lr_wait = 0

    def update(self, metric: float) -> tuple[bool, float, bool]:
        """Feed one epoch's metric; returns (new best, learning rate for the next epoch, stop now)."""
        cfg = self.config
        improved = metric > self.best
        if improved:
            self.best, self.wait = metric, 0
        else:
            self.wait += 1
        if metric > self.lr_best + cfg.lr_min_delta:
            self.lr_best, self.lr_wait = metric, 0
        else:
            self.lr_wait += 1
            if cfg.lr_schedule == "plateau" and self.lr_wait >= cfg.lr_patience and self.lr > cfg.min_lr:
                self.lr = max(self.lr * cfg.lr_factor, cfg.min_lr)
                self.lr_wait = 0
        patience = cfg.early_stopping_patience
        return improved, self.lr, patience is not None and self.wait >= patience


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Sigmoid outputs (N,) in inference mode; restores the model's mode afterwards."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([torch.sigmoid(model(b.to(device))[:, 0]).cpu() for b in torch.split(x, batch_size)])
    model.train(was_training)
    return out


def validation_auroc(y: torch.Tensor, p: torch.Tensor) -> float:
    """AUROC of predictions p against labels y (tensors); NaN when a prediction is not finite (diverged)."""
    from sklearn.metrics import roc_auc_score  # a second of import, paid where used

    y_np, p_np = y.numpy().ravel(), p.numpy().ravel()
    return float(roc_auc_score(y_np, p_np)) if np.isfinite(p_np).all() else float("nan")


def train(model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor, x_valid: torch.Tensor,
          y_valid: torch.Tensor, config: TrainConfig, device: torch.device | str = "cpu",
          ) -> tuple[nn.Module, list[dict]]:
    """Train `model` in place and return it with the best epoch's weights and its per-epoch history.

    Data are (N, A, L) float tensors and (N, 1) labels; they stay on the CPU and go to `device` a batch
    at a time. Shuffling and dropout draw from generators seeded by `config.seed`. A non-finite loss
    stops training: the best completed epoch is kept (and the stop is recorded in the history), or
    NonFiniteLossError is raised when no epoch completed, so no broken weights are ever returned.
    """
    device = torch.device(device)
    torch.manual_seed(config.seed)
    order_rng = torch.Generator().manual_seed(config.seed)
    regularizer_rng = torch.Generator().manual_seed(config.seed + 1)  # mixing, noise, power iteration
    spectral = SpectralNorm()
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_fn = nn.BCEWithLogitsLoss()
    y_train = y_train.to(x_train.dtype).reshape(-1, 1)
    n_batches = math.ceil(len(x_train) / config.batch_size)

    history: list[dict] = []
    best_auroc, best_state, best_epoch = -math.inf, None, 0
    schedule = KerasSchedule(config)
    lr = config.learning_rate
    for epoch in range(1, config.max_epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=order_rng)
        total, seen, diverged = 0.0, 0, None
        for b, idx in enumerate(torch.split(order, config.batch_size), start=1):
            xb, yb = x_train[idx].to(device), y_train[idx].to(device)
            loss = batch_loss(model, xb, yb, loss_fn, config.regularizer, epoch, regularizer_rng, spectral)
            if config.l2:
                loss = loss + config.l2 * l2_penalty(model)
            value = loss.item()
            if not math.isfinite(value):
                diverged = f"non-finite loss ({value}) at epoch {epoch}, batch {b}"
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += value * len(idx)
            seen += len(idx)
            if config.log_every and b % config.log_every == 0:
                log.info("epoch %d batch %d/%d loss %.4f", epoch, b, n_batches, total / seen)
        if diverged:
            if best_state is None:
                raise NonFiniteLossError(f"{diverged}; no epoch completed, so no model is written")
            log.error("%s: stopping and keeping epoch %d (best validation AUROC %.4f)",
                      diverged, best_epoch, best_auroc)
            history.append({"epoch": epoch, "stopped": diverged})
            break

        p_valid = predict(model, x_valid)
        val_loss = float(nn.functional.binary_cross_entropy(
            p_valid.clamp(1e-7, 1 - 1e-7), y_valid.to(p_valid.dtype).reshape(-1)))
        val_auroc = validation_auroc(y_valid, p_valid)
        seconds = time.perf_counter() - start
        history.append({"epoch": epoch, "loss": total / seen, "val_loss": val_loss,
                        "val_auroc": val_auroc, "lr": lr, "seconds": seconds})
        log.info("epoch %d/%d loss %.4f val_loss %.4f val_auroc %.4f lr %.1e (%.1f s)",
                 epoch, config.max_epochs, total / seen, val_loss, val_auroc, lr, seconds)

        improved, new_lr, stop = schedule.update(val_auroc)
        if improved:
            best_auroc, best_epoch = val_auroc, epoch
            best_state = copy.deepcopy(model.state_dict())
        if new_lr != lr:
            lr = new_lr
            for group in optimizer.param_groups:
                group["lr"] = lr
            log.info("validation AUROC plateaued: learning rate now %.1e", lr)
        if stop:
            log.info("early stopping at epoch %d; best epoch %d", epoch, best_epoch)
            break

    if best_state is None:
        raise NonFiniteLossError("no epoch produced a finite validation AUROC")
    model.load_state_dict(best_state)
    log.info("restored epoch %d (validation AUROC %.4f)", best_epoch, best_auroc)
    return model, history
