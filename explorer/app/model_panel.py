"""Model chooser panel: a dropdown of model directories and the models' status line.

Loading never stops the app: :func:`try_load_models` returns None and a status line that says
why when a directory is missing or broken. A choice calls :meth:`ExplorerState.set_models`.
"""

from __future__ import annotations

import html
import time
from pathlib import Path

import ipywidgets as widgets

from ..paths import MODELS_DIR
from .state import ExplorerState


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
    _attach_midir(bundle)
    parts = [c for c in ("encoder", "predictor", "properties") if getattr(bundle, c) is not None]
    parts += ["mid-IR spectrum"] if bundle.midir is not None else []
    missing = [c for c in ("predictor", "properties") if getattr(bundle, c) is None]
    note = f" (missing: {', '.join(missing)})" if missing else ""
    return bundle, (
        f"Models: <code>{html.escape(str(d))}</code> — {', '.join(parts)}{note}; "
        f"{bundle.encoder.n_latent} latents; loaded in {time.perf_counter() - t0:.1f} s."
    )


def _attach_midir(bundle) -> None:
    """Load the directory's ``midir.pt`` into ``bundle.midir`` (its checksum was verified with the
    other files); a directory without one keeps ``midir = None``, an unreadable one says why in
    ``bundle.midir_error``."""
    from ..errors import ModelError
    from ..ml.midir_eval import MIDIR_FILE, load_midir

    if MIDIR_FILE not in bundle.manifest.get("files", {}):
        return
    try:
        bundle.midir = load_midir(bundle.path, check=False)
    except ModelError as exc:
        bundle.midir_error = str(exc)


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
        state.observe(self._on_view, names="view")
        self._refresh()
        self.widget = widgets.VBox([self.choice, self.status])

    def _on_choice(self, change) -> None:
        bundle, status = try_load_models(change["new"])
        self.state.set_models(bundle, status)

    def _on_view(self, change) -> None:
        if change["new"].changed(change["old"]) & {"models", "model_status"}:
            self._refresh()

    def _refresh(self) -> None:
        warn = self.state.models is None
        style = "background:#FDF0E6;border-left:4px solid #D55E00;padding:4px 8px" if warn else "color:#333"
        self.status.value = f"<div class='irox-model-status' style='{style}'>{self.state.model_status}</div>"
