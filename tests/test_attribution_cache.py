"""Attribution cache: LRU in memory, npz on disk, only missing targets computed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from explorer.attribution.cache import (
    AttributionCache,
    cache_key,
    cached_attribute_targets,
    load_result,
    save_result,
)
from explorer.attribution.engine import attribute
from explorer.attribution.toys import toy_spectrum
from explorer.constants import N_PIX
from explorer.errors import AttributionError

torch.set_num_threads(1)


class Counting(nn.Module):
    """Two-output smooth model that counts the rows it is asked to evaluate."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = nn.Parameter(torch.randn(N_PIX, 2, generator=g, dtype=torch.float64) / 60)
        self.targets = ["W1", "W2"]
        self.model_id = "counting-v1"
        self.rows = 0

    def forward(self, x):
        self.rows += x.shape[0]
        return torch.tanh(x @ self.w)


@pytest.fixture()
def gal():
    return toy_spectrum(0.1, seed=0)


BASES = np.stack([toy_spectrum(0.1, seed=s).flux for s in (5, 6)])


def test_roundtrip_npz(tmp_path, gal):
    res = attribute(Counting(), gal, "W2", baselines=BASES)
    path = save_result(tmp_path / "r.npz", res, model_id="m")
    back = load_result(path)
    np.testing.assert_array_equal(back.attribution, res.attribution)
    np.testing.assert_array_equal(back.good, res.good)
    assert back.completeness_gap == pytest.approx(res.completeness_gap)
    assert back.settings == res.settings and back.n_steps == res.n_steps and back.converged == res.converged
    np.testing.assert_array_equal(back.n_steps_per_baseline, res.n_steps_per_baseline)
    assert back.history == res.history
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(AttributionError, match="bad.npz"):
        load_result(tmp_path / "bad.npz")


def test_lru_eviction():
    cache = AttributionCache(maxsize=2)
    for i in range(3):
        cache.put(cache_key(f"g{i}", "W1", "h", "m"), f"r{i}")
    assert len(cache) == 2
    assert cache.get(cache_key("g0", "W1", "h", "m")) is None
    assert cache.get(cache_key("g1", "W1", "h", "m")) == "r1"
    cache.put(cache_key("g3", "W1", "h", "m"), "r3")  # g2 is now least recently used
    assert cache.get(cache_key("g2", "W1", "h", "m")) is None
    assert cache.get(cache_key("g1", "W1", "h", "m")) == "r1"


def test_cached_attribute_computes_only_missing_targets(tmp_path, gal):
    model = Counting()
    cache = AttributionCache(maxsize=8, directory=tmp_path / "cache")
    first = cached_attribute_targets(cache, model, gal, ["W1"], baselines=BASES)
    rows_one = model.rows
    both = cached_attribute_targets(cache, model, gal, ["W1", "W2"], baselines=BASES)
    assert both["W1"] is first["W1"]  # from memory
    rows_two = model.rows - rows_one
    assert 0 < rows_two <= rows_one  # W2 computed once, W1 not recomputed
    model.rows = 0
    again = cached_attribute_targets(cache, model, gal, ["W1", "W2"], baselines=BASES)
    assert model.rows == 0 and again["W2"] is both["W2"]
    # a fresh cache on the same directory reads from disk
    disk = AttributionCache(directory=tmp_path / "cache")
    from_disk = cached_attribute_targets(disk, model, gal, ["W2"], baselines=BASES)
    assert model.rows == 0 and disk.disk_hits == 1
    np.testing.assert_array_equal(from_disk["W2"].attribution, both["W2"].attribution)
    # other settings or another model id: a miss
    cached_attribute_targets(cache, model, gal, ["W2"], baselines=BASES, tol=0.01)
    assert model.rows > 0
    model.rows = 0
    cached_attribute_targets(cache, model, gal, ["W2"], baselines=BASES, model_id="counting-v2")
    assert model.rows > 0


def test_cache_needs_a_model_id(gal):
    model = Counting()
    model.model_id = None
    with pytest.raises(AttributionError, match="no model_id"):
        cached_attribute_targets(AttributionCache(), model, gal, ["W1"], baselines=BASES)
    # without a cache it just computes
    assert cached_attribute_targets(None, model, gal, ["W1"], baselines=BASES)["W1"].converged
