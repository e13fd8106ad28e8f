"""The training loops every model shares, and target standardization.

Two loop kinds; a model supplies only its batch loss (and validation loss):

* :func:`fit_ensemble` / :func:`fit_early_stopping`: epochs of shuffled mini-batches, AdamW with
  a cosine learning rate, gradient clipping, and early stopping that keeps the weights of the best
  validation epoch (the IR predictor, the photometry-only baseline and the property heads);
* :func:`fit_one_cycle`: Adam steps under a one-cycle learning rate (cosine warm-up, cosine
  anneal; :func:`one_cycle_lr`) whose progress is measured on the wall clock, on the step count, or
  on whichever is further along, so a run under a time budget always ends on time with a fully
  annealed rate (the spectrum autoencoder and the ceiling network);
* :func:`fit_full_batch_plateau`: full-batch Adam with gradient clipping, a validation check every
  few epochs, ReduceLROnPlateau on it, early stopping after so many checks without improvement,
  and a wall-clock cap (the paper's demo recipe for its MLP, :mod:`explorer.ml.paper_recipe`).

:func:`standardization` gives the per-column mean and standard deviation of valid target values.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


def standardization(values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation of the valid entries of ``values``.

    Parameters
    ----------
    values : ndarray (N, K)
    valid : ndarray (N, K) of bool
        Entries that count (e.g. detected magnitudes, finite truths).

    Returns
    -------
    mean, std : ndarray (K,)
        A column without valid entries gets mean 0; one with fewer than two, or with zero
        spread, gets std 1 (so dividing by it is always safe).
    """
    values, valid = np.asarray(values, dtype=np.float64), np.asarray(valid, dtype=bool)
    cols = [values[valid[:, j], j] for j in range(values.shape[1])]
    mean = np.array([np.mean(c) if c.size else 0.0 for c in cols])
    std = np.array([np.std(c) if c.size > 1 else 1.0 for c in cols])
    return mean, np.where(std > 0, std, 1.0)


# --- early stopping -----------------------------------------------------------------------------
@dataclass
class EarlyStopping:
    """Settings of the early-stopping epoch loop.

    Attributes
    ----------
    epochs : int
        Upper limit on passes over the training set (also the cosine schedule's length).
    batch_size : int
    lr : float
        Initial AdamW learning rate.
    weight_decay : float
    patience : int
        Stop after this many epochs without a validation improvement larger than ``min_delta``.
    min_delta : float
    clip_norm : float or None
        Clip the gradient norm to this value before each step.
    """

    epochs: int = 150
    batch_size: int = 512
    lr: float = 2e-3
    weight_decay: float = 1e-5
    patience: int = 20
    min_delta: float = 1e-4
    clip_norm: float | None = 5.0


def fit_early_stopping(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    n_train: int,
    settings: EarlyStopping,
    generator: torch.Generator,
    valid_loss: Callable[[], float] | None = None,
    scheduler=None,
    bar=None,
    label: dict | None = None,
) -> list[float]:
    """Train ``model`` by epochs with early stopping; it ends with its best epoch's weights.

    Parameters
    ----------
    model : nn.Module
    optimizer : torch.optim.Optimizer
    batch_loss : callable ``(row indices) -> scalar loss``
        Loss of one mini-batch of training rows (called in train mode).
    n_train : int
        Training rows (shuffled each epoch with ``generator``).
    settings : EarlyStopping
    generator : torch.Generator
        Batch order.
    valid_loss : callable ``() -> float``, optional
        Validation loss (called in eval mode without gradients); without it the last
        mini-batch loss stands in.
    scheduler : optional
        Stepped once per epoch.
    bar : tqdm, optional
        Advanced by one per epoch (by the skipped epochs on an early stop).
    label : dict, optional
        Extra entries of the bar's postfix.

    Returns
    -------
    list of float: the validation loss of every epoch run.
    """
    best, best_state, bad, history = np.inf, None, 0, []
    for epoch in range(settings.epochs):
        model.train()
        perm = torch.randperm(n_train, generator=generator)
        for s in range(0, n_train, settings.batch_size):
            loss = batch_loss(perm[s : s + settings.batch_size])
            optimizer.zero_grad()
            loss.backward()
            if settings.clip_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), settings.clip_norm)
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        model.eval()
        with torch.no_grad():
            v = float(valid_loss()) if valid_loss is not None else float(loss)
        history.append(v)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(**(label or {}), valid=f"{v:.3f}")
        if v < best - settings.min_delta:
            best, best_state, bad = v, copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
            if bad >= settings.patience:
                if bar is not None:
                    bar.update(settings.epochs - epoch - 1)
                break
    model.load_state_dict(best_state)
    return history


