"""The panchromatic (optical to mid-IR) panel in the dashboard, driven from Python (issue 15).

The models are a random-weight encoder and predictor (explorer.testing.models) with a tiny
``midir.pt`` trained on a 300-galaxy toy catalog with planted rest-frame IR spectra
(``make_toy_catalog(..., ir_rest=True)``), all written with the project's own functions.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

PREDICTION = ("band", "draws")
OBSERVED = ("truth", "optical", "ugriz", "det", "ul", "pah", "silicate")


@pytest.fixture(scope="module")
def midir_setup(tmp_path_factory):
    """(catalog with /ir_rest, model dir with midir.pt, model dir without, catalog without /ir_rest)."""
    from explorer.testing.models import write_random_models, write_tiny_midir
    from explorer.testing.toy import make_toy_catalog

    root = tmp_path_factory.mktemp("midir_app")
    cat = make_toy_catalog(root / "toy_ir.h5", n=300, seed=0, ir_rest=True)
    plain = write_random_models(root / "plain")
    with_midir = root / "with_midir"
    shutil.copytree(plain, with_midir)
    write_tiny_midir(with_midir, cat)
    no_ir = make_toy_catalog(root / "toy.h5", n=20, seed=1)
    return {"catalog": cat, "models": with_midir, "plain": plain, "catalog_no_ir": no_ir}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.delenv("IROX_CATALOG", raising=False)
    monkeypatch.setenv("IROX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("IROX_EXPORT_DIR", str(tmp_path / "exports"))


def _app(catalog, models):
    from explorer.app.build import build_app

    _, state, panels = build_app(catalog, models)
    return state, panels["midir"]


def _sent_models(panel, action) -> set:
    """The Bokeh models whose changes ``action`` sends to the browser (the batched patch's events)."""
    sent = []
    panel.bokeh_view._send_patch = lambda events: sent.extend(events)
    action()
    del panel.bokeh_view._send_patch
    return {id(getattr(e, "model", None)) for e in sent}


def _ids(panel, names) -> set:
    return {id(getattr(panel, n)) for n in names}


def test_sources_fill_with_the_galaxy_and_its_prediction(midir_setup):
    state, panel = _app(midir_setup["catalog"], midir_setup["models"])
    assert state.models.midir is not None and "mid-IR spectrum" in state.model_status
    assert panel.note.value == "" and panel.plot.layout.display is None
    w = np.asarray(panel.band.data["wave"])
    z = state.row["z"]
    assert w.size > 50 and w[0] == pytest.approx(3.0 * (1 + z), rel=0.03) and w[-1] <= 35.0 * (1 + z)
    q = np.array([panel.band.data[k] for k in ("q025", "q16", "q50", "q84", "q975")])
    assert np.all(np.isfinite(q)) and np.all(q > 0) and np.all(np.diff(q, axis=0) >= 0)  # ordered bands
    assert len(panel.draws.data["xs"]) == panel.n_show
    assert 400 <= len(panel.optical.data["wave"]) <= 500 and len(panel.ugriz.data["wave"]) == 5  # binned
    assert len(panel.det.data["wave"]) + len(panel.ul.data["wave"]) == 4
    assert list(panel.pah.data["x"]) == pytest.approx(
        [lam * (1 + z) for lam in (3.3, 6.2, 7.7, 8.6, 11.3, 12.7)]
    )
    assert "7.7 µm" in panel.readout.value and "optical-only prior" in panel.readout.value
    # the truth toggle of a simulated galaxy: hidden curve until ticked, then the catalog's /ir_rest
    assert panel.show_truth.layout.display is None and len(panel.truth.data["wave"]) == 0
    panel.show_truth.value = True
    truth = np.asarray(panel.truth.data["flux"])
    assert truth.size == w.size and np.all(truth > 0)


def test_the_data_draw_on_the_overlay_canvas_and_the_feature_lines_under_it(midir_setup):
    """A slider move re-sends the prediction; its glyphs (and the other data) draw on Bokeh's overlay
    canvas, which the browser repaints alone; the PAH and silicate lines stay on the primary one."""
    from bokeh.models import GlyphRenderer

    _, panel = _app(midir_setup["catalog"], midir_setup["models"])
    glyphs = [r for r in panel.figure.renderers if isinstance(r, GlyphRenderer)]
    by_source = {
        name: [r for r in glyphs if r.data_source is getattr(panel, name)] for name in PREDICTION + OBSERVED
    }
    assert all(by_source[name] for name in PREDICTION)
    assert {r.level for name in PREDICTION for r in by_source[name]} == {"overlay"}
    assert {r.level for name in ("pah", "silicate") for r in by_source[name]} == {"glyph"}


def test_a_slider_move_resends_only_the_prediction(midir_setup):
    state, panel = _app(midir_setup["catalog"], midir_setup["models"])
    before = np.array(panel.band.data["q50"])
    x0 = float(state.latents[0])
    y_range = {id(panel.figure.y_range)}
    # the first move may widen the y axis (never narrow it); moving back inside sends no axis
    sent = _sent_models(panel, lambda: state.set_latent(0, x0 + 2.0))
    assert _ids(panel, PREDICTION) <= sent <= _ids(panel, PREDICTION) | y_range
    assert not np.allclose(panel.band.data["q50"], before)
    held = (panel.figure.y_range.start, panel.figure.y_range.end)
    assert _sent_models(panel, lambda: state.set_latent(0, x0)) == _ids(panel, PREDICTION)
    assert _sent_models(panel, lambda: state.set_latent(0, x0 + 2.0)) == _ids(panel, PREDICTION)
    assert (panel.figure.y_range.start, panel.figure.y_range.end) == held
    q = np.array([panel.band.data[k] for k in ("q025", "q975")])
    assert held[0] <= q.min() and q.max() <= held[1]  # the held axis still shows the whole 95% band
    assert "Prediction from the moved sliders." in panel.readout.value
    # a mode change re-sends the prediction and refits the y axis; f_nu / nu f_nu redraws every layer
    # and the axis label
    sent = _sent_models(panel, lambda: setattr(panel.mode, "value", "optical + WISE"))
    assert _ids(panel, PREDICTION) <= sent <= _ids(panel, PREDICTION) | y_range
    assert "conditioned on W1" in panel.readout.value
    sent = _sent_models(panel, lambda: setattr(panel.per, "value", "ν f_ν"))
    assert _ids(panel, PREDICTION + ("optical", "ugriz", "det")) <= sent
    assert panel.figure.yaxis.axis_label == "ν f_ν (W m⁻²)"
    # a new galaxy: the observed layers too
    sent = _sent_models(panel, lambda: state.select(5))
    assert _ids(panel, PREDICTION + ("optical", "ugriz", "det", "pah")) <= sent


def test_modes_and_per_change_the_numbers_as_they_should(midir_setup):
    state, panel = _app(midir_setup["catalog"], midir_setup["models"])
    q_opt = np.array(panel.band.data["q50"])
    w = np.asarray(panel.band.data["wave"])
    panel.mode.value = "ugriz + WISE"
    assert panel.last["mode"] == "photometry" and not np.allclose(panel.band.data["q50"], q_opt)
    panel.mode.value = "optical"
    np.testing.assert_allclose(panel.band.data["q50"], q_opt)  # seeded draws: the same answer back
    panel.per.value = "ν f_ν"
    np.testing.assert_allclose(panel.band.data["q50"], q_opt * 1e-29 * 2.99792458e14 / w, rtol=1e-10)
    assert "W m⁻²" in panel.readout.value


def test_no_midir_model_says_how_to_train_one_and_nothing_breaks(midir_setup):
    state, panel = _app(midir_setup["catalog"], midir_setup["plain"])
    assert state.models is not None and state.models.midir is None
    assert "has no mid-IR model" in panel.note.value and "python -m explorer train-midir" in panel.note.value
    assert str(midir_setup["plain"]) in panel.note.value and panel.plot.layout.display == "none"
    assert panel.export_figure() is None
    state.set_latent(0, 1.0)  # sliders, toggles and galaxy switches change nothing and raise nothing
    panel.mode.value = "optical + WISE"
    state.select(2)
    assert "has no mid-IR model" in panel.note.value and len(panel.band.data["wave"]) == 0


def test_without_models_and_switching_models_updates_the_panel(midir_setup, tmp_path):
    from explorer.app.model_panel import try_load_models

    state, panel = _app(midir_setup["catalog"], tmp_path / "no-models")
    assert "needs the models" in panel.note.value
    state.set_models(*try_load_models(midir_setup["models"]))  # what the model chooser does
    assert panel.note.value == "" and len(panel.band.data["wave"]) > 0
    state.set_models(*try_load_models(midir_setup["plain"]))
    assert "has no mid-IR model" in panel.note.value and panel.plot.layout.display == "none"
    assert len(panel.band.data["wave"]) == 0 and panel.export_figure() is None


def test_unreadable_midir_file_is_a_note_not_a_crash(midir_setup, tmp_path):
    """A midir.pt whose checksum matches but holds no model (registered after the damage)."""
    import torch

    from explorer.ml.registry import register_file

    d = tmp_path / "bad"
    shutil.copytree(midir_setup["models"], d)
    torch.save({"optical": {"design": "nonsense"}}, d / "midir.pt")
    register_file(d, "midir.pt", component="midir", config={}, info={})
    state, panel = _app(midir_setup["catalog"], d)
    assert state.models is not None and state.models.midir is None
    assert "could not be read" in panel.note.value and "midir.pt" in panel.note.value


def test_catalog_without_ir_spectra_and_an_upload(midir_setup, sdss_ngc3073):
    from explorer.io.sdss import read_sdss_spectrum

    state, panel = _app(midir_setup["catalog_no_ir"], midir_setup["models"])
    assert len(panel.band.data["wave"]) > 0 and "truth_mjy" not in panel.last
    assert panel.show_truth.layout.display == "none" and len(panel.truth.data["wave"]) == 0
    # an upload: its spectrum, no truth, no WISE (the optical + WISE mode says it fell back)
    spec = read_sdss_spectrum(sdss_ngc3073)
    state.show_upload(spec, {"id": spec.id, "z": spec.z, "spec_norm": spec.norm})
    assert len(panel.optical.data["wave"]) > 400 and len(panel.det.data["wave"]) == 0
    assert np.all(np.isfinite(panel.band.data["q50"]))
    panel.mode.value = "optical + WISE"
    assert "optical-only answer" in panel.readout.value and np.all(np.isfinite(panel.band.data["q50"]))


def test_export_writes_the_talk_figure(midir_setup, tmp_path):
    state, panel = _app(midir_setup["catalog"], midir_setup["models"])
    state.set_latent(1, 1.5)
    path = panel.export.export("png")
    assert path is not None and path.parent == tmp_path / "exports"
    assert path.name == f"{state.galaxy.id}_midir_optical_sliders.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "download" in panel.export.link.value
    panel.per.value = "ν f_ν"
    svg = panel.export.export("svg")
    assert b"PAH 7.7" in svg.read_bytes()


def test_export_writes_the_spectrum_on_show_as_a_table_with_units(midir_setup, tmp_path):
    from astropy.table import Table

    state, panel = _app(midir_setup["catalog"], midir_setup["models"])
    state.set_latent(1, 1.5)
    panel.mode.value = "optical + WISE"
    path = panel.export_table("ecsv")
    assert path == tmp_path / "exports" / f"{state.galaxy.id}_midir_optical+wise_sliders.ecsv"
    assert "download" in panel.table_link.value and "data:text/plain;base64," in panel.table_link.value
    tab = Table.read(path, format="ascii.ecsv")
    assert str(tab["fnu_p50_mjy"].unit) == "mJy" and str(tab["wave_obs_um"].unit) == "um"
    assert set(tab["mode"]) == {"optical+wise"} and set(tab["id"]) == {state.galaxy.id}
    assert tab.meta["latents_moved"] is True and len(tab.meta["latents"]) == len(state.latents)
    assert "fnu_true_mjy" in tab.colnames  # a simulated galaxy: its noiseless truth beside the posterior
    # the table is the spectrum on show: its median follows the band drawn (same posterior, own draws)
    q50 = np.interp(np.log(tab["wave_obs_um"]), np.log(panel.band.data["wave"]), panel.band.data["q50"])
    assert np.median(np.abs(np.log(np.asarray(tab["fnu_p50_mjy"]) / q50))) < 0.05
    fits = panel.export_table("fits")
    assert fits.suffix == ".fits" and len(Table.read(fits)) == len(tab)
    state.select(3)  # another galaxy: the old links go
    assert panel.table_link.value == ""


def test_binned_for_display_keeps_means_and_gaps():
    from explorer.app.midir_panel import binned_for_display

    w = np.arange(12.0)
    f = np.array([1, 3, np.nan, np.nan, -1, 0, 2, 2, 5, np.nan, 7, 9.0])
    bw, bf = binned_for_display(w, f, 6)  # pairs
    np.testing.assert_allclose(bw, [0.5, 2.5, 4.5, 6.5, 8.5, 10.5])
    np.testing.assert_allclose(bf, [2.0, np.nan, np.nan, 2.0, 5.0, 8.0])  # masked / non-positive: gaps
    assert binned_for_display(w, f, 100)[0].size == 12  # already short enough: unchanged
