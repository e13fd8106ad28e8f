"""IR SED panel: observed WISE fluxes against the predicted posterior, the chi and property tables.

Redraws from the state's :class:`~explorer.app.state.View`: the observed points when the galaxy
changes, the predicted posterior when the prediction changes (a slider move). The tables are
HTML made by :func:`chi_table_html` and :func:`properties_html`.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, Range1d, Whisker
from bokeh.plotting import figure

from ..constants import WISE_BANDS, WISE_WAVE_UM
from .bokeh_view import (
    add_posterior,
    batched,
    bokeh_widget,
    data_on_overlay,
    hold_posterior_y,
    legend_below,
    legend_show,
)
from .compute import SED_QUANTILES, property_rows, sed_data
from .export import ExportBar
from .state import ExplorerState
from .style import OKABE_ITO, fmt_value

__all__ = ["SED_QUANTILES", "SedPanel", "chi_table_html", "properties_html"]


class SedPanel:
    """Observed WISE flux densities (mJy, log wavelength) with errors and upper limits, against the
    predicted posterior (median, 68/95% bands, posterior draws); per-band chi table; true noiseless
    fluxes for simulated galaxies; the property heads with their uncertainties."""

    #: (source, column) of the layers besides the posterior that the y axis is fitted to
    Y_LAYERS = (
        ("det", "lo"),
        ("det", "hi"),
        ("ul", "flux"),
        ("truth", "flux"),
        ("sed_band", "q025"),
        ("sed_band", "q975"),
    )

    def __init__(self, state: ExplorerState, n_draws: int = 30):
        self.state = state
        self.n_draws = n_draws
        self.det = ColumnDataSource(dict(wave=[], flux=[], lo=[], hi=[], band=[]))
        self.ul = ColumnDataSource(dict(wave=[], flux=[], band=[]))
        self.truth = ColumnDataSource(dict(wave=[], flux=[]))
        self.band = ColumnDataSource(dict(wave=[], q025=[], q16=[], q50=[], q84=[], q975=[]))
        self.draws = ColumnDataSource(dict(xs=[], ys=[]))
        # the separable SED fit's posterior (explorer.sedfit), when the galaxy has one
        self.sed_band = ColumnDataSource(dict(wave=[], q025=[], q16=[], q50=[], q84=[], q975=[]))
        self.sed_draws = ColumnDataSource(dict(xs=[], ys=[]))
        self.figure = self._build_figure()
        self.show_truth = widgets.Checkbox(
            value=False, description="true noiseless fluxes (simulation)", indent=False
        )
        self.show_truth.observe(lambda _: self._refresh(observed=True), names="value")
        self.domain = widgets.HTML()  # the out-of-domain note, beside the prediction
        self.sedfit_note = widgets.HTML()  # where the SED fit comes from, or why there is none
        from .sedfit_runner import FitRunner

        self.fit_button = FitRunner(state)  # "fit with bagpipes" for an upload
        self._sedfit_shown = None
        self.chi_table = widgets.HTML()
        self.props_table = widgets.HTML()
        self.export = ExportBar(self.export_figure, "SED")
        self.bokeh_view = None
        state.observe(self._on_view, names="view")
        self._refresh(observed=True)
        self.bokeh_view = bokeh_widget(self.figure)
        self.widget = widgets.HBox(
            [
                widgets.VBox([self.bokeh_view, self.show_truth]),
                widgets.VBox(
                    [
                        self.domain,
                        self.chi_table,
                        self.sedfit_note,
                        self.fit_button.widget,
                        self.props_table,
                        self.export.widget,
                    ],  # fmt: skip
                    layout=widgets.Layout(margin="0 0 0 8px", width="370px"),
                ),
            ]
        )

    def _build_figure(self):
        """The Bokeh figure: posterior bands and draws, median, observed points, limits, truth."""
        fig = figure(
            height=420,
            width=470,
            x_axis_type="log",
            y_axis_type="log",
            x_axis_label="wavelength [µm]",
            x_range=(2.5, 30.0),  # W1 3.4 ... W4 22 µm: fixed so an upper limit in W4 is never cut off
            y_axis_label="flux density [mJy]",
            y_range=Range1d(
                0.1, 100.0
            ),  # held by hold_posterior_y: fitted per galaxy, still under the sliders
            tools="pan,wheel_zoom,box_zoom,reset,save",
        )
        add_posterior(fig, self.band, self.draws, draws_alpha=0.25)
        self._add_sedfit_glyphs(fig)
        r_det = fig.scatter(
            "wave", "flux", source=self.det, size=9, color=OKABE_ITO[6], legend_label="WISE observed"
        )
        fig.add_layout(Whisker(base="wave", lower="lo", upper="hi", source=self.det, line_color=OKABE_ITO[6]))
        r_ul = fig.scatter(
            "wave", "flux", source=self.ul, marker="inverted_triangle", size=12, color=OKABE_ITO[6],
            fill_alpha=0.2, legend_label="95% upper limit",
        )  # fmt: skip
        self.truth_renderer = fig.scatter(
            "wave", "flux", source=self.truth, marker="x", size=10, line_width=2, color=OKABE_ITO[0],
            legend_label="true (noiseless)",
        )  # fmt: skip
        fig.add_tools(
            HoverTool(
                renderers=[r_det, r_ul],
                tooltips=[("band", "@band"), ("λ [µm]", "@wave{0.00}"), ("F [mJy]", "@flux{0.000}")],
            )
        )
        # the legend below the plot: inside it would hide the W1/W2 points of some galaxies
        legend_below(fig, ncols=3)
        data_on_overlay(fig)
        return fig

    def _add_sedfit_glyphs(self, fig) -> None:
        """The SED fit's 68/95% band and draws, in its own colour (vermilion-free orange)."""
        colour = OKABE_ITO[1]
        r95 = fig.varea(x="wave", y1="q025", y2="q975", source=self.sed_band, color=colour, alpha=0.15,
                        legend_label="SED fit 68/95%")  # fmt: skip
        r68 = fig.varea(x="wave", y1="q16", y2="q84", source=self.sed_band, color=colour, alpha=0.3,
                        legend_label="SED fit 68/95%")  # fmt: skip
        rd = fig.multi_line(xs="xs", ys="ys", source=self.sed_draws, color=colour, alpha=0.35, line_width=0.8,
                            line_dash="dashed", legend_label="SED-fit draws (bagpipes)")  # fmt: skip
        self.sedfit_renderers = (r95, r68, rd)

    def export_figure(self):
        """The SED as a talk figure (:func:`explorer.app.figures.plot_sed`) and a file stem."""
        from .figures import plot_sed

        d = self.data()
        stem = f"{d['id']}_SED" + ("_sliders" if self.state.latents_moved else "")
        return plot_sed(d, show_truth=self.show_truth.value), stem

    def data(self) -> dict:
        """:func:`explorer.app.compute.sed_data` for the current state (also used by tests)."""
        return sed_data(
            self.state.row, self.state.prediction, n_draws=self.n_draws, sedfit=self.state.view.sedfit
        )

    def _y_layers(self) -> list:
        return [(getattr(self, name), col) for name, col in self.Y_LAYERS]

    def _on_view(self, change) -> None:
        changed = change["new"].changed(change["old"])
        if "galaxy" in changed:
            self.export.link.value = ""  # the last export was of another galaxy
        if changed & {"galaxy", "prediction", "models", "domain", "sedfit", "sedfit_note"}:
            self._refresh(observed=bool(changed & {"galaxy", "models"}))  # new models: the axis refitted

    def _refresh(self, observed: bool) -> None:
        """Redraw the posterior (and the observed points when ``observed``), then the tables."""
        with batched(self.bokeh_view):
            d = self._draw(observed)
        # the tables after the plot's patch has been sent: when they change, the plot data is there
        dom = self.state.view.domain
        self.domain.value = dom.html() if dom is not None else ""
        self.chi_table.value = chi_table_html(d, moved=self.state.latents_moved)
        self.sedfit_note.value = sedfit_note_html(d, self.state.view.sedfit_note)
        if self.fit_button is not None:
            self.fit_button.on_view(self.state.view)
        self.props_table.value = properties_html(self.state.prediction, self.state.row, self.state.models)

    def _draw_observed(self, d: dict) -> None:
        det = ~d["is_ul"] & np.isfinite(d["flux_mjy"])
        ul = d["is_ul"] & np.isfinite(d["flux_mjy"])
        bands = np.array(WISE_BANDS)
        self.det.data = dict(
            wave=WISE_WAVE_UM[det],
            flux=d["flux_mjy"][det],
            lo=np.maximum(d["flux_mjy"][det] - d["err_mjy"][det], 1e-6),
            hi=d["flux_mjy"][det] + d["err_mjy"][det],
            band=bands[det],
        )
        self.ul.data = dict(wave=WISE_WAVE_UM[ul], flux=d["flux_mjy"][ul], band=bands[ul])
        simulated = np.isfinite(d["truth_mjy"]).any()
        self.show_truth.layout.display = None if simulated else "none"
        legend_show(self.figure, [self.truth_renderer], simulated)  # no truth: no legend entry
        ok = np.isfinite(d["truth_mjy"]) & self.show_truth.value
        self.truth.data = dict(wave=WISE_WAVE_UM[ok], flux=d["truth_mjy"][ok])

    def _draw(self, observed: bool) -> dict:
        d = self.data()
        self.last = d
        # the observed points only when the galaxy (or the truth toggle) changed: a slider moves
        # the model, and the browser then re-maps only the model's glyphs
        if observed:
            self._draw_observed(d)
        if d["has_prediction"]:
            q = d["q_mjy"]
            self.band.data = dict(wave=WISE_WAVE_UM, q025=q[0], q16=q[1], q50=q[2], q84=q[3], q975=q[4])
            self.draws.data = dict(xs=[WISE_WAVE_UM] * len(d["draws_mjy"]), ys=list(d["draws_mjy"]))
        else:
            self.band.data = dict(wave=[], q025=[], q16=[], q50=[], q84=[], q975=[])
            self.draws.data = dict(xs=[], ys=[])
        if observed or self._sedfit_shown is not self.state.view.sedfit:  # not on a slider move
            self._draw_sedfit(d)
            self._sedfit_shown = self.state.view.sedfit
            observed = True
        hold_posterior_y(self.figure, self.band, self._y_layers(), refit=observed)
        return d

    def _draw_sedfit(self, d: dict) -> None:
        """The SED fit's band and draws (empty, and out of the legend, without a fit)."""
        if d.get("has_sedfit"):
            q = d["sed_q_mjy"]
            self.sed_band.data = dict(wave=WISE_WAVE_UM, q025=q[0], q16=q[1], q50=q[2], q84=q[3], q975=q[4])
            self.sed_draws.data = dict(
                xs=[WISE_WAVE_UM] * len(d["sed_draws_mjy"]), ys=list(d["sed_draws_mjy"])
            )
        elif len(self.sed_band.data["wave"]):
            self.sed_band.data = dict(wave=[], q025=[], q16=[], q50=[], q84=[], q975=[])
            self.sed_draws.data = dict(xs=[], ys=[])
        legend_show(self.figure, self.sedfit_renderers, d.get("has_sedfit", False))


