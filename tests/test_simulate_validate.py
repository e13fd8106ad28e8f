"""The validation table (explorer.simulate.validate): each statistic on synthetic tables with a
known answer, the markdown writer, the command, and the asserted rows on the demo catalog."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.cli import main
from explorer.paths import DEMO_CATALOG
from explorer.simulate import validate as v


def _rows(rows):
    return {r.key: r for r in rows}


def _wise_table(n=100, det_pct=(100, 100, 70, 30), w1w2=None):
    t = {}
    for b, pct in enumerate(det_pct):
        sig = np.full(n, 0.05)
        sig[int(round(n * pct / 100)) :] = np.nan  # upper limits
        t[f"w{b + 1}_sigma_mag"] = sig
        t[f"w{b + 1}_mag_vega"] = np.full(n, 14.0 - 2 * b)
    if w1w2 is not None:
        t["w2_mag_vega"] = t["w1_mag_vega"] - w1w2
    return t


def test_detection_fractions_and_their_status():
    rows = _rows(v.detection_rows(_wise_table(det_pct=(100, 100, 70, 30))))
    assert [rows[f"detected_w{i}"].ours for i in range(1, 5)] == [100.0, 100.0, 70.0, 30.0]
    assert all(rows[f"detected_w{i}"].status == "pass" for i in range(1, 5))
    # the v1 demo's 88.5 % W3 / 57.9 % W4 fail; a release-like 9999 sigma counts as undetected
    t = _wise_table(n=1000, det_pct=(100, 100, 88.5, 57.9))
    t["w1_sigma_mag"][:50] = 9999.0
    rows = _rows(v.detection_rows(t))
    assert rows["detected_w1"].ours == pytest.approx(95.0) and rows["detected_w1"].status == "FAIL"
    assert rows["detected_w3"].status == "FAIL" and rows["detected_w4"].status == "FAIL"


def test_stern_fraction_counts_only_w1_w2_detections():
    colour = np.zeros(100)
    colour[:3] = 1.0  # 3 red galaxies ...
    t = _wise_table(w1w2=colour)
    t["w2_sigma_mag"][:1] = np.nan  # ... one of them undetected in W2
    row = v.stern_agn_row(t)
    assert row.ours == pytest.approx(100 * 2 / 99) and row.status == "FAIL"
    colour[:] = 0.0
    colour[0] = 0.9
    assert v.stern_agn_row(_wise_table(w1w2=colour)).status == "pass"


def test_bpt_classes_of_textbook_points():
    # x = log NII/Ha, y = log OIII/Hb
    pts = {"sf": (-0.7, -0.3), "composite": (-0.2, 0.0), "seyfert": (0.0, 0.9), "liner": (0.2, 0.0)}
    x = np.array([p[0] for p in pts.values()] + [np.nan])
    y = np.array([p[1] for p in pts.values()] + [0.0])
    cls = v.bpt_class(10**x, 10**y)
    assert list(cls) == [*pts, ""]


def test_bpt_rows_fractions():
    n = 10
    t = {
        "truth_line_ha": np.ones(n),
        "truth_line_hb": np.ones(n),
        "truth_line_nii6583": np.full(n, 10**-0.7),
        "truth_line_oiii5007": np.full(n, 10**-0.3),
    }
    t["truth_line_nii6583"][:2], t["truth_line_oiii5007"][:2] = 1.0, 10**0.9  # 2 Seyferts
    t["truth_line_ha"][-1] = 0.0  # no Halpha: unclassified
    rows = _rows(v.bpt_rows(t))
    assert rows["bpt_seyfert"].ours == pytest.approx(20.0)
    assert rows["bpt_sf"].ours == pytest.approx(100 * 7 / 9)
    assert rows["bpt_liner_per_seyfert"].ours == 0.0 and rows["bpt_liner_per_seyfert"].status == "outside"


def test_broad_line_and_missing_columns_are_na():
    assert v.broad_line_row({"truth_agn_type": np.array([0, 1, 2, 0])}).ours == 25.0
    row = v.broad_line_row({})
    assert row.ours is None and row.status == "n/a" and "truth_agn_type" in row.note
    rows = v.validate_table({})
    assert all(r.status == "n/a" for r in rows) and len(rows) > 15


def test_colour_locus_medians_per_class():
    t = _wise_table(n=4, det_pct=(100, 100, 100, 100))
    t["class_label"] = np.array(["star-forming", "star-forming", "quenched", "agn"])
    t["w3_mag_vega"] = t["w2_mag_vega"] - np.array([3.0, 4.0, 0.5, 2.0])
    rows = _rows(v.colour_locus_rows(t))
    assert rows["locus_star_forming_w2w3"].ours == pytest.approx(3.5)
    assert rows["locus_quenched_w2w3"].ours == pytest.approx(0.5)
    assert rows["locus_quenched_w2w3"].status == "in range"
    t["w3_mag_vega"][2] = t["w2_mag_vega"][2] - 3.0  # a star-forming colour for a quenched galaxy
    assert _rows(v.colour_locus_rows(t))["locus_quenched_w2w3"].status == "outside"


def test_qpah_versus_metallicity():
    oh = np.array([8.0, 8.1, 8.6, 8.7, 8.8])
    q = np.array([1.0, 1.0, 3.5, 4.0, 4.5])
    rows = _rows(v.qpah_rows({"truth_oh12": oh, "truth_qpah": q}))
    assert rows["qpah_solar"].ours == 4.0 and rows["qpah_solar"].status == "in range"
    assert rows["qpah_low_over_solar"].ours == pytest.approx(0.25)
    q_saturated = np.full(5, 4.2)
    assert (
        _rows(v.qpah_rows({"truth_oh12": oh, "truth_qpah": q_saturated}))["qpah_low_over_solar"].ours == 1.0
    )


def test_wise_error_rows_against_the_depth_scaling():
    m5 = v.mjy_to_vega_mag(v.WISE_DEPTH_5SIGMA_MJY, np.arange(4))
    n = 50
    t = {}
    for b in range(4):
        m = 14.0 if b < 2 else m5[b]
        t[f"w{b + 1}_mag_vega"] = np.full(n, m)
        t[f"w{b + 1}_sigma_mag"] = np.full(n, np.hypot(1.0857 / 5 * 10 ** (0.4 * (m - m5[b])), 1.0857 / 60))
    rows = _rows(v.wise_error_rows(t))
    assert all(rows[f"sigma_w{b}"].status == "in range" for b in range(1, 5))
    t["w1_sigma_mag"] *= 2
    assert _rows(v.wise_error_rows(t))["sigma_w1"].status == "outside"


def test_write_markdown_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# data\n\ntext\n")
    v.write_markdown(readme, "table one\n")
    v.write_markdown(readme, "table two\n")
    text = readme.read_text()
    assert text.startswith("# data\n\ntext\n") and text.count(v.START_MARKER) == 1
    assert "table two" in text and "table one" not in text


def test_command_writes_and_prints_json(tmp_path, capsys):
    readme = tmp_path / "README.md"
    assert main(["validate-sim", str(DEMO_CATALOG), "--write", str(readme), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["key"] for r in rows} >= {"detected_w3", "stern_w1w2", "bpt_seyfert", "qpah_solar"}
    assert "| W3 detected" in readme.read_text()


def test_asserted_rows_hold_on_the_demo_catalog():
    rows = v.validate_catalog(DEMO_CATALOG)
    failed = [
        f"{r.statistic}: {r.ours} (tolerance {r.tolerance})"
        for r in rows
        if r.asserted and r.status != "pass"
    ]
    assert not failed, failed


def test_bpt_counts_only_emission_line_galaxies_when_the_continuum_is_known():
    """EW(Halpha) >= 3 A (WHAN, Cid Fernandes et al. 2011) against the fiber r continuum."""
    z = np.zeros(2) + 0.1
    mag = np.array([17.0, 17.0])
    f_lam = 3631e-23 * 10 ** (-0.4 * 17.0) * 2.99792458e18 / (6564.61 * 1.1) ** 2
    ha = np.array([10.0, 1.0]) * f_lam * 1.1 / 1e-17  # EW 10 A and 1 A
    t = {"z": z, "truth_mag_r_fiber": mag, "truth_line_ha": ha}
    np.testing.assert_allclose(v.halpha_ew_rest(t), [10.0, 1.0])
    # both galaxies are Seyfert-like by their ratios; only the one with EW 10 A counts
    t.update(truth_line_nii6583=ha * 1.5, truth_line_hb=ha / 3, truth_line_oiii5007=ha / 3 * 10)
    rows = _rows(v.bpt_rows(t))
    assert rows["bpt_seyfert"].ours == pytest.approx(50.0)
    assert "EW(Hα) ≥ 3 Å" in rows["bpt_seyfert"].note


def test_summary_agrees_with_the_table_and_the_truth(capsys):
    from explorer.catalog import Catalog

    assert main(["validate-sim", str(DEMO_CATALOG), "--summary"]) == 0
    s = json.loads(capsys.readouterr().out)
    rows = _rows(v.validate_catalog(DEMO_CATALOG))
    assert s["w3_detected_pct"] == pytest.approx(rows["detected_w3"].ours)
    assert s["w4_detected_pct"] == pytest.approx(rows["detected_w4"].ours)
    with Catalog(DEMO_CATALOG) as cat:
        t = cat.table
        assert s["n"] == len(t["z"])
        assert s["median_z"] == pytest.approx(float(np.median(t["z"])))
        assert s["type1_agn_pct"] == pytest.approx(100 * np.mean(np.asarray(t["truth_agn_type"]) == 1))
    assert sum(s["class_pct"].values()) == pytest.approx(100.0)
    # a perfect visible-information predictor is never better than chi^2_N = 1
    assert all(s[f"w{b}_chi2n_visible_floor"] >= 1.0 for b in range(1, 5))
