"""The published training protocol (Adam, BCE, plateau LR decay and early stopping on validation AUROC); AdamW
with decoupled weight decay as an option (`TrainConfig.weight_decay`).

Callback semantics follow Keras 2, which the authors used: the learning rate drops by `lr_factor`
after `lr_patience` epochs without a validation-AUROC gain of more than `lr_min_delta`; training
stops after `early_stopping_patience` epochs without any gain, and the best epoch's weights are
restored. The consistency paper's Appendix B states less (Adam at its defaults, the best validation
epoch kept): `lr_schedule="constant"`, `early_stopping_patience=None` and `l2=0` give that protocol.

A training schedule (`TrainConfig.phases`, each a `Phase`) changes the learning rate, the dropout rate
and the layers' mode from one epoch to the next: the regularization-saliency paper's two-phase regime
(Labelson, Tripathy & Koo, section 5) is one. Epoch hooks score the model after every epoch (and once
before the first), into its history: see `gradcorr.monitor` for the scores of the studies.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from gradcorr.models.architectures import KerasFlatten, l2_penalty, reinitialize
from gradcorr.models.dropout import check_method, dropout_masks, mask_generator, masked_forward
from gradcorr.models.regularizers import RegularizerConfig, SpectralNorm, batch_loss

log = logging.getLogger(__name__)


LR_SCHEDULES = ("plateau", "constant")


# A hook scores a model after an epoch: called with a module in any mode (it must leave the mode and weights as
# it found them, and draw no random numbers from torch's global generator) that maps inputs (B, members*A, L)
# to logits (B, members), and the number of members; returns one dict of scores per member.
EpochHook = Callable[[nn.Module, int], list[dict[str, float]]]
RESTART_SEED_OFFSET = 2  # a restarting phase draws its weights from seed + 2 (seed + 1 is the regularizer's)


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss before any epoch completed."""


@dataclass(frozen=True)
class Phase:
    """One phase of a training schedule (`TrainConfig.phases`).

    `epochs` is its length (None: to `max_epochs`, the last phase only); `learning_rate` its rate (None:
    the config's); `dropout` the rate of every dropout layer before the dense head, the "r" of the
    regularization-saliency paper (None: as built); `train_mode` False trains with every layer in inference
    mode (no dropout at all, BatchNorm on its running statistics, which stay fixed), as the authors' code
    trains its first phase; `restart` draws fresh weights (seeded from the config's seed) and a fresh optimizer
    state (Adam or AdamW) when the phase starts, as the authors' code starts its second phase.
    """

    epochs: int | None = None
    learning_rate: float | None = None
    dropout: float | None = None
    train_mode: bool = True
    restart: bool = False

    def __post_init__(self) -> None:
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"a phase lasts at least one epoch; got epochs={self.epochs}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ValueError(f"a phase's learning_rate must be > 0; got {self.learning_rate}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ValueError(f"a phase's dropout must be in [0, 1); got {self.dropout}")


def check_phases(phases: Sequence[Phase], max_epochs: int) -> None:
    """ValueError unless the phases fit `max_epochs`: only the last may leave `epochs` open, and the fixed
    lengths may not exceed it (a schedule cut short by `max_epochs` is an error, not a silent change)."""
    if any(p.epochs is None for p in phases[:-1]):
        raise ValueError("only the last phase may leave its epochs open (it runs to max_epochs)")
    fixed = sum(p.epochs or 0 for p in phases)
    if fixed > max_epochs or (phases and phases[-1].epochs is not None and fixed != max_epochs):
        raise ValueError(f"the phases last {fixed} epochs but max_epochs is {max_epochs}; they must add up to it "
                         "(or leave the last phase's epochs open)")


def phase_starting(phases: Sequence[Phase], epoch: int) -> Phase | None:
    """The phase that starts at this 1-based epoch, or None when none does."""
    start = 1
    for phase in phases:
        if epoch == start:
            return phase
        if phase.epochs is None:
            return None
        start += phase.epochs
    return None


