"""Sample-wide attribution over a catalog file: ranking, completeness summary, failures, group comparison."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from explorer.attribution.cache import AttributionCache
from explorer.attribution.sample import sample_ranking, sample_rankings
from explorer.attribution.toys import WindowModel, toy_spectrum
from explorer.catalog import Catalog
from explorer.constants import LINES_BY_NAME, N_PIX, WAVE_OBS_VAC_AA

torch.set_num_threads(1)


class LinePlusContinuum(nn.Module):
    """F = softplus(3 * mean flux in the Halpha window) + 2 * mean flux at rest 4100-4300 A."""

    def __init__(self, z):
        super().__init__()
        rest = WAVE_OBS_VAC_AA / (1 + z)
        lo, hi = LINES_BY_NAME["Halpha"].window_rest_aa()
        ha = torch.as_tensor((rest >= lo) & (rest <= hi), dtype=torch.float64)
        cont = torch.as_tensor((rest >= 4400) & (rest <= 4800), dtype=torch.float64)
        self.register_buffer("w_ha", ha / ha.sum())
        self.register_buffer("w_cont", cont / cont.sum())
        self.targets = ["W3"]
        self.model_id = "line-plus-continuum"

    def forward(self, x):
        return (nn.functional.softplus(3 * (x @ self.w_ha)) + 2 * (x @ self.w_cont))[:, None]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory, write_tiny_catalog):
    zs = [0.05, 0.07, 0.09, 0.11, 0.13, 0.15]
    specs, labels = [], []
    for i, z in enumerate(zs):
        sf = i % 2 == 0
        scale = {"Halpha": 1.5, "[OII]": 1.5} if sf else {"Halpha": 0.0, "[OII]": 0.0, "[NII] 6583": 0.0}
        specs.append(toy_spectrum(z, seed=i, line_scale=scale, galaxy_id=f"gal{i}", snr=200.0))
        labels.append("star-forming" if sf else "quenched")
    bad = toy_spectrum(0.1, seed=99, galaxy_id="dead")
    bad.weight[:] = 0.0
    specs.append(bad)
    labels.append("quenched")
    n = len(specs)
    path = write_tiny_catalog(
        tmp_path_factory.mktemp("cat") / "toy.h5", n=n, simulated=True,
        id=[s.id for s in specs], z=[s.z for s in specs], spec_norm=np.ones(n), split=["test"] * n,
        class_label=labels, mags=np.full((n, 4), 12.0), sigma=np.full((n, 4), 0.05), is_ul=np.zeros((n, 4), bool),
        flux=np.stack([s.flux for s in specs]), weight=np.stack([s.weight for s in specs]),
    )  # fmt: skip
    with Catalog(path) as cat:
        yield cat


def _quenched_baseline(spec):
    """A line-free galaxy at the same redshift whose blue continuum (rest 4400-4800 A) is 10% fainter."""
    scale = {"Halpha": 0.0, "[OII]": 0.0, "[NII] 6583": 0.0}
    flux = toy_spectrum(spec.z, seed=500, line_scale=scale, snr=200.0).flux.copy()
    rest = WAVE_OBS_VAC_AA / (1 + spec.z)
    flux[(rest >= 4400) & (rest <= 4800)] *= 0.9
    return flux[None]


def test_sample_ranking_window_model_on_catalog(catalog):
    idx = list(range(len(catalog)))
    sr = sample_ranking(
        lambda s: WindowModel("Halpha", s.z), catalog, idx, "W3", baselines_fn=_quenched_baseline
    )
    table = sr.ranking.table("share")
    assert table[0]["name"] == "Halpha" and table[0]["share_median"] == pytest.approx(1.0)
    assert table[0]["n_covered"] == 6
    # the galaxy without good pixels is reported, the others are kept
    assert (
        len(sr.failures) == 1
        and sr.failures[0]["id"] == "dead"
        and "no good pixels" in sr.failures[0]["error"]
    )
    summary = sr.completeness_summary()
    assert summary["n"] == 6 and summary["n_within_tol"] == 6 and summary["n_failed"] == 1
    assert sr.column("class_label")[:2] == ["star-forming", "quenched"]
    json.dumps(sr.to_dict(), allow_nan=False)


def test_group_comparison_star_forming_vs_quenched(catalog):
    idx = [0, 1, 2, 3, 4, 5]
    cache = AttributionCache()
    res = sample_rankings(
        lambda s: LinePlusContinuum(s.z), catalog, idx, ["W3"], baselines_fn=_quenched_baseline, cache=cache
    )
    sr = res["W3"]
    (ha,) = sr.compare("star-forming", "quenched", lines=["Halpha"])
    # star-forming galaxies differ from a line-free baseline mostly by their Halpha line
    assert ha["median_a"] > 0.5 and ha["median_b"] < 0.2 and ha["n_a"] == 3 and ha["n_b"] == 3
    (cont,) = sr.compare("star-forming", "quenched", lines=["continuum"])
    assert cont["median_b"] > cont["median_a"]
    assert len(cache) == 6
    # second pass comes from the cache
    again = sample_ranking(
        lambda s: LinePlusContinuum(s.z), catalog, idx, "W3", baselines_fn=_quenched_baseline, cache=cache
    )
    assert cache.hits == 6
    np.testing.assert_allclose(again.ranking.share, sr.ranking.share)


def test_sample_ranking_accepts_a_list_of_spectra():
    specs = [toy_spectrum(z, seed=i) for i, z in enumerate([0.06, 0.1])]
    sr = sample_ranking(
        lambda s: WindowModel("[OII]", s.z), specs, [0, 1], "W3", baselines_fn=lambda s: np.ones((1, N_PIX))
    )
    assert sr.ranking.table()[0]["name"] == "[OII]"
    assert [r["id"] for r in sr.per_galaxy] == ["toy-0", "toy-1"]


def test_entry_functions_write_json_and_figures(tmp_path, catalog):
    from explorer.attribution.report import write_galaxy_report, write_sample_report

    spec = catalog.spectrum(0)
    summary = write_galaxy_report(
        WindowModel("Halpha", spec.z), spec, ["W3"], out_dir=tmp_path, formats=("png", "svg"),
        baselines=_quenched_baseline(spec),
    )  # fmt: skip
    entry = summary["targets"]["W3"]
    assert entry["top_lines"][0]["name"] == "Halpha" and entry["converged"]
    names = sorted(p.rsplit("/", 1)[-1] for p in summary["files"])
    assert names == ["gal0_W3.png", "gal0_W3.svg", "gal0_attribution.json"]
    assert json.loads((tmp_path / "gal0_attribution.json").read_text())["galaxy_id"] == "gal0"
    sr = sample_rankings(
        lambda s: WindowModel("Halpha", s.z), catalog, [0, 1], ["W3"], baselines_fn=_quenched_baseline
    )
    written = write_sample_report(sr, tmp_path / "rep", formats=("svg",))
    assert sorted(p.name for p in written) == ["ranking_W3.json", "ranking_W3.svg"]
    assert json.loads(written[0].read_text())["ranking"]["by_share"][0]["name"] == "Halpha"
