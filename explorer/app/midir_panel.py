"""Panchromatic panel (issue 15): optical to mid-IR for the galaxy on show, with a mode toggle.

The on-page figure is Bokeh, drawn like the SED panel's: one ``ColumnDataSource`` per layer (the
predicted 68/95% bands and median, a few posterior draws, the true noiseless spectrum of a
simulated galaxy, the fiber spectrum, ugriz, WISE points and upper limits, PAH and silicate
features), updated inside :func:`~explorer.app.bokeh_view.batched` so that one refresh is one
message. A slider move or a mode change re-sends only the prediction layers; a new galaxy, new
models, the f_nu / nu f_nu toggle or the truth toggle redraw the observed layers too.

The mid-IR models are the state's: ``view.models.midir`` (``midir.pt`` of the model directory,
loaded with the other models by :func:`explorer.app.model_panel.try_load_models`). Without one the
panel says so and which command trains one. The export saves
:func:`explorer.app.midir_figure.plot_panchromatic` of the data on show (the talk figure).
"""

from __future__ import annotations

import contextlib
import functools
import html
import math

import ipywidgets as widgets
import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, LabelSet, Range1d, Whisker
from bokeh.plotting import figure

from ..constants import WISE_BANDS, WISE_WAVE_UM
from ..ml.data import build_features
from ..ml.midir import PAH_UM, SILICATE_UM, log_total
from ..ml.midir_condition import condition_on_wise
from .bokeh_view import (
    add_posterior,
    batched,
    bokeh_widget,
    data_on_overlay,
    hold_posterior_y,
    legend_below,
    legend_show,
)
from .export import TABLE_MIME, ExportBar, export_table
from .midir_figure import PER_LABELS, SDSS_WAVE_UM, panchromatic_data, per_flux
from .state import ExplorerState
from .style import OKABE_ITO

__all__ = [
    "MODE_LABELS",
    "MidirPanel",
    "galaxy_inputs",
    "galaxy_midir_data",
    "galaxy_midir_posterior",
    "missing_model_note",
]

MODE_LABELS = {"optical": "optical", "optical + WISE": "optical+wise", "ugriz + WISE": "photometry"}
PER_CHOICES = {"f_ν": "fnu", "ν f_ν": "nufnu"}
#: rest wavelengths (micron) of the readout under the plot: the two PAH bands of the metrics, 24 micron
READOUT_UM = (7.7, 11.3, 24.0)
#: the fiber spectrum is drawn with at most this many points (binned_for_display): a slider move
#: repaints the whole canvas in the browser, and 3,921 pixels cover ~120 screen pixels here
OPTICAL_DISPLAY_POINTS = 500
TRAIN_COMMAND = "python -m explorer train-midir CATALOG --name {name}"


@functools.cache
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # not a declared dependency: without it the threads stay as they are
        return None
    return ThreadpoolController()


@contextlib.contextmanager
def one_thread():
    """BLAS and torch on one thread for one galaxy's posterior: the arrays are small, and on a busy
    machine the extra threads mostly wait (a 1000 x 4 x 256 matmul then takes ~15 ms, not 0.1 ms)."""
    from ..ml.threads import torch_threads

    ctl = _blas_controller()
    with ctl.limit(limits=1) if ctl is not None else contextlib.nullcontext(), torch_threads(1):
        yield


def _row_value(row: dict, key: str) -> float:
    try:
        return float(row.get(key, np.nan))
    except (TypeError, ValueError):
        return np.nan


