"""AllWISE-layout table reader: unit conversion, upper limits, per-row flags, four file formats.

Hand-computed references (Jarrett et al. 2011 zero points, F = F0 10**(-0.4 m)):
W1 = 10.0 Vega -> 309.540 Jy * 1e-4 = 30.954 mJy; sigma 0.022 mag -> 30.954 * 0.4 ln10 * 0.022
= 0.62720 mJy. W4 = 8.600 (95% upper limit) -> 8.363 Jy * 10**-3.44 = 3.0364 mJy.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from astropy.table import MaskedColumn, Table

from explorer.errors import WiseTableError
from explorer.io.wise import ab_to_vega, read_wise_table, vega_to_ab, wise_columns

MASK = -999.0  # placeholder for a null cell


def _col(name, values):
    vals = np.array(values, dtype=float)
    return MaskedColumn(np.where(vals == MASK, 0.0, vals), name=name, mask=vals == MASK)


def allwise_like() -> Table:
    """Eight rows with realistic AllWISE values for nearby galaxies.

    0 good, all A;  1 good, W4 upper limit (U, null sigma);  2 W2 null sigma with quality A;
    3 W3 negative sigma;  4 and 5 share a designation;  6 W1 magnitude missing;  7 good (B, C).
    """
    t = Table()
    t["designation"] = [
        "J101452.07+553707.6",
        "J110640.46+200508.0",
        "J093012.11+021530.4",
        "J141503.50+321013.9",
        "J120000.00+100000.0",
        "J120000.00+100000.0",
        "J084512.33+451545.1",
        "J153010.92+283500.7",
    ]
    t["ra"] = [153.71696, 166.66859, 142.55046, 213.76458, 180.0, 180.0, 131.30138, 232.54550]
    t["dec"] = [55.61878, 20.08556, 2.25844, 32.17053, 10.0, 10.0, 45.26253, 28.58353]
    t.add_column(_col("w1mpro", [10.0, 11.214, 12.5, 13.02, 12.0, 12.1, MASK, 14.8]))
    t.add_column(_col("w1sigmpro", [0.022, 0.023, 0.024, 0.025, 0.024, 0.024, MASK, 0.09]))
    t.add_column(_col("w1snr", [49.3, 47.0, 45.0, 43.0, 45.0, 45.0, MASK, 12.0]))
    t.add_column(_col("w2mpro", [9.9, 11.18, 12.3, 12.85, 11.9, 12.0, 13.0, 14.6]))
    t.add_column(_col("w2sigmpro", [0.020, 0.021, MASK, 0.028, 0.025, 0.025, 0.03, 0.12]))
    t.add_column(_col("w2snr", [54.0, 51.0, 40.0, 38.0, 43.0, 43.0, 36.0, 9.0]))
    t.add_column(_col("w3mpro", [7.5, 10.3, 9.0, 10.1, 9.5, 9.6, 10.0, 12.1]))
    t.add_column(_col("w3sigmpro", [0.05, 0.09, 0.04, -0.05, 0.06, 0.06, 0.07, 0.35]))
    t.add_column(_col("w3snr", [21.7, 12.0, 27.0, 21.0, 18.0, 18.0, 15.0, 3.1]))
    t.add_column(_col("w4mpro", [5.2, 8.6, 7.0, 7.9, 7.5, 7.6, 7.8, 8.9]))
    t.add_column(_col("w4sigmpro", [0.15, MASK, 0.12, 0.25, 0.2, 0.2, 0.22, MASK]))
    t.add_column(_col("w4snr", [7.2, 1.3, 9.0, 4.3, 5.4, 5.4, 4.9, 0.8]))
    t["ph_qual"] = ["AAAA", "AAAU", "AAAA", "AAAB", "AAAB", "AAAB", "XAAB", "BBCU"]
    return t


FORMATS = {"csv": "ascii.csv", "fits": "fits", "tbl": "ascii.ipac", "xml": "votable"}


@pytest.fixture(params=sorted(FORMATS))
def table_file(request, tmp_path):
    ext = request.param
    path = tmp_path / f"allwise_sample.{ext}"
    allwise_like().write(path, format=FORMATS[ext])
    return path


def test_read_all_formats(table_file):
    wt = read_wise_table(table_file)
    assert len(wt) == 8
    assert wt.source == str(table_file)
    assert wt.id_column == "designation"
    assert wt["id"][1] == "J110640.46+200508.0"
    np.testing.assert_allclose(wt["ra_deg"][1], 166.66859)

    # Vega mag -> mJy against hand-computed values
    assert wt["w1_flux_mjy"][0] == pytest.approx(30.954, rel=1e-6)
    assert wt["w1_flux_err_mjy"][0] == pytest.approx(0.62720, rel=1e-4)
    assert wt["w2_flux_mjy"][0] == pytest.approx(171.787e3 * 10 ** (-0.4 * 9.9), rel=1e-9)
    assert wt["w1_sigma_mag"][0] == pytest.approx(0.022)
    assert wt["w1_snr"][0] == pytest.approx(49.3)

    # W4 of row 1 is a 95% upper limit: kept as a limit, never a detection
    assert wt["w4_is_ul"][1] and not wt["w4_is_ul"][0]
    assert wt["w4_mag_vega"][1] == pytest.approx(8.6)
    assert wt["w4_flux_mjy"][1] == pytest.approx(3.0364, rel=1e-4)
    assert np.isnan(wt["w4_sigma_mag"][1]) and np.isnan(wt["w4_flux_err_mjy"][1])
    assert wt["w4_is_ul"][7] and wt["w3_is_ul"][7] is np.False_
    assert 1 not in wt.bad_rows and 7 not in wt.bad_rows
    assert wt["ph_qual"][7] == "BBCU"

    # per-row problems are flagged, not raised, and the good rows stay
    assert sorted(wt.bad_rows) == [2, 3, 4, 5, 6]
    assert re.search(r"W2 error is null/NaN for a detection", wt.bad_rows[2])
    assert "W3 error is negative" in wt.bad_rows[3]
    assert "duplicate id 'J120000.00+100000.0' (rows [4, 5])" in wt.bad_rows[4]
    assert "duplicate id" in wt.bad_rows[5]
    assert "W1 magnitude missing" in wt.bad_rows[6]
    assert "W1 has no usable measurement (ph_qual letter 'X')" in wt.bad_rows[6]
    np.testing.assert_array_equal(wt.good, [True, True, False, False, False, False, False, True])
    good = wt.good_columns()
    np.testing.assert_array_equal(good["row"], [0, 1, 7])
    assert np.all(np.isfinite(good["w1_flux_err_mjy"]))

    text = wt.report()
    assert str(table_file) in text
    assert "8 rows, 3 good, 5 flagged" in text
    assert "W4: 1 detections, 2 upper limits" in text
    assert "row 3 [J141503.50+321013.9]: W3 error is negative" in text


def test_missing_band_columns(tmp_path):
    t = allwise_like()
    t.remove_columns(["w3mpro", "w3sigmpro"])
    path = tmp_path / "no_w3.csv"
    t.write(path, format="ascii.csv")
    with pytest.raises(
        WiseTableError, match=re.escape(str(path)) + r".*missing WISE band columns \['w3mpro', 'w3sigmpro'\]"
    ):
        read_wise_table(path)


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "garbage.fits"
    bad.write_bytes(b"\x00\x01 not a table at all")
    with pytest.raises(WiseTableError, match=re.escape(str(bad)) + ".*cannot read as a table"):
        read_wise_table(bad)
    with pytest.raises(WiseTableError, match="nothere.csv.*does not exist"):
        read_wise_table(tmp_path / "nothere.csv")


def test_in_memory_table_upper_case_and_no_ph_qual():
    t = allwise_like()
    t.remove_column("ph_qual")
    for name in t.colnames:
        t.rename_column(name, name.upper())
    wt = read_wise_table(t)
    # a null sigma means a 95% upper limit when ph_qual is absent (AllWISE convention)
    assert wt["w4_is_ul"][1] and wt["w2_is_ul"][2]
    assert wt["ph_qual"][1] == "???U"
    assert "no ph_qual column" in wt.report()
    assert wt["w1_flux_mjy"][0] == pytest.approx(30.954, rel=1e-6)
    assert 1 not in wt.bad_rows and "W3 error is negative" in wt.bad_rows[3]


def test_id_column_choice_and_sdss_ids(tmp_path):
    t = allwise_like()
    with pytest.raises(WiseTableError, match="id column 'objname' not found"):
        read_wise_table(t, id_column="objname")
    t.remove_column("designation")
    t["plate"] = [945, 2488, 300, 301, 302, 303, 304, 305]
    t["mjd"] = [52652, 54149, 51666, 51666, 51666, 51666, 51666, 51666]
    t["fiberid"] = [470, 1, 10, 11, 12, 13, 14, 15]
    wt = read_wise_table(t)
    assert wt.id_column == "plate,mjd,fiberid"
    assert wt["id"][0] == "0945-52652-0470" and wt["id"][1] == "2488-54149-0001"
    assert not any("duplicate" in r for r in wt.bad_rows.values())


def test_ab_offsets():
    # Jarrett et al. 2011: AB - Vega = 2.699, 3.339, 5.174, 6.620
    assert vega_to_ab(10.0, "W1") == pytest.approx(12.699)
    assert vega_to_ab([5.0], 3)[0] == pytest.approx(11.620)
    assert ab_to_vega(vega_to_ab(7.3, "w3"), "W3") == pytest.approx(7.3)
    with pytest.raises(ValueError, match="unknown WISE band"):
        vega_to_ab(1.0, "W5")


def test_malformed_ph_qual_flags_only_that_row():
    t = allwise_like()
    t["ph_qual"][0] = "AA"
    wt = read_wise_table(t)
    assert "ph_qual 'AA' is not 4 letters" in wt.bad_rows[0]
    assert 1 not in wt.bad_rows and 7 not in wt.bad_rows


def test_upper_limit_never_gets_an_error_bar():
    # ph_qual says U: even if the table carries a number in w4sigmpro, the value is a limit
    t = allwise_like()
    t["w4sigmpro"].mask[1] = False
    t["w4sigmpro"][1] = 0.3
    wt = read_wise_table(t)
    assert wt["w4_is_ul"][1]
    assert np.isnan(wt["w4_sigma_mag"][1]) and np.isnan(wt["w4_flux_err_mjy"][1])
    assert wt["w4_flux_mjy"][1] == pytest.approx(3.0364, rel=1e-4)


def test_wise_columns_from_mags_errors_and_limits():
    """The one conversion of (mag, sigma, is_upper_limit) to catalog columns, as the reader uses it."""
    mag = np.array([[10.0, 11.0, 8.0, 6.0], [12.0, 12.5, 11.0, 8.9]])
    sig = np.array([[0.02, 0.03, 0.05, 0.1], [0.04, 0.05, 0.2, 0.3]])
    ul = np.array([[False, False, False, False], [False, False, False, True]])
    cols = wise_columns(mag, sig, ul)
    assert sorted(cols) == sorted(
        f"w{k}_{c}"
        for k in range(1, 5)
        for c in ("mag_vega", "sigma_mag", "flux_mjy", "flux_err_mjy", "is_ul")
    )
    # W1 = 10 mag: F0 = 309.540 Jy (Jarrett et al. 2011) -> 30.954 mJy; error 0.4 ln(10) 0.02 F
    assert cols["w1_flux_mjy"][0] == pytest.approx(309.540e3 * 1e-4, rel=1e-12)
    assert cols["w1_flux_err_mjy"][0] == pytest.approx(cols["w1_flux_mjy"][0] * 0.4 * np.log(10) * 0.02)
    # the W4 upper limit keeps its limiting flux and gets no error bars
    assert cols["w4_is_ul"].tolist() == [False, True]
    assert np.isnan(cols["w4_sigma_mag"][1]) and np.isnan(cols["w4_flux_err_mjy"][1])
    assert cols["w4_flux_mjy"][1] == pytest.approx(8.363e3 * 10 ** (-0.4 * 8.9))
    # one band at a time (the reader's loop) gives the same columns
    one = wise_columns(mag[:, 2:3], sig[:, 2:3], ul[:, 2:3], bands=("W3",))
    for k, v in one.items():
        np.testing.assert_array_equal(v, cols[k])
