"""The SED-fitting comparator (explorer.sedfit): photometry, inputs, one quick fit, the batch
table and its resume logic, the comparison's metrics and the dashboard overlay."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from explorer.catalog import Catalog
from explorer.constants import WAVE_OBS_VAC_AA, WISE_AB_MINUS_VEGA, WISE_F0_JY
from explorer.paths import DEMO_CATALOG
from explorer.sedfit.data import SedFitError, make_fit_data

GOOD_MAG = [18.0, 17.0, 16.5, 16.2, 16.0]
GOOD_ERR = [0.03] * 5


def _flat_spectrum(n_masked: int = 0):
    flux = np.full(WAVE_OBS_VAC_AA.size, 10.0)
    ivar = np.full(WAVE_OBS_VAC_AA.size, 1.0)
    ivar[:n_masked] = 0.0
    return flux, ivar


# -- photometry: a flat f_nu spectrum has the same AB magnitude in every band -------------------
def test_band_matrix_gives_the_ab_magnitude_of_a_flat_fnu_spectrum():
    from explorer.sedfit.model import SDSS_FILTERS, WISE_FILTERS, band_matrix, fnu_to_ab, wise_vega_mag

    wave = np.geomspace(1000.0, 4e5, 20000)
    fnu = 3.631e-20 * 10 ** (-0.4 * 20.0)  # AB 20 (3.631e-20 erg/s/cm^2/Hz is AB 0)
    for z in (0.0, 0.1):
        f_lambda = fnu * 2.99792458e18 / (wave * (1 + z)) ** 2  # per observed Angstrom
        ab = fnu_to_ab(band_matrix(wave, z, SDSS_FILTERS + WISE_FILTERS) @ f_lambda)
        np.testing.assert_allclose(ab, 20.0, atol=2e-3)
        vega = wise_vega_mag(band_matrix(wave, z, WISE_FILTERS) @ f_lambda)
        np.testing.assert_allclose(vega, 20.0 - WISE_AB_MINUS_VEGA, atol=2e-3)


# -- inputs ------------------------------------------------------------------------------------
def test_inputs_are_binned_with_inverse_variance_weights():
    flux, ivar = _flat_spectrum(n_masked=100)
    flux[200:220] = 30.0
    ivar[200:220] = 4.0
    d = make_fit_data("toy", 0.1, flux, ivar, GOOD_MAG, GOOD_ERR, bin_pixels=20, spec_floor=0.0)
    assert d.n_bins == (WAVE_OBS_VAC_AA.size - 100) // 20  # the 5 fully masked bins are dropped
    k = int(np.argmin(np.abs(d.wave_obs_vac_aa - WAVE_OBS_VAC_AA[200:220].mean())))
    assert d.flux_1e17[k] == pytest.approx(30.0) and d.sigma_1e17[k] == pytest.approx(1 / np.sqrt(80))
    np.testing.assert_allclose(d.bin_matrix @ flux, d.flux_1e17)  # the same weights for a model
    np.testing.assert_allclose(d.ugriz_fnu, 10 ** (-0.4 * (np.array(GOOD_MAG) + 48.6)))


@pytest.mark.parametrize(
    ("flux_ivar", "mag", "message"),
    [
        (_flat_spectrum(n_masked=WAVE_OBS_VAC_AA.size), GOOD_MAG, "all or nearly all pixels masked"),
        (_flat_spectrum(), [np.nan] * 5, "no usable ugriz photometry"),
        (_flat_spectrum(), GOOD_MAG[:3], "needs 5 magnitudes"),
    ],
)
def test_bad_inputs_give_a_clear_message(flux_ivar, mag, message):
    with pytest.raises(SedFitError, match=message) as err:
        make_fit_data("SIM-1", 0.1, *flux_ivar, mag, GOOD_ERR[: len(mag)])
    assert "SIM-1" in str(err.value)


def test_cli_spectrum_without_photometry_says_so(sdss_ngc3522, capsys):
    from explorer.cli import main

    assert main(["sedfit", "--spectrum", str(sdss_ngc3522)]) == 2
    err = capsys.readouterr().err
    assert "no photometry" in err and "--ugriz" in err and sdss_ngc3522.name in err


# -- one quick fit of a toy galaxy made by the same model ------------------------------------------
def test_quick_fit_of_a_toy_galaxy():
    pytest.importorskip("bagpipes", reason="the SED fit needs the optional 'simulate' extra (bagpipes)")
    from explorer.sedfit.fit import QUICK, fit_galaxy
    from explorer.sedfit.model import SedModel, fnu_to_ab, wise_vega_mag

    z = 0.08
    model = SedModel(z)
    theta = dict(log_massformed=10.8, age_gyr=6.0, tau_gyr=3.0, metallicity=1.0, av=0.4, logu=-3.0,
                 qpah=2.5, umin=2.0, gamma=0.05)  # fmt: skip
    spec, _, _ = model.spectrum(theta)
    flux = np.interp(WAVE_OBS_VAC_AA, model.wave_vac_aa * (1 + z), spec) * 1e17 * 0.3  # a 30 % fiber
    ivar = (20.0 / flux) ** 2
    mag = fnu_to_ab(model.ugriz @ spec)
    true_wise = wise_vega_mag(model.wise @ spec)
    data = make_fit_data("toy", z, flux, ivar, mag, [0.02] * 5)
    res = fit_galaxy(data, QUICK)
    assert res.wise_mag_draws.shape == (QUICK.n_draws, 4) and np.isfinite(res.wise_mag_draws).all()
    np.testing.assert_allclose(res.wise_mjy_draws, WISE_F0_JY * 1e3 * 10 ** (-0.4 * res.wise_mag_draws))
    # W1 and W2 are starlight: the fit of the optical predicts them (no AB/Vega slip of ~3 mag)
    np.testing.assert_allclose(np.median(res.wise_mag_draws[:, :2], axis=0), true_wise[:2], atol=0.3)
    assert np.isfinite(res.log_sfr_draws).all() and ((res.qpah_draws >= 0.1) & (res.qpah_draws <= 4.58)).all()
    s = res.summary()
    assert s["w1_p16"] <= s["w1_p50"] <= s["w1_p84"] and s["n_like"] > 0 and s["wall_s"] > 0


# -- the batch: sample, resume, combine, checksum -------------------------------------------------
@pytest.fixture(scope="module")
def demo():
    return Catalog(DEMO_CATALOG)


def test_stratified_sample_takes_the_classes_in_turn(demo):
    from explorer.sedfit.batch import stratified_sample

    idx = stratified_sample(demo, 9, "test", seed=1)
    labels = np.asarray(demo.table["class_label"]).astype(str)[idx]
    assert len(set(idx)) == 9 and sorted(np.unique(labels, return_counts=True)[1]) == [3, 3, 3]
    assert (stratified_sample(demo, 9, "test", seed=1) == idx).all()


def test_batch_writes_each_fit_resumes_and_combines(demo, tmp_path, monkeypatch):
    from explorer.sedfit import batch
    from explorer.sedfit.fit import FitSettings
    from explorer.sedfit.table import SedFitTable, fits_for_catalog
    from explorer.testing.sedfit import fake_result

    calls = []

    def fake_fit(data, settings):
        calls.append(data.id)
        if data.id == str(demo.table["id"][2]):
            raise SedFitError(f"{data.id}: cannot be fitted")
        return fake_result(data.id, data.z, [13.0, 12.8, 10.0, 8.0])

    monkeypatch.setattr(batch, "fit_galaxy", fake_fit)
    s = FitSettings(n_live=10)
    rep = batch.run_batch(demo, [0, 1, 2], tmp_path / "b", s, log=lambda _: None)
    assert rep["n_done"] == 2 and rep["n_failed"] == 1 and len(calls) == 3
    assert "cannot be fitted" in (tmp_path / "b" / "failed.json").read_text()
    rep = batch.run_batch(demo, [0, 1, 2, 3], tmp_path / "b", s, log=lambda _: None)
    assert rep["n_skipped"] == 2 and rep["n_done"] == 1 and len(calls) == 5  # 0, 1 kept; 2 retried
    rep = batch.run_batch(demo, [0], tmp_path / "b", FitSettings(n_live=11), log=lambda _: None)
    assert rep["n_done"] == 1  # other settings: fitted anew
    with pytest.raises(Exception, match="settings"):  # a folder of mixed settings is not combined
        batch.combine(tmp_path / "b", tmp_path / "t.h5")
    one = SedFitTable(batch.combine(tmp_path / "b", tmp_path / "t1.h5", settings=FitSettings(n_live=11)))
    assert len(one) == 1  # unless the settings to keep are named
    with pytest.raises(Exception, match="no finished fits"):
        batch.combine(tmp_path / "b", tmp_path / "t0.h5", catalog_sha256="another catalog")
    (tmp_path / "b" / "fits" / f"{demo.table['id'][0]}.npz").unlink()
    path = batch.combine(tmp_path / "b", tmp_path / "t.h5", catalog_name="demo", command="test")
    t = SedFitTable(path)
    assert len(t) == 2 and t.ids == [str(demo.table["id"][i]) for i in (1, 3)]
    assert t.draws["wise_mag_draws"].shape == (2, 50, 4) and t.settings["n_live"] == 10
    assert t.catalog_sha256 == rep["catalog_sha256"] and "bagpipes" in t.attrs["versions"]
    fit = t.get(t.ids[0])
    assert fit.wise_mag_draws.shape == (50, 4) and t.get("nope") is None
    # the app uses a table only on the catalog file it was made from
    table, note = fits_for_catalog(DEMO_CATALOG, [path])
    assert table is not None and "2 galaxies" in note
    other = tmp_path / "other.h5"
    shutil.copy(DEMO_CATALOG, other)
    with open(other, "ab") as f:
        f.write(b"\0")  # another file: another checksum
    table, note = fits_for_catalog(other, [path])
    assert table is None and "another catalog" in note


# -- the comparison's metrics ---------------------------------------------------------------------
def test_draws_posterior_coverage_known_answer():
    from explorer.ml.data import WiseTargets
    from explorer.ml.evaluate import ir_metrics
    from explorer.sedfit.compare import draws_posterior

    rng = np.random.default_rng(0)
    n, k = 3000, 100
    centre = rng.uniform(10, 14, (n, 4))
    truth = centre + 0.2 * rng.standard_normal((n, 4))  # truth drawn from the posterior: calibrated
    sigma = np.full((n, 4), 0.1)
    targets = WiseTargets(
        mag=truth + sigma * rng.standard_normal((n, 4)), sigma=sigma, is_ul=np.zeros((n, 4), bool)
    )
    good = ir_metrics(draws_posterior(centre[:, None, :] + 0.2 * rng.standard_normal((n, k, 4))), targets)
    over = ir_metrics(draws_posterior(centre[:, None, :] + 0.02 * rng.standard_normal((n, k, 4))), targets)
    for b in ("W1", "W4"):
        assert good["bands"][b]["coverage68"] == pytest.approx(0.683, abs=0.03)
        assert good["bands"][b]["coverage95"] == pytest.approx(0.954, abs=0.02)
        assert over["bands"][b]["coverage68"] < 0.5  # overconfident: the data fall outside
        assert good["bands"][b]["chi2_n_paper"] == pytest.approx(good["bands"][b]["chi2_n"] * 0.1, rel=0.05)


@pytest.fixture(scope="module")
def fixture_catalog(tmp_path_factory):
    """A copy of the demo catalog with a fake SED-fit table of rows 0 and 2 beside it."""
    from explorer.testing.sedfit import write_fixture_table

    root = tmp_path_factory.mktemp("sedfit_app")
    shutil.copy(DEMO_CATALOG, root / "cat.h5")
    cat = Catalog(root / "cat.h5")
    write_fixture_table(cat, [0, 2, 5], root / "cat.sedfit.h5", root / "work", offset_mag=0.5)
    return cat


def test_compare_scores_both_posteriors_on_the_same_galaxies(fixture_catalog):
    from explorer.sedfit.compare import compare
    from explorer.sedfit.report import format_comparison
    from explorer.sedfit.table import SedFitTable

    table = SedFitTable(fixture_catalog.path.with_suffix(".sedfit.h5"))
    r = compare(fixture_catalog, table, "default", time_fits=0, log=lambda _: None)
    assert r["meta"]["n"] == 3
    for who in ("ours", "sedfit"):
        assert set(r[who]["bands"]) == {"W1", "W2", "W3", "W4"}
        assert {"chi2_n", "chi2_n_paper", "mean_chi", "coverage68", "coverage95"} <= set(
            r[who]["bands"]["W1"]
        )
    # the fake fits sit 0.5 mag faint of the truth in every band: chi > 0 in W1
    assert r["sedfit"]["bands"]["W1"]["mean_chi"] > 3
    assert r["sedfit"]["properties"]["qpah"]["n"] == 3
    assert r["wall_s_per_galaxy"]["sedfit"] == pytest.approx(1.0)
    text = format_comparison(r)
    assert "χ²_N,paper (SED fit)" in text and "wall time per galaxy" in text


def test_sed_panel_overlays_the_fit_and_says_when_there_is_none(fixture_catalog):
    from explorer.app.sed_panel import SedPanel
    from explorer.app.state import ExplorerState
    from explorer.ml.registry import load_models

    state = ExplorerState(fixture_catalog, load_models("default"))
    panel = SedPanel(state)
    sed_items = [it for it in panel.figure.legend[0].items if "SED" in str(it.label.value)]
    assert len(sed_items) == 2
    assert state.view.sedfit is not None and len(panel.sed_band.data["wave"]) == 4
    assert len(panel.sed_draws.data["xs"]) == 30 and all(it.visible for it in sed_items)
    assert "χ<sub>SED</sub>" in panel.chi_table.value and "irox-sed-pred" in panel.chi_table.value
    assert "SED fit" in panel.sedfit_note.value
    fig = panel.export_figure()[0]
    assert "SED fit 68%" in fig.irox_labels
    state.select(1)  # no fit of row 1
    assert state.view.sedfit is None and len(panel.sed_band.data["wave"]) == 0
    assert not any(it.visible for it in sed_items) and "SED" not in panel.chi_table.value
    assert "no SED fit of this galaxy" in panel.sedfit_note.value
    state.select(2)
    assert len(panel.sed_band.data["wave"]) == 4
    before = panel.sed_band.data
    lat = np.array(state.view.latents) + 0.3
    state.set_latents(lat)  # a slider move redraws our posterior, not the SED fit
    assert panel.sed_band.data is before


def test_background_fit_of_an_upload_keeps_the_sliders_free(fixture_catalog, monkeypatch):
    """'fit with bagpipes' on an uploaded spectrum: a separate process, progress, the overlay at
    the end; slider moves during the fit stay fast; cancel stops a second fit.

    The runner's watcher thread hands what it shows to the kernel's event loop; here the test's
    own loop plays that part (``pending``, drained between slider moves), so that the fit's result
    and a slider move never change the state from two threads at once (as in the kernel)."""
    pytest.importorskip("bagpipes", reason="the SED fit needs the optional 'simulate' extra (bagpipes)")
    import queue
    import time

    from explorer.app import sedfit_runner
    from explorer.app.sed_panel import SedPanel
    from explorer.app.state import ExplorerState
    from explorer.app.upload_panel import upload_row
    from explorer.ml.registry import load_models
    from explorer.sedfit.fit import QUICK

    state = ExplorerState(fixture_catalog, load_models("default"))
    panel = SedPanel(state)
    runner = panel.fit_button
    runner.settings = QUICK
    assert runner.widget.layout.display == "none"  # catalog galaxies: no button
    spec = fixture_catalog.spectrum(1)
    state.show_upload(spec, upload_row(spec))
    assert runner.widget.layout.display is None and state.view.sedfit is None
    assert "no precomputed SED fit" in panel.sedfit_note.value
    assert not runner.start() and "no photometry" in runner.status.value  # ugriz not typed yet
    row = fixture_catalog.row(1)
    runner.ugriz.value = ",".join(str(row[f"mag_{b}_total"]) for b in "ugriz")
    pending = queue.SimpleQueue()
    monkeypatch.setattr(sedfit_runner, "_main_loop_call", pending.put)

    def run_pending() -> None:
        while not pending.empty():
            pending.get()()

    assert runner.start() and runner.running
    worst = 0.0
    while runner.running:
        run_pending()
        lat = np.array(state.view.latents) + 0.01
        t0 = time.perf_counter()
        state.set_latents(lat)  # what a slider does: the whole redraw of every observer
        worst = max(worst, time.perf_counter() - t0)
        time.sleep(0.2)
    runner._thread.join(timeout=30)
    run_pending()
    assert "done" in runner.status.value, runner.status.value
    assert worst < 0.5  # the fit process does not hold up a redraw
    assert state.view.sedfit is not None and len(panel.sed_band.data["wave"]) == 4
    assert "this session" in panel.sedfit_note.value
    assert runner.start()
    time.sleep(2)
    runner.cancel()
    runner._thread.join(timeout=10)
    run_pending()  # progress queued before the cancel is dropped, not shown over "cancelled"
    assert not runner.running and "cancelled" in runner.status.value


def test_everything_but_the_fit_itself_works_without_bagpipes():
    """bagpipes (GPL-3) is imported only inside the functions that fit: with it blocked, the
    table, the comparison, the CLI and the dashboard modules import, and the fit says why not."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['bagpipes'] = None\n"
        "import explorer.sedfit.batch, explorer.sedfit.table, explorer.sedfit.compare, explorer.sedfit.report\n"
        "import explorer.sedfit.worker, explorer.cli_sedfit, explorer.app.sed_panel, explorer.app.sedfit_runner\n"
        "from explorer.sedfit.model import SedModel\n"
        "try:\n    SedModel(0.1)\nexcept ImportError:\n    print('no bagpipes')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "no bagpipes"


