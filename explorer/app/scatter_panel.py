"""Latent scatter panel: the sample in latent space (any two latents), coloured by a chosen property.

Clicking (or box-selecting) a point selects that galaxy (:meth:`ExplorerState.select`); the
markers of the galaxy's own latents and of the sliders' latents follow the state's
:class:`~explorer.app.state.View`.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
from bokeh.models import BoxSelectTool, ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, TapTool
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from .bokeh_view import batched, bokeh_widget
from .state import ExplorerState
from .style import CLASS_COLOURS, CLASS_NAMES, NAN_COLOUR, OKABE_ITO


def colour_options(catalog, sample) -> dict[str, tuple[np.ndarray, bool]]:
    """Quantities a scatter can be coloured by: label -> (values (N,), categorical)."""
    t = catalog.table
    n = catalog.n
    opts: dict[str, tuple[np.ndarray, bool]] = {"redshift z": (np.asarray(t["z"], float), False)}
    if "class_label" in t and (np.asarray(t["class_label"]).astype(str) != "").any():
        opts["class"] = (np.asarray(t["class_label"]).astype(str), True)

    def colour(a, b):
        ma, mb = np.asarray(t[f"{a}_mag_vega"], float), np.asarray(t[f"{b}_mag_vega"], float)
        bad = np.asarray(t[f"{a}_is_ul"], bool) | np.asarray(t[f"{b}_is_ul"], bool)
        return np.where(bad, np.nan, ma - mb)

    opts["observed W2−W3 (mag)"] = (colour("w2", "w3"), False)
    opts["observed W1−W2 (mag)"] = (colour("w1", "w2"), False)
    if sample is not None and sample.pred_mag is not None:
        opts["predicted W2−W3 (mag)"] = (sample.pred_mag[:, 1] - sample.pred_mag[:, 2], False)
        opts["worst |χ|"] = (sample.worst_abs_chi, False)
    if sample is not None and np.isfinite(sample.snr).any():  # a latent catalog has no S/N
        opts["spectrum S/N"] = (sample.snr, False)
    if "mag_r_total" in t:
        opts["r (AB mag)"] = (np.asarray(t["mag_r_total"], float), False)
    for col, label in (
        ("truth_qpah", "true q_PAH (%)"),
        ("truth_log_sfr", "true log SFR"),
        ("truth_log_lbol_agn", "true log L_bol,AGN"),
        ("truth_log_mstar", "true log M*"),
    ):
        if col in t:
            opts[label] = (np.asarray(t[col], float), False)
    return {k: v for k, v in opts.items() if len(v[0]) == n}


def colours_for(values: np.ndarray, categorical: bool) -> tuple[list[str], float, float]:
    """Hex colours (Viridis for numbers, Okabe-Ito for classes, grey for NaN) and the range used."""
    if categorical:
        pal = dict(CLASS_COLOURS)
        extra = [c for c in OKABE_ITO if c not in pal.values()]
        for k, v in enumerate(sorted(set(values) - set(pal))):
            pal[v] = extra[k % len(extra)]
        return [pal[v] for v in values], np.nan, np.nan
    v = np.asarray(values, float)
    fin = np.isfinite(v)
    if not fin.any():
        return [NAN_COLOUR] * len(v), np.nan, np.nan
    lo, hi = np.percentile(v[fin], [2, 98])
    hi = hi if hi > lo else lo + 1.0
    k = np.clip(((v - lo) / (hi - lo) * 255).round(), 0, 255)
    cols = [Viridis256[int(i)] if f else NAN_COLOUR for i, f in zip(np.nan_to_num(k), fin)]
    return cols, float(lo), float(hi)


class ScatterPanel:
    """The sample in latent space (any two latents), coloured by a chosen property; clicking (or
    box-selecting) a point selects that galaxy; markers show the galaxy and the sliders' point."""

    def __init__(self, state: ExplorerState):
        self.state = state
        self._syncing = False
        self.src = ColumnDataSource(dict(x=[], y=[], colour=[], id=[], index=[], value=[]))
        self.galaxy_pt = ColumnDataSource(dict(x=[], y=[]))
        self.current_pt = ColumnDataSource(dict(x=[], y=[]))
        fig = figure(
            width=520, height=430, tools="pan,wheel_zoom,box_zoom,reset", toolbar_location="above",
            x_axis_label="latent 1", y_axis_label="latent 2",
        )  # fmt: skip
        pts = fig.scatter(
            "x", "y", source=self.src, size=5, fill_color="colour", line_color=None, alpha=0.8,
            nonselection_alpha=0.8, selection_alpha=1.0, selection_line_color="black",
        )  # fmt: skip
        # the two markers on the overlay canvas: a slider move then repaints only them, not the
        # catalog's points under them (BokehJS repaints a level only when one of its renderers changed)
        fig.scatter("x", "y", source=self.galaxy_pt, size=16, marker="circle", fill_color=None,
                    line_color="black", line_width=2.5, legend_label="selected galaxy", level="overlay")  # fmt: skip
        fig.scatter("x", "y", source=self.current_pt, size=18, marker="star", fill_color=OKABE_ITO[6],
                    line_color="black", line_width=1, legend_label="sliders", level="overlay")  # fmt: skip
        fig.add_tools(TapTool(renderers=[pts]), BoxSelectTool(renderers=[pts]))
        fig.add_tools(HoverTool(renderers=[pts], tooltips=[("id", "@id"), ("value", "@value{0.000}")]))
        self.mapper = LinearColorMapper(palette=Viridis256, low=0, high=1)
        self.colour_bar = ColorBar(color_mapper=self.mapper, width=10, title="")
        fig.add_layout(self.colour_bar, "right")
        fig.legend.location = "top_left"
        fig.legend.label_text_font_size = "8pt"
        fig.legend.background_fill_alpha = 0.6
        self.figure = fig
        self.src.selected.on_change("indices", self._on_select)
        self.xsel = widgets.Dropdown(description="x", layout=widgets.Layout(width="160px"))
        self.ysel = widgets.Dropdown(description="y", layout=widgets.Layout(width="160px"))
        self.csel = widgets.Dropdown(description="colour", layout=widgets.Layout(width="260px"))
        self.caption = widgets.HTML()
        self.bokeh_view = None
        for w in (self.xsel, self.ysel, self.csel):
            w.observe(self._redraw, names="value")
        state.observe(self._on_view, names="view")
        self._rebuild()
        self.bokeh_view = bokeh_widget(fig)
        self.widget = widgets.VBox(
            [widgets.HBox([self.xsel, self.ysel]), self.csel, self.bokeh_view, self.caption]
        )

    def _on_view(self, change) -> None:
        changed = change["new"].changed(change["old"])
        if "sample" in changed:
            self._rebuild()  # redraws the markers too
        elif changed & {"latents", "galaxy_latents"}:
            self._markers()

    def _rebuild(self) -> None:
        s = self.state.sample
        n_lat = 0 if s is None or s.latents is None else s.latents.shape[1]
        self._colours = colour_options(self.state.catalog, s)
        self._syncing = True
        try:
            opts = [(f"latent {k + 1}", k) for k in range(n_lat)]
            self.xsel.options, self.ysel.options = opts, opts
            if n_lat >= 2:
                self.xsel.value, self.ysel.value = 0, 1
            keep = self.csel.value if self.csel.value in self._colours else None
            self.csel.options = list(self._colours)
            self.csel.value = keep or ("worst |χ|" if "worst |χ|" in self._colours else "redshift z")
        finally:
            self._syncing = False
        self._redraw()

    def _redraw(self, *_):
        if self._syncing:
            return
        with batched(self.bokeh_view):
            self._draw()

    def _draw(self):
        s = self.state.sample
        cat = self.state.catalog
        if s is None or s.latents is None or self.xsel.value is None:
            self.src.data = dict(x=[], y=[], colour=[], id=[], index=[], value=[])
            self.caption.value = "<i>No encoder loaded: the latent scatter needs models.</i>"
            self._markers()
            return
        i, j = self.xsel.value, self.ysel.value
        label = self.csel.value
        values, categorical = self._colours[label]
        cols, lo, hi = colours_for(values, categorical)
        self._syncing = True
        try:
            self.src.selected.indices = []
            self.src.data = dict(
                x=s.latents[:, i].astype(float),
                y=s.latents[:, j].astype(float),
                colour=cols,
                id=np.asarray(cat.table["id"]).astype(str),
                index=np.arange(cat.n),
                value=np.asarray(values, float) if not categorical else np.full(cat.n, np.nan),
            )
        finally:
            self._syncing = False
        self.figure.xaxis.axis_label = f"latent {i + 1}"
        self.figure.yaxis.axis_label = f"latent {j + 1}"
        self.colour_bar.visible = not categorical
        if categorical:
            keys = sorted(set(values), key=lambda v: (v not in CLASS_NAMES, v))
            pal, _, _ = colours_for(np.array(keys), True)
            self.caption.value = "colour: " + " ".join(
                f"<span style='color:{c}'>●</span> {html.escape(k)}" for k, c in zip(keys, pal)
            )
        else:
            self.mapper.low, self.mapper.high = lo, hi
            self.colour_bar.title = label
            self.caption.value = (
                f"colour: {html.escape(label)} (2–98% range {lo:.3g} … {hi:.3g}; grey = not available). "
                "Click a point (or box-select) to pick a galaxy."
            )
        self._markers()

    def _markers(self) -> None:
        i, j = self.xsel.value, self.ysel.value
        g, cur = self.state.galaxy_latents, self.state.latents
        ok = i is not None and j is not None
        with batched(self.bokeh_view):
            self.galaxy_pt.data = (
                dict(x=[float(g[i])], y=[float(g[j])]) if ok and g is not None else dict(x=[], y=[])
            )
            self.current_pt.data = (
                dict(x=[float(cur[i])], y=[float(cur[j])]) if ok and cur is not None else dict(x=[], y=[])
            )

    def _on_select(self, attr, old, new) -> None:
        if self._syncing or not new:
            return
        pos = int(min(new)) if len(new) > 1 else int(new[0])
        idx = self.src.data["index"]
        self._syncing = True
        try:  # clear the selection so that clicking the same point again works
            with batched(self.bokeh_view):
                self.src.selected.indices = []
        finally:
            self._syncing = False
        if 0 <= pos < len(idx):
            self.state.select(int(idx[pos]))