def galaxy_inputs(view) -> dict:
    """What the figure shows of the galaxy itself (no model): redshift, feature table, photometry,
    fiber spectrum and, for a simulated catalog galaxy, the true noiseless rest-frame spectrum.

    Returns
    -------
    dict with ``z``, ``table`` (a one-row feature table), ``wave_truth_um`` (rest grid of the truth
    or None) and ``observed`` (keyword arguments of :func:`~explorer.app.midir_figure.panchromatic_data`).
    """
    g, row = view.galaxy, view.galaxy.row
    z = _row_value(row, "z") if g.spectrum is None else float(g.spectrum.z)
    mags = {k: np.array([_row_value(row, f"mag_{b}_{k}") for b in "ugriz"]) for k in ("total", "fiber")}
    table = {"z": np.array([z]), "spec_norm": np.array([_row_value(row, "spec_norm")])}
    for k, m in mags.items():
        table.update({f"mag_{b}_{k}": m[i : i + 1] for i, b in enumerate("ugriz")})
    wise = [np.array([_row_value(row, f"w{i}_{c}") for i in range(1, 5)]) for c in ("mag_vega", "sigma_mag")]
    is_ul = np.array([bool(row.get(f"w{i}_is_ul", False)) for i in range(1, 5)])
    observed = {"ugriz_ab": mags["total"], "wise_mag": wise[0], "wise_sigma": wise[1], "wise_is_ul": is_ul}
    out = {"z": z, "table": table, "observed": observed, "truth_log_fnu": None, "wave_truth_um": None}
    cat = getattr(view, "catalog", None)
    if g.source == "catalog" and g.index is not None and cat is not None and cat.has_ir_rest:
        ir = cat.ir_rest([g.index])
        out["truth_log_fnu"] = log_total(ir)[0]
        out["wave_truth_um"] = np.asarray(ir["wave_um"], float)
    if g.spectrum is not None:
        from ..constants import WAVE_OBS_VAC_AA

        spec = g.spectrum
        observed["optical_wave_aa"] = WAVE_OBS_VAC_AA
        observed["optical_flam"] = np.where(spec.weight > 0, spec.flux * spec.norm, np.nan)
    return out


def galaxy_midir_data(view, midir: dict, mode: str, n_draws: int = 1000, n_show: int = 5,
                      inputs: dict | None = None) -> dict:  # fmt: skip
    """Panchromatic figure data of the galaxy on show at the current (slider) latents.

    Parameters
    ----------
    view : View (or anything with ``galaxy``, ``latents`` and ``catalog``)
    midir : ``{"optical": MidIRModel, "photometry": MidIRModel}`` (:func:`explorer.ml.midir_eval.load_midir`)
    mode : ``optical``, ``optical+wise`` or ``photometry``
    inputs : :func:`galaxy_inputs` of ``view`` when already known (they do not change with the sliders)
    """
    inp = galaxy_inputs(view) if inputs is None else inputs
    post, truth = galaxy_midir_posterior(view, midir, mode, inp)
    return panchromatic_data(
        post, mode, truth_log_fnu=truth, n_draws=n_draws, n_show=n_show, **inp["observed"]
    )


def galaxy_midir_posterior(view, midir: dict, mode: str, inputs: dict):
    """(SpectrumPosterior of one galaxy at the current latents in ``mode``, the true log f_nu on its
    wavelength grid or None): what :func:`galaxy_midir_data` draws and the table export writes."""
    z, obs = inputs["z"], inputs["observed"]
    model = midir["photometry" if mode == "photometry" else "optical"]
    lat = None if view.latents is None else np.atleast_2d(view.latents)
    x = build_features(model.feature_kind, inputs["table"], np.arange(1), lat)
    post = model.predict(x, [z])
    if mode != "optical":
        post = condition_on_wise(
            post, obs["wise_mag"][None], obs["wise_sigma"][None], obs["wise_is_ul"][None]
        )
    truth = inputs["truth_log_fnu"]
    if truth is not None and not np.array_equal(inputs["wave_truth_um"], post.wave_um):
        truth = np.interp(np.log(post.wave_um), np.log(inputs["wave_truth_um"]), truth)
    return post, truth


def missing_model_note(models) -> str:
    """Why the panel shows no mid-IR spectrum (HTML), or "" when the models have a mid-IR model."""
    if models is None:
        return "The mid-IR spectrum needs the models (encoder and <code>midir.pt</code>): none are loaded."
    if getattr(models, "midir", None) is not None:
        return ""
    path = getattr(models, "path", None)
    name = html.escape(str(path)) if path is not None else "the model directory"
    err = getattr(models, "midir_error", "")
    if err:
        return f"The mid-IR model of <code>{name}</code> could not be read: {html.escape(err)}"
    return (
        f"The model directory <code>{name}</code> has no mid-IR model (<code>midir.pt</code>). Train one on a "
        "simulated catalog with rest-frame IR spectra: <code>"
        + html.escape(TRAIN_COMMAND.format(name=path if path is not None else "DIR"))
        + "</code>"
    )


