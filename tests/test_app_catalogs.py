"""The dashboard on any catalog: the catalog menu, a real spectral catalog (no truth, no classes),
a latent catalog (no spectra), and the out-of-domain note beside the prediction.

The real catalog is built by ``build_catalog`` from ppxf's two SDSS DR18 spectra, the hand-written
AllWISE table and the SDSS photometry table (as in tests/test_build_catalog.py). Models are tiny
random-weight directories (:func:`explorer.testing.models.write_random_models`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from explorer.catalog import Catalog, write_catalog

DATA = Path(__file__).parent / "data"


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.delenv("IROX_CATALOG", raising=False)
    monkeypatch.setenv("IROX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("IROX_EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("IROX_USER_CATALOGS", str(tmp_path / "user"))
    (tmp_path / "user").mkdir()
    return tmp_path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from explorer.testing.models import write_random_models

    return write_random_models(tmp_path_factory.mktemp("models") / "random")


@pytest.fixture(scope="module")
def real_catalog(tmp_path_factory, sdss_ngc3073, sdss_ngc3522) -> Path:
    """ppxf's two real spectra × the AllWISE table × the SDSS photometry: 2 galaxies at z ≈ 0.004."""
    from explorer.io.build import build_catalog

    d = tmp_path_factory.mktemp("real")
    (d / "spectra").mkdir()
    for f in (sdss_ngc3073, sdss_ngc3522):
        shutil.copy(f, d / "spectra")
    out = d / "ppxf.h5"
    build_catalog(d / "spectra", DATA / "allwise_ppxf.tbl", out, photometry=DATA / "sdss_photometry_ppxf.csv",
                  workers=1, progress=False)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def sim_catalog(tmp_path_factory, write_tiny_catalog) -> Path:
    """Eight simulated-looking galaxies with classes and truth columns, z 0.05..0.2."""
    n = 8
    return write_tiny_catalog(
        tmp_path_factory.mktemp("sim") / "sim.h5", n=n, simulated=True,
        z=np.linspace(0.05, 0.2, n), class_label=["agn", "star-forming"] * (n // 2),
        truth_qpah=np.linspace(1, 4, n), truth_log_sfr=np.linspace(-1, 1, n),
        **{f"truth_w{k}_flux_mjy": np.full(n, 2.0) for k in range(1, 5)},
    )  # fmt: skip


def latent_catalog(path: Path, n: int = 12, n_latent: int = 6, seed: int = 0) -> Path:
    """A latent catalog as ``import-paper-table`` writes one: latents, z, normalisation, WISE."""
    rng = np.random.default_rng(seed)
    mags = np.stack([12 + rng.random(n), 11.8 + rng.random(n), 9 + rng.random(n), 7 + rng.random(n)], 1)
    table = {"id": [f"P{i}" for i in range(n)], "z": np.linspace(0.05, 0.25, n),
             "spec_norm": np.linspace(1.0, 5.0, n), "split": ["test"] * n}  # fmt: skip
    for k, w in enumerate(("w1", "w2", "w3", "w4")):
        table[f"{w}_mag_vega"] = mags[:, k]
        table[f"{w}_sigma_mag"] = np.full(n, 0.05)
        table[f"{w}_is_ul"] = np.zeros(n, bool)
    return write_catalog(path, table, None, None, simulated=False, latents=rng.standard_normal((n, n_latent)))


def paper_models(d: Path, n_latent: int = 6, with_encoder: bool = True) -> Path:
    """Random-weight models whose predictor takes the paper's inputs (latents, z, normalisation)."""
    from explorer.ml.data import Scaler, feature_names
    from explorer.ml.predictor import IRConfig, IREnsemble, IRNet
    from explorer.ml.registry import save_component
    from explorer.testing.models import write_random_models

    write_random_models(d, n_latent=n_latent, properties=False)
    names = feature_names("paper", n_latent)
    scaler = Scaler(np.r_[np.zeros(n_latent), 0.1, 0.5], np.r_[np.ones(n_latent), 0.05, 0.3], names)
    cfg = IRConfig(feature_kind="paper", feature_names=names, hidden=(8,), n_members=2)
    ens = IREnsemble([IRNet(len(names), cfg.hidden, True) for _ in range(2)], scaler,
                     [12.5, 12.3, 9.5, 7.5], [1.0, 1.0, 1.2, 0.9], cfg)  # fmt: skip
    save_component(d, "predictor", ens.state(), config=cfg.to_dict(), info={"note": "random (tests)"})
    return d


# --- the menu ------------------------------------------------------------------------------------
def test_menu_lists_demo_user_folder_and_the_start_catalog(env, sim_catalog, real_catalog):
    from explorer.app.catalogs import available_catalogs, user_catalog_dir
    from explorer.paths import DEMO_CATALOG

    assert user_catalog_dir() == env / "user"
    shutil.copy(real_catalog, env / "user" / "mine.h5")
    (env / "user" / "notes.txt").write_text("not a catalog")
    paths = [Path(p) for _, p in available_catalogs(sim_catalog)]
    assert paths[0] == sim_catalog and env / "user" / "mine.h5" in paths
    assert all(p.suffix == ".h5" for p in paths)
    assert (DEMO_CATALOG in paths) == DEMO_CATALOG.is_file()
    assert len(available_catalogs(env / "user" / "mine.h5")) == len(paths) - 1  # listed once


def test_switching_catalog_rebuilds_the_view_with_the_same_models(env, model_dir, sim_catalog, real_catalog):
    from explorer.app.build import build_app

    shutil.copy(real_catalog, env / "user" / "ppxf.h5")
    _, state, panels = build_app(sim_catalog, model_dir=model_dir)
    menu = panels["catalogs"].menu
    assert str(env / "user" / "ppxf.h5") in [p for _, p in menu.options]
    assert "class" in panels["scatter"]._colours and panels["picker"].cls.layout.display != "none"
    models = state.models
    seen = []
    state.observe(lambda c: seen.append(c["new"].changed(c["old"])), names="view")
    menu.value = str(env / "user" / "ppxf.h5")
    assert len(seen) == 1 and {"catalog", "sample", "galaxy"} <= seen[0]  # one whole new view
    assert state.catalog.n == 2 and state.models is models and state.index == 0
    assert sorted(panels["picker"].src.data["id"]) == ["0945-52652-0470", "2488-54149-0001"]
    assert "2 galaxies" in panels["catalogs"].info.value and "observed" in panels["catalogs"].info.value
    # no truth, no classes: nothing of the simulation is shown
    assert "class" not in panels["scatter"]._colours
    assert not [k for k in panels["scatter"]._colours if k.startswith("true")]
    assert panels["picker"].cls.layout.display == "none"
    assert "cls" not in [c.field for c in panels["picker"].table.columns]
    assert panels["sed"].show_truth.layout.display == "none"
    legend = panels["sed"].figure.legend[0].items
    assert [i.visible for i in legend if panels["sed"].truth_renderer in i.renderers] == [False]
    assert "truth" not in panels["sed"].props_table.value
    assert np.isfinite(panels["spectrum"].data()["flux"]).any() and state.prediction is not None
    # and back: the simulation's columns return
    menu.value = str(sim_catalog)
    assert state.catalog.n == 8 and "class" in panels["scatter"]._colours
    assert [i.visible for i in legend if panels["sed"].truth_renderer in i.renderers] == [True]


def test_spectrum_y_axis_is_held_under_the_sliders_and_refitted_per_galaxy(env, model_dir, sim_catalog):
    """The spectrum's y axis (a Range1d, explorer.app.bokeh_view.hold_range) covers the observed
    spectrum, its band and the model curves; a slider move only widens it (no re-layout in the
    browser), a new galaxy fits it anew."""
    from explorer.app.build import build_app

    _, state, panels = build_app(sim_catalog, model_dir=model_dir)
    spec = panels["spectrum"]
    rng = spec.figure.y_range

    def covered(*cols) -> bool:
        v = np.concatenate([np.asarray(c, float) for c in cols])
        v = v[np.isfinite(v)]
        return rng.start <= v.min() and v.max() <= rng.end

    assert covered(
        spec.src.data["hi"], spec.src.data["lo"], spec.src.data["recon"], spec.model_src.data["decoded"]
    )
    spans = []
    for value in (5.0, -5.0, 5.0):
        state.set_latent(0, value)
        assert covered(spec.model_src.data["decoded"])
        spans.append((rng.start, rng.end))
    assert spans[2] == spans[1]  # back to a latent already seen: the axis stays where it is
    assert spans[1][0] <= spans[0][0] and spans[1][1] >= spans[0][1]  # only widened
    state.select(1)
    assert covered(spec.src.data["hi"], spec.src.data["lo"])
    assert (rng.start, rng.end) != spans[-1] and rng.reset_end == rng.end  # fitted to the new galaxy


def test_a_slider_move_redraws_only_overlay_glyphs(env, model_dir, sim_catalog):
    """Every glyph whose data a slider move re-sends draws on Bokeh's overlay canvas, so that the
    browser repaints that canvas and not the primary one (axes, grid, the catalog's points, the
    observed spectrum); explorer.app.bokeh_view.data_on_overlay and the panels' level="overlay"."""
    from bokeh.models import ColumnDataSource, GlyphRenderer

    from explorer.app.build import build_app

    _, state, panels = build_app(sim_catalog, model_dir=model_dir)
    sent = {}
    for name, panel in panels.items():
        view = getattr(panel, "bokeh_view", None)
        if view is not None and hasattr(view, "_send_patch"):
            view._send_patch = lambda events, name=name: sent.setdefault(name, []).extend(events)
    state.set_latent(0, 0.3)
    assert {"spectrum", "sed", "scatter"} <= set(sent)  # the mid-IR panel: tests/test_app_midir_panel.py
    for name, events in sent.items():
        sources = {id(e.model) for e in events if isinstance(e.model, ColumnDataSource)}
        drawn = [r for r in panels[name].figure.renderers if isinstance(r, GlyphRenderer)]
        redrawn = [r for r in drawn if id(r.data_source) in sources]
        assert redrawn, name
        assert {r.level for r in redrawn} == {"overlay"}, name
        if name in ("spectrum", "scatter"):  # the observed spectrum and the catalog's points stay put
            assert any(r.level != "overlay" for r in drawn), name


def test_unreadable_catalog_keeps_the_one_on_show(env, model_dir, sim_catalog):
    from explorer.app.build import build_app

    _, state, panels = build_app(sim_catalog, model_dir=model_dir)
    bad = env / "user" / "broken.h5"
    bad.write_bytes(b"not hdf5")
    panels["catalogs"].open(bad)
    assert state.catalog.path == sim_catalog and "broken.h5" in panels["catalogs"].message.value


# --- a latent catalog ------------------------------------------------------------------------------
def test_latent_catalog_with_a_paper_inputs_model(env, tmp_path):
    from explorer.app.build import build_app

    cat = latent_catalog(tmp_path / "paper.h5")
    _, state, panels = build_app(cat, model_dir=paper_models(tmp_path / "paper_models"))
    assert not state.catalog.has_spectra and state.spectrum is None
    assert state.prediction is not None and state.prediction.posterior is not None
    assert np.allclose(state.galaxy_latents, Catalog(cat).latents[0])
    assert "Not a paper-inputs" not in state.model_status and "cannot predict" not in state.model_status
    assert len(panels["latents"].sliders) == 6
    assert len(panels["scatter"].src.data["x"]) == 12 and "spectrum S/N" not in panels["scatter"]._colours
    assert panels["sed"].data()["has_prediction"]
    assert "latents, not spectra" in panels["spectrum"].note.value
    assert np.isfinite(panels["spectrum"].src.data["recon"]).any()  # the decoded spectrum
    assert not np.isfinite(panels["spectrum"].src.data["flux"]).any()
    assert "needs spectra" in panels["attribution"].status.value and panels["attribution"].run.disabled
    assert "latent catalog" in panels["catalogs"].info.value
    sl = panels["latents"].sliders[0]
    target = sl.min if abs(state.latents[0] - sl.min) > abs(state.latents[0] - sl.max) else sl.max
    sl.value = target  # the sliders move the prediction
    assert state.latents_moved and state.prediction.latents[0] == pytest.approx(target)
    state.select(3)
    assert state.row["id"] == "P3" and state.spectrum is None


def test_latent_catalog_says_when_the_model_does_not_fit(env, tmp_path, model_dir):
    from explorer.app.build import build_app

    _, state, _ = build_app(latent_catalog(tmp_path / "paper.h5"), model_dir=model_dir)
    assert "Not a paper-inputs model" in state.model_status and state.prediction is not None
    _, state, panels = build_app(latent_catalog(tmp_path / "p4.h5", n_latent=4), model_dir=model_dir)
    assert state.models is None and "cannot predict from this catalog" in state.model_status
    assert "4 latents" in state.model_status and "6" in state.model_status
    assert "needs spectra" in panels["attribution"].status.value


def test_latent_catalog_without_decoder_says_why_the_spectrum_is_empty(env, tmp_path):
    from explorer.app.build import build_app
    from explorer.app.state import ExplorerState
    from explorer.ml.registry import load_models

    bundle = load_models(paper_models(tmp_path / "m"))
    bundle.encoder = None  # a predictor-only model directory
    state = ExplorerState(Catalog(latent_catalog(tmp_path / "paper.h5")), bundle, "")
    assert state.prediction is not None and state.reconstruction is None
    _, _, panels = build_app(latent_catalog(tmp_path / "p2.h5"), model_dir=tmp_path / "m")
    panels["spectrum"].state.view = state.view  # the panel on the decoder-less view
    assert "no decoder" in panels["spectrum"].note.value


# --- out of domain ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def domain_models(tmp_path_factory, model_dir, sim_catalog) -> Path:
    """The random models with a domain.json from the simulated catalog (z 0.05..0.2)."""
    from explorer.ml.domain import DomainReference, save_domain
    from explorer.ml.registry import load_models

    d = tmp_path_factory.mktemp("dom") / "with_domain"
    shutil.copytree(model_dir, d)
    cat = Catalog(sim_catalog)
    idx = np.arange(cat.n)
    lat = load_models(d).catalog_latents(cat, idx)
    lat = np.r_[lat, lat + 1e-3 * np.random.default_rng(0).standard_normal(lat.shape)]  # > S rows
    save_domain(d, DomainReference.from_training(cat.table, np.r_[idx, idx], lat, source=str(sim_catalog)))
    return d


def test_out_of_domain_warning_beside_the_prediction(env, domain_models, real_catalog, sim_catalog):
    from explorer.app.build import build_app

    _, state, panels = build_app(real_catalog, model_dir=domain_models)
    for i in range(2):
        state.select(i)
        assert state.domain is not None and state.domain.ood
        assert "z=0.00" in state.domain.text and "outside training range" in state.domain.text
        box = panels["sed"].domain.value
        assert "Out of the model's training domain" in box and "z=0.00" in box
    attr = panels["attribution"]  # the exported attribution figure carries the warning as a caption
    attr.start(wait=True)
    assert attr.fig is not None and "z=0.00" in attr.fig.irox_caption, attr.last_error
    spec, row = state.catalog.spectrum(0), dict(state.catalog.row(0), id="my upload")
    state.show_upload(spec, row)  # an upload is scored too
    assert state.galaxy.source == "upload" and state.domain.ood and "irox-ood" in panels["sed"].domain.value
    panels["catalogs"].open(sim_catalog)  # a galaxy of the training set itself: no warning
    assert state.domain is not None and not state.domain.ood and "irox-ood" not in panels["sed"].domain.value


def test_no_domain_reference_is_a_quiet_note(env, model_dir, real_catalog):
    from explorer.app.build import build_app

    _, state, panels = build_app(real_catalog, model_dir=model_dir)
    assert state.domain is not None and state.domain.status == "none"
    assert "no domain reference for this model" in panels["sed"].domain.value
    assert "irox-ood" not in panels["sed"].domain.value and state.prediction is not None


def test_domain_is_scored_once_per_view_not_per_panel(env, domain_models, real_catalog, monkeypatch):
    import explorer.ml.domain as domain
    from explorer.app.build import build_app

    _, state, panels = build_app(real_catalog, model_dir=domain_models)
    calls = []
    real = domain.score_domain
    monkeypatch.setattr(domain, "score_domain", lambda *a, **k: calls.append(len(a[1])) or real(*a, **k))
    panels["latents"].sliders[0].value = panels["latents"].sliders[0].min
    state.select(1)
    assert calls == [1, 1]  # one galaxy per view change, never the catalog
