"""Dashboard panels: each builds its widgets/figures and observes :class:`ExplorerState`.

Figures are Bokeh models wrapped with ``jupyter_bokeh.BokehModel`` so they render offline in
Voila (BokehJS is loaded inline once by :func:`explorer.app.build.load_bokeh_inline`); updates
only replace ``ColumnDataSource.data`` (or single columns of it). A panel never reaches into
another panel: it reads the state, and writes the state.
"""

from __future__ import annotations

import contextlib
import html
import json

import ipywidgets as widgets
import numpy as np
from bokeh.models import (
    ColumnDataSource,
    DataTable,
    HoverTool,
    LabelSet,
    NumberFormatter,
    StringFormatter,
    TableColumn,
    Whisker,
)
from bokeh.plotting import figure

from ..constants import LINES, WAVE_OBS_VAC_AA, WISE_BANDS, WISE_WAVE_UM
from .compute import SED_QUANTILES, galaxy_spectrum_arrays, property_rows, sed_data
from .export import ExportBar
from .state import ExplorerState

# Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"]
LINE_GROUP_COLOURS = {"absorption": OKABE_ITO[5], "emission": OKABE_ITO[6], "balmer": OKABE_ITO[3]}
CLASS_NAMES = ("star-forming", "quenched", "agn")


def _batched_bokeh_model_class():
    from bokeh.protocol import Protocol
    from jupyter_bokeh.widgets import BokehModel

    class BatchedBokehModel(BokehModel):
        """jupyter_bokeh's widget, able to send several document changes as ONE patch message.

        Inside ``with widget.batch():`` the changes of a panel refresh (several sources, an axis
        label...) are collected and sent together when the block ends, so the browser applies
        them and redraws the plot once instead of once per change.
        """

        def __init__(self, model, **kwargs):
            self._held: list | None = None
            super().__init__(model, **kwargs)

        @contextlib.contextmanager
        def batch(self):
            if self._held is not None:  # nested: the outer block sends
                yield
                return
            self._held = []
            try:
                yield
            finally:
                events, self._held = self._held, None
                if events:
                    self._send_patch(events)

        def _document_patched(self, event) -> None:
            if event.setter is self:  # came from the browser
                return
            if self._held is not None:
                self._held.append(event)
            else:
                self._send_patch([event])

        def _send_patch(self, events) -> None:
            # the same message layout as jupyter_bokeh's own _document_patched, with a list of events
            msg = Protocol().create("PATCH-DOC", events)
            self.send({"msg": "patch", "payload": msg.header_json})
            self.send({"msg": "patch", "payload": msg.metadata_json})
            self.send({"msg": "patch", "payload": msg.content_json})
            for buffer in msg.buffers:
                self.send({"msg": "patch", "payload": json.dumps(buffer.ref)})
                self.send({"msg": "patch"}, [buffer.to_bytes()])

    return BatchedBokehModel


_BATCHED = None


def bokeh_widget(fig):
    """Wrap a Bokeh model as an ipywidget (jupyter_bokeh, imported late) that can batch updates."""
    global _BATCHED
    if _BATCHED is None:
        _BATCHED = _batched_bokeh_model_class()
    return _BATCHED(fig)


@contextlib.contextmanager
def batched(view):
    """Send the Bokeh changes made in the block as one message (no-op before the view exists)."""
    if view is None:
        yield
    else:
        with view.batch():
            yield


def _f(v, fmt="{:.2f}", empty="–") -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return empty
    return fmt.format(v) if np.isfinite(v) else empty


