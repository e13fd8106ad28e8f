"""Attribution panel: integrated gradients of one model output over the spectrum, in the background.

One galaxy's attribution is :func:`explorer.attribution.explain.explain_galaxy`, the function of
``python -m explorer attribute --spectrum`` (the panel adds its cache, a progress counter and the
catalog's reference spectra). Its differentiable wrapper from flux to model outputs comes from
``explorer.ml.target``; if that cannot be imported (or no models are loaded) the panel says
"attribution unavailable: <reason>" and the rest of the app works as before. Output names and
labels come from :data:`explorer.constants.TARGETS`.

The attribution runs in a worker thread; the thread only sets ipywidget values (progress bar,
status text, the figure as a PNG ``Image``, the ranked lines): it never touches a Bokeh model.
The figure is the explanation's (:func:`explorer.attribution.plot_attribution`), and the export buttons save that
same figure object.
"""

from __future__ import annotations

import html
import importlib
import threading
import time

import ipywidgets as widgets
import torch
from torch import nn

from ..constants import TARGETS, target_spec
from .compute import model_key
from .export import ExportBar, figure_png, safe_name
from .state import ExplorerState


def target_module_problem() -> str | None:
    """Why the model wrapper ``explorer.ml.target`` (which :func:`explain_galaxy` builds the target
    function with) cannot be imported, or None when it can."""
    try:
        importlib.import_module("..ml.target", __package__)
    except Exception as exc:  # the module may be missing, or fail on import
        return f"explorer.ml.target cannot be imported ({type(exc).__name__}: {exc})"
    return None


def menu_label(target: str) -> str:
    """The selector's text of an output (``"W3 magnitude"``, ``"q_PAH"``; unknown: its name)."""
    return target_spec(target).menu


class CountingTarget(nn.Module):
    """Wrap a target function and report how many spectra went through it (progress)."""

    def __init__(self, inner, on_rows):
        super().__init__()
        self.inner = inner
        self.on_rows = on_rows
        self.targets = list(inner.targets)
        self.model_id = getattr(inner, "model_id", None)
        if hasattr(inner, "reference_baselines"):
            self.reference_baselines = inner.reference_baselines

    def forward(self, flux: torch.Tensor) -> torch.Tensor:
        out = self.inner(flux)
        self.on_rows(int(flux.shape[0]))
        return out