class MidirPanel:
    """The panchromatic figure (Bokeh) with a mode toggle (optical / optical + WISE / ugriz + WISE),
    f_nu / nu f_nu, the noiseless truth of simulated galaxies, a readout and an export bar."""

    #: (source, column) of the layers besides the posterior that the y axis is fitted to
    Y_LAYERS = (
        ("optical", "flux"),
        ("ugriz", "flux"),
        ("det", "lo"),
        ("det", "hi"),
        ("ul", "flux"),
        ("truth", "flux"),
    )

    def __init__(self, state: ExplorerState, n_draws: int = 1000, n_show: int = 5):
        self.state, self.n_draws, self.n_show = state, n_draws, n_show
        self.band = ColumnDataSource(dict(wave=[], q025=[], q16=[], q50=[], q84=[], q975=[]))
        self.draws = ColumnDataSource(dict(xs=[], ys=[]))
        self.truth = ColumnDataSource(dict(wave=[], flux=[]))
        self.optical = ColumnDataSource(dict(wave=[], flux=[]))
        self.ugriz = ColumnDataSource(dict(wave=[], flux=[], band=[]))
        self.det = ColumnDataSource(dict(wave=[], flux=[], lo=[], hi=[], band=[]))
        self.ul = ColumnDataSource(dict(wave=[], flux=[], band=[]))
        self.pah = ColumnDataSource(dict(x=[], text=[]))
        self.silicate = ColumnDataSource(dict(x=[], text=[]))
        self.figure = self._build_figure()
        self.mode = widgets.ToggleButtons(options=list(MODE_LABELS), value="optical")
        self.per = widgets.ToggleButtons(options=list(PER_CHOICES), value="f_ν")
        self.mode.style.button_width = "110px"
        self.per.style.button_width = "60px"
        self.show_truth = widgets.Checkbox(
            value=False, description="true noiseless spectrum (simulation)", indent=False
        )
        self.note = widgets.HTML()
        self.readout = widgets.HTML()
        self.export = ExportBar(self.export_figure, "mid-IR")
        self.table_export = ExportBar(
            self._table_to_export, "spectrum", formats=TABLE_MIME, write=export_table
        )
        self.last: dict | None = None  # the figure data on show (None: nothing drawn)
        self._inputs: dict | None = None  # galaxy_inputs of the galaxy on show
        self.bokeh_view = None
        self.mode.observe(lambda _: self._refresh(observed=False, refit=True), names="value")
        for w in (self.per, self.show_truth):
            w.observe(lambda _: self._refresh(observed=True), names="value")
        state.observe(self._on_view, names="view")
        self._refresh(observed=True, new_galaxy=True)
        self.bokeh_view = bokeh_widget(self.figure)
        self.plot = widgets.VBox(
            [
                widgets.HBox([widgets.HTML("mode&nbsp;"), self.mode, widgets.HTML("&nbsp;&nbsp;"), self.per]),
                widgets.HBox(
                    [
                        widgets.VBox([self.bokeh_view, self.show_truth]),
                        widgets.VBox(
                            [
                                self.readout,
                                self.export.widget,
                                self.table_export.widget,
                            ],  # fmt: skip
                            layout=widgets.Layout(margin="0 0 0 8px", width="370px"),
                        ),
                    ]
                ),
            ]
        )
        self.plot.layout.display = None if self.last is not None else "none"
        self.widget = widgets.VBox([self.note, self.plot])

    # -- the figure ---------------------------------------------------------------------------------
    def _build_figure(self):
        fig = figure(
            height=460,
            width=700,
            x_axis_type="log",
            y_axis_type="log",
            x_axis_label="observed wavelength [µm]",
            x_range=(0.3, 60.0),  # u (0.35 µm) ... 35 µm rest at z = 0.5
            y_range=Range1d(
                1e-3, 1e3
            ),  # held by hold_posterior_y: fitted per galaxy, still under the sliders
            y_axis_label=PER_LABELS["fnu"],
            tools="pan,wheel_zoom,box_zoom,reset,save",
        )
        features = [
            fig.vspan(
                x="x", source=self.pah, line_color=OKABE_ITO[1], line_alpha=0.6, legend_label="PAH features"
            ),
            fig.vspan(x="x", source=self.silicate, line_color=OKABE_ITO[4], line_width=2, line_alpha=0.8,
                      legend_label="silicate features"),
        ]  # fmt: skip
        for src in (self.pah, self.silicate):
            fig.add_layout(LabelSet(x="x", y=4, y_units="screen", text="text", source=src, angle=math.pi / 2,
                                    x_offset=-2, text_font_size="7pt", text_color="#555555"))  # fmt: skip
        add_posterior(fig, self.band, self.draws, draws_alpha=0.3)
        self.truth_renderer = fig.line("wave", "flux", source=self.truth, color=OKABE_ITO[0], line_width=1.2,
                                       line_dash="dashed", legend_label="true (noiseless)")  # fmt: skip
        self.optical_renderer = fig.line("wave", "flux", source=self.optical, color=OKABE_ITO[7], line_width=0.6,
                                         legend_label="optical spectrum (fiber)")  # fmt: skip
        r_ugriz = fig.scatter("wave", "flux", source=self.ugriz, marker="square", size=8, color=OKABE_ITO[3],
                              legend_label="ugriz (total)")  # fmt: skip
        r_det = fig.scatter(
            "wave", "flux", source=self.det, size=9, color=OKABE_ITO[6], legend_label="WISE observed"
        )
        fig.add_layout(Whisker(base="wave", lower="lo", upper="hi", source=self.det, line_color=OKABE_ITO[6]))
        r_ul = fig.scatter("wave", "flux", source=self.ul, marker="inverted_triangle", size=12, color=OKABE_ITO[6],
                           fill_alpha=0.2, legend_label="WISE 95% upper limit")  # fmt: skip
        fig.add_tools(HoverTool(renderers=[r_ugriz, r_det, r_ul],
                                tooltips=[("band", "@band"), ("λ [µm]", "@wave{0.00}"), ("value", "@flux{0.000e}")]))  # fmt: skip
        legend_below(fig, ncols=4)
        data_on_overlay(fig, keep=features)  # the feature lines stay under the data
        return fig

    # -- reacting to the state ----------------------------------------------------------------------
    @property
    def mode_key(self) -> str:
        return MODE_LABELS[self.mode.value]

    @property
    def per_key(self) -> str:
        return PER_CHOICES[self.per.value]

    def _y_layers(self) -> list:
        return [(getattr(self, name), col) for name, col in self.Y_LAYERS]

    def _on_view(self, change) -> None:
        changed = change["new"].changed(change["old"])
        new_galaxy = bool(changed & {"galaxy", "catalog"})
        if new_galaxy:
            self.export.link.value = self.table_link.value = ""  # the last exports were of another galaxy
        if new_galaxy or "models" in changed:
            self._refresh(observed=True, new_galaxy=new_galaxy)
        elif "latents" in changed:
            self._refresh(observed=False)

    def _refresh(self, observed: bool, new_galaxy: bool = False, refit: bool = False) -> None:
        """Redraw the prediction (and the observed layers when ``observed``), then the readout; the
        y axis is fitted anew with the observed layers or when ``refit``, else only widened."""
        view = self.state.view
        if new_galaxy:
            self._inputs = None
        why = missing_model_note(view.models)
        if not why and view.latents is None:
            why = "No latents for this galaxy: the mid-IR spectrum is predicted from them."
        if why:
            self._show_note(why)
            return
        try:
            if self._inputs is None:
                self._inputs = galaxy_inputs(view)
                observed = True
            with one_thread():
                d = galaxy_midir_data(
                    view, view.models.midir, self.mode_key, self.n_draws, self.n_show, self._inputs
                )
        except Exception as exc:  # noqa: BLE001 - a note on the page, never a broken view
            self._show_note(
                f"The mid-IR spectrum could not be predicted: {html.escape(f'{type(exc).__name__}: {exc}')}"
            )
            return
        first = self.last is None
        self.last = d
        with batched(self.bokeh_view):
            if observed or first:
                self._draw_observed(d)
            self._draw_prediction(d)
            hold_posterior_y(self.figure, self.band, self._y_layers(), refit=observed or first or refit)
        self.note.value = ""
        if getattr(self, "plot", None) is not None:
            self.plot.layout.display = None
        self.readout.value = readout_html(d, self.per_key, moved=view.latents_moved)

    def _show_note(self, why: str) -> None:
        """Say why there is no mid-IR spectrum; hide the plot and empty its prediction."""
        self.last = None
        if len(self.band.data["wave"]):
            with batched(self.bokeh_view):
                self.band.data = dict(wave=[], q025=[], q16=[], q50=[], q84=[], q975=[])
                self.draws.data = dict(xs=[], ys=[])
        self.note.value = f"<div class='irox-midir-note' style='color:#555'><i>{why}</i></div>"
        self.readout.value = ""
        if getattr(self, "plot", None) is not None:
            self.plot.layout.display = "none"

    def _draw_observed(self, d: dict) -> None:
        per = self.per_key
        self.figure.yaxis.axis_label = PER_LABELS[per]
        z = d["z"]
        self.pah.data = dict(x=[lam * (1 + z) for lam in PAH_UM], text=[f"PAH {lam:g}" for lam in PAH_UM])
        self.silicate.data = dict(x=[lam * (1 + z) for lam in SILICATE_UM], text=[f"silicate {lam:g}" for lam in SILICATE_UM])  # fmt: skip
        if "optical_mjy" in d:
            w, f = binned_for_display(d["optical_wave_um"], d["optical_mjy"], OPTICAL_DISPLAY_POINTS)
            self.optical.data = dict(wave=w, flux=per_flux(w, f, per))
        else:
            self.optical.data = dict(wave=[], flux=[])
        legend_show(self.figure, [self.optical_renderer], "optical_mjy" in d)
        if "ugriz_mjy" in d and np.isfinite(d["ugriz_mjy"]).any():
            ok = np.isfinite(d["ugriz_mjy"])
            self.ugriz.data = dict(wave=SDSS_WAVE_UM[ok], flux=per_flux(SDSS_WAVE_UM[ok], d["ugriz_mjy"][ok], per),
                                   band=np.array(list("ugriz"))[ok])  # fmt: skip
        else:
            self.ugriz.data = dict(wave=[], flux=[], band=[])
        f, e, ul = d["wise_mjy"], d["wise_err_mjy"], d["wise_is_ul"]
        det, lim = ~ul & np.isfinite(f), ul & np.isfinite(f)
        bands, w = np.array(WISE_BANDS), WISE_WAVE_UM
        e = np.nan_to_num(e)
        self.det.data = dict(
            wave=w[det], flux=per_flux(w[det], f[det], per), lo=per_flux(w[det], np.maximum(f[det] - e[det], 1e-6 * f[det]), per),
            hi=per_flux(w[det], f[det] + e[det], per), band=bands[det],
        )  # fmt: skip
        self.ul.data = dict(wave=w[lim], flux=per_flux(w[lim], f[lim], per), band=bands[lim])
        simulated = "truth_mjy" in d
        self.show_truth.layout.display = None if simulated else "none"
        legend_show(self.figure, [self.truth_renderer], simulated)
        if simulated and self.show_truth.value:
            self.truth.data = dict(wave=d["wave_um"], flux=per_flux(d["wave_um"], d["truth_mjy"], per))
        else:
            self.truth.data = dict(wave=[], flux=[])

    def _draw_prediction(self, d: dict) -> None:
        per, w, q = self.per_key, d["wave_um"], d["q_mjy"]
        self.band.data = dict(
            wave=w, q025=per_flux(w, q[0], per), q16=per_flux(w, q[1], per), q50=per_flux(w, q[2], per),
            q84=per_flux(w, q[3], per), q975=per_flux(w, q[4], per),
        )  # fmt: skip
        self.draws.data = dict(xs=[w] * len(d["draws_mjy"]), ys=[per_flux(w, y, per) for y in d["draws_mjy"]])

    # -- export -------------------------------------------------------------------------------------
    @property
    def table_link(self):
        return self.table_export.link

    def export_table(self, fmt: str):
        """Write the spectrum on show as an ECSV or FITS table (the "export spectrum" buttons)."""
        return self.table_export.export(fmt)

    def _table_to_export(self):
        """(table, stem) of the spectrum on show (this mode, these latents), with units, as
        ``python -m explorer midir`` writes it (:func:`explorer.ml.midir_export.midir_table`)."""
        from ..ml.midir_export import midir_table

        view = self.state.view
        if self.last is None or self._inputs is None:
            return None
        with one_thread():
            post, truth = galaxy_midir_posterior(view, view.models.midir, self.mode_key, self._inputs)
            tab = midir_table(post, [view.galaxy.id], self.mode_key, n_draws=self.n_draws,
                              truth_log_fnu=None if truth is None else truth[None])  # fmt: skip
        tab.meta.update(latents=[float(v) for v in view.latents], latents_moved=bool(view.latents_moved))
        return tab, self._stem()

    def _stem(self) -> str:
        gid = self.state.view.galaxy.id
        return f"{gid}_midir_{self.mode_key}" + ("_sliders" if self.state.latents_moved else "")

    def export_figure(self):
        """The panchromatic talk figure (:func:`explorer.app.midir_figure.plot_panchromatic`) and a file stem."""
        from .midir_figure import plot_panchromatic

        if self.last is None:
            return None
        gid = self.state.view.galaxy.id
        stem = self._stem()
        fig = plot_panchromatic(self.last, per=self.per_key, show_truth=self.show_truth.value,
                                title=f"{gid}  z = {self.last['z']:.4f}  —  optical to mid-IR")  # fmt: skip
        return fig, stem