# --- galaxy picker ------------------------------------------------------------------------------
class PickerPanel:
    """Choose the galaxy: searchable/sortable table with filters, ID box, previous / next / random.

    The table is sorted by the "sort by" dropdown and the ascending / descending toggle (which
    reorder the table's data source); previous / next follow that order, within the rows that
    pass the filters, and random draws from those rows. Clicking a column header does not sort:
    Bokeh's DataTable sorts on screen only in the browser and does not tell Python the order, so
    the explicit sort is the one order the table and previous / next share.
    """

    #: (label, table column) choices of the "sort by" dropdown; "" is catalog order
    SORT_CHOICES = (
        ("catalog order", ""),
        ("id", "id"),
        ("z", "z"),
        ("r (AB)", "r"),
        ("class", "cls"),
        ("W3 observed", "w3_obs"),
        ("W3 predicted", "w3_pred"),
        ("worst |χ|", "worst_chi"),
        ("S/N", "snr"),
    )

    def __init__(self, state: ExplorerState, seed: int = 0):
        self.state = state
        self._rng = np.random.default_rng(seed)
        self._syncing = False
        cat = state.catalog
        t = cat.table
        ids = t["id"]
        self.id_box = widgets.Combobox(
            value=str(ids[state.index]),
            options=list(map(str, ids[:500])),
            description="Galaxy ID",
            ensure_option=False,
            layout=widgets.Layout(width="300px"),
        )
        self.prev = widgets.Button(description="◀ previous", layout=widgets.Layout(width="110px"))
        self.next = widgets.Button(description="next ▶", layout=widgets.Layout(width="110px"))
        self.random = widgets.Button(description="random", layout=widgets.Layout(width="90px"))
        self.message = widgets.HTML()
        self.summary = widgets.HTML()
        # filters
        z = np.asarray(t["z"], float)
        z_lo, z_hi = float(np.floor(np.nanmin(z) * 100) / 100), float(np.ceil(np.nanmax(z) * 100) / 100)
        self.z_range = widgets.FloatRangeSlider(
            value=(z_lo, z_hi), min=z_lo, max=max(z_hi, z_lo + 0.01), step=0.005,
            description="z range", readout_format=".3f", continuous_update=False,
            layout=widgets.Layout(width="330px"),
        )  # fmt: skip
        classes = sorted({str(c) for c in np.asarray(t.get("class_label", []))} - {""})
        self.cls = widgets.Dropdown(
            options=["all"] + classes, value="all", description="class", layout=widgets.Layout(width="200px")
        )
        self.min_snr = widgets.BoundedFloatText(
            value=0.0, min=0.0, max=1e4, step=1.0, description="S/N ≥", layout=widgets.Layout(width="160px")
        )
        self.search = widgets.Text(
            placeholder="search id…", description="search", layout=widgets.Layout(width="240px")
        )
        self.count = widgets.HTML()
        self.sort_by = widgets.Dropdown(
            options=list(self.SORT_CHOICES),
            value="",
            description="sort by",
            layout=widgets.Layout(width="230px"),
        )
        self.sort_dir = widgets.ToggleButtons(
            options=["ascending", "descending"], value="ascending", style={"button_width": "95px"}
        )
        # table
        self.src = ColumnDataSource(self._empty_table())
        fmt3 = NumberFormatter(format="0.000")
        fmt2 = NumberFormatter(format="0.00")
        self.table = DataTable(
            source=self.src,
            columns=[
                TableColumn(field="id", title="id", formatter=StringFormatter(), width=150),
                TableColumn(field="z", title="z", formatter=NumberFormatter(format="0.0000"), width=60),
                TableColumn(field="r", title="r (AB)", formatter=fmt2, width=55),
                TableColumn(field="cls", title="class", width=85),
                TableColumn(field="w3_obs", title="W3 obs", formatter=fmt3, width=60),
                TableColumn(field="w3_ul", title="UL", width=28),
                TableColumn(field="w3_pred", title="W3 pred", formatter=fmt3, width=62),
                TableColumn(field="worst_chi", title="worst |χ|", formatter=fmt2, width=62),
                TableColumn(field="snr", title="S/N", formatter=NumberFormatter(format="0.0"), width=45),
            ],
            sortable=False,  # the on-screen sort would not reach Python: sort with self.sort_by
            selectable=True,
            index_position=None,
            width=660,
            height=260,
        )
        self.src.selected.on_change("indices", self._on_table_select)
        self.rows = np.arange(cat.n)
        self.view = None
        # wiring
        self.prev.on_click(lambda _: self._step(-1))
        self.next.on_click(lambda _: self._step(+1))
        self.random.on_click(lambda _: self._random())
        self.id_box.observe(self._on_id, names="value")
        for w in (self.z_range, self.cls, self.min_snr, self.search, self.sort_by, self.sort_dir):
            w.observe(self._apply_filters, names="value")
        state.observe(self._refresh, names="galaxy")
        state.observe(self._apply_filters, names="sample")
        self._apply_filters()
        self._refresh()
        self.view = bokeh_widget(self.table)
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.id_box, self.prev, self.next, self.random]),
                self.message,
                self.summary,
                widgets.HBox([self.z_range, self.cls, self.min_snr]),
                widgets.HBox([self.search, self.count]),
                widgets.HBox([self.sort_by, self.sort_dir]),
                self.view,
            ]
        )

    @staticmethod
    def _empty_table() -> dict:
        return {
            k: [] for k in ("index", "id", "z", "r", "cls", "w3_obs", "w3_ul", "w3_pred", "worst_chi", "snr")
        }

    # -- filters --------------------------------------------------------------------------------
    def filtered_rows(self) -> np.ndarray:
        """Catalog rows passing the current filters (catalog order)."""
        t = self.state.catalog.table
        n = self.state.catalog.n
        keep = np.ones(n, bool)
        z = np.asarray(t["z"], float)
        lo, hi = self.z_range.value
        tol = 0.5 * (self.z_range.step or 0.0)  # the browser snaps the ends to the step
        if lo > self.z_range.min + tol:
            keep &= z >= lo
        if hi < self.z_range.max - tol:
            keep &= z <= hi
        if self.cls.value != "all":
            keep &= np.asarray(t["class_label"]).astype(str) == self.cls.value
        sample = self.state.sample
        if self.min_snr.value > 0 and sample is not None:
            keep &= np.nan_to_num(sample.snr, nan=0.0) >= self.min_snr.value
        q = self.search.value.strip().lower()
        if q:
            keep &= np.char.find(np.char.lower(np.asarray(t["id"]).astype(str)), q) >= 0
        return np.flatnonzero(keep)

    def table_columns(self) -> dict:
        """Every table column for every catalog row (catalog order)."""
        t = self.state.catalog.table
        s = self.state.sample
        n = self.state.catalog.n
        nanv = np.full(n, np.nan)
        return {
            "index": np.arange(n),
            "id": np.asarray(t["id"]).astype(str),
            "z": np.asarray(t["z"], float),
            "r": np.asarray(t["mag_r_total"], float) if "mag_r_total" in t else nanv,
            "cls": np.asarray(t["class_label"]).astype(str) if "class_label" in t else np.full(n, ""),
            "w3_obs": np.asarray(t["w3_mag_vega"], float),
            "w3_ul": np.where(np.asarray(t["w3_is_ul"], bool), "<", ""),
            "w3_pred": s.pred_mag[:, 2] if s is not None and s.pred_mag is not None else nanv,
            "worst_chi": s.worst_abs_chi if s is not None and s.chi is not None else nanv,
            "snr": s.snr if s is not None else nanv,
        }

    @staticmethod
    def sort_rank(values, descending: bool = False) -> np.ndarray:
        """Position of each row in the sorted order (stable: ties keep catalog order; NaN and
        empty values last in either direction)."""
        values = np.asarray(values)
        if values.dtype.kind in "fiub":
            v = values.astype(float)
            missing = ~np.isfinite(v)
            key = np.where(missing, 0.0, -v if descending else v)
        else:
            v = values.astype(str)
            missing = v == ""
            _, inv = np.unique(v, return_inverse=True)
            key = -inv if descending else inv
        order = np.lexsort((np.arange(len(values)), key, missing))
        rank = np.empty(len(values), dtype=np.int64)
        rank[order] = np.arange(len(values))
        return rank

    def _apply_filters(self, *_):
        cols = self.table_columns()
        key = self.sort_by.value
        descending = self.sort_dir.value == "descending"
        self._rank = (
            self.sort_rank(cols[key], descending) if key else np.arange(self.state.catalog.n, dtype=np.int64)
        )
        r = self.filtered_rows()
        r = r[np.argsort(self._rank[r], kind="stable")]  # the table's order: what previous / next follow
        self.rows = r
        data = {k: v[r] for k, v in cols.items()}
        self._syncing = True
        try:
            with batched(self.view):
                self.src.selected.indices = []
                self.src.data = data
                self._highlight()
        finally:
            self._syncing = False
        n = self.state.catalog.n
        self.count.value = f"<span class='irox-count'>{len(r)} of {n} galaxies pass the filters</span>"

    # -- selection ------------------------------------------------------------------------------
    def _step(self, delta: int) -> None:
        """Previous (-1) / next (+1) galaxy in the table's order (filters and sort)."""
        rows = self.rows if len(self.rows) else np.argsort(self._rank, kind="stable")
        cur = self.state.index
        if self.state.galaxy is not None and self.state.galaxy.source != "catalog":
            self.state.select(cur)
            return
        ranks = self._rank[rows]  # increasing along the table
        pos = int(np.searchsorted(ranks, self._rank[cur]))
        if pos < len(rows) and rows[pos] == cur:
            pos = (pos + delta) % len(rows)
        else:  # the current galaxy is filtered out: its neighbour in the sort order
            pos = (pos if delta > 0 else pos - 1) % len(rows)
        self.state.select(int(rows[pos]))

    def _random(self) -> None:
        rows = self.rows if len(self.rows) else np.arange(self.state.catalog.n)
        self.state.select(int(rows[self._rng.integers(len(rows))]))

    def _on_id(self, change) -> None:
        text = change["new"].strip()
        if self.state.galaxy is not None and text == self.state.galaxy.id:
            return
        try:
            self.state.select(self.state.catalog.index_of(text))
            self.message.value = ""
        except Exception as exc:  # unknown id: say so, keep the current selection
            self.message.value = f"<span style='color:#D55E00'>{html.escape(str(exc))}</span>"

    def _on_table_select(self, attr, old, new) -> None:
        if self._syncing or not new:
            return
        pos = int(new[0])
        idx = self.src.data["index"]
        if 0 <= pos < len(idx):
            self.state.select(int(idx[pos]))

    def _highlight(self) -> None:
        g = self.state.galaxy
        want = []
        if g is not None and g.source == "catalog":
            hit = np.flatnonzero(np.asarray(self.src.data["index"]) == g.index)
            want = [int(hit[0])] if hit.size else []
        if list(self.src.selected.indices) != want:
            syncing, self._syncing = self._syncing, True
            try:
                with batched(self.view):
                    self.src.selected.indices = want
            finally:
                self._syncing = syncing

    def _refresh(self, *_):
        g = self.state.galaxy
        row = g.row
        if g.source == "catalog" and self.id_box.value != g.id:
            self.id_box.value = g.id
        cls = row.get("class_label", "") or "unknown class"
        src = "uploaded spectrum" if g.source == "upload" else f"split: {row.get('split', '')}"
        self.summary.value = (
            f"<div class='irox-summary'><b>{html.escape(g.id)}</b> &nbsp; z = {_f(row.get('z'), '{:.4f}')}"
            f" &nbsp; r = {_f(row.get('mag_r_total'))} mag (AB) &nbsp; {html.escape(str(cls))} &nbsp; {src}</div>"
        )
        self._highlight()


