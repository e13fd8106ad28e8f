"""Dashboard panels: each builds its widgets/figures and observes :class:`ExplorerState`.

Figures are Bokeh models wrapped with ``jupyter_bokeh.BokehModel`` so they render offline in
Voila (BokehJS is loaded inline once by :func:`explorer.app.build.build_app`); updates only
replace ``ColumnDataSource.data``.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, LabelSet, Whisker
from bokeh.plotting import figure

from ..constants import LINES, WAVE_OBS_VAC_AA, WISE_BANDS, WISE_WAVE_UM
from .state import ExplorerState

# Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"]
LINE_GROUP_COLOURS = {"absorption": OKABE_ITO[5], "emission": OKABE_ITO[6], "balmer": OKABE_ITO[3]}


class PickerPanel:
    """Choose the galaxy: ID box, previous / next / random."""

    def __init__(self, state: ExplorerState, seed: int = 0):
        self.state = state
        self._rng = np.random.default_rng(seed)
        ids = state.catalog.table["id"]
        self.id_box = widgets.Combobox(
            value=str(ids[state.index]),
            options=list(map(str, ids[:500])),
            description="Galaxy",
            ensure_option=False,
            layout=widgets.Layout(width="280px"),
        )
        self.prev = widgets.Button(description="◀ previous", layout=widgets.Layout(width="110px"))
        self.next = widgets.Button(description="next ▶", layout=widgets.Layout(width="110px"))
        self.random = widgets.Button(description="random", layout=widgets.Layout(width="90px"))
        self.message = widgets.HTML()
        self.summary = widgets.HTML()
        self.prev.on_click(lambda _: self._step(-1))
        self.next.on_click(lambda _: self._step(+1))
        self.random.on_click(
            lambda _: setattr(self.state, "index", int(self._rng.integers(self.state.catalog.n)))
        )
        self.id_box.observe(self._on_id, names="value")
        state.observe(self._refresh, names="index")
        self._refresh()
        self.widget = widgets.VBox(
            [widgets.HBox([self.id_box, self.prev, self.next, self.random]), self.message, self.summary]
        )

    def _step(self, delta: int) -> None:
        self.state.index = (self.state.index + delta) % self.state.catalog.n

    def _on_id(self, change) -> None:
        try:
            self.state.index = self.state.catalog.index_of(change["new"].strip())
            self.message.value = ""
        except Exception as exc:  # unknown id: say so, keep the current selection
            self.message.value = f"<span style='color:#D55E00'>{exc}</span>"

    def _refresh(self, *_):
        row = self.state.row
        if self.id_box.value != row["id"]:
            self.id_box.value = row["id"]
        cls = row.get("class_label", "") or "unknown class"
        self.summary.value = (
            f"<b>{row['id']}</b> &nbsp; z = {row['z']:.4f} &nbsp; r = {row.get('mag_r_total', np.nan):.2f} mag (AB)"
            f" &nbsp; {cls} &nbsp; split: {row['split']}"
        )


class SpectrumPanel:
    """Observed spectrum with 1-sigma band, masked pixels shaded, line markers at (1+z) lambda_vac."""

    def __init__(self, state: ExplorerState):
        from jupyter_bokeh.widgets import BokehModel

        self.state = state
        self.src = ColumnDataSource(dict(wave=[], flux=[], lo=[], hi=[]))
        self.masked = ColumnDataSource(dict(wave=[], top=[], bottom=[]))
        self.lines = ColumnDataSource(dict(x=[], y0=[], y1=[], name=[], colour=[]))
        fig = figure(
            height=320,
            sizing_mode="stretch_width",
            tools="xpan,xwheel_zoom,box_zoom,reset,save",
            x_axis_label="observed wavelength (vacuum) [Å]",
            y_axis_label="flux density [1e-17 erg s⁻¹ cm⁻² Å⁻¹]",
        )
        fig.vbar(
            x="wave",
            top="top",
            bottom="bottom",
            width=float(np.median(np.diff(WAVE_OBS_VAC_AA))) * 1.5,
            source=self.masked,
            color="#BBBBBB",
            alpha=0.5,
            legend_label="masked",
        )
        fig.varea(
            x="wave", y1="lo", y2="hi", source=self.src, color=OKABE_ITO[2], alpha=0.4, legend_label="±1σ"
        )
        r = fig.line(
            "wave", "flux", source=self.src, color=OKABE_ITO[0], line_width=1, legend_label="observed"
        )
        fig.segment(x0="x", x1="x", y0="y0", y1="y1", color="colour", source=self.lines, line_dash="dashed")
        fig.add_layout(
            LabelSet(
                x="x",
                y="y1",
                text="name",
                source=self.lines,
                angle=np.pi / 2,
                text_font_size="8pt",
                text_align="right",
                x_offset=-2,
                y_offset=-2,
            )
        )
        fig.add_tools(HoverTool(renderers=[r], tooltips=[("λ [Å]", "@wave{0.0}"), ("flux", "@flux{0.00}")]))
        fig.legend.location = "top_right"
        fig.legend.click_policy = "hide"
        self.figure = fig
        self.frame = widgets.ToggleButtons(
            options=["observed", "rest"], value="observed", description="Frame"
        )
        self.frame.observe(lambda c: setattr(state, "rest_frame", c["new"] == "rest"), names="value")
        state.observe(self._refresh, names=["index", "rest_frame"])
        self._refresh()
        self.widget = widgets.VBox([self.frame, BokehModel(fig)])

    def data(self) -> dict:
        """Arrays the panel plots for the current state (also used by tests)."""
        spec = self.state.spectrum
        good = spec.weight > 0
        scale = 1.0 / (1.0 + spec.z) if self.state.rest_frame else 1.0
        wave = WAVE_OBS_VAC_AA * scale
        flux = np.where(good, spec.flux * spec.norm, np.nan)
        sigma = np.where(good, spec.norm / np.sqrt(np.where(good, spec.weight, 1.0)), np.nan)
        return dict(wave=wave, flux=flux, lo=flux - sigma, hi=flux + sigma, good=good, z=spec.z)

    def _refresh(self, *_):
        d = self.data()
        self.src.data = dict(wave=d["wave"], flux=d["flux"], lo=d["lo"], hi=d["hi"])
        fin = np.isfinite(d["flux"])
        top = float(np.nanpercentile(d["flux"][fin], 99.5)) * 1.15 if fin.any() else 1.0
        bottom = min(0.0, float(np.nanpercentile(d["flux"][fin], 0.5))) if fin.any() else 0.0
        self.masked.data = dict(
            wave=d["wave"][~d["good"]],
            top=np.full((~d["good"]).sum(), top),
            bottom=np.full((~d["good"]).sum(), bottom),
        )
        z_shift = 1.0 if self.state.rest_frame else 1.0 + d["z"]
        lo, hi = d["wave"][0], d["wave"][-1]
        xs, names, colours = [], [], []
        for line in LINES:
            x = line.center_aa * z_shift
            if lo < x < hi:
                xs.append(x)
                names.append(line.name)
                colours.append(LINE_GROUP_COLOURS[line.group])
        self.lines.data = dict(x=xs, y0=[bottom] * len(xs), y1=[top] * len(xs), name=names, colour=colours)
        self.figure.xaxis.axis_label = (
            "rest-frame" if self.state.rest_frame else "observed"
        ) + " wavelength (vacuum) [Å]"


class SedPanel:
    """Observed WISE flux densities (mJy) against wavelength, with errors and upper limits."""

    def __init__(self, state: ExplorerState):
        from jupyter_bokeh.widgets import BokehModel

        self.state = state
        self.det = ColumnDataSource(dict(wave=[], flux=[], lo=[], hi=[], band=[]))
        self.ul = ColumnDataSource(dict(wave=[], flux=[], band=[]))
        self.truth = ColumnDataSource(dict(wave=[], flux=[]))
        fig = figure(
            height=320,
            width=560,
            x_axis_type="log",
            y_axis_type="log",
            x_axis_label="wavelength [µm]",
            x_range=(2.5, 30.0),  # W1 3.4 ... W4 22 µm: fixed so an upper limit in W4 is never cut off
            y_axis_label="flux density [mJy]",
            tools="pan,wheel_zoom,box_zoom,reset,save",
        )
        fig.scatter("wave", "flux", source=self.det, size=9, color=OKABE_ITO[5], legend_label="WISE observed")
        fig.add_layout(Whisker(base="wave", lower="lo", upper="hi", source=self.det, line_color=OKABE_ITO[5]))
        fig.scatter(
            "wave",
            "flux",
            source=self.ul,
            marker="inverted_triangle",
            size=11,
            color=OKABE_ITO[6],
            legend_label="95% upper limit",
        )
        fig.scatter(
            "wave",
            "flux",
            source=self.truth,
            marker="x",
            size=9,
            color=OKABE_ITO[0],
            legend_label="true (noiseless)",
        )
        fig.legend.location = "bottom_left"
        fig.legend.click_policy = "hide"
        self.figure = fig
        state.observe(self._refresh, names="index")
        self._refresh()
        self.widget = BokehModel(fig)

    def data(self) -> dict:
        row = self.state.row
        flux = np.array([row[f"{b.lower()}_flux_mjy"] for b in WISE_BANDS], float)
        err = np.array([row[f"{b.lower()}_flux_err_mjy"] for b in WISE_BANDS], float)
        ul = np.array([row[f"{b.lower()}_is_ul"] for b in WISE_BANDS], bool)
        truth = np.array([row.get(f"truth_w{k}_flux_mjy", np.nan) for k in range(1, 5)], float)
        return dict(flux_mjy=flux, err_mjy=err, is_ul=ul, truth_mjy=truth)

    def _refresh(self, *_):
        d = self.data()
        det = ~d["is_ul"]
        bands = np.array(WISE_BANDS)
        self.det.data = dict(
            wave=WISE_WAVE_UM[det],
            flux=d["flux_mjy"][det],
            lo=np.maximum(d["flux_mjy"][det] - d["err_mjy"][det], 1e-6),
            hi=d["flux_mjy"][det] + d["err_mjy"][det],
            band=bands[det],
        )
        self.ul.data = dict(wave=WISE_WAVE_UM[~det], flux=d["flux_mjy"][~det], band=bands[~det])
        ok = np.isfinite(d["truth_mjy"])
        self.truth.data = dict(wave=WISE_WAVE_UM[ok], flux=d["truth_mjy"][ok])