def binned_for_display(wave, flux, n_max: int):
    """The fiber spectrum for the panel: means of consecutive pixels so that at most ``n_max`` points
    remain (the 0.38-0.92 µm of 3,921 pixels span ~120 screen pixels on the panel's log axis), masked
    or non-positive pixels left out of the means and all-masked bins kept as gaps (NaN)."""
    wave, flux = np.asarray(wave, float), np.asarray(flux, float)
    good = np.isfinite(flux) & (flux > 0)
    k = max(1, -(-len(wave) // n_max))
    n = len(wave) // k * k
    w = wave[:n].reshape(-1, k).mean(1)
    num = np.where(good, flux, 0.0)[:n].reshape(-1, k).sum(1)
    cnt = good[:n].reshape(-1, k).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(cnt > 0, num / cnt, np.nan)
    return w, f


def readout_html(d: dict, per: str = "fnu", moved: bool = False) -> str:
    """The predicted median and 68% interval at a few rest wavelengths, and what conditioning did."""
    z, w, q = d["z"], d["wave_um"], d["q_mjy"]
    unit = "mJy" if per == "fnu" else "W m⁻²"
    fmt = "{:.3g}" if per == "fnu" else "{:.3e}"
    rows = []
    for lam in READOUT_UM:
        x = lam * (1 + z)
        if not w[0] <= x <= w[-1]:
            continue
        v = [
            float(per_flux(x, np.exp(np.interp(np.log(x), np.log(w), np.log(q[k]))), per)) for k in (1, 2, 3)
        ]
        rows.append(f"<tr><td>{lam:g} µm</td><td style='padding:0 8px'>{fmt.format(v[1])}</td>"
                    f"<td>{fmt.format(v[0])} – {fmt.format(v[2])}</td></tr>")  # fmt: skip
    note = html.escape(d.get("note") or "optical-only prior (the WISE points are not used)")
    return (
        "<div class='irox-midir-readout' style='font-size:12px'>"
        f"<b>Predicted {'f_ν' if per == 'fnu' else 'ν f_ν'} [{unit}]</b> ({html.escape(d['mode'])}) at rest wavelength"
        "<table style='border-collapse:collapse;font-size:12px'><tr><th style='text-align:left'>λ<sub>rest</sub></th>"
        "<th>median</th><th>68%</th></tr>" + "".join(rows) + "</table>"
        f"<div style='font-size:11px;color:#555'>{note}"
        + (" <b>Prediction from the moved sliders.</b>" if moved else "")
        + "</div></div>"
    )
