"""Latent sliders panel: one slider per latent, set to the selected galaxy's latents.

A slider move calls :meth:`ExplorerState.set_latent`; the state computes the new prediction and
publishes one new :class:`~explorer.app.state.View`, which the spectrum, SED and scatter panels
redraw from. The slider being dragged is never written back to from that view (no echo).
"""

from __future__ import annotations

import collections

import ipywidgets as widgets
import numpy as np

from .state import ExplorerState


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
        self._dragging: int | None = None  # the slider whose move is being handled
        self._pending: dict[int, tuple[float, float]] = {}
        self.sliders: list[widgets.FloatSlider] = []
        self.box = widgets.VBox()
        self.reset = widgets.Button(
            description="reset to galaxy", icon="undo", layout=widgets.Layout(width="150px")
        )
        self.reset.on_click(lambda _: self.state.reset_latents())
        self.status = widgets.HTML()
        state.observe(self._on_view, names="view")
        self._rebuild()
        self.widget = widgets.VBox([self.box, widgets.HBox([self.reset]), self.status])

    def _on_view(self, change) -> None:
        changed = change["new"].changed(change["old"])
        if changed & {"sample", "models"}:
            self._rebuild()
        elif "galaxy_latents" in changed:
            self._on_galaxy()
        elif "latents" in changed:
            self._on_latents()

    def _n_latent(self) -> int:
        m, lat = self.state.models, self.state.galaxy_latents
        if m is None:
            return 0
        if lat is not None:  # also a latent catalog's own latents under an encoder-less model
            return int(np.asarray(lat).size)
        return int(m.encoder.n_latent) if m.encoder is not None else 0

    def _rebuild(self) -> None:
        """New sliders (one per latent of the models, ranges from the sample), set to the view."""
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
            self._dragging = k
            try:
                self.state.set_latent(k, new)
            finally:
                self._dragging = None

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

    def _on_galaxy(self) -> None:
        """Sliders to a new galaxy's latents (ranges widened first, see below), then its values."""
        gl = self.state.galaxy_latents
        if gl is None or len(gl) != len(self.sliders):
            self._on_latents()
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
        self._on_latents()

    def _on_latents(self) -> None:
        """Slider values (and the status line) from the view's latents."""
        lat = self.state.latents
        if lat is None or len(lat) != len(self.sliders):
            self.status.value = (
                "<i>No encoder loaded: latent sliders are off.</i>" if not self.sliders else ""
            )
            for s in self.sliders:
                s.disabled = True
            return
        pending, self._pending = self._pending, {}
        self._syncing = True
        try:
            for k, s in enumerate(self.sliders):
                s.disabled = False
                v = float(lat[k])
                if v > s.max:  # a value set from code outside the range: widen
                    s.max = v
                if v < s.min:
                    s.min = v
                if s.value != v and k != self._dragging:  # never echo into the slider being dragged
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
