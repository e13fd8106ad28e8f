"""Small network pieces shared by the heads (IR predictor, property heads, mid-IR prior)."""

from __future__ import annotations

from torch import nn


def silu_trunk(n_in: int, hidden) -> tuple[nn.Sequential, int]:
    """Linear + SiLU layers of widths ``hidden``; returns the trunk and its output width."""
    layers, prev = [], n_in
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.SiLU()]
        prev = h
    return nn.Sequential(*layers), prev