def fit_ensemble(
    build: Callable[[], nn.Module],
    seeds: Sequence[int],
    batch_loss: Callable[[nn.Module, torch.Tensor], torch.Tensor],
    n_train: int,
    settings: EarlyStopping,
    valid_loss: Callable[[nn.Module], float] | None = None,
    desc: str = "train",
    progress: bool = True,
) -> tuple[list[nn.Module], list[list[float]]]:
    """Train one member per seed with :func:`fit_early_stopping` (AdamW, cosine schedule).

    Each member seeds torch with its seed before it is built (its initialization) and draws its
    batch order from its own generator with the same seed.

    Parameters
    ----------
    build : callable ``() -> nn.Module``
        A fresh, untrained member.
    seeds : sequence of int
        One per member.
    batch_loss : callable ``(model, row indices) -> scalar loss``
    n_train : int
    settings : EarlyStopping
    valid_loss : callable ``(model) -> float``, optional
    desc : str
        Progress-bar title.
    progress : bool
        Show a tqdm bar over all members' epochs.

    Returns
    -------
    members : list of nn.Module (eval mode, best epoch's weights)
    histories : list of list of float (validation loss per epoch, per member)
    """
    from tqdm.auto import tqdm

    members, histories = [], []
    bar = tqdm(total=len(seeds) * settings.epochs, desc=desc, disable=not progress, unit="ep")
    for k, seed in enumerate(seeds):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model = build()
        opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=settings.epochs)
        hist = fit_early_stopping(
            model,
            opt,
            lambda idx, m=model: batch_loss(m, idx),
            n_train,
            settings,
            gen,
            valid_loss=None if valid_loss is None else (lambda m=model: valid_loss(m)),
            scheduler=sched,
            bar=bar,
            label={"member": k},
        )
        members.append(model.eval())
        histories.append(hist)
    bar.close()
    return members, histories


# --- one-cycle, wall clock ----------------------------------------------------------------------
def one_cycle_lr(
    frac: float, lr_max: float, pct_start: float = 0.15, div: float = 25.0, final_div: float = 1e4
) -> float:
    """One-cycle learning rate at progress ``frac`` in [0, 1] (cosine warm-up, cosine anneal)."""
    if frac < pct_start:
        start, end, p = lr_max / div, lr_max, frac / pct_start
    else:
        start, end, p = lr_max, lr_max / final_div, (frac - pct_start) / (1 - pct_start)
    return end + (start - end) * (1 + math.cos(math.pi * min(max(p, 0.0), 1.0))) / 2


@dataclass
class OneCycleRun:
    """What :func:`fit_one_cycle` did.

    Attributes
    ----------
    n_steps : int
    steps_per_epoch : int
    history : list of (mean training loss, validation loss)
        One entry per validated epoch (the mean is NaN for an epoch without steps).
    best_valid : float
        Lowest validation loss (inf if none).
    seconds : float
        Wall-clock time of the loop.
    """

    n_steps: int = 0
    steps_per_epoch: int = 1
    history: list = field(default_factory=list)
    best_valid: float = math.inf
    seconds: float = 0.0


def _progress(elapsed_s: float, budget_s, step: int, schedule_steps) -> float:
    """Progress through the one-cycle schedule: the furthest of clock and step count."""
    fracs = []
    if budget_s:
        fracs.append(elapsed_s / budget_s)
    if schedule_steps:
        fracs.append(step / schedule_steps)
    return max(fracs)