def test_cli_batch_arguments_are_checked(capsys):
    from explorer.cli import main
    from explorer.cli_sedfit import _part

    assert _part("2/3") == (1, 3) and _part("1/1") == (0, 1)
    assert main(["sedfit", str(DEMO_CATALOG), "--sample", "3"]) == 2
    assert "needs --out" in capsys.readouterr().err
    assert main(["sedfit", str(DEMO_CATALOG), "--sample", "3", "--out", "x", "--part", "3/2"]) == 2
    assert "--part" in capsys.readouterr().err


def test_comparison_goes_into_the_model_card_and_the_manifest(tmp_path):
    """`sedfit-compare --write-card`: stored with the models, registered, shown in MODEL_CARD.md."""
    from explorer.ml.registry import load_models, read_manifest
    from explorer.sedfit.report import write_to_model_card
    from explorer.testing.models import write_random_models

    d = write_random_models(tmp_path / "m")
    band = {
        "chi2_n": 2.0,
        "chi2_n_paper": 1.0,
        "mean_chi": 0.1,
        "bias": 0.01,
        "coverage68": 0.7,
        "coverage95": 0.9,
        "n": 3,
    }
    side = {
        "bands": {b: dict(band) for b in ("W1", "W2", "W3", "W4")},
        "class_coverage": {},
        "properties": {},
    }
    res = {
        "meta": {"n": 3, "catalog": "cat.h5", "n_by_class": {"agn": 3}, "table": "t.h5"},
        "ours": side,
        "sedfit": side,
        "wall_s_per_galaxy": {"ours": 0.005, "sedfit": 50.0, "sedfit_source": "test", "ratio": 1e4},
    }
    write_to_model_card(str(d), res, "python -m explorer sedfit-compare --write-card")
    card = (d / "MODEL_CARD.md").read_text()
    assert "## SED-fitting comparison" in card and "sedfit-compare --write-card" in card
    assert "| χ²_N (SED fit) | 2 | 2 | 2 | 2 |" in card
    assert {"sedfit_compare.json", "MODEL_CARD.md"} <= set(read_manifest(d)["files"])
    load_models(str(d))  # every registered file still matches its checksum
