"""Galaxy picker panel: searchable, sortable table with filters, ID box, previous / next / random.

Reads the state's :class:`~explorer.app.state.View` (the galaxy on show, the sample summary for
the predicted columns) and selects galaxies with :meth:`ExplorerState.select`; it never reaches
into another panel.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
from bokeh.models import ColumnDataSource, DataTable, NumberFormatter, StringFormatter, TableColumn

from .bokeh_view import batched, bokeh_widget
from .state import ExplorerState
from .style import fmt_value


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
        self.bokeh_view = None
        self.rows = np.arange(state.catalog.n)
        self._fitting = False
        self._build_controls()
        self.table = self._build_table()
        self._all_columns = list(self.table.columns)
        self._fit_to_catalog()
        # wiring
        self.prev.on_click(lambda _: self._step(-1))
        self.next.on_click(lambda _: self._step(+1))
        self.random.on_click(lambda _: self._random())
        self.id_box.observe(self._on_id, names="value")
        for w in (self.z_range, self.cls, self.min_snr, self.search, self.sort_by, self.sort_dir):
            w.observe(self._apply_filters, names="value")
        state.observe(self._on_view, names="view")
        self._apply_filters()
        self._refresh()
        self.bokeh_view = bokeh_widget(self.table)
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.id_box, self.prev, self.next, self.random]),
                self.message,
                self.summary,
                widgets.HBox([self.z_range, self.cls, self.min_snr]),
                widgets.HBox([self.search, self.count]),
                widgets.HBox([self.sort_by, self.sort_dir]),
                self.bokeh_view,
            ]
        )

    def _build_controls(self) -> None:
        """ID box, buttons, filters and the sort choice."""
        t = self.state.catalog.table
        ids = t["id"]
        self.id_box = widgets.Combobox(
            value=str(ids[self.state.index]),
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

    def _build_table(self) -> DataTable:
        """The Bokeh table of the rows passing the filters, in the sort order."""
        self.src = ColumnDataSource(self._empty_table())
        fmt3 = NumberFormatter(format="0.000")
        fmt2 = NumberFormatter(format="0.00")
        table = DataTable(
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
        return table

    def _on_view(self, change) -> None:
        changed = change["new"].changed(change["old"])
        if "catalog" in changed:  # another catalog: its ids, z range, classes; the table anew
            self._fit_to_catalog()
            self._apply_filters()
        elif "sample" in changed:  # other models: the predicted columns and the S/N filter
            self._apply_filters()
        if "galaxy" in changed:
            self._refresh()

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

    def _fit_to_catalog(self) -> None:
        """Controls and table columns for the open catalog: its ids and z range; the class filter
        and column only when it has classes (a simulation's truth), S/N only with spectra."""
        t = self.state.catalog.table
        self._fitting = True
        try:
            ids = list(map(str, t["id"][:500]))
            self.id_box.options = ids
            self.id_box.value = str(t["id"][self.state.index])
            z = np.asarray(t["z"], float)
            z_lo = float(np.floor(np.nanmin(z) * 100) / 100) if np.isfinite(z).any() else 0.0
            z_hi = float(np.ceil(np.nanmax(z) * 100) / 100) if np.isfinite(z).any() else 1.0
            z_hi = max(z_hi, z_lo + 0.01)
            self.z_range.min, self.z_range.max = min(z_lo, self.z_range.min), max(z_hi, self.z_range.max)
            self.z_range.value = (z_lo, z_hi)
            self.z_range.min, self.z_range.max = z_lo, z_hi
            classes = sorted({str(c) for c in np.asarray(t.get("class_label", []))} - {""})
            self.cls.value = "all"
            self.cls.options = ["all"] + classes
            self.cls.layout.display = None if classes else "none"
            self.min_snr.value = 0.0
            self.min_snr.layout.display = None if self.state.catalog.has_spectra else "none"
        finally:
            self._fitting = False
        hide = set() if classes else {"cls"}
        if not self.state.catalog.has_spectra:
            hide.add("snr")
        self.table.columns = [c for c in self._all_columns if c.field not in hide]

    def _apply_filters(self, *_):
        if self._fitting:
            return
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
            with batched(self.bokeh_view):
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
        if self.state.galaxy.source != "catalog":
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
        if text == self.state.galaxy.id:
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
        if g.source == "catalog":
            hit = np.flatnonzero(np.asarray(self.src.data["index"]) == g.index)
            want = [int(hit[0])] if hit.size else []
        if list(self.src.selected.indices) != want:
            syncing, self._syncing = self._syncing, True
            try:
                with batched(self.bokeh_view):
                    self.src.selected.indices = want
            finally:
                self._syncing = syncing

    def _refresh(self) -> None:
        g = self.state.galaxy
        row = g.row
        if g.source == "catalog" and self.id_box.value != g.id:
            self.id_box.value = g.id
        cls = row.get("class_label", "") or ""  # a simulation's class; real catalogs have none
        src = "uploaded spectrum" if g.source == "upload" else f"split: {row.get('split', '')}"
        self.summary.value = (
            f"<div class='irox-summary'><b>{html.escape(g.id)}</b> &nbsp; z = {fmt_value(row.get('z'), '{:.4f}')}"
            f" &nbsp; r = {fmt_value(row.get('mag_r_total'))} mag (AB) &nbsp; {html.escape(str(cls))} &nbsp; {src}</div>"
        )
        self._highlight()
