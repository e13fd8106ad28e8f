"""Bokeh figures as ipywidgets that send a panel refresh as one message.

Figures are Bokeh models wrapped with ``jupyter_bokeh.BokehModel`` so they render offline in
Voila (BokehJS is loaded inline once by :func:`explorer.app.build.load_bokeh_inline`); panels
update them by replacing ``ColumnDataSource.data`` (or single columns of it) inside
:func:`batched`, so that the browser applies the changes of one refresh together and redraws once.
"""

from __future__ import annotations

import contextlib
from pathlib import Path


def _batched_bokeh_model_class():
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
            msg = inline_patch_message(events)
            for part in (msg.header_json, msg.metadata_json, msg.content_json):
                self.send({"msg": "patch", "payload": part})

    return BatchedBokehModel


_BATCHED = None


def inline_patch_message(events):
    """A ``PATCH-DOC`` message of ``events`` with every array inline (base64 in the content), no
    separate buffers: three comm messages (header, metadata, content) whatever the number of
    arrays, where Bokeh's own ``Protocol().create`` makes two more messages per array (a slider
    move of the dashboard sent 183 of them, each parsed and dispatched by the page on its own)."""
    from bokeh.core.serialization import Serializer
    from bokeh.protocol.messages.patch_doc import PatchJson, patch_doc

    doc = events[0].document
    serializer = Serializer(references=doc.models.synced_references, deferred=False)
    content = PatchJson(events=serializer.encode(events))
    doc.models.flush_synced(lambda model: not serializer.has_ref(model))
    return patch_doc(patch_doc.create_header(), {}, content)


#: BokehJS fixes run in the page once BokehJS has loaded (what and why: the file's header)
BOKEH_FIXES_JS = Path(__file__).with_name("bokeh_fixes.js")


def install_bokeh_fixes() -> None:
    """Run :data:`BOKEH_FIXES_JS` in the page (after ``output_notebook`` has loaded BokehJS): the
    kernel's own Bokeh changes are not sent back to it, and a redraw does not rebuild the legends."""
    from IPython.display import Javascript, display

    display(Javascript(BOKEH_FIXES_JS.read_text()))


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


def data_on_overlay(fig, keep=()) -> None:
    """Draw the figure's glyphs (all but ``keep``) on Bokeh's overlay canvas, over the axes, grid
    and annotations on the primary one. BokehJS repaints a canvas only when one of its renderers
    changed, so a slider move then repaints the curves and points and not the axes' tick labels,
    the grid and the feature labels under them."""
    from bokeh.models import GlyphRenderer

    for r in fig.renderers:
        if isinstance(r, GlyphRenderer) and r not in keep:
            r.level = "overlay"


def legend_below(fig, ncols: int) -> None:
    """Move the figure's legend below the plot (inside, it would hide data points), horizontal in
    ``ncols`` columns, click to hide a layer, small type: the panels' common legend."""
    legend = fig.legend[0]
    fig.add_layout(legend, "below")
    legend.orientation = "horizontal"
    legend.ncols = ncols
    legend.click_policy = "hide"
    legend.label_text_font_size = "8pt"
    legend.spacing = 2
    legend.padding = 4


def legend_show(fig, renderers, show: bool) -> None:
    """Show or hide the legend entries of ``renderers`` (no entry for something not drawn)."""
    for item in fig.legend[0].items if fig.legend else ():
        if any(r in item.renderers for r in renderers) and item.visible != bool(show):
            item.visible = bool(show)


def add_posterior(fig, band, draws, draws_alpha: float) -> None:
    """The predicted posterior on ``fig``: 95% and 68% bands (``band`` columns wave, q025 ... q975),
    the draws (``draws`` columns xs, ys) and the median, in the panels' common colours."""
    from .style import OKABE_ITO

    for lo, hi, alpha, label in (("q025", "q975", 0.25, "95%"), ("q16", "q84", 0.45, "68%")):
        fig.varea(x="wave", y1=lo, y2=hi, source=band, color=OKABE_ITO[2], alpha=alpha,
                  legend_label=f"{label} predicted")  # fmt: skip
    fig.multi_line(xs="xs", ys="ys", source=draws, color=OKABE_ITO[5], alpha=draws_alpha, line_width=0.8,
                   legend_label="posterior draws")  # fmt: skip
    fig.line("wave", "q50", source=band, color=OKABE_ITO[5], line_width=2.5, legend_label="predicted median")


def hold_range(rng, values, *, log: bool = False, pad: float = 0.06, refit: bool = False) -> None:
    """Hold the Bokeh ``Range1d`` ``rng`` around the finite ``values`` (positive ones on a log axis;
    an array, or a list of columns of any lengths).

    With ``refit`` (a new galaxy, mode or unit) the range is fitted to the values plus ``pad`` of
    their span on each side (in log10 on a log axis) and becomes the reset tool's range; otherwise
    it only widens when a value falls outside. A slider move then leaves the axis where it is: the
    user sees the prediction move against fixed ticks, and the browser does not re-measure the
    tick labels and re-lay-out the figure, which an auto-ranging axis makes it do on every move.
    """
    import numpy as np

    parts = values if isinstance(values, list | tuple) else [values]  # columns of different lengths
    v = np.concatenate([np.ravel(np.asarray(c, dtype=float)) for c in parts]) if parts else np.array([])
    v = v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)]
    if not v.size:
        return
    lo, hi = (np.log10(v.min()), np.log10(v.max())) if log else (v.min(), v.max())
    span = max(hi - lo, 0.1 if log else 1e-3 * max(abs(hi), abs(lo), 1e-30))
    lo, hi = lo - pad * span, hi + pad * span
    lo, hi = (10.0**lo, 10.0**hi) if log else (lo, hi)
    start, end = rng.start, rng.end
    if not refit and start is not None and end is not None and start < end:
        if start <= lo and hi <= end:
            return
        lo, hi = min(lo, start), max(hi, end)
    rng.start, rng.end = float(lo), float(hi)
    rng.reset_start, rng.reset_end = float(lo), float(hi)


def hold_posterior_y(fig, band, drawn, refit: bool) -> None:
    """The panels' log y axis: fitted to the posterior's 95% band (``band`` columns q025, q975) and
    the ``drawn`` (source, column) pairs, everything else on the plot, when ``refit``; else widened
    to the band."""
    cols = [band.data["q025"], band.data["q975"]] + ([src.data[c] for src, c in drawn] if refit else [])
    hold_range(fig.y_range, cols, log=True, refit=refit)
