"""Attribution panel: integrated gradients of one model output over the spectrum, in the background.

The differentiable wrapper from flux to model outputs comes from
``explorer.ml.target.build_target_function(bundle, spectrum, row) -> TargetFunction``; if it
cannot be imported (or no models are loaded) the panel says "attribution unavailable: <reason>"
and the rest of the app works as before.

The attribution runs in a worker thread; the thread only sets ipywidget values (progress bar,
status text, the figure as a PNG ``Image``, the ranked lines): it never touches a Bokeh model.
The figure is :func:`explorer.attribution.plot_attribution`, and the export buttons save that
same figure object.
"""

from __future__ import annotations

import html
import inspect
import threading
import time

import ipywidgets as widgets
import torch
from torch import nn

from ..constants import LINES
from .compute import model_key
from .export import ExportBar, figure_png, safe_name
from .state import ExplorerState

#: target name (as in the target function) -> label in the selector
TARGET_LABELS = {
    "W1": "W1 magnitude",
    "W2": "W2 magnitude",
    "W3": "W3 magnitude",
    "W4": "W4 magnitude",
    "W1-W2": "W1−W2 colour",
    "W2-W3": "W2−W3 colour",
    "W3-W4": "W3−W4 colour",
    "qpah": "q_PAH",
    "lbol_agn": "AGN L_bol",
    "log_sfr": "SFR",
}
#: axis labels (with units) of the targets whose unit is not a magnitude
TARGET_AXIS = {"qpah": "ln q_PAH", "lbol_agn": "log L_bol,AGN (erg/s)", "log_sfr": "log SFR (M☉/yr)"}
#: reference spectra (decoded typical galaxies) drawn for the baselines
N_REFERENCES = 32


def engine_settings() -> dict:
    """Engine settings of the app: the engine's defaults, so that the app and ``python -m explorer
    attribute`` give the same attributions (refining only the badly integrated reference paths
    keeps the rare 512-step case cheap). Imported when needed: captum stays out of app start-up."""
    from ..attribution.engine import DEFAULT_MAX_STEPS, DEFAULT_N_BASELINES, DEFAULT_N_STEPS

    return {"n_steps": DEFAULT_N_STEPS, "max_steps": DEFAULT_MAX_STEPS, "n_baselines": DEFAULT_N_BASELINES}


def load_target_builder():
    """``explorer.ml.target.build_target_function``, or raise ImportError with the reason."""
    try:
        from ..ml.target import build_target_function
    except Exception as exc:  # the module may be missing, or fail on import
        raise ImportError(f"explorer.ml.target cannot be imported ({type(exc).__name__}: {exc})") from None
    return build_target_function


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
            options=[(v, k) for k, v in TARGET_LABELS.items()], value="W3", description="target",
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
        if self.state.models is None:
            return "no models loaded"
        try:
            load_target_builder()
        except ImportError as exc:
            return str(exc)
        return None

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
            f"<span class='irox-attr-status'>attributing {html.escape(TARGET_LABELS.get(target, target))} "
            f"of {html.escape(g.id)}… (the rest of the app stays usable)</span>"
        )
        self._thread = threading.Thread(target=self._work, args=(g, target, bundle, frame), daemon=True)
        self._thread.start()
        if wait:
            self._thread.join()
        return self._thread

    def _work(self, g, target, bundle, frame):
        from ..attribution import cached_attribute_targets, line_shares, plot_attribution
        from ..attribution.report import target_label

        t0 = time.perf_counter()
        try:
            build = load_target_builder()
            refs = self._references(bundle)
            if refs is not None and "references" in inspect.signature(build).parameters:
                inner = build(bundle, g.spectrum, g.row, references=refs)
            else:
                inner = build(bundle, g.spectrum, g.row)
            if target not in list(inner.targets):
                raise ValueError(
                    f"the target function has no output {target!r} (it has {list(inner.targets)})"
                )
            settings = engine_settings()
            n_base = settings["n_baselines"]
            expected = [n_base + 1 + n_base * settings["n_steps"]]
            done = [0]
            last = [0.0]

            def on_rows(n):
                if done[0] == 0:  # the engine's first pass is the galaxy + its K baselines
                    expected[0] = n + (n - 1) * settings["n_steps"]
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

            tf = CountingTarget(inner, on_rows)
            mid = f"{model_key(bundle)}:{getattr(inner, 'model_id', '') or 'target'}"
            res = cached_attribute_targets(self.cache, tf, g.spectrum, [target], model_id=mid, **settings)[
                target
            ]
            shares = line_shares(res, lines=LINES, weight=g.spectrum.weight)
            fig = plot_attribution(
                g.spectrum, res, LINES, frame=frame, top_n=self.top_n,
                target_label=TARGET_AXIS.get(target) or target_label(target),
                shares=shares,
            )  # fmt: skip
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
            elapsed = time.perf_counter() - t0
            self.progress.value = 1.0
            self.progress.bar_style = "success"
            conv = "converged" if res.converged else "NOT converged"
            self.status.value = (
                f"<span class='irox-attr-status irox-attr-done'>done in {elapsed:.1f} s: {html.escape(g.id)}, "
                f"{html.escape(TARGET_LABELS.get(target, target))}; {res.n_steps} steps, completeness gap "
                f"{100 * res.completeness_gap:.1f}% ({conv})</span>"
            )
            self.last_error = None
        except Exception as exc:  # show any failure in the page; the app keeps working
            self.last_error = f"{type(exc).__name__}: {exc}"
            self.progress.bar_style = "danger"
            self.status.value = (
                f"<span class='irox-attr-status' style='color:#D55E00'>attribution failed: "
                f"{html.escape(self.last_error)}</span>"
            )
        finally:
            self.run.disabled = False

    def _references(self, bundle):
        """Decoded typical galaxies of the catalog as baselines (one set per model), or None."""
        key = model_key(bundle)
        if getattr(self, "_refs_key", None) != key:
            try:
                from ..ml.target import ReferenceSpectra

                self._refs = ReferenceSpectra(bundle, self.state.catalog, n=N_REFERENCES)
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
        f"<div class='irox-top-lines'><b>Top lines for {html.escape(TARGET_LABELS.get(target, target))}</b>",
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