# --- optical spectrum ---------------------------------------------------------------------------
class SpectrumPanel:
    """Observed spectrum with 1-sigma band, masked pixels shaded, autoencoder reconstruction, the
    spectrum decoded from the current (slider) latents, line markers by group at (1+z) lambda_vac,
    observed/rest-frame toggle, hover readout."""

    GROUPS = ("absorption", "emission", "balmer")

    def __init__(self, state: ExplorerState):
        self.state = state
        self.src = ColumnDataSource(dict(wave=[], flux=[], lo=[], hi=[], recon=[]))
        # the slider curve has its own source: a slider move then re-maps only that glyph in the
        # browser, not the observed spectrum, its band and the reconstruction (halves the redraw)
        self.model_src = ColumnDataSource(dict(wave=[], decoded=[]))
        self.masked = ColumnDataSource(dict(wave=[], top=[], bottom=[]))
        self.lines = ColumnDataSource(dict(x=[], y0=[], y1=[], name=[], colour=[], group=[]))
        fig = figure(
            height=330,
            sizing_mode="stretch_width",
            tools="xpan,xwheel_zoom,box_zoom,reset,save",
            active_scroll="xwheel_zoom",
            x_axis_label="observed wavelength (vacuum) [Å]",
            y_axis_label="flux density [1e-17 erg s⁻¹ cm⁻² Å⁻¹]",
        )
        fig.vbar(
            x="wave", top="top", bottom="bottom", source=self.masked, color="#BBBBBB", alpha=0.5,
            width=float(np.median(np.diff(WAVE_OBS_VAC_AA))) * 1.5, legend_label="masked",
        )  # fmt: skip
        fig.varea(
            x="wave", y1="lo", y2="hi", source=self.src, color=OKABE_ITO[2], alpha=0.4, legend_label="±1σ"
        )
        r = fig.line(
            "wave", "flux", source=self.src, color=OKABE_ITO[0], line_width=1, legend_label="observed"
        )
        self.recon_renderer = fig.line(
            "wave", "recon", source=self.src, color=OKABE_ITO[6], line_width=1.3, alpha=0.85,
            legend_label="autoencoder reconstruction",
        )  # fmt: skip
        self.decoded_renderer = fig.line(
            "wave", "decoded", source=self.model_src, color=OKABE_ITO[5], line_width=1.5, line_dash="dashed",
            legend_label="decoded from sliders",
        )  # fmt: skip
        fig.segment(x0="x", x1="x", y0="y0", y1="y1", color="colour", source=self.lines, line_dash="dashed")
        fig.add_layout(
            LabelSet(
                x="x", y="y1", text="name", source=self.lines, angle=np.pi / 2, text_font_size="8pt",
                text_align="right", x_offset=-2, y_offset=-2,
            )
        )  # fmt: skip
        fig.add_tools(
            HoverTool(
                renderers=[r],
                mode="vline",
                tooltips=[
                    ("λ [Å]", "@wave{0.0}"),
                    ("observed", "@flux{0.00}"),
                    ("reconstruction", "@recon{0.00}"),
                ],
            ),
            HoverTool(
                renderers=[self.decoded_renderer], mode="vline", tooltips=[("decoded", "@decoded{0.00}")]
            ),
        )
        fig.legend.location = "top_right"
        fig.legend.click_policy = "hide"
        fig.legend.label_text_font_size = "8pt"
        self.figure = fig
        self.frame = widgets.ToggleButtons(
            options=["observed", "rest"], value="observed", description="Frame"
        )
        self.frame.observe(lambda c: setattr(state, "rest_frame", c["new"] == "rest"), names="value")
        self.group_boxes = {
            g: widgets.Checkbox(
                value=True, description=f"{g} lines", indent=False, layout=widgets.Layout(width="140px")
            )
            for g in self.GROUPS
        }
        for cb in self.group_boxes.values():
            cb.observe(self._refresh_lines, names="value")
        self.note = widgets.HTML()
        self.view = None
        self._shown = None  # (galaxy, rest frame) on show
        state.observe(self._refresh, names=["galaxy", "rest_frame"])
        state.observe(self._refresh_model, names=["prediction", "reconstruction"])
        self._refresh()
        self.view = bokeh_widget(fig)
        self.widget = widgets.VBox(
            [widgets.HBox([self.frame, *self.group_boxes.values()]), self.note, self.view]
        )

    def data(self) -> dict:
        """Arrays the panel plots for the current state (also used by tests)."""
        return galaxy_spectrum_arrays(self.state.spectrum, self.state.rest_frame)

    def _model_flux(self, normalized) -> np.ndarray:
        if normalized is None:
            return np.full(len(WAVE_OBS_VAC_AA), np.nan, np.float32)
        good_range = np.asarray(normalized) != 0  # the decoder is 0 outside its rest-frame range
        return np.where(good_range, np.asarray(normalized) * self.state.spectrum.norm, np.nan).astype(
            np.float32
        )

    def _refresh(self, *_):
        with batched(self.view):
            self._refresh_all()
        self._shown = self.state.galaxy

    def _refresh_all(self):
        d = self.data()
        self._top_bottom = self._y_span(d["flux"])
        top, bottom = self._top_bottom
        p = self.state.prediction
        self.src.data = dict(
            wave=d["wave"],
            flux=d["flux"].astype(np.float32),
            lo=d["lo"].astype(np.float32),
            hi=d["hi"].astype(np.float32),
            recon=self._model_flux(self.state.reconstruction),
        )
        self.model_src.data = dict(
            wave=d["wave"], decoded=self._model_flux(p.decoded_flux if p is not None else None)
        )
        self.masked.data = dict(
            wave=d["wave"][~d["good"]],
            top=np.full((~d["good"]).sum(), top),
            bottom=np.full((~d["good"]).sum(), bottom),
        )
        self._draw_lines()
        self.figure.xaxis.axis_label = (
            "rest-frame" if self.state.rest_frame else "observed"
        ) + " wavelength (vacuum) [Å]"
        self._note()

    @staticmethod
    def _y_span(flux) -> tuple[float, float]:
        fin = np.isfinite(flux)
        top = float(np.nanpercentile(flux[fin], 99.5)) * 1.15 if fin.any() else 1.0
        bottom = min(0.0, float(np.nanpercentile(flux[fin], 0.5))) if fin.any() else 0.0
        return top, bottom

    def _refresh_model(self, change=None):
        if not len(self.src.data["wave"]) or self._shown is not self.state.galaxy:
            return  # a new galaxy: its full refresh (galaxy observer) draws the model curves too
        name = change["name"] if change is not None else None
        with batched(self.view):
            if name in (None, "reconstruction"):
                self.src.data["recon"] = self._model_flux(self.state.reconstruction)
            if name in (None, "prediction"):
                p = self.state.prediction
                self.model_src.data["decoded"] = self._model_flux(p.decoded_flux if p is not None else None)
        self._note()

    def _note(self):
        if self.state.models is None or getattr(self.state.models, "encoder", None) is None:
            self.note.value = "<i>No autoencoder loaded: observed spectrum only.</i>"
        elif self.state.latents_moved:
            self.note.value = (
                "<i>Latent sliders moved: the dashed curve is the decoder's spectrum for them.</i>"
            )
        else:
            self.note.value = ""

    def _refresh_lines(self, *_):
        with batched(self.view):
            self._draw_lines()

    def _draw_lines(self):
        top, bottom = self._top_bottom
        z_shift = 1.0 if self.state.rest_frame else 1.0 + self.state.spectrum.z
        wave = self.src.data["wave"]
        lo, hi = wave[0], wave[-1]
        on = {g for g, cb in self.group_boxes.items() if cb.value}
        xs, names, colours, groups = [], [], [], []
        for line in LINES:
            x = line.center_aa * z_shift
            if lo < x < hi and line.group in on:
                xs.append(x)
                names.append(line.name)
                colours.append(LINE_GROUP_COLOURS[line.group])
                groups.append(line.group)
        self.lines.data = dict(
            x=xs, y0=[bottom] * len(xs), y1=[top] * len(xs), name=names, colour=colours, group=groups
        )


