"""Assemble the dashboard (``app.ipynb`` calls :func:`build_app`).

Models: ``build_app(model_dir=...)``, else the ``IROX_MODELS`` environment variable, else
``models/default``. A missing or broken model directory never stops the app: it opens on the
observed data and the page says that no models are loaded, and why.
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path

import ipywidgets as widgets

from ..catalog import Catalog
from ..paths import DEMO_CATALOG, MODELS_DIR
from .state import ExplorerState

DEFAULT_MODELS = "default"


def load_bokeh_inline() -> None:
    """Load BokehJS from the installed package, never from a CDN (works offline in Voila)."""
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)


def default_model_dir() -> str:
    """``IROX_MODELS`` if set, else ``default`` (``models/default``)."""
    return os.environ.get("IROX_MODELS", DEFAULT_MODELS)


def available_models(extra: str | Path | None = None) -> list[tuple[str, str]]:
    """(label, path) of model directories: ``models/*`` with a manifest, plus ``extra``."""
    out = []
    if MODELS_DIR.is_dir():
        for d in sorted(MODELS_DIR.iterdir()):
            if (d / "manifest.json").is_file():
                out.append((d.name, str(d)))
    if extra is not None:
        from ..ml.registry import resolve_model_dir

        p = str(resolve_model_dir(extra))
        if p not in [v for _, v in out]:
            out.insert(0, (str(extra), p))
    return out


def try_load_models(name_or_path) -> tuple[object | None, str]:
    """(bundle or None, HTML status line) for a model name or directory."""
    from ..errors import ModelError
    from ..ml.registry import load_models, resolve_model_dir

    d = resolve_model_dir(name_or_path)
    if not d.exists():
        return None, (
            f"<b>No models loaded</b>: model directory <code>{html.escape(str(d))}</code> does not exist "
            "(train one with <code>python -m explorer train-encoder</code> / <code>train-predictor</code>, or "
            "set <code>IROX_MODELS</code>). Showing observed data only."
        )
    t0 = time.perf_counter()
    try:
        bundle = load_models(d)
    except ModelError as exc:
        return None, f"<b>No models loaded</b>: {html.escape(str(exc))}. Showing observed data only."
    if bundle.encoder is None:
        return None, (
            f"<b>No models loaded</b>: <code>{html.escape(str(d))}</code> has no encoder.pt. Showing observed data only."
        )
    parts = [c for c in ("encoder", "predictor", "properties") if getattr(bundle, c) is not None]
    missing = [c for c in ("predictor", "properties") if getattr(bundle, c) is None]
    note = f" (missing: {', '.join(missing)})" if missing else ""
    return bundle, (
        f"Models: <code>{html.escape(str(d))}</code> — {', '.join(parts)}{note}; "
        f"{bundle.encoder.n_latent} latents; loaded in {time.perf_counter() - t0:.1f} s."
    )


class ModelPanel:
    """Model chooser (a dropdown of model directories) and the models' status line."""

    def __init__(self, state: ExplorerState, current: str | Path):
        self.state = state
        opts = available_models(current)
        self.choice = widgets.Dropdown(
            options=opts or [(str(current), str(current))],
            description="models",
            layout=widgets.Layout(width="420px"),
        )
        from ..ml.registry import resolve_model_dir

        cur = str(resolve_model_dir(current))
        if cur in [v for _, v in self.choice.options]:
            self.choice.value = cur
        self.choice.observe(self._on_choice, names="value")
        self.status = widgets.HTML()
        state.observe(self._refresh, names="model_status")
        self._refresh()
        self.widget = widgets.VBox([self.choice, self.status])

    def _on_choice(self, change) -> None:
        bundle, status = try_load_models(change["new"])
        self.state.model_status = status
        self.state.models = bundle

    def _refresh(self, *_):
        warn = self.state.models is None
        style = "background:#FDF0E6;border-left:4px solid #D55E00;padding:4px 8px" if warn else "color:#333"
        self.status.value = f"<div class='irox-model-status' style='{style}'>{self.state.model_status}</div>"


def _section(title: str, body, note: str = "", width: str | None = None) -> widgets.Widget:
    head = widgets.HTML(
        f"<h3 style='margin:14px 0 4px 0'>{title}</h3>"
        + (f"<div style='color:#555'>{note}</div>" if note else "")
    )
    return widgets.VBox([head, body], layout=widgets.Layout(width=width, margin="0 24px 0 0"))


def build_app(
    catalog_path: str | Path | None = None, model_dir: str | Path | None = None
) -> tuple[widgets.Widget, ExplorerState, dict]:
    """Build the dashboard on a catalog (default: the embedded demo catalog).

    Parameters
    ----------
    catalog_path : path, optional
    model_dir : str or path, optional
        Model name (``models/<name>``) or directory; default ``IROX_MODELS`` or ``default``.

    Returns
    -------
    (widget, state, panels)
        The top-level widget to display, the shared state and the panels by name.
    """
    from .attribution_panel import AttributionPanel
    from .latent import LatentPanel, ScatterPanel
    from .panels import PickerPanel, SedPanel, SpectrumPanel
    from .upload_panel import UploadPanel

    t0 = time.perf_counter()
    cat = Catalog(catalog_path or DEMO_CATALOG)
    model_dir = model_dir if model_dir is not None else default_model_dir()
    bundle, status = try_load_models(model_dir)
    state = ExplorerState(cat, models=bundle, model_status=status)
    panels = {
        "models": ModelPanel(state, model_dir),
        "picker": PickerPanel(state),
        "scatter": ScatterPanel(state),
        "spectrum": SpectrumPanel(state),
        "sed": SedPanel(state),
        "latents": LatentPanel(state),
        "attribution": AttributionPanel(state),
        "upload": UploadPanel(state),
    }
    header = widgets.HTML(
        "<h2 style='margin-bottom:2px'>IR–Optical Explorer</h2><p style='margin-top:2px'>What does a galaxy's "
        f"optical spectrum tell us about its infrared? {cat.n} galaxies from <code>{html.escape(cat.path.name)}</code>"
        + (" (<b>simulated</b> SDSS × WISE sample: see data/README.md)" if cat.simulated else "")
        + ". The spender autoencoder compresses each spectrum into a few latents; an ensemble predicts the "
        "WISE W1–W4 posterior from them.</p>"
    )
    ui = widgets.VBox(
        [
            header,
            panels["models"].widget,
            widgets.HBox(
                [
                    _section("Galaxy picker", panels["picker"].widget, width="700px"),
                    _section("Latent space", panels["scatter"].widget, width="560px"),
                ],
                layout=widgets.Layout(flex_flow="row wrap", justify_content="flex-start"),
            ),
            _section('Optical spectrum (SDSS 3" fiber)', panels["spectrum"].widget),
            widgets.HBox(
                [
                    _section(
                        "Latent sliders",
                        panels["latents"].widget,
                        "Drag to see the IR prediction and the decoded spectrum respond.",
                        width="390px",
                    ),
                    _section("WISE SED (whole galaxy)", panels["sed"].widget),
                ],
                layout=widgets.Layout(flex_flow="row wrap", justify_content="flex-start"),
            ),
            _section(
                "Which optical features drive the IR prediction?",
                panels["attribution"].widget,
                "Integrated gradients (Captum) of the chosen output over the spectrum's pixels.",
            ),
            _section("Your own spectrum", panels["upload"].widget),
        ],
        layout=widgets.Layout(padding="0 12px"),
    )
    state.build_seconds = time.perf_counter() - t0
    return ui, state, panels
