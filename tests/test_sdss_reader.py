"""SDSS spectrum reader on real DR18 files (shipped with ppxf) and on broken copies of them.

Physical landmarks: the 4000 A break D4000n (Balogh et al. 1999; 3850-3950 / 4000-4100 A rest)
is > 1.6 for old populations and ~1.1-1.4 for young ones (Kauffmann et al. 2003); CaII K 3934.78
(vacuum) is a deep absorption in early-type galaxies; Halpha 6564.61 is in emission in a
star-forming galaxy.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from astropy.io import fits

from explorer.constants import (
    LOGLAM_GRID,
    LOGLAM_START,
    LOGLAM_STEP,
    N_PIX,
    NORM_WINDOW_REST_AA,
    WAVE_OBS_VAC_AA,
)
from explorer.errors import SpectrumFileError
from explorer.io.sdss import place_on_grid, read_sdss_spectrum, summarize_spectrum
from explorer.io.skylines import air_to_vac_aa, sky_line_mask


def _file_truth(path):
    with fits.open(path) as h:
        c = {k: np.array(h["COADD"].data[k]) for k in ("flux", "loglam", "ivar", "and_mask")}
        s = h["SPECOBJ"].data[0]
        return c, {k: s[k] for k in ("PLATE", "MJD", "FIBERID", "Z", "Z_ERR", "CLASS")}


def _band_mean(spec, lo_rest, hi_rest):
    wave_rest = WAVE_OBS_VAC_AA / (1 + spec.z)
    sel = (wave_rest >= lo_rest) & (wave_rest <= hi_rest) & (spec.weight > 0)
    return float(np.mean(spec.flux[sel]))


def _line_to_continuum(spec, center_rest, half=3.0, cont_in=15.0, cont_out=35.0):
    """Median flux within +-half A of a rest line over the median in side bands."""
    d = WAVE_OBS_VAC_AA / (1 + spec.z) - center_rest
    good = spec.weight > 0
    core = np.median(spec.flux[(np.abs(d) <= half) & good])
    side = np.median(spec.flux[(np.abs(d) >= cont_in) & (np.abs(d) <= cont_out) & good])
    return core / side


# -- real files ---------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["sdss_ngc3073", "sdss_ngc3522"])
def test_real_file_basic(which, request):
    path = request.getfixturevalue(which)
    coadd, so = _file_truth(path)
    spec = read_sdss_spectrum(path)

    assert spec.z == float(so["Z"])
    assert spec.id == f"{so['PLATE']:04d}-{so['MJD']:05d}-{so['FIBERID']:04d}"
    assert spec.meta["plate"] == so["PLATE"] and spec.meta["fiberid"] == so["FIBERID"]
    assert spec.meta["z_err"] == pytest.approx(float(so["Z_ERR"]))
    assert spec.meta["class"] == so["CLASS"].strip()
    assert spec.flux.shape == spec.weight.shape == (N_PIX,)
    assert spec.n_good_pix >= 3000
    assert spec.norm > 0 and np.isfinite(spec.norm)
    assert spec.meta["grid_method"] == "nearest"
    assert np.all(spec.weight >= 0) and np.all(np.isfinite(spec.flux))

    # normalized flux median over the good window pixels is 1 (spender normalization)
    wave_rest = WAVE_OBS_VAC_AA / (1 + spec.z)
    win = (wave_rest >= NORM_WINDOW_REST_AA[0]) & (wave_rest <= NORM_WINDOW_REST_AA[1]) & (spec.weight > 0)
    assert win.sum() > 300
    assert np.median(spec.flux[win]) == pytest.approx(1.0, abs=1e-6)

    # nearest-pixel placement is exact: each good file pixel lands on its grid pixel unchanged
    k = np.rint((coadd["loglam"] - LOGLAM_START) / LOGLAM_STEP).astype(int)
    inside = (k >= 0) & (k < N_PIX)
    w = spec.weight[k[inside]] > 0
    np.testing.assert_allclose(spec.flux[k[inside]][w] * spec.norm, coadd["flux"][inside][w], rtol=1e-5)
    np.testing.assert_allclose(spec.weight[k[inside]][w] / spec.norm**2, coadd["ivar"][inside][w], rtol=1e-5)
    # pixels flagged in and_mask never get weight
    assert np.all(spec.weight[k[inside][coadd["and_mask"][inside] != 0]] == 0)
    # grid pixels outside the file's wavelength range have no data
    assert np.all(spec.weight[: k.min()] == 0) and np.all(spec.weight[k.max() + 1 :] == 0)


def test_ngc3522_is_early_type_ngc3073_young(sdss_ngc3073, sdss_ngc3522):
    old = read_sdss_spectrum(sdss_ngc3522)
    young = read_sdss_spectrum(sdss_ngc3073)
    d4000_old = _band_mean(old, 4000, 4100) / _band_mean(old, 3850, 3950)
    d4000_young = _band_mean(young, 4000, 4100) / _band_mean(young, 3850, 3950)
    assert d4000_old > 1.6, d4000_old
    assert d4000_young < 1.45, d4000_young
    # CaII K: deep absorption in the early type (well below the local continuum)
    assert _line_to_continuum(old, 3934.78) < 0.6
    assert _line_to_continuum(old, 3934.78) < _line_to_continuum(young, 3934.78)
    # Halpha in emission in NGC 3073 (young, star forming)
    assert _line_to_continuum(young, 6564.61) > 1.3


def test_sky_lines_masked(sdss_ngc3522):
    masked = read_sdss_spectrum(sdss_ngc3522)
    unmasked = read_sdss_spectrum(sdss_ngc3522, mask_sky_lines=False)
    oi = np.argmin(np.abs(WAVE_OBS_VAC_AA - 5578.89))  # [OI] 5577.34 air
    assert masked.weight[oi] == 0 and unmasked.weight[oi] > 0
    assert unmasked.n_good_pix - masked.n_good_pix == np.count_nonzero(
        sky_line_mask(WAVE_OBS_VAC_AA) & (unmasked.weight > 0)
    )
    # masking never changes the other pixels
    keep = ~sky_line_mask(WAVE_OBS_VAC_AA)
    np.testing.assert_array_equal(masked.weight[keep] > 0, unmasked.weight[keep] > 0)


def test_air_to_vac_matches_reference_table():
    # science.md: CaII K 3933.66 air -> 3934.78 vac, Halpha 6562.80 -> 6564.61
    np.testing.assert_allclose(air_to_vac_aa([3933.66, 6562.80]), [3934.78, 6564.61], atol=0.02)


def test_summary_is_json(sdss_ngc3522):
    summary = summarize_spectrum(sdss_ngc3522)
    text = json.dumps(summary)
    back = json.loads(text)
    assert back["id"] == "2488-54149-0001"
    assert back["class"] == "GALAXY"
    assert back["n_good_pix"] == read_sdss_spectrum(sdss_ngc3522).n_good_pix
    assert back["norm"] > 0 and "1e-17" in back["norm_unit"]
    assert back["z"] == pytest.approx(0.0040180, abs=1e-6)


# -- resampling -------------------------------------------------------------------------------
def test_interpolation_off_grid_is_linear_and_masks_propagate():
    n = 500
    loglam = LOGLAM_START + (100.5 + np.arange(n)) * LOGLAM_STEP  # half a pixel off the grid
    flux = 2.0 + 3.0 * (loglam - LOGLAM_START)
    ivar = np.full(n, 4.0)
    good = np.ones(n, bool)
    good[200] = False
    fg, ig, method = place_on_grid(loglam, flux, ivar, good)
    assert method == "interpolate"
    on = ig > 0
    np.testing.assert_allclose(fg[on], 2.0 + 3.0 * (LOGLAM_GRID[on] - LOGLAM_START), rtol=1e-10)
    np.testing.assert_allclose(ig[on], 4.0)  # equal variances interpolate to the same variance
    # a bad source pixel kills the two grid pixels it touches; nothing outside the data
    assert ig[100 + 200] == 0 and ig[100 + 201] == 0 and ig[100 + 199] > 0
    assert np.all(ig[:101] == 0) and np.all(ig[100 + n :] == 0)
    assert on.sum() == n - 1 - 2


def test_nearest_tolerates_float32_loglam():
    loglam = (LOGLAM_START + (10 + np.arange(3000)) * LOGLAM_STEP).astype(np.float32)
    fg, ig, method = place_on_grid(loglam, np.arange(3000.0), np.ones(3000), np.ones(3000, bool))
    assert method == "nearest"
    np.testing.assert_array_equal(fg[10:3010], np.arange(3000.0))


# -- broken files -------------------------------------------------------------------------------
def _rewrite(src, dst, *, coadd=None, specobj=None, drop=(), rename=None, upper=False):
    """Copy ``src`` with modified COADD/SPECOBJ data (callables edit the record arrays in place)."""
    with fits.open(src) as h:
        prim = fits.PrimaryHDU(header=h[0].header)
        cd = h["COADD"].data.copy()
        sd = h["SPECOBJ"].data.copy()
    if coadd:
        coadd(cd)
    if specobj:
        specobj(sd)
    c_hdu = fits.BinTableHDU(cd, name="COADD")
    s_hdu = fits.BinTableHDU(sd, name="SPECOBJ")
    if upper:
        for col in c_hdu.columns:
            col.name = col.name.upper()
        c_hdu = fits.BinTableHDU.from_columns(c_hdu.columns, name="COADD")
    hdus = {"COADD": c_hdu, "SPECOBJ": s_hdu}
    for name in drop:
        hdus.pop(name)
    if rename:
        for old, new in rename.items():
            hdus[old].name = new
    fits.HDUList([prim, *hdus.values()]).writeto(dst)
    return dst


def _err(path, problem):
    return re.escape(str(path)) + ".*" + problem


def test_not_a_fits_file(tmp_path):
    p = tmp_path / "spec-text.fits"
    p.write_text("plate,mjd,fiberid\n945,52652,470\n")
    with pytest.raises(SpectrumFileError, match=_err(p, "not a FITS file")):
        read_sdss_spectrum(p)


def test_missing_file(tmp_path):
    p = tmp_path / "spec-nothere.fits"
    with pytest.raises(SpectrumFileError, match=_err(p, "does not exist")):
        read_sdss_spectrum(p)


@pytest.mark.parametrize("keep_bytes", [2880 * 3, 100_000, 599_800])
def test_truncated_fits(sdss_ngc3522, tmp_path, keep_bytes):
    p = tmp_path / f"spec-cut{keep_bytes}.fits"
    p.write_bytes(sdss_ngc3522.read_bytes()[:keep_bytes])
    with pytest.raises(SpectrumFileError, match=_err(p, "truncated or corrupt")):
        read_sdss_spectrum(p)


def test_no_coadd_hdu(sdss_ngc3522, tmp_path):
    p = _rewrite(sdss_ngc3522, tmp_path / "spec-nocoadd.fits", drop=["COADD"])
    with pytest.raises(SpectrumFileError, match=_err(p, "no COADD HDU")):
        read_sdss_spectrum(p)


def test_no_specobj_hdu(sdss_ngc3522, tmp_path):
    p = _rewrite(sdss_ngc3522, tmp_path / "spec-nospecobj.fits", drop=["SPECOBJ"])
    with pytest.raises(SpectrumFileError, match=_err(p, "no SPECOBJ HDU")):
        read_sdss_spectrum(p)


def test_unnamed_hdus_found_by_position_and_upper_case_columns(sdss_ngc3522, tmp_path):
    ref = read_sdss_spectrum(sdss_ngc3522)
    p = _rewrite(sdss_ngc3522, tmp_path / "spec-noname.fits", rename={"COADD": "DATA", "SPECOBJ": "INFO"})
    q = _rewrite(sdss_ngc3522, tmp_path / "spec-upper.fits", upper=True)
    for path in (p, q):
        spec = read_sdss_spectrum(path)
        assert spec.id == ref.id and spec.z == ref.z
        np.testing.assert_array_equal(spec.flux, ref.flux)
        np.testing.assert_array_equal(spec.weight, ref.weight)


def test_missing_columns(sdss_ngc3522, tmp_path):
    with fits.open(sdss_ngc3522) as h:
        cols = [c for c in h["COADD"].columns if c.name != "ivar"]
        coadd = fits.BinTableHDU.from_columns(cols, name="COADD")
        specobj = fits.BinTableHDU(h["SPECOBJ"].data, name="SPECOBJ")
        p = tmp_path / "spec-noivar.fits"
        fits.HDUList([fits.PrimaryHDU(), coadd, specobj]).writeto(p)
    with pytest.raises(SpectrumFileError, match=_err(p, r"COADD HDU is missing required columns \['ivar'\]")):
        read_sdss_spectrum(p)


def _set(col, value):
    def edit(data):
        data[col][:] = value

    return edit


@pytest.mark.parametrize(
    ("name", "coadd", "specobj", "problem"),
    [
        ("allnan", _set("flux", np.nan), None, "flux is NaN/inf in every pixel"),
        ("zeroivar", _set("ivar", 0.0), None, "ivar is zero .* in every pixel"),
        ("negivar", _set("ivar", -1.0), None, "ivar is zero .* in every pixel"),
        ("z07", None, _set("Z", 0.7), r"redshift z=0\.7 outside"),
        ("zneg", None, _set("Z", -0.1), r"redshift z=-0\.1 outside"),
        ("negflux", _set("flux", -5.0), None, "normalization .* not positive"),
    ],
)
def test_bad_values(sdss_ngc3522, tmp_path, name, coadd, specobj, problem):
    p = _rewrite(sdss_ngc3522, tmp_path / f"spec-{name}.fits", coadd=coadd, specobj=specobj)
    with pytest.raises(SpectrumFileError, match=_err(p, problem)):
        read_sdss_spectrum(p)


def test_no_good_pixels_in_normalization_window(sdss_ngc3522, tmp_path):
    def mask_window(data):
        wave = 10 ** data["loglam"]
        z = 0.0040180
        sel = (wave > 5250 * (1 + z)) & (wave < 5900 * (1 + z))
        data["and_mask"][sel] = 1 << 23  # BRIGHTSKY

    p = _rewrite(sdss_ngc3522, tmp_path / "spec-nowindow.fits", coadd=mask_window)
    with pytest.raises(SpectrumFileError, match=_err(p, "no good pixels in the normalization window")):
        read_sdss_spectrum(p)


def test_gzipped_real_file_reads_like_the_original(sdss_ngc3522, tmp_path):
    import gzip

    gz = tmp_path / "spec.fits.gz"
    gz.write_bytes(gzip.compress(sdss_ngc3522.read_bytes()))
    a, b = read_sdss_spectrum(sdss_ngc3522), read_sdss_spectrum(gz)
    np.testing.assert_array_equal(a.flux, b.flux)
    assert a.norm == b.norm


def test_decompression_bomb_refused(tmp_path):
    import gzip

    # 8 MB of FITS-looking bytes that gzip to a few kB: refused at a 1 MB bound, before reading
    bomb = tmp_path / "bomb.fits.gz"
    bomb.write_bytes(gzip.compress(b"SIMPLE  =" + b" " * (8 * 1024**2)))
    assert bomb.stat().st_size < 50_000
    with pytest.raises(SpectrumFileError, match=r"bomb\.fits\.gz: gzip content inflates beyond 1 MB"):
        read_sdss_spectrum(bomb, max_decompressed_bytes=1024**2)


def test_corrupt_gzip(sdss_ngc3522, tmp_path):
    import gzip

    gz = tmp_path / "cut.fits.gz"
    gz.write_bytes(gzip.compress(sdss_ngc3522.read_bytes())[:5000])
    with pytest.raises(SpectrumFileError, match=_err(gz, "truncated or corrupt gzip file")):
        read_sdss_spectrum(gz)