def describe_phase(phase: Phase, epoch: int, lr: float) -> str:
    """The log line of a phase starting at `epoch` with rate `lr`."""
    dropout = "as built" if phase.dropout is None else phase.dropout
    mode = "training mode" if phase.train_mode else "inference mode"
    return (f"epoch {epoch}: a phase starts (learning rate {lr:.1e}, dropout {dropout}, {mode}"
            f"{', fresh weights' if phase.restart else ''})")


def set_dropout(model: nn.Module, rate: float) -> None:
    """Set every dropout layer before the dense head (the first `KerasFlatten`) to `rate`, in place."""
    for layer in model:
        if isinstance(layer, KerasFlatten):
            break
        if isinstance(layer, nn.Dropout):
            layer.p = rate


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of the published protocol (gradient-correction paper, Appendix A).

    `lr_schedule` "plateau" lowers the learning rate on a validation plateau (the gradient-correction
    code), "constant" keeps it; `early_stopping_patience` None trains all `max_epochs` (the best epoch is
    kept either way); `l2` weighs the L2 penalty on kernels (0: none), a term of the loss.
    `weight_decay` > 0 trains with AdamW's decoupled weight decay instead of Adam (the faithful-attributions
    paper's optimizer): every parameter, biases included, shrinks by lr * weight_decay of itself before each
    Adam step (`torch.optim.AdamW`); 0 (the default) is plain Adam. It is separate from `l2`, which goes
    through Adam's moments: set `l2` to 0 for weight decay alone.
    `dropout_masks` names the generator of the dropout masks (`dropout.dropout_mask`): "bernoulli" draws what
    `nn.Dropout` draws, "bits" draws ours, about 5x cheaper on a CPU.
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
    weight_decay: float = 0.0
    seed: int = 0
    log_every: int = 50
    regularizer: RegularizerConfig = RegularizerConfig()
    phases: tuple[Phase, ...] = ()
    dropout_masks: str = "bernoulli"

    def __post_init__(self) -> None:
        check_phases(self.phases, self.max_epochs)
        check_method(self.dropout_masks)
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0; got {self.weight_decay}")

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Build from a config mapping, ignoring keys that are not hyper-parameters."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in values.items() if k in names}
        if kwargs.get("lr_schedule", "plateau") not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}; got {kwargs['lr_schedule']!r}")
        if isinstance(kwargs.get("regularizer"), dict):
            kwargs["regularizer"] = RegularizerConfig(**kwargs["regularizer"])
        kwargs["phases"] = tuple(p if isinstance(p, Phase) else Phase(**p) for p in kwargs.get("phases") or ())
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

    def start_phase(self, lr: float) -> None:
        """A phase starts at rate `lr`: the plateau count restarts (the best metric and the patience do not)."""
        self.lr, self.lr_wait = lr, 0

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
    """Sigmoid outputs in inference mode: (N,) for a model with one output, (N, T) for one with T outputs (one
    per task); restores the model's mode afterwards."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([torch.sigmoid(model(b.to(device))).cpu() for b in torch.split(x, batch_size)])
    model.train(was_training)
    return out[:, 0] if out.shape[1] == 1 else out


def task_aurocs(y: torch.Tensor, p: torch.Tensor) -> np.ndarray:
    """Each task's AUROC of predictions p (N, T) against labels y (N, T), tensors: (T,), NaN for a task whose
    labels hold one class only (its AUROC is undefined) and for every task when a prediction is not finite."""
    from sklearn.metrics import roc_auc_score  # a second of import, paid where used

    y_np, p_np = y.numpy().reshape(p.shape), p.numpy()
    out = np.full(p_np.shape[1], np.nan)
    if not np.isfinite(p_np).all():
        return out
    for t in range(p_np.shape[1]):
        if len(np.unique(y_np[:, t])) == 2:
            out[t] = roc_auc_score(y_np[:, t], p_np[:, t])
    return out


def validation_auroc(y: torch.Tensor, p: torch.Tensor) -> float:
    """AUROC of predictions p against labels y (tensors); NaN when a prediction is not finite (diverged).

    One output (p (N,) or (N, 1)): the AUROC of all entries. T > 1 outputs (p (N, T), y (N, T)): the mean over
    tasks of each task's AUROC (`task_aurocs`), over the tasks whose labels hold both classes (the others have
    none), as multi-task models are scored; NaN when no task does."""
    if p.dim() > 1 and p.shape[1] > 1:
        scores = task_aurocs(y, p)
        return float(np.mean(scores[np.isfinite(scores)])) if np.isfinite(scores).any() else float("nan")
    from sklearn.metrics import roc_auc_score  # a second of import, paid where used

    y_np, p_np = y.numpy().ravel(), p.numpy().ravel()
    return float(roc_auc_score(y_np, p_np)) if np.isfinite(p_np).all() else float("nan")


def _check_labels(model: nn.Module, x: torch.Tensor, y: torch.Tensor, name: str, device: torch.device) -> int:
    """The model's number of outputs T (from one sequence in inference mode); ValueError unless `y` holds one
    label per sequence of `x`, in T columns ((N,) or (N, 1) when T is 1)."""
    if len(y) != len(x):
        raise ValueError(f"{name} has {len(y)} rows but there are {len(x)} sequences")
    was_training = model.training
    model.eval()
    with torch.no_grad():
        outputs = model(x[:1].to(device)).shape[1]
    model.train(was_training)
    columns = 1 if y.dim() == 1 else math.prod(y.shape[1:])
    if y.dim() > 2 or columns != outputs:
        raise ValueError(f"{name} of shape {tuple(y.shape)} has {columns} label columns but the model has {outputs} "
                         f"outputs (tasks); labels must be (N, {outputs})")
    return outputs


def run_hooks(hooks: Sequence[EpochHook], model: nn.Module, members: int) -> list[dict[str, float]]:
    """Every hook's scores of each member, merged: one dict per member."""
    rows: list[dict[str, float]] = [{} for _ in range(members)]
    for hook in hooks:
        for row, scores in zip(rows, hook(model, members), strict=True):
            row.update(scores)
    return rows