# --- IR SED -------------------------------------------------------------------------------------
class SedPanel:
    """Observed WISE flux densities (mJy, log wavelength) with errors and upper limits, against the
    predicted posterior (median, 68/95% bands, posterior draws); per-band chi table; true noiseless
    fluxes for simulated galaxies; the property heads with their uncertainties."""

    def __init__(self, state: ExplorerState, n_draws: int = 30):
        self.state = state
        self.n_draws = n_draws
        self.det = ColumnDataSource(dict(wave=[], flux=[], lo=[], hi=[], band=[]))
        self.ul = ColumnDataSource(dict(wave=[], flux=[], band=[]))
        self.truth = ColumnDataSource(dict(wave=[], flux=[]))
        self.band = ColumnDataSource(dict(wave=[], q025=[], q16=[], q50=[], q84=[], q975=[]))
        self.draws = ColumnDataSource(dict(xs=[], ys=[]))
        fig = figure(
            height=420,
            width=470,
            x_axis_type="log",
            y_axis_type="log",
            x_axis_label="wavelength [µm]",
            x_range=(2.5, 30.0),  # W1 3.4 ... W4 22 µm: fixed so an upper limit in W4 is never cut off
            y_axis_label="flux density [mJy]",
            tools="pan,wheel_zoom,box_zoom,reset,save",
        )
        for lo, hi, alpha, label in (("q025", "q975", 0.25, "95%"), ("q16", "q84", 0.45, "68%")):
            fig.varea(
                x="wave", y1=lo, y2=hi, source=self.band, color=OKABE_ITO[2], alpha=alpha,
                legend_label=f"{label} predicted",
            )  # fmt: skip
        fig.multi_line(
            xs="xs",
            ys="ys",
            source=self.draws,
            color=OKABE_ITO[5],
            alpha=0.25,
            line_width=0.8,
            legend_label="posterior draws",
        )
        fig.line(
            "wave",
            "q50",
            source=self.band,
            color=OKABE_ITO[5],
            line_width=2.5,
            legend_label="predicted median",
        )
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
        legend = fig.legend[0]
        fig.add_layout(legend, "below")
        legend.orientation = "horizontal"
        legend.ncols = 3
        legend.click_policy = "hide"
        legend.label_text_font_size = "8pt"
        legend.spacing = 2
        legend.padding = 4
        self.figure = fig
        self.show_truth = widgets.Checkbox(
            value=False, description="true noiseless fluxes (simulation)", indent=False
        )
        self.show_truth.observe(self._refresh, names="value")
        self.chi_table = widgets.HTML()
        self.props_table = widgets.HTML()
        self.export = ExportBar(self.export_figure, "SED")
        self.view = None
        self._shown_key = None
        self._obs_key = None
        state.observe(self._refresh, names=["galaxy", "prediction"])
        self._refresh()
        self.view = bokeh_widget(fig)
        self.widget = widgets.HBox(
            [
                widgets.VBox([self.view, self.show_truth]),
                widgets.VBox(
                    [self.chi_table, self.props_table, self.export.widget],
                    layout=widgets.Layout(margin="0 0 0 8px", width="370px"),
                ),
            ]
        )

    def export_figure(self):
        """The SED as a talk figure (:func:`explorer.app.figures.plot_sed`) and a file stem."""
        from .figures import plot_sed

        d = self.data()
        stem = f"{d['id']}_SED" + ("_sliders" if self.state.latents_moved else "")
        return plot_sed(d, show_truth=self.show_truth.value), stem

    def data(self) -> dict:
        """:func:`explorer.app.compute.sed_data` for the current state (also used by tests)."""
        return sed_data(self.state.row, self.state.prediction, n_draws=self.n_draws)

    def _refresh(self, *_):
        # a galaxy switch notifies both "prediction" and "galaxy": draw once per (galaxy, prediction)
        g, p, truth = self.state.galaxy, self.state.prediction, self.show_truth.value
        k = self._shown_key
        if k is not None and k[0] is g and k[1] is p and k[2] == truth:
            return
        if k is not None and k[0] is not g:
            self.export.link.value = ""  # the last export was of another galaxy
        self._shown_key = (g, p, truth)
        with batched(self.view):
            d = self._draw()
        # the tables after the plot's patch has been sent: when they change, the plot data is there
        self.chi_table.value = chi_table_html(d, moved=self.state.latents_moved)
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
        ok = np.isfinite(d["truth_mjy"]) & self.show_truth.value
        self.truth.data = dict(wave=WISE_WAVE_UM[ok], flux=d["truth_mjy"][ok])

    def _draw(self) -> dict:
        d = self.data()
        self.last = d
        # the observed points only when the galaxy (or the truth toggle) changed: a slider moves
        # the model, and the browser then re-maps only the model's glyphs
        g, truth, k = self.state.galaxy, self.show_truth.value, self._obs_key
        if k is None or k[0] is not g or k[1] != truth:
            self._draw_observed(d)
            self._obs_key = (g, truth)
        if d["has_prediction"]:
            q = d["q_mjy"]
            self.band.data = dict(wave=WISE_WAVE_UM, q025=q[0], q16=q[1], q50=q[2], q84=q[3], q975=q[4])
            self.draws.data = dict(xs=[WISE_WAVE_UM] * len(d["draws_mjy"]), ys=list(d["draws_mjy"]))
        else:
            self.band.data = dict(wave=[], q025=[], q16=[], q50=[], q84=[], q975=[])
            self.draws.data = dict(xs=[], ys=[])
        return d


