"""Line windows, shares and rankings: known answers on constructed attributions and toy physics models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.attribution.engine import attribute
from explorer.attribution.lines import (
    CONTINUUM,
    LineShares,
    compare_groups,
    line_label,
    line_shares,
    line_windows,
    pixel_line_index,
    sample_line_ranking,
)
from explorer.attribution.toys import WindowModel, toy_spectrum
from explorer.constants import LINES, LINES_BY_NAME, LOGLAM_STEP, N_PIX, WAVE_OBS_VAC_AA, Line

torch.set_num_threads(1)
NAMES = [ln.name for ln in LINES]


def _window_pixels(name, z):
    lo, hi = LINES_BY_NAME[name].window_rest_aa()
    return np.flatnonzero((WAVE_OBS_VAC_AA >= lo * (1 + z)) & (WAVE_OBS_VAC_AA <= hi * (1 + z)))


def test_windows_are_redshifted_rest_windows():
    z = 0.12
    w = {x.name: x for x in line_windows(LINES, z)}["Halpha"]
    assert w.lo_obs_aa == pytest.approx((6564.61 - 8.0) * 1.12)
    assert w.hi_obs_aa == pytest.approx((6564.61 + 8.0) * 1.12)
    idx = pixel_line_index(LINES, z)
    ha = NAMES.index("Halpha")
    pix = np.flatnonzero(idx == ha)
    np.testing.assert_array_equal(pix, _window_pixels("Halpha", z))
    # 16 A at 6565 A is log10(6572.61/6556.61)/1e-4 = 10.6 pixels
    assert pix.size in (10, 11) and w.n_pix_expected == pytest.approx(
        np.log10(6572.61 / 6556.61) / LOGLAM_STEP
    )


def test_overlapping_windows_go_to_nearest_centre():
    lines = [Line("A", "emission", (5000.0,), 10.0), Line("B", "emission", (5012.0,), 10.0)]
    idx = pixel_line_index(lines, 0.0)
    wave = WAVE_OBS_VAC_AA
    assert np.all(idx[(wave > 4991) & (wave < 5005.9)] == 0)
    assert np.all(idx[(wave > 5006.1) & (wave < 5021)] == 1)
    assert np.all(idx[(wave < 4989) | (wave > 5023)] == -1)


def test_shares_partition_and_per_angstrom():
    z = 0.1
    attr = np.zeros(N_PIX)
    ha = _window_pixels("Halpha", z)
    oii = _window_pixels("[OII]", z)
    attr[ha] = 1.0  # |sum| 11 or so
    attr[oii] = -0.2  # negative counts by its absolute value
    attr[3000] = 2.0  # continuum pixel (outside all windows)
    assert pixel_line_index(LINES, z)[3000] == -1
    sh = line_shares(attr, z)
    total = ha.size + 0.2 * oii.size + 2.0
    share = dict(zip(sh.names, sh.share))
    assert share["Halpha"] == pytest.approx(ha.size / total)
    assert share["[OII]"] == pytest.approx(0.2 * oii.size / total)
    assert share[CONTINUUM] == pytest.approx(2.0 / total)
    assert np.nansum(sh.share) == pytest.approx(1.0)
    net = dict(zip(sh.names, sh.net))
    assert net["[OII]"] == pytest.approx(-0.2 * oii.size)
    # per-Angstrom: width of the Halpha window's pixels in rest-frame A
    j = sh.names.index("Halpha")
    width = np.sum(WAVE_OBS_VAC_AA[ha] * np.log(10) * LOGLAM_STEP / (1 + z))
    assert sh.width_rest_aa[j] == pytest.approx(width)
    assert sh.share_per_aa[j] == pytest.approx(share["Halpha"] / width)
    assert sh.enrichment[j] == pytest.approx(share["Halpha"] / (ha.size / N_PIX))
    # per-galaxy ranking by share and by share per A
    rank = sh.ranking("share")
    assert [r["name"] for r in rank[:3]] == ["Halpha", "[OII]", CONTINUUM]
    per_aa = sh.ranking("share_per_aa")
    assert per_aa[0]["name"] == "Halpha" and per_aa[-1]["share"] == 0.0
    assert sh.top_lines(2) == ["Halpha", "[OII]"]


def test_masked_pixels_and_coverage():
    z = 0.1
    attr = np.ones(N_PIX)
    weight = np.ones(N_PIX)
    ha = _window_pixels("Halpha", z)
    weight[ha[: ha.size // 2 + 1]] = 0  # more than half of Halpha masked: not covered
    sh = line_shares(attr, z, weight=weight)
    cov = dict(zip(sh.names, sh.covered))
    assert not cov["Halpha"]
    # CaII triplet at z=0.1 lies beyond the red end of the grid (8500*1.1 > 9332 A)
    assert not cov["CaII triplet"] and cov["CaII K"] and cov[CONTINUUM]
    assert sh.n_good == N_PIX - (ha.size // 2 + 1)
    assert np.nansum(sh.share) == pytest.approx(1.0)
    assert "Halpha" not in [r["name"] for r in sh.ranking()]
    # [OII] leaves the grid at low redshift (3727 A < 3784 A)
    low = line_shares(attr, 0.005)
    assert not low.covered[low.names.index("[OII]")]


@pytest.mark.parametrize("line", ["Halpha", "[OII]", "CaII K"])
def test_physics_toy_model_puts_its_line_first(line):
    """A model that sees only the flux in one line's window: the ranking must put that line first."""
    z = 0.08
    gal = toy_spectrum(z, seed=3)
    model = WindowModel(line, z)
    bases = np.stack([toy_spectrum(z, seed=s, line_scale={line: 0.2}).flux for s in range(4)])
    res = attribute(model, gal, "W3", baselines=bases)
    assert res.converged
    sh = line_shares(res)
    top = sh.ranking("share")[0]
    assert top["name"] == line and top["share"] == pytest.approx(1.0)
    assert sh.ranking("share_per_aa")[0]["name"] == line
    assert dict(zip(sh.names, sh.share))[CONTINUUM] == 0.0