class AttributionPanel:
    """Target selector, run button with progress, the attribution figure, ranked top lines, export."""

    def __init__(self, state: ExplorerState, top_n: int = 6):
        self.state = state
        self.top_n = top_n
        self._cache = None  # AttributionCache, made on first use (keeps captum out of the start-up)
        self.target = widgets.Dropdown(
            options=[(t.menu, t.name) for t in TARGETS], value="W3", description="target",
            layout=widgets.Layout(width="240px"),
        )  # fmt: skip
        self.run = widgets.Button(description="explain", icon="search", button_style="primary")
        self.run.on_click(lambda _: self.start())
        self.progress = widgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, layout=widgets.Layout(width="260px")
        )
        self.status = widgets.HTML()
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="900px", display="none"))
        self.top_lines = widgets.HTML()
        self.export = ExportBar(self.export_figure, "attribution")
        self.fig = None
        self._fig_key = None  # (galaxy id, target, model key) of the figure on show
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None
        state.observe(self._on_view, names="view")
        self._on_change()
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.target, self.run, self.progress]),
                self.status,
                widgets.HBox([self.image, self.top_lines]),
                self.export.widget,
            ]
        )

    # -- availability ---------------------------------------------------------------------------
    def unavailable_reason(self) -> str | None:
        if self.state.spectrum is None:
            return "attribution needs spectra, and this catalog holds latents only"
        if self.state.models is None:
            return "no models loaded"
        if self.state.models.encoder is None:
            return "attribution needs the model's encoder (encoder.pt)"
        return target_module_problem()

    @property
    def cache(self):
        if self._cache is None:
            from ..attribution import AttributionCache

            self._cache = AttributionCache(maxsize=64)
        return self._cache

    def _on_view(self, change) -> None:
        if change["new"].changed(change["old"]) & {"galaxy", "models"}:
            self._on_change(stale=True)

    def _on_change(self, stale: bool = False) -> None:
        if stale and not self.running:
            self._clear_stale()
        reason = self.unavailable_reason()
        self.run.disabled = reason is not None or self.running
        if reason is not None:
            self.status.value = (
                f"<span class='irox-attr-status'>attribution unavailable: {html.escape(reason)}</span>"
            )
        elif not self.running:
            shown = self._fig_key is not None and self._fig_key[0] == self.state.galaxy.id
            self.status.value = (
                "<span class='irox-attr-status'>"
                + (
                    ""
                    if shown
                    else "Pick a target and press <b>explain</b> to attribute it to the spectrum's pixels."
                )
                + "</span>"
            )

    def _clear_stale(self) -> None:
        """Hide a figure of another galaxy (or other models): export only what is on show."""
        g = self.state.galaxy
        with self._lock:
            stale = self._fig_key is not None and (
                g is None or self._fig_key[0] != g.id or self._fig_key[2] != model_key(self.state.models)
            )
            if stale:
                self.fig, self._fig_key = None, None
        if stale:
            self.image.layout.display = "none"
            self.top_lines.value = ""
            self.export.link.value = ""
            self.progress.value = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- running --------------------------------------------------------------------------------
    def start(self, wait: bool = False) -> threading.Thread | None:
        """Run the attribution of the selected target in a background thread."""
        reason = self.unavailable_reason()
        if reason is not None:
            self.status.value = (
                f"<span class='irox-attr-status'>attribution unavailable: {html.escape(reason)}</span>"
            )
            return None
        if self.running:
            return self._thread
        g, target, bundle = self.state.galaxy, self.target.value, self.state.models
        frame = "rest" if self.state.rest_frame else "observed"
        self.run.disabled = True
        self.progress.value = 0.0
        self.progress.bar_style = "info"
        self.status.value = (
            f"<span class='irox-attr-status'>attributing {html.escape(menu_label(target))} "
            f"of {html.escape(g.id)}… (the rest of the app stays usable)</span>"
        )
        ood = self._out_of_domain()
        self._thread = threading.Thread(target=self._work, args=(g, target, bundle, frame, ood), daemon=True)
        self._thread.start()
        if wait:
            self._thread.join()
        return self._thread

    def _work(self, g, target, bundle, frame, ood=None):
        """Attribute ``target`` of galaxy ``g`` with :func:`explain_galaxy` (as the command line
        does), reporting progress through a :class:`CountingTarget`; then show the result."""
        from ..attribution.engine import DEFAULT_MAX_STEPS, DEFAULT_N_BASELINES, DEFAULT_N_STEPS
        from ..attribution.explain import explain_galaxy

        t0 = time.perf_counter()
        try:
            # the engine's defaults (those of `python -m explorer attribute`), given explicitly: they
            # keep the panel's cache keys, and the progress estimate needs them
            settings = {
                "n_steps": DEFAULT_N_STEPS, "max_steps": DEFAULT_MAX_STEPS, "n_baselines": DEFAULT_N_BASELINES,
            }  # fmt: skip
            ex = explain_galaxy(
                bundle, g.spectrum, target, row=g.row, references=self._references(bundle),
                wrap=lambda tf: CountingTarget(tf, self._progress_counter(t0, settings)),
                cache=self.cache,
                model_id=lambda tf: f"{model_key(bundle)}:{getattr(tf, 'model_id', '') or 'target'}",
                frame=frame, top_n=self.top_n, out_of_domain=ood, **settings,
            )  # fmt: skip
            self._show_result(g, target, bundle, ex, time.perf_counter() - t0)
        except Exception as exc:  # show any failure in the page; the app keeps working
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.progress.bar_style = "danger"
            self.status.value = (
                f"<span class='irox-attr-status' style='color:#D55E00'>attribution failed: "
                f"{html.escape(self.last_error)}</span>"
            )
        finally:
            self.run.disabled = False

    def _progress_counter(self, t0: float, settings: dict):
        """``on_rows(n)`` for :class:`CountingTarget`: advances the progress bar and status text."""
        n_base, n_steps = settings["n_baselines"], settings["n_steps"]
        expected = [n_base + 1 + n_base * n_steps]
        done = [0]
        last = [0.0]

        def on_rows(n):
            if done[0] == 0:  # the engine's first pass is the galaxy + its K baselines
                expected[0] = n + (n - 1) * n_steps
            done[0] += n
            if done[0] > expected[0]:  # the completeness loop doubled the steps
                expected[0] = done[0] * 2
            now = time.perf_counter()
            if now - last[0] > 0.1:
                last[0] = now
                self.progress.value = min(0.98, done[0] / expected[0])
                self.status.value = (
                    f"<span class='irox-attr-status'>integrating gradients: {done[0]} spectra evaluated, "
                    f"{now - t0:.1f} s</span>"
                )

        return on_rows

    def _show_result(self, g, target, bundle, ex, elapsed: float) -> None:
        """Put an :class:`~explorer.attribution.explain.Explanation` in the page."""
        res, shares, fig = ex.result, ex.shares, ex.figure
        png = figure_png(fig)
        with self._lock:
            self.fig, self._fig_key, self.result, self.shares = (
                fig,
                (g.id, target, model_key(bundle)),
                res,
                shares,
            )
        self.image.value = png
        self.image.layout.display = None
        self.top_lines.value = top_lines_html(shares, self.top_n, target)
        self.progress.value = 1.0
        self.progress.bar_style = "success"
        conv = "converged" if res.converged else "NOT converged"
        self.status.value = (
            f"<span class='irox-attr-status irox-attr-done'>done in {elapsed:.1f} s: {html.escape(g.id)}, "
            f"{html.escape(menu_label(target))}; {res.n_steps} steps, completeness gap "
            f"{100 * res.completeness_gap:.1f}% ({conv})</span>"
        )
        self.last_error = None

    def _out_of_domain(self) -> str | None:
        """Why the galaxy on show (its own spectrum's latents, not the sliders') is outside the
        models' training domain, for the figure's caption; None when inside or unknown."""
        from .catalogs import domain_note

        v = self.state.view
        note = v.domain if not self.state.latents_moved else None
        if note is None and v.domain_ref is not None and v.galaxy_latents is not None:
            note = domain_note(v.domain_ref, v.domain_status, v.galaxy.row, v.galaxy_latents)
        return note.text if note is not None and note.ood else None

    def _references(self, bundle):
        """Decoded typical galaxies of the catalog as baselines (one set per model), or None."""
        key = (model_key(bundle), str(self.state.catalog.path))
        if getattr(self, "_refs_key", None) != key:
            try:
                from ..attribution.explain import reference_spectra

                self._refs = reference_spectra(bundle, self.state.catalog)
            except Exception:  # older wrapper without references: the engine's default baseline
                self._refs = None
            self._refs_key = key
        return self._refs

    # -- export ---------------------------------------------------------------------------------
    def export_figure(self):
        with self._lock:
            if self.fig is None:
                return None
            gid, target, _ = self._fig_key
            return self.fig, f"{safe_name(gid)}_{safe_name(target)}_attribution"


def top_lines_html(shares, top_n: int, target: str) -> str:
    """Ranked lines (share of |attribution|, net sign) as an HTML table."""
    rows = shares.ranking("share", include_continuum=False)[:top_n]
    cont = float(shares.share[-1])
    out = [
        f"<div class='irox-top-lines'><b>Top lines for {html.escape(menu_label(target))}</b>",
        "<table style='border-collapse:collapse;font-size:12px'><tr><th>#</th><th style='text-align:left'>line</th>"
        "<th>share of |attr|</th><th>net</th></tr>",
    ]
    for r in rows:
        out.append(
            f"<tr><td>{r['rank']}</td><td>{html.escape(r['label'])}</td><td style='text-align:right'>"
            f"{100 * r['share']:.1f}%</td><td style='text-align:right'>{r['net']:+.3g}</td></tr>"
        )
    out.append(
        f"</table><div style='font-size:11px;color:#555'>continuum (outside all windows): {100 * cont:.0f}%</div></div>"
    )
    return "".join(out)
