"""Panchromatic panel (issue 15): optical to mid-IR for the galaxy on show, with a mode toggle.

Not wired into the dashboard yet. To add it, in the app's builder::

    from .midir_panel import MidirPanel
    panels["midir"] = MidirPanel(state, load_midir(models_dir))   # explorer.ml.midir_eval.load_midir

and place ``panels["midir"].widget`` in the layout. The panel observes ``state.view`` (galaxy and
slider latents) like the SED panel and redraws the figure of :mod:`explorer.app.midir_figure`;
the export saves the same figure.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np

from ..ml.data import build_features
from ..ml.midir_condition import condition_on_wise
from .midir_figure import panchromatic_data, plot_panchromatic

MODE_LABELS = {"optical": "optical", "optical + WISE": "optical+wise", "ugriz + WISE": "photometry"}


def _row_value(row: dict, key: str) -> float:
    try:
        return float(row.get(key, np.nan))
    except (TypeError, ValueError):
        return np.nan


def galaxy_midir_data(view, midir: dict, mode: str, n_draws: int = 1000, n_show: int = 5) -> dict:
    """Panchromatic figure data of the galaxy on show at the current (slider) latents."""
    g, row = view.galaxy, view.galaxy.row
    z = _row_value(row, "z") if g.spectrum is None else float(g.spectrum.z)
    mags = {k: np.array([_row_value(row, f"mag_{b}_{k}") for b in "ugriz"]) for k in ("total", "fiber")}
    table = {"z": np.array([z]), "spec_norm": np.array([_row_value(row, "spec_norm")])}
    for k, m in mags.items():
        table.update({f"mag_{b}_{k}": m[i : i + 1] for i, b in enumerate("ugriz")})
    key = "photometry" if mode == "photometry" else "optical"
    model = midir[key]
    lat = None if view.latents is None else np.atleast_2d(view.latents)
    x = build_features(model.feature_kind, table, np.arange(1), lat)
    post = model.predict(x, [z])
    wise = [np.array([_row_value(row, f"w{i}_{c}") for i in range(1, 5)]) for c in ("mag_vega", "sigma_mag")]
    is_ul = np.array([bool(row.get(f"w{i}_is_ul", False)) for i in range(1, 5)])
    if mode != "optical":
        post = condition_on_wise(post, wise[0][None], wise[1][None], is_ul[None])
    truth = None
    cat = getattr(view, "catalog", None)
    if g.source == "catalog" and g.index is not None and cat is not None and cat.has_ir_rest:
        ir = cat.ir_rest([g.index])
        truth = np.log10(np.maximum(sum(ir[c][0] for c in ("stars", "dust", "agn")), 1e-12))
    spec = g.spectrum
    opt = {}
    if spec is not None:
        from ..constants import WAVE_OBS_VAC_AA

        opt = {
            "optical_wave_aa": WAVE_OBS_VAC_AA,
            "optical_flam": np.where(spec.weight > 0, spec.flux * spec.norm, np.nan),
        }
    return panchromatic_data(post, mode, ugriz_ab=mags["total"], wise_mag=wise[0], wise_sigma=wise[1],
                             wise_is_ul=is_ul, truth_log_fnu=truth, n_draws=n_draws, n_show=n_show, **opt)  # fmt: skip


class MidirPanel:
    """The panchromatic figure with a mode toggle (optical / optical + WISE / ugriz + WISE) and f_nu / nu f_nu."""

    def __init__(self, state, midir: dict, n_draws: int = 1000):
        self.state, self.midir, self.n_draws = state, midir, n_draws
        self.mode = widgets.ToggleButtons(options=list(MODE_LABELS), value="optical", description="mode")
        self.per = widgets.ToggleButtons(options=["f_ν", "ν f_ν"], value="f_ν")
        self.note = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.figure = None
        for w in (self.mode, self.per):
            w.observe(lambda _: self.refresh(), names="value")
        state.observe(lambda _: self.refresh(), names="view")
        self.widget = widgets.VBox([widgets.HBox([self.mode, self.per]), self.image, self.note])
        self.refresh()

    def refresh(self) -> None:
        view = self.state.view
        if view.models is None or view.latents is None:
            self.note.value = "The mid-IR spectrum needs the models (encoder, predictor, midir.pt)."
            return
        data = galaxy_midir_data(view, self.midir, MODE_LABELS[self.mode.value], self.n_draws)
        self.figure = plot_panchromatic(data, per="fnu" if self.per.value == "f_ν" else "nufnu")
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=90)
        self.image.value = buf.getvalue()
        self.note.value = data["note"] or "optical-only prior"
