"""Latent-space panels: one slider per latent, and the sample's latent scatter.

Both read and write only :class:`~explorer.app.state.ExplorerState`: the sliders set
``state.latents`` (the state recomputes the prediction, which the spectrum and SED panels
observe); clicking a scatter point selects that galaxy (``state.select``); the scatter's
current-point marker follows ``state.latents``.
"""

from __future__ import annotations

import collections
import html

import ipywidgets as widgets
import numpy as np
from bokeh.models import BoxSelectTool, ColorBar, ColumnDataSource, HoverTool, LinearColorMapper, TapTool
from bokeh.palettes import Viridis256
from bokeh.plotting import figure

from .panels import CLASS_NAMES, OKABE_ITO, batched, bokeh_widget
from .state import ExplorerState

CLASS_COLOURS = {"star-forming": OKABE_ITO[5], "quenched": OKABE_ITO[6], "agn": OKABE_ITO[1]}
NAN_COLOUR = "#C8C8C8"


def latent_ranges(sample, n_latent: int) -> tuple[np.ndarray, np.ndarray]:
    """Slider ranges: 1st-99th percentile of the catalog's latents (-3..3 if unknown)."""
    if sample is not None and sample.latent_lo is not None and len(sample.latent_lo) == n_latent:
        lo, hi = np.asarray(sample.latent_lo, float), np.asarray(sample.latent_hi, float)
    else:
        lo, hi = np.full(n_latent, -3.0), np.full(n_latent, 3.0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return lo, lo + span


class LatentPanel:
    """One slider per latent, set to the selected galaxy's latents; reset button."""

    def __init__(self, state: ExplorerState):
        self.state = state
        self._syncing = False
        self.sliders: list[widgets.FloatSlider] = []
        self.box = widgets.VBox()
        self.reset = widgets.Button(
            description="reset to galaxy", icon="undo", layout=widgets.Layout(width="150px")
        )
        self.reset.on_click(lambda _: self.state.reset_latents())
        self.status = widgets.HTML()
        state.observe(self._rebuild, names="sample")
        state.observe(self._on_latents, names="latents")
        state.observe(self._on_galaxy, names="galaxy_latents")
        self._rebuild()
        self.widget = widgets.VBox([self.box, widgets.HBox([self.reset]), self.status])

    def _n_latent(self) -> int:
        m = self.state.models
        enc = getattr(m, "encoder", None) if m is not None else None
        return int(enc.n_latent) if enc is not None else 0

    def _rebuild(self, *_):
        n = self._n_latent()
        lo, hi = latent_ranges(self.state.sample, n)
        self.sliders = []
        for k in range(n):
            s = widgets.FloatSlider(
                value=float(0.5 * (lo[k] + hi[k])), min=float(lo[k]), max=float(hi[k]),
                step=float((hi[k] - lo[k]) / 400), description=f"latent {k + 1}",
                readout_format=".3f", continuous_update=True, layout=widgets.Layout(width="380px"),
            )  # fmt: skip
            s.observe(self._on_slider(k), names="value")
            self.sliders.append(s)
        self.box.children = self.sliders
        self._sent = [collections.deque(maxlen=4) for _ in self.sliders]
        self._lo, self._hi = lo, hi
        self.reset.disabled = n == 0
        self._on_galaxy()

    def _on_slider(self, k: int):
        def handler(change):
            if self._syncing:
                return
            cur = self.state.latents
            new = float(change["new"])
            tol = 0.5 * (self.sliders[k].step or 0.0) * (1 + 1e-6)
            # The browser sends back values that are not a user's move: the value we set, snapped to
            # the slider's step; and, after a range change, the value it showed before (a stale
            # echo that can arrive after we set the next galaxy's value).
            if cur is not None and abs(new - cur[k]) <= tol:
                return
            if any(abs(new - v) <= tol for v in self._sent[k]):
                if cur is not None:
                    self._push(k, float(cur[k]))  # put the slider back where the state is
                return
            self.state.set_latent(k, new)

        return handler

    def _push(self, k: int, v: float) -> None:
        """Set slider ``k`` from code (not a user move), remembering the value."""
        s = self.sliders[k]
        syncing, self._syncing = self._syncing, True
        try:
            if s.value != v:
                s.value = v
                self._sent[k].append(v)
        finally:
            self._syncing = syncing

    def _on_galaxy(self, *_):
        gl = self.state.galaxy_latents
        if gl is None or len(gl) != len(self.sliders):
            return
        # A slider clamps (and snaps) its value in the browser whenever its range changes, and
        # sends the result back as if the user had moved it. So: widen each range to hold both
        # the old and the new value first, set the new value (_on_latents), and only then narrow
        # the range to its final extent, which holds the new value.
        self._pending = {}
        self._syncing = True
        try:
            for k, s in enumerate(self.sliders):
                lo = min(self._lo[k], float(gl[k]))
                hi = max(self._hi[k], float(gl[k]))
                if s.min != lo or s.max != hi:
                    if hi > s.max:
                        s.max = hi
                    if lo < s.min:
                        s.min = lo
                    self._pending[k] = (lo, hi)
        finally:
            self._syncing = False
        if self.state.latents is not None and np.array_equal(self.state.latents, gl):
            self._on_latents()

    def _on_latents(self, *_):
        lat = self.state.latents
        if lat is None or len(lat) != len(self.sliders):
            self.status.value = (
                "<i>No encoder loaded: latent sliders are off.</i>" if not self.sliders else ""
            )
            for s in self.sliders:
                s.disabled = True
            return
        pending, self._pending = getattr(self, "_pending", {}), {}
        self._syncing = True
        try:
            for k, s in enumerate(self.sliders):
                s.disabled = False
                v = float(lat[k])
                if v > s.max:  # a value set from code outside the range: widen
                    s.max = v
                if v < s.min:
                    s.min = v
                if s.value != v:
                    s.value = v
                    self._sent[k].append(v)
                if k in pending:
                    lo, hi = min(pending[k][0], v), max(pending[k][1], v)
                    if s.min != lo:
                        s.min = lo
                    if s.max != hi:
                        s.max = hi
        finally:
            self._syncing = False
        moved = self.state.latents_moved
        self.status.value = (
            "<span class='irox-latent-status'>"
            + (
                "sliders <b>moved</b> from the galaxy's own latents"
                if moved
                else "sliders at the galaxy's own latents"
            )
            + "</span>"
        )


# --- scatter of the sample ------------------------------------------------------------------------
def colour_options(catalog, sample) -> dict[str, tuple[np.ndarray, bool]]:
    """Quantities a scatter can be coloured by: label -> (values (N,), categorical)."""
    t = catalog.table
    n = catalog.n
    opts: dict[str, tuple[np.ndarray, bool]] = {"redshift z": (np.asarray(t["z"], float), False)}
    if "class_label" in t:
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
    if sample is not None:
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
        fig.scatter("x", "y", source=self.galaxy_pt, size=16, marker="circle", fill_color=None,
                    line_color="black", line_width=2.5, legend_label="selected galaxy")  # fmt: skip
        fig.scatter("x", "y", source=self.current_pt, size=18, marker="star", fill_color=OKABE_ITO[6],
                    line_color="black", line_width=1, legend_label="sliders")  # fmt: skip
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
        self.view = None
        self._marker_key = None
        for w in (self.xsel, self.ysel, self.csel):
            w.observe(self._redraw, names="value")
        state.observe(self._rebuild, names="sample")
        state.observe(self._markers, names=["latents", "galaxy_latents"])
        self._rebuild()
        self.view = bokeh_widget(fig)
        self.widget = widgets.VBox([widgets.HBox([self.xsel, self.ysel]), self.csel, self.view, self.caption])

    def _rebuild(self, *_):
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
        with batched(self.view):
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

    def _markers(self, *_):
        i, j = self.xsel.value, self.ysel.value
        g, cur = self.state.galaxy_latents, self.state.latents
        ok = i is not None and j is not None
        key = (i, j, None if g is None else tuple(g), None if cur is None else tuple(cur))
        if key == self._marker_key:
            return
        self._marker_key = key
        with batched(self.view):
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
            with batched(self.view):
                self.src.selected.indices = []
        finally:
            self._syncing = False
        if 0 <= pos < len(idx):
            self.state.select(int(idx[pos]))