def _fake_shares(gid, shares_by_name, covered_off=()):
    n = len(NAMES) + 1
    share = np.zeros(n)
    for k, v in shares_by_name.items():
        share[(NAMES + [CONTINUUM]).index(k)] = v
    covered = np.ones(n, bool)
    for k in covered_off:
        covered[NAMES.index(k)] = False
    return LineShares(
        galaxy_id=gid,
        target="W3",
        z=0.1,
        names=NAMES + [CONTINUUM],
        groups=[ln.group for ln in LINES] + [CONTINUUM],
        share=share,
        net=share * 0.1,
        width_rest_aa=np.full(n, 10.0),
        n_pix=np.full(n, 10),
        covered=covered,
        total_abs=1.0,
        n_good=n * 10,
    )


def test_sample_ranking_medians_iqr_and_json():
    vals = [0.1, 0.2, 0.3, 0.4, 0.5]
    shares = [
        _fake_shares(
            f"g{i}",
            {"Halpha": v, "[OII]": 0.05, CONTINUUM: 0.85 - v},
            covered_off=("[OII]",) if i == 0 else (),
        )
        for i, v in enumerate(vals)
    ]
    rk = sample_line_ranking(shares)
    table = rk.table("share")
    assert [r["name"] for r in table[:3]] == [CONTINUUM, "Halpha", "[OII]"]
    row = {r["name"]: r for r in table}
    assert row["Halpha"]["share_median"] == pytest.approx(0.3)
    assert row["Halpha"]["share_p25"] == pytest.approx(0.2)
    assert row["Halpha"]["share_p75"] == pytest.approx(0.4)
    assert row["[OII]"]["n_covered"] == 4 and row["Halpha"]["n_covered"] == 5
    assert row["Halpha"]["share_per_aa_median"] == pytest.approx(0.03)
    d = rk.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["n_galaxies"] == 5 and d["by_share"][0]["rank"] == 1
    assert {r["name"] for r in d["by_share_per_aa"]} == set(NAMES + [CONTINUUM])


def test_compare_groups_detects_larger_share():
    shares = [_fake_shares(f"a{i}", {"Halpha": 0.3 + 0.01 * i, CONTINUUM: 0.6}) for i in range(8)]
    shares += [_fake_shares(f"b{i}", {"Halpha": 0.05 + 0.01 * i, CONTINUUM: 0.9}) for i in range(8)]
    rk = sample_line_ranking(shares)
    labels = ["star-forming"] * 8 + ["quenched"] * 8
    (res,) = compare_groups(rk, labels, "star-forming", "quenched", lines=["Halpha"])
    assert res["median_a"] > res["median_b"] and res["n_a"] == 8 and res["n_b"] == 8
    assert res["p_value"] < 0.01


def test_line_labels_are_plain_unicode():
    assert line_label("Halpha") == "Hα"
    assert line_label("Hbeta") == "Hβ"
    assert line_label("[OIII] 5007") == "[O III] 5007"
    assert line_label("[OII]") == "[O II]"
    assert line_label("CaII K") == "Ca II K"
    assert line_label("SrII 4078") == "Sr II 4078"
    assert line_label("NaI D") == "Na I D"
    assert line_label("G band") == "G band"