def chi_table_html(d: dict, moved: bool = False) -> str:
    """Per-band table: observed and predicted magnitudes, chi (HTML)."""
    head = (
        "<table class='irox-chi' style='border-collapse:collapse;font-size:12px'>"
        "<tr><th style='text-align:left'>band</th><th>observed [Vega mag]</th>"
        "<th>predicted</th><th>χ</th>" + ("<th>SED fit</th><th>χ<sub>SED</sub></th>" if d.get("has_sedfit") else "")
        + "</tr>"
    )  # fmt: skip
    rows = []
    for k, b in enumerate(WISE_BANDS):
        m, s, ul = d["mag_vega"][k], d["sigma_mag"][k], bool(d["is_ul"][k])
        obs = (
            "–"
            if not np.isfinite(m)
            else (f"&gt; {m:.2f} (UL)" if ul else f"{m:.3f} ± {fmt_value(s, '{:.3f}')}")
        )
        if d["has_prediction"]:
            pred = f"{d['pred_mag'][k]:.3f} ± {d['pred_sigma_mag'][k]:.3f}"
            chi = d["chi"][k]
            chi_s = fmt_value(chi, "{:+.2f}")
            style = " style='color:#D55E00;font-weight:bold'" if np.isfinite(chi) and abs(chi) > 3 else ""
        else:
            pred, chi_s, style = "–", "–", ""
        rows.append(
            f"<tr><td>{b}</td><td style='padding:0 8px'>{obs}</td><td class='irox-pred' style='padding:0 8px'>{pred}</td>"
            f"<td{style}>{chi_s}</td>" + (_sed_cells(d, k) if d.get("has_sedfit") else "") + "</tr>"
        )
    note = ""
    if d["has_prediction"]:
        note = (
            "<div style='font-size:11px;color:#555'>χ = (observed − predicted) / √(σ²<sub>pred</sub> + σ²<sub>obs</sub>);"
            " bands are the posterior's 68% and 95% intervals."
            + (" <b>Prediction from the moved sliders.</b>" if moved else "")
            + "</div>"
        )
    return head + "".join(rows) + "</table>" + note