def fit_one_cycle(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    n_train: int,
    batch_size: int,
    lr_max: float,
    rng: np.random.Generator,
    *,
    budget_s: float | None = None,
    schedule_steps: int | None = None,
    max_steps: int | None = None,
    end_epoch: Callable[[list], float | None] | None = None,
    keep_best: bool = False,
    clip_norm: float = 5.0,
    desc: str = "train",
    progress: bool = True,
) -> OneCycleRun:
    """Optimizer steps under a one-cycle learning rate timed by the clock and/or the step count.

    The schedule's progress is the largest of ``elapsed / budget_s`` (with a budget) and
    ``step / schedule_steps`` (with a step schedule); the run ends when it reaches 1 or after
    ``max_steps`` steps. Each epoch shuffles the rows with ``rng`` and takes
    ``max(1, n_train // batch_size)`` full batches.

    Parameters
    ----------
    model : nn.Module
        Put in train mode before every step; its gradient norm is clipped to ``clip_norm``.
    optimizer : torch.optim.Optimizer
        Its learning rate is set before every step.
    batch_loss : callable ``(row indices) -> scalar loss``
    n_train, batch_size : int
    lr_max : float
        Peak learning rate.
    rng : numpy Generator
        Batch order.
    budget_s : float, optional
        Wall-clock budget in seconds (None or 0: none).
    schedule_steps : int, optional
        Steps over which the schedule runs when counted by steps.
    max_steps : int, optional
        Hard limit on steps (does not change the schedule).
    end_epoch : callable ``(training losses of the epoch) -> validation loss or None``, optional
        Called at the end of every epoch, including the last, partial one (possibly without
        steps); None skips the epoch in the history.
    keep_best : bool
        Restore the parameters of the epoch with the lowest validation loss at the end.
    clip_norm : float
    desc, progress : str, bool
        Title of the tqdm bar over the steps, and whether to show it.

    Returns ``OneCycleRun``.
    """
    from tqdm.auto import tqdm

    if not budget_s and not schedule_steps:
        raise ValueError("fit_one_cycle needs a time budget or a step schedule")
    run = OneCycleRun(steps_per_epoch=max(1, n_train // batch_size))
    best_params = None
    params = list(model.parameters())
    t0 = time.perf_counter()
    bar = tqdm(total=max_steps, desc=desc, disable=not progress, unit="step")
    done = False
    while not done:
        perm = torch.from_numpy(rng.permutation(n_train))
        losses = []
        for k in range(run.steps_per_epoch):
            frac = _progress(time.perf_counter() - t0, budget_s, run.n_steps, schedule_steps)
            if frac >= 1.0 or (max_steps is not None and run.n_steps >= max_steps):
                done = True
                break
            for group in optimizer.param_groups:
                group["lr"] = one_cycle_lr(frac, lr_max)
            model.train()
            loss = batch_loss(perm[k * batch_size : (k + 1) * batch_size])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, clip_norm)
            optimizer.step()
            losses.append(loss.item())
            run.n_steps += 1
            bar.update(1)
        v = end_epoch(losses) if end_epoch is not None else None
        if v is None:
            continue
        train = float(np.mean(losses)) if losses else math.nan
        run.history.append((train, v))
        bar.set_postfix(train=f"{train:.3g}", valid=f"{v:.3g}")
        if v < run.best_valid:
            run.best_valid = v
            if keep_best:
                best_params = [p.detach().clone() for p in params]
    bar.close()
    if keep_best and best_params is not None:
        with torch.no_grad():
            for p, q in zip(params, best_params, strict=True):
                p.copy_(q)
    run.seconds = time.perf_counter() - t0
    return run


@dataclass
class FullBatchRun:
    """Outcome of :func:`fit_full_batch_plateau` (the model holds its best check's weights)."""

    epochs_run: int
    best_valid_loss: float
    best_epoch: int
    checks_without_improvement: int
    stopped_by: str  # "early_stopping", "wall_clock_cap" or "max_epochs"
    wall_seconds: float
    final_lr: float
    history: list = field(default_factory=list)  # (epoch, train loss, valid loss, lr) per check


def fit_full_batch_plateau(
    model: nn.Module,
    train_loss: Callable[[], torch.Tensor],
    valid_loss: Callable[[], float],
    recipe: dict,
    *,
    max_epochs: int,
    early_stop_checks: int,
    max_minutes: float | None = None,
    log_every_checks: int = 0,
    log=print,
) -> FullBatchRun:
    """Full-batch training with a plateau schedule; ends with the best check's weights.

    Parameters
    ----------
    model : nn.Module
    train_loss : callable ``() -> scalar loss`` on the whole training set (train mode)
    valid_loss : callable ``() -> float`` on the validation set (called in eval mode, no gradients)
    recipe : dict
        ``lr``, ``lr_factor``, ``lr_patience_checks``, ``min_lr``, ``grad_clip_norm``,
        ``val_every_epochs``, ``rel_improvement`` (a check improves when the loss drops below
        ``best - rel_improvement * |best|``).
    max_epochs, early_stop_checks, max_minutes
        Stop after so many epochs, checks without improvement, or minutes of wall clock.
    log_every_checks : int
        Call ``log`` with a progress line every so many checks (0: never).
    """
    r = recipe
    opt = torch.optim.Adam(model.parameters(), lr=r["lr"])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=r["lr_factor"], patience=r["lr_patience_checks"], min_lr=r["min_lr"]
    )
    best, best_epoch, best_state, bad, hist = np.inf, -1, None, 0, []
    t0 = time.perf_counter()
    stopped_by, epoch = "max_epochs", -1
    for epoch in range(max_epochs):
        model.train()
        opt.zero_grad()
        loss = train_loss()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=r["grad_clip_norm"])
        opt.step()
        if epoch % r["val_every_epochs"]:
            continue
        model.eval()
        with torch.no_grad():
            v = float(valid_loss())
        sched.step(v)
        lr = opt.param_groups[0]["lr"]
        hist.append((epoch, loss.item(), v, lr))
        if v < best - r["rel_improvement"] * abs(best) or not np.isfinite(best):
            best, best_epoch, bad = v, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
        elapsed = time.perf_counter() - t0
        if log_every_checks and len(hist) % log_every_checks == 1:
            log(
                f"paper recipe: epoch {epoch} train {loss.item():.5f} valid {v:.5f} best {best:.5f}"
                f" (epoch {best_epoch}) lr {lr:.2e} checks w/o improvement {bad} {elapsed / 60:.1f} min"
            )
        if bad >= early_stop_checks:
            stopped_by = "early_stopping"
            break
        if max_minutes is not None and elapsed > 60 * max_minutes:
            stopped_by = "wall_clock_cap"
            break
    wall = time.perf_counter() - t0
    model.load_state_dict(best_state)
    return FullBatchRun(
        epochs_run=int(epoch + 1), best_valid_loss=float(best), best_epoch=int(best_epoch),
        checks_without_improvement=int(bad), stopped_by=stopped_by, wall_seconds=float(wall),
        final_lr=float(opt.param_groups[0]["lr"]), history=hist,
    )  # fmt: skip