def chi_table_html(d: dict, moved: bool = False) -> str:
    """Per-band table: observed and predicted magnitudes, chi (HTML)."""
    head = (
        "<table class='irox-chi' style='border-collapse:collapse;font-size:12px'>"
        "<tr><th style='text-align:left'>band</th><th>observed [Vega mag]</th>"
        "<th>predicted</th><th>χ</th></tr>"
    )
    rows = []
    for k, b in enumerate(WISE_BANDS):
        m, s, ul = d["mag_vega"][k], d["sigma_mag"][k], bool(d["is_ul"][k])
        obs = "–" if not np.isfinite(m) else (f"&gt; {m:.2f} (UL)" if ul else f"{m:.3f} ± {_f(s, '{:.3f}')}")
        if d["has_prediction"]:
            pred = f"{d['pred_mag'][k]:.3f} ± {d['pred_sigma_mag'][k]:.3f}"
            chi = d["chi"][k]
            chi_s = _f(chi, "{:+.2f}")
            style = " style='color:#D55E00;font-weight:bold'" if np.isfinite(chi) and abs(chi) > 3 else ""
        else:
            pred, chi_s, style = "–", "–", ""
        rows.append(
            f"<tr><td>{b}</td><td style='padding:0 8px'>{obs}</td><td class='irox-pred' style='padding:0 8px'>{pred}</td>"
            f"<td{style}>{chi_s}</td></tr>"
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


__all__ = ["PickerPanel", "SpectrumPanel", "SedPanel", "SED_QUANTILES", "chi_table_html", "properties_html"]