def _sed_cells(d: dict, k: int) -> str:
    """The SED fit's predicted magnitude and chi in band ``k`` (table cells)."""
    chi = d["sed_chi"][k]
    style = " style='color:#D55E00;font-weight:bold'" if np.isfinite(chi) and abs(chi) > 3 else ""
    return (
        f"<td class='irox-sed-pred' style='padding:0 8px'>{d['sed_pred_mag'][k]:.3f} ± {d['sed_sigma_mag'][k]:.3f}</td>"
        f"<td{style}>{fmt_value(chi, '{:+.2f}')}</td>"
    )


def sedfit_note_html(d: dict, note: str) -> str:
    """One line under the chi table: the SED fit shown (and what it is), or why there is none."""
    if d.get("has_sedfit"):
        return (
            "<div class='irox-sedfit' style='font-size:11px;color:#555'><b style='color:#E69F00'>SED fit</b>"
            " (orange): bagpipes with separable priors (delayed-τ SFH, Calzetti, nebular, Draine &amp; Li"
            f" dust free), fitted to the optical only; {note}</div>"
        )
    return f"<div class='irox-sedfit irox-sedfit-none' style='font-size:11px;color:#777'><i>{note or 'no SED fit'}</i></div>"


def properties_html(prediction, row: dict, models) -> str:
    """Property heads with uncertainties (and the simulation's truth) as an HTML table."""
    rows = property_rows(prediction, row)
    if not rows:
        why = "no models loaded" if models is None else "this model directory has no property heads"
        return f"<div class='irox-props'><b>Physical properties</b><br><i>{why}</i></div>"
    has_truth = any(r["truth"] for r in rows)
    out = [
        "<div class='irox-props'><b>Physical properties</b> (predicted, 1σ)",
        "<table style='border-collapse:collapse;font-size:12px'><tr><th style='text-align:left'>quantity</th>"
        "<th>value</th><th>1σ</th>" + ("<th>truth</th>" if has_truth else "") + "</tr>",
    ]
    for r in rows:
        out.append(
            f"<tr><td>{html.escape(r['name'])} <span style='color:#777'>{html.escape(r['unit'])}</span></td>"
            f"<td style='padding:0 8px'>{r['value']}</td><td style='padding:0 8px'>{r['range']}</td>"
            + (f"<td>{html.escape(r['truth'])}</td>" if has_truth else "")
            + "</tr>"
        )
    out.append("</table></div>")
    return "".join(out)