def make_optimizer(params: Iterable[nn.Parameter], lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam at rate `lr`, or AdamW with decoupled `weight_decay` on every parameter when that is > 0 (otherwise
    torch's defaults: betas (0.9, 0.999), eps 1e-8)."""
    if weight_decay > 0:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adam(params, lr=lr)


def train(model: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor, x_valid: torch.Tensor,
          y_valid: torch.Tensor, config: TrainConfig, device: torch.device | str = "cpu",
          hooks: Sequence[EpochHook] = (), keep_last: bool = False, compile: bool = False,
          ) -> tuple[nn.Module, list[dict]] | tuple[nn.Module, list[dict], nn.Module]:
    """Train `model` in place and return it with the best epoch's weights and its per-epoch history; with
    `keep_last`, also a copy of the model as the last epoch left it.

    Data are (N, A, L) float tensors and (N, 1) labels for a model with one output, (N, T) for a model with
    T outputs (one per task, a multi-task model such as `architectures.basset`): the loss is BCE with logits
    averaged over every entry, the validation loss likewise, and the validation AUROC is the mean over tasks
    of each task's AUROC, over the tasks whose validation labels hold both classes (`validation_auroc`);
    ValueError when the labels' columns are not the model's outputs. They stay on the CPU and go to
    `device` a batch at a time. Shuffling and dropout draw from generators seeded by `config.seed` (the masks
    by `config.dropout_masks`).
    `config.phases` change the learning rate, dropout and mode as they start (`Phase`). Each of `hooks`
    scores the model after every epoch, and once before the first (a history row of epoch 0), into the
    epoch's row of the history.
    A non-finite loss stops training: the best completed epoch is kept (and the stop is recorded in the
    history), or NonFiniteLossError is raised when no epoch completed, so no broken weights are ever returned.

    `compile` runs each full batch's loss (forward, and so backward) through torch.compile (inductor), for the
    published loss and an `nn.Sequential` (other regularizers draw from generators or take a double backward:
    they run eagerly, said in the log). The last, partial batch of an epoch, the optimizer step (compiled, 2%
    more gain, a recompilation at every learning-rate change, and bias corrections in float32) and validation run
    eagerly (`benchmarks/compile_speed.py`). The dropout masks are drawn eagerly, as the dropout layers draw
    them (`dropout.dropout_masks`, by `config.dropout_masks`), and passed in, so compiled training equals eager
    training to float rounding.
    """
    device = torch.device(device)
    torch.manual_seed(config.seed)
    order_rng = torch.Generator().manual_seed(config.seed)
    regularizer_rng = torch.Generator().manual_seed(config.seed + 1)  # mixing, noise, power iteration
    spectral = SpectralNorm()
    model.to(device)
    optimizer = make_optimizer(model.parameters(), config.learning_rate, config.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    outputs = _check_labels(model, x_train, y_train, "y_train", device)
    _check_labels(model, x_valid, y_valid, "y_valid", device)
    y_train = y_train.to(x_train.dtype).reshape(-1, outputs)
    n_batches = math.ceil(len(x_train) / config.batch_size)

    def masked_loss(xb: torch.Tensor, yb: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
        """The published loss of one batch (BCE and the L2 term), the dropout masks given (`dropout_masks`)."""
        loss = loss_fn(masked_forward(model, xb, masks), yb)
        return loss + config.l2 * l2_penalty(model) if config.l2 else loss

    compiled_loss = None
    if compile and (config.regularizer.name != "none" or not isinstance(model, nn.Sequential)):
        log.info("compile: training eagerly (%s)", "not an nn.Sequential" if config.regularizer.name == "none"
                 else f"the {config.regularizer.name} regularizer")
    elif compile:
        compiled_loss = torch.compile(masked_loss)

    history: list[dict] = [{"epoch": 0, **run_hooks(hooks, model, 1)[0]}] if hooks else []
    best_auroc, best_state, best_epoch = -math.inf, None, 0
    schedule = KerasSchedule(config)
    lr = config.learning_rate
    train_mode = True
    with mask_generator(model, config.dropout_masks):
        for epoch in range(1, config.max_epochs + 1):
            start = time.perf_counter()
            phase = phase_starting(config.phases, epoch)
            if phase is not None:
                if phase.restart:
                    reinitialize(model, torch.Generator().manual_seed(config.seed + RESTART_SEED_OFFSET))
                    optimizer = make_optimizer(model.parameters(), lr, config.weight_decay)
                    spectral = SpectralNorm()
                lr = phase.learning_rate or config.learning_rate
                for group in optimizer.param_groups:
                    group["lr"] = lr
                schedule.start_phase(lr)
                if phase.dropout is not None:
                    set_dropout(model, phase.dropout)
                train_mode = phase.train_mode
                log.info(describe_phase(phase, epoch, lr))
            model.train(train_mode)
            order = torch.randperm(len(x_train), generator=order_rng)
            total, seen, diverged = 0.0, 0, None
            for b, idx in enumerate(torch.split(order, config.batch_size), start=1):
                xb, yb = x_train[idx].to(device), y_train[idx].to(device)
                full = compiled_loss is not None and len(idx) == config.batch_size
                if full:
                    loss = compiled_loss(xb, yb, dropout_masks(model, xb, config.dropout_masks))
                else:
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
                p_valid.clamp(1e-7, 1 - 1e-7), y_valid.to(p_valid.dtype).reshape(p_valid.shape)))
            val_auroc = validation_auroc(y_valid, p_valid)
            seconds = time.perf_counter() - start
            row = {"epoch": epoch, "loss": total / seen, "val_loss": val_loss, "val_auroc": val_auroc, "lr": lr,
                   "seconds": seconds}
            if hooks:
                start = time.perf_counter()
                row.update(run_hooks(hooks, model, 1)[0])
                row["hook_seconds"] = time.perf_counter() - start
            history.append(row)
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
    last = copy.deepcopy(model).eval() if keep_last else None
    model.load_state_dict(best_state)
    log.info("restored epoch %d (validation AUROC %.4f)", best_epoch, best_auroc)
    return (model, history, last) if keep_last else (model, history)
