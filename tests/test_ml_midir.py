"""The mid-IR spectrum posterior (issue 15): exact cases of the photometry and of the conditioning,
bad photometry, a tiny end-to-end fit, the saved file and the table export."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_ndtr

from explorer.constants import WISE_AB_MINUS_VEGA, WISE_F0_JY
from explorer.ml.data import Scaler
from explorer.ml.midir import CoefNet, MidIRModel, PCABasis, SpectrumPosterior, wise_matrix, wise_mjy_to_mag
from explorer.ml.midir_condition import check_photometry, condition_on_wise, iterated_update
from explorer.ml.midir_eval import pah_band_flux, rissaki_chi2

WAVE = np.geomspace(1.0, 40.0, 256)


def test_wise_matrix_of_a_flat_spectrum_gives_its_ab_magnitude():
    """f_nu = 1 mJy everywhere: AB = 16.40 in every band at every z; Vega = AB - (AB - Vega).

    Within 0.01 mag: the filter curves are integrated on the R ~ 70 grid of the stored spectra."""
    for z in (0.0, 0.1, 0.4):
        flux = wise_matrix(WAVE, z)[0] @ np.ones(WAVE.size)
        ab = -2.5 * np.log10(1e-3 / 3631.0)
        np.testing.assert_allclose(wise_mjy_to_mag(flux), ab - WISE_AB_MINUS_VEGA, atol=0.01)
    # a spectrum twice as bright is 0.753 mag brighter
    f2 = wise_matrix(WAVE, 0.1)[0] @ (2 * np.ones(WAVE.size))
    np.testing.assert_allclose(wise_mjy_to_mag(f2), ab - WISE_AB_MINUS_VEGA - 2.5 * np.log10(2), atol=0.01)
    assert np.all(WISE_F0_JY > 0)


def test_iterated_update_of_a_linear_gaussian_is_exact_conditioning():
    rng = np.random.default_rng(1)
    k, d = 5, 3
    a = rng.normal(size=(k, k))
    cov = a @ a.T + np.eye(k)
    mu = rng.normal(size=k)
    h_mat, b = rng.normal(size=(d, k)), rng.normal(size=d)
    r = np.array([0.3, 0.5, 1.2])
    y = rng.normal(size=d)
    mean, post, logev = iterated_update(mu, cov, lambda x: (h_mat @ x + b, h_mat), y, r)
    s = h_mat @ cov @ h_mat.T + np.diag(r)
    gain = cov @ h_mat.T @ np.linalg.inv(s)
    np.testing.assert_allclose(mean, mu + gain @ (y - h_mat @ mu - b), atol=1e-10)
    np.testing.assert_allclose(post, cov - gain @ s @ gain.T, atol=1e-10)
    resid = y - h_mat @ mu - b
    want = -0.5 * (resid @ np.linalg.solve(s, resid) + np.linalg.slogdet(s)[1] + d * np.log(2 * np.pi))
    assert logev == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("limit", [-1.0, 0.5, 2.0])
def test_upper_limit_update_finds_the_exact_mode(limit):
    """Prior N(0, 1) times Phi((x - l)/s): the update's mean is the posterior's mode (grid search)."""
    s = 0.54
    mean, cov, _ = iterated_update(np.zeros(1), np.eye(1), lambda x: (x.copy(), np.eye(1)), np.array([limit]),
                                   np.array([0.0]), np.array([True]), ul_sigma=s, n_iter=50)  # fmt: skip
    grid = np.linspace(-4, 6, 200001)
    logp = -0.5 * grid**2 + log_ndtr((grid - limit) / s)
    assert mean[0] == pytest.approx(grid[np.argmax(logp)], abs=1e-3)
    assert mean[0] > 0 and 0 < cov[0, 0] < 1  # the limit pushes the source fainter and sharpens it


def _flat_model(coef_mean=0.5, coef_sd=0.3, floor=0.0):
    """A one-coefficient model: log10 f_nu = a at every wavelength (magnitudes linear in a)."""
    net = CoefNet(2, 1, (4,))
    return MidIRModel("pca", "photometry", Scaler(np.zeros(2), np.ones(2)), [net], PCABasis(np.zeros((0, WAVE.size))),
                      WAVE, np.zeros(WAVE.size), [coef_mean], [coef_sd], np.zeros(WAVE.size), np.full(4, floor))  # fmt: skip


def _prior(model, mu=0.2, var=0.8, z=0.1):
    means = np.zeros((1, 1, 5))
    means[0, 0, 0] = mu
    covs = np.zeros((1, 1, 5, 5))
    covs[0, 0, 0, 0] = var
    covs[0, 0, 1:, 1:] = 1e-8 * np.eye(4)
    return SpectrumPosterior(means, covs, np.ones((1, 1)), model, np.array([z]), [""])


def test_conditioning_a_flat_spectrum_on_wise_matches_the_closed_form():
    """With log f_nu = a, every W-band magnitude is linear in a: the answer is the Kalman update."""
    model, floor = _flat_model(floor=0.05), 0.05
    prior = _prior(model)
    a = wise_matrix(WAVE, 0.1)[0].sum(axis=1)
    const = -2.5 * np.log10(a / (WISE_F0_JY * 1e3))  # m_b = const_b - 2.5 (mean + sd x)
    h = -2.5 * model.coef_sd[0] * np.ones((4, 1))
    mag = np.array([14.0, 13.8, 11.0, 9.5])
    sig = np.array([0.02, 0.03, 0.1, 0.2])
    post = condition_on_wise(prior, mag[None], sig[None], np.zeros((1, 4), bool))
    r = sig**2 + floor**2 + 1e-8
    s = 0.8 * h @ h.T + np.diag(r)
    gain = 0.8 * h.T @ np.linalg.inv(s)
    want_mu = 0.2 + gain @ (mag - const + 2.5 * model.coef_mean[0] - h[:, 0] * 0.2)
    want_var = 0.8 - (gain @ s @ gain.T)[0, 0]
    assert post.means[0, 0, 0] == pytest.approx(want_mu[0], rel=1e-6)
    assert post.covs[0, 0, 0, 0] == pytest.approx(want_var, rel=1e-5)
    assert "conditioned on W1 W2 W3 W4" in post.notes[0]


@pytest.mark.parametrize(
    ("mag", "sig", "ul", "message"),
    [
        ([14.0, np.nan, 11.0, 9.0], [0.02, 0.03, 0.1, 0.2], [0, 0, 0, 0], "W2 magnitude is NaN"),
        ([14.0, 13.8, 11.0, 9.0], [0.02, -0.03, 0.1, 0.2], [0, 0, 0, 0], "W2 error must be a positive"),
        ([14.0, 13.8, 11.0, 9.0], [np.nan] * 4, [1, 1, 1, 1], "all four bands are upper limits"),
    ],
)
def test_bad_photometry_gives_a_message_and_the_optical_only_answer(mag, sig, ul, message):
    prior = _prior(_flat_model())
    assert message in check_photometry(mag, sig, np.array(ul, bool))
    post = condition_on_wise(prior, np.array([mag]), np.array([sig]), np.array([ul], bool))
    assert message in post.notes[0] and "optical-only answer" in post.notes[0]
    np.testing.assert_array_equal(post.means, prior.means)
    np.testing.assert_array_equal(post.covs, prior.covs)


def test_rissaki_chi2_and_pah_band_flux_on_known_spectra():
    truth = np.ones((2, WAVE.size))
    rec = truth * np.array([[1.1], [1.0]])
    np.testing.assert_allclose(rissaki_chi2(rec, truth, WAVE), [0.01 / (0.0121 + 0.01), 0.0])
    # a flat continuum has no band flux; a bump of height 1 mJy over the window adds about its area
    assert pah_band_flux(truth, WAVE, (7.1, 8.3)) == pytest.approx([0.0, 0.0], abs=1e-9)
    bump = truth + np.exp(-0.5 * ((WAVE - 7.7) / 0.1) ** 2)
    nu = 2.99792458e14 / WAVE
    assert pah_band_flux(bump, WAVE, (7.1, 8.3))[0] == pytest.approx(-np.trapezoid(bump[0] - 1, nu), rel=0.02)


def _synthetic(n, rng):
    """Spectra whose amplitude and two shape modes are set by the features (plus a little noise)."""
    x = rng.normal(size=(n, 3))
    g1, g2 = np.log(WAVE) / np.log(40.0), np.exp(-0.5 * ((WAVE - 7.7) / 0.3) ** 2)
    y = 0.5 + 0.3 * x[:, :1] + 0.2 * x[:, 1:2] * g1 + 0.1 * np.tanh(x[:, 2:3]) * g2
    return x.astype(np.float32), y + 0.01 * rng.normal(size=y.shape)


@pytest.fixture(scope="module")
def tiny_pair():
    from explorer.ml.midir_fit import MidIRConfig, fit_midir
    from explorer.ml.threads import torch_threads

    rng = np.random.default_rng(0)
    (xt, yt), (xv, yv) = _synthetic(600, rng), _synthetic(150, rng)
    out = {}
    for design in ("pca", "glo"):
        cfg = MidIRConfig(design=design, n_latent=3, epochs=30, n_members=2, glo_epochs=15, member_hidden=(32,),
                          batch_size=64, glo_hidden=(32, 64))  # fmt: skip
        with torch_threads(1):
            out[design] = fit_midir(xt, yt, xv, yv, WAVE, "photometry", cfg)
    return out, _synthetic(200, np.random.default_rng(5))


@pytest.mark.parametrize("design", ["pca", "glo"])
def test_a_tiny_model_learns_the_spectra_and_its_bands_cover_the_truth(tiny_pair, design):
    models, (x, y) = tiny_pair
    post = models[design].predict(x, np.full(len(x), 0.1))
    draws = post.sample_log(300, 1)
    assert draws.shape == (len(x), 300, WAVE.size)
    med = np.median(draws, axis=1)
    assert np.sqrt(np.mean((med - y) ** 2)) < 0.1  # the spectra span 0.3 dex in amplitude alone
    lo, hi = np.quantile(draws, [0.025, 0.975], axis=1)
    assert 0.75 < np.mean((y >= lo) & (y <= hi)) <= 1.0


def test_saved_model_and_table_round_trip(tiny_pair, tmp_path):
    from astropy.table import Table

    from explorer.ml.midir_eval import load_midir, save_midir
    from explorer.ml.midir_export import midir_table, write_table

    models, (x, _) = tiny_pair
    save_midir(tmp_path, {"optical": models["pca"], "photometry": models["glo"]}, {"seed": 0})
    back = load_midir(tmp_path)
    for key, design in (("optical", "pca"), ("photometry", "glo")):
        a = models[design].predict(x[:4], np.full(4, 0.1))
        b = back[key].predict(x[:4], np.full(4, 0.1))
        np.testing.assert_allclose(a.means, b.means, atol=1e-6)
        np.testing.assert_allclose(a.sample_log(5, 0), b.sample_log(5, 0), atol=1e-5)
    tab = midir_table(
        back["optical"].predict(x[:2], np.array([0.1, 0.2])), ["g0", "g1"], "optical", n_draws=200
    )
    for suffix in (".ecsv", ".fits"):
        got = Table.read(write_table(tab, tmp_path / f"spec{suffix}"))
        assert (
            len(got) == len(tab)
            and str(got["fnu_p50_mjy"].unit) == "mJy"
            and str(got["wave_rest_um"].unit) == "um"
        )
        assert np.all(got["fnu_p2_5_mjy"] <= got["fnu_p16_mjy"]) and np.all(
            got["fnu_p84_mjy"] <= got["fnu_p97_5_mjy"]
        )
        assert got["wave_rest_um"].min() >= 3.0 and got["wave_rest_um"].max() <= 35.0
    (tmp_path / "midir.pt").write_bytes(b"broken")
    with pytest.raises(Exception, match="corrupt or was changed"):
        load_midir(tmp_path)


@pytest.mark.parametrize("per", ["fnu", "nufnu"])
def test_panchromatic_figure_draws_every_layer(per, tmp_path):
    from explorer.app.midir_figure import panchromatic_data, plot_panchromatic

    post = _prior(_flat_model(), z=0.1)
    wave_aa = np.linspace(3800, 9200, 50)
    data = panchromatic_data(
        post, "optical", optical_wave_aa=wave_aa, optical_flam=np.ones(50), ugriz_ab=np.full(5, 17.0),
        wise_mag=np.array([14.0, 13.8, 11.0, 8.0]), wise_sigma=np.array([0.02, 0.03, 0.1, np.nan]),
        wise_is_ul=np.array([0, 0, 0, 1], bool), truth_log_fnu=np.full(WAVE.size, 0.5), n_draws=200, n_show=3,
    )  # fmt: skip
    assert data["q_mjy"].shape == (5, data["wave_um"].size) and data["draws_mjy"].shape[0] == 3
    np.testing.assert_allclose(data["wave_um"][[0, -1]], np.array([3.0, 35.0]) * 1.1, rtol=0.02)
    fig = plot_panchromatic(data, per=per)
    for label in ("95% predicted", "68% predicted", "posterior draws", "predicted median (optical)", "true (noiseless)",
                  "optical spectrum (fiber)", "ugriz (total)", "WISE observed", "WISE 95% upper limit"):  # fmt: skip
        assert label in fig.irox_labels
    fig.savefig(tmp_path / "p.svg")
    assert b"PAH 7.7" in (tmp_path / "p.svg").read_bytes()


def test_midir_verb_writes_a_table_and_refuses_a_model_without_midir(tmp_path, capsys):
    """``python -m explorer midir`` on the demo catalog with the shipped encoder and predictor plus an
    untrained mid-IR file of the default size (the verb's plumbing, not the science)."""

    from astropy.table import Table

    from benchmarks.midir_bench import untrained_models
    from explorer.cli import main
    from explorer.ml.midir_eval import save_midir
    from explorer.paths import DEMO_CATALOG, MODELS_DIR

    d = _without_midir(MODELS_DIR / "default", tmp_path / "m")
    assert (
        main(
            [
                "midir",
                str(DEMO_CATALOG),
                "--models",
                str(d),
                "--index",
                "0",
                "--out",
                str(tmp_path / "x.ecsv"),
            ]
        )
        == 2
    )
    assert "no mid-IR model (midir.pt)" in capsys.readouterr().err
    m = untrained_models()
    save_midir(
        d,
        {"optical": m["pca"], "photometry": untrained_models(n_in=6, feature_kind="photometry")["pca"]},
        {"seed": 0},
    )
    for mode in ("optical", "optical+wise", "photometry"):
        out = tmp_path / f"{mode}.ecsv"
        assert main(["midir", str(DEMO_CATALOG), "--models", str(d), "--index", "1", "--mode", mode,
                     "--draws", "100", "--out", str(out), "--quiet"]) == 0  # fmt: skip
        tab = Table.read(out)
        assert (
            set(tab["mode"]) == {mode} and len(set(tab["id"])) == 1 and str(tab["fnu_p50_mjy"].unit) == "mJy"
        )


def test_glo_jacobian_matches_autograd():
    import torch

    from explorer.ml.midir import GLODecoder

    torch.manual_seed(0)
    m = _flat_model()
    m = MidIRModel("glo", "photometry", m.x_scaler, m.members, GLODecoder(3, WAVE.size, (16, 32)), WAVE,
                   np.zeros(WAVE.size), [0.5, 0, 0, 0], [0.3, 1, 1, 1], np.zeros(WAVE.size), np.zeros(4))  # fmt: skip
    c = np.random.default_rng(0).normal(size=(2, 4))
    f = lambda x: m.decode_torch(x.unsqueeze(0)).squeeze(0)  # noqa: E731
    want = torch.func.vmap(torch.func.jacrev(f))(torch.as_tensor(c, dtype=torch.float64)).detach().numpy()
    np.testing.assert_allclose(m.jacobian(c), want, atol=2e-4)


@pytest.mark.parametrize("mode", ["optical", "optical+wise", "photometry"])
def test_panel_data_of_a_galaxy_at_the_slider_latents(mode):
    from types import SimpleNamespace

    from benchmarks.midir_bench import untrained_models
    from explorer.app.midir_panel import galaxy_midir_data
    from explorer.app.state import Galaxy

    midir = {
        "optical": untrained_models()["glo"],
        "photometry": untrained_models(n_in=6, feature_kind="photometry")["pca"],
    }
    row = {"id": "G", "z": 0.08, "spec_norm": 3.0, **{f"mag_{b}_total": 17.0 for b in "ugriz"},
           **{f"mag_{b}_fiber": 17.8 for b in "ugriz"}, "w1_mag_vega": 13.0, "w2_mag_vega": 12.9, "w3_mag_vega": 10.0,
           "w4_mag_vega": 8.0, "w1_sigma_mag": 0.03, "w2_sigma_mag": 0.03, "w3_sigma_mag": 0.08, "w4_sigma_mag": np.nan,
           "w4_is_ul": True}  # fmt: skip
    view = SimpleNamespace(galaxy=Galaxy(None, row, "upload", None), latents=np.zeros(6), catalog=None)
    data = galaxy_midir_data(view, midir, mode, n_draws=100, n_show=2)
    assert data["q_mjy"].shape[0] == 5 and np.all(np.isfinite(data["q_mjy"]))
    assert ("conditioned on W1 W2 W3 W4<" in data["note"]) == (mode != "optical")
    moved = galaxy_midir_data(
        SimpleNamespace(**{**vars(view), "latents": np.full(6, 2.0)}), midir, "optical", 100
    )
    if mode == "optical":  # the sliders move the optical prediction
        assert not np.allclose(moved["q_mjy"], data["q_mjy"])


def test_panel_without_models_says_what_it_needs(tmp_path, write_tiny_catalog, monkeypatch):
    from explorer.app.build import build_app
    from explorer.app.midir_panel import MidirPanel

    monkeypatch.setenv("IROX_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("IROX_CACHE_DIR", str(tmp_path / "cache"))
    _, state, _ = build_app(write_tiny_catalog(tmp_path / "tiny.h5", n=2))
    panel = MidirPanel(state)
    assert "needs the models" in panel.note.value and panel.last is None
    panel.mode.value = "optical + WISE"  # a toggle without models changes nothing and raises nothing
    assert panel.last is None and len(panel.band.data["wave"]) == 0


def test_train_midir_refuses_a_catalog_without_ir_spectra(tmp_path, capsys):

    from explorer.catalog import Catalog
    from explorer.cli import main
    from explorer.paths import MODELS_DIR
    from explorer.testing.toy import make_toy_catalog

    plain = make_toy_catalog(tmp_path / "toy.h5", n=20, seed=1)  # no /ir_rest
    with Catalog(plain) as cat:
        assert not cat.has_ir_rest
    d = _without_midir(MODELS_DIR / "default", tmp_path / "m")
    assert main(["train-midir", str(plain), "--name", str(d), "--quiet"]) == 2
    assert "no rest-frame IR spectra (/ir_rest)" in capsys.readouterr().err
    assert not (d / "midir.pt").exists()


def test_model_card_midir_section(tmp_path):
    """The model card's mid-IR section: one row per design and mode, the targets judged, the command."""
    import json

    from explorer.ml.model_card_midir import midir_section

    assert midir_section(tmp_path) == ""  # no mid-IR model: no section

    def mode(n_below, cov68):
        bins = [{"bin_um": [3.0, 5.0], "inside_68": cov68, "inside_95": 0.95}]
        return {
            "n_galaxies": 1000,
            "rissaki": {
                "n_random": 100,
                "n_chi2_below_5": n_below,
                "median_chi2": 2.0,
                "all_fraction_below_5": 0.8,
            },
            "coverage": {"bins": bins, "overall_68": cov68, "overall_95": 0.95},
            "pah": {"PAH 7.7": {"robust_frac_scatter": 0.2}, "PAH 11.3": {"robust_frac_scatter": 0.3}},
        }

    doc = {
        "command": "python -m explorer train-midir cat.h5 --name m",
        "shipped_design": "pca",
        "designs": {"pca": {"test": {"optical": mode(75, 0.70), "optical+wise": mode(85, 0.66),
                                     "photometry": mode(60, 0.75)}}},
    }  # fmt: skip
    (tmp_path / "midir_evaluation.json").write_text(json.dumps(doc))
    text = midir_section(tmp_path)
    assert "in 0.70–0.70 of galaxies, inside the 95% band in 0.95–0.95; all within ±0.05" in text
    assert "; outside ±0.05: 3.0–5.0 µm (0.750 in the 68%)" in text  # the photometry mode's bin
    assert "train-midir cat.h5" in text
    assert "| **pca** (shipped) | optical | 75/100" in text and "≥ 72: met" in text
    assert "| **pca** (shipped) | optical + WISE | 85/100" in text and "≥ 90: not met" in text
    assert "inside the 68% band in 0.66–0.66" in text
    from explorer.ml.model_card_midir import midir_readme_lines

    lines = midir_readme_lines(doc)
    assert lines[0].startswith("From `python -m explorer train-midir cat.h5 --name m`")
    assert any(line.startswith("| **pca** (shipped) | optical + WISE | 85/100") for line in lines)
    doc["designs"]["pca"]["config"] = {"aux_targets": ["truth_log_ldust"]}  # a design with a head says so
    (tmp_path / "midir_evaluation.json").write_text(json.dumps(doc))
    text = midir_section(tmp_path)
    assert "| **pca + log_ldust head** (shipped) | optical | 75/100" in text
    assert "auxiliary heads' predictions of log_ldust from them (`explorer/ml/midir_aux.py`)" in text


def test_rissaki_by_group_splits_by_wise_detection_and_class():
    from explorer.ml.midir_eval import rissaki_by_group

    chi2 = np.array([1.0, 2.0, 9.0, 10.0, 0.5])
    ul = np.zeros((5, 4), bool)
    ul[2:4, 2] = ul[2:4, 3] = True  # W3 and W4 upper limits
    ul[4, 3] = True  # W4 only
    cls = np.array(["star-forming", "star-forming", "quenched", "quenched", "agn"])
    g = rissaki_by_group(chi2, {"wise_is_ul": ul, "class_label": cls})
    assert g["W3 and W4 detected"] == {"n": 2, "fraction_below_5": 1.0, "median_chi2": 1.5}
    assert g["W3 upper limit"] == {"n": 2, "fraction_below_5": 0.0, "median_chi2": 9.5}
    assert g["W3 detected, W4 upper limit"]["n"] == 1 and g["class quenched"]["fraction_below_5"] == 0.0
    assert "class agn" in g and "class star-forming" in g


def test_reevaluate_updates_the_shipped_design_and_the_card(tmp_path):
    import json
    import shutil

    from explorer.ml.midir_train import reevaluate_midir
    from explorer.ml.registry import register_file
    from explorer.testing.models import write_random_models, write_tiny_midir
    from explorer.testing.toy import make_toy_catalog

    cat = make_toy_catalog(tmp_path / "toy_ir.h5", n=200, seed=0, ir_rest=True)
    models = write_random_models(tmp_path / "models")
    write_tiny_midir(models, cat)
    path = models / "midir_evaluation.json"
    before = json.loads(path.read_text())
    before["designs"]["pca"]["test"]["optical"].pop("rissaki_by_group")  # as written before the split
    before["designs"]["glo"] = {"kept": True}
    path.write_text(json.dumps(before))
    register_file(models, "midir_evaluation.json")
    doc = reevaluate_midir(
        cat, models, n_draws=100, progress=False, command="python -m explorer train-midir x --evaluate-only"
    )
    assert doc["designs"]["glo"] == {"kept": True} and doc["reevaluated_by"].endswith("--evaluate-only")
    t = doc["designs"]["pca"]["test"]
    assert t["optical"]["n_galaxies"] == before["n_test_evaluated"]  # the same test galaxies
    groups = t["optical+wise"]["rissaki_by_group"]
    assert (
        sum(groups[k]["n"] for k in ("W3 and W4 detected", "W3 detected, W4 upper limit", "W3 upper limit"))
        == t["optical"]["n_galaxies"]
    )
    assert "by what WISE detected and by class" in (models / "MODEL_CARD.md").read_text()
    other = make_toy_catalog(tmp_path / "other.h5", n=200, seed=1, ir_rest=True)
    with pytest.raises(Exception, match="not the catalog"):
        reevaluate_midir(other, models, progress=False)
    shutil.rmtree(tmp_path / "models")


def _without_midir(src, dst):
    """A copy of the model directory ``src`` without its mid-IR model (files and manifest entries)."""
    import json
    import shutil

    shutil.copytree(src, dst)
    man = json.loads((dst / "manifest.json").read_text())
    for f in ("midir.pt", "midir_evaluation.json"):
        (dst / f).unlink(missing_ok=True)
        man["files"].pop(f, None)
    (dst / "manifest.json").write_text(json.dumps(man, indent=1))
    return dst
