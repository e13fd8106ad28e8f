"""The shared training loops and target standardization (explorer.ml.fit), on cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from explorer.ml.fit import (
    EarlyStopping,
    fit_early_stopping,
    fit_ensemble,
    fit_one_cycle,
    one_cycle_lr,
    standardization,
)

torch.set_num_threads(1)


def test_standardization_uses_valid_entries_only():
    values = np.array([[1.0, 5.0, 7.0], [3.0, np.nan, 7.0], [100.0, 9.0, 7.0]])
    valid = np.array([[True, True, True], [True, False, True], [False, True, True]])
    mean, std = standardization(values, valid)
    np.testing.assert_array_equal(mean, [2.0, 7.0, 7.0])
    np.testing.assert_array_equal(std, [1.0, 2.0, 1.0])  # zero spread -> 1
    mean, std = standardization(values, np.zeros_like(valid))  # nothing valid: 0 and 1
    np.testing.assert_array_equal(mean, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(std, [1.0, 1.0, 1.0])


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience():
    model = nn.Linear(1, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.ones(8, 1)
    weights = []
    scripted = iter([3.0, 1.0, 2.0, 2.0, 2.0, 0.5, 0.1])  # best at epoch 2, then 3 without gain

    def valid():
        weights.append(model.weight.item())
        return next(scripted)

    settings = EarlyStopping(epochs=7, batch_size=4, patience=3)
    hist = fit_early_stopping(
        model, opt, lambda b: (model(x[b]) ** 2).mean(), 8, settings, torch.Generator().manual_seed(0), valid
    )
    assert hist == [3.0, 1.0, 2.0, 2.0, 2.0]  # stopped before the scripted 0.5
    assert model.weight.item() == weights[1]  # the weights of the best epoch are back


def test_ensemble_members_are_reproducible_from_their_seeds():
    x = torch.linspace(-1, 1, 64)[:, None]
    y = 3 * x

    def run():
        members, hist = fit_ensemble(
            lambda: nn.Linear(1, 1),
            [11, 12],
            lambda m, b: ((m(x[b]) - y[b]) ** 2).mean(),
            64,
            EarlyStopping(epochs=30, batch_size=16, lr=0.3, patience=30),
            valid_loss=lambda m: float(((m(x) - y) ** 2).mean()),
            progress=False,
        )
        return [m.weight.item() for m in members], hist

    (w1, h1), (w2, h2) = run(), run()
    assert w1 == w2 and h1 == h2  # same seeds, same floats
    assert w1[0] != w1[1]  # each member has its own seed
    assert all(abs(w - 3) < 0.3 for w in w1) and h1[0][-1] < h1[0][0]


def test_one_cycle_by_steps_runs_the_schedule_and_validates_every_epoch():
    model = nn.Linear(1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=1.0)
    lrs, seen = [], []

    def loss(b):
        lrs.append(opt.param_groups[0]["lr"])
        seen.append(b.numpy().copy())
        return (model(torch.ones(len(b), 1)) ** 2).mean()

    run = fit_one_cycle(
        model, opt, loss, 10, 3, 1e-2, np.random.default_rng(0), schedule_steps=9,
        end_epoch=lambda losses: float(len(losses)), progress=False,
    )  # fmt: skip
    assert run.n_steps == 9 and run.steps_per_epoch == 3
    assert lrs == [one_cycle_lr(k / 9, 1e-2) for k in range(9)]
    # three full epochs, then the closing epoch without steps (validated again)
    assert [v for _, v in run.history] == [3.0, 3.0, 3.0, 0.0] and math.isnan(run.history[-1][0])
    for e in range(3):  # each epoch a fresh permutation, full batches only
        rows = np.concatenate(seen[3 * e : 3 * e + 3])
        assert len(set(rows)) == 9
    with pytest.raises(ValueError, match="budget or a step schedule"):
        fit_one_cycle(model, opt, loss, 10, 3, 1e-2, np.random.default_rng(0), progress=False)


def test_one_cycle_hard_stop_and_best_epoch():
    model = nn.Linear(1, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    weights, scripted = [], iter([2.0, 1.0, 5.0, 7.0])

    def end_epoch(losses):
        if not losses:
            return None  # skip the closing epoch without steps
        weights.append(model.weight.item())
        return next(scripted)

    run = fit_one_cycle(
        model, opt, lambda b: model(torch.ones(len(b), 1)).sum(), 4, 2, 0.1, np.random.default_rng(1),
        budget_s=3600.0, max_steps=8, end_epoch=end_epoch, keep_best=True, progress=False,
    )  # fmt: skip
    assert run.n_steps == 8 and len(run.history) == 4 and run.best_valid == 1.0
    assert model.weight.item() == weights[1]
