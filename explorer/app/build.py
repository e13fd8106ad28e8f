"""Assemble the dashboard (``app.ipynb`` calls :func:`build_app`).

Catalog: ``build_app(catalog_path)``, else the ``IROX_CATALOG`` environment variable (which
``python -m explorer serve --catalog PATH`` sets), else the embedded demo catalog. The page's
catalog menu also offers the demo and every ``*.h5`` in the user folder (``IROX_USER_CATALOGS``,
default ``<repo>/data/user/``; see :mod:`explorer.app.catalogs`).
Models: ``build_app(model_dir=...)``, else the ``IROX_MODELS`` environment variable, else
``models/default``. A missing or broken model directory never stops the app: it opens on the
observed data and the page says that no models are loaded, and why.
"""

from __future__ import annotations

import os
from pathlib import Path

import ipywidgets as widgets

from ..catalog import Catalog
from ..errors import CatalogError
from ..paths import DEMO_CATALOG
from .state import ExplorerState

DEFAULT_MODELS = "default"


def load_bokeh_inline() -> None:
    """Load BokehJS from the installed package, never from a CDN (works offline in Voila)."""
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    from .bokeh_view import install_bokeh_fixes

    output_notebook(INLINE, hide_banner=True)
    install_bokeh_fixes()  # no echo of the kernel's changes, no legend rebuilt on a redraw


def default_catalog_path() -> Path:
    """``IROX_CATALOG`` if set (``python -m explorer serve --catalog`` sets it), else the demo catalog.

    Raises
    ------
    CatalogError
        ``IROX_CATALOG`` names a file that does not exist (the message says where the path came from).
    """
    env = os.environ.get("IROX_CATALOG", "").strip()
    if not env:
        return DEMO_CATALOG
    path = Path(env)
    if not path.is_file():
        raise CatalogError(f"catalog {env} (the IROX_CATALOG environment variable) does not exist")
    return path


def default_model_dir() -> str:
    """``IROX_MODELS`` if set, else ``default`` (``models/default``)."""
    return os.environ.get("IROX_MODELS", DEFAULT_MODELS)


def _section(title: str, body, note: str = "", width: str | None = None) -> widgets.Widget:
    head = widgets.HTML(
        f"<h3 style='margin:14px 0 4px 0'>{title}</h3>"
        + (f"<div style='color:#555'>{note}</div>" if note else "")
    )
    return widgets.VBox([head, body], layout=widgets.Layout(width=width, margin="0 24px 0 0"))


def build_app(
    catalog_path: str | Path | None = None, model_dir: str | Path | None = None
) -> tuple[widgets.Widget, ExplorerState, dict]:
    """Build the dashboard on a catalog.

    Parameters
    ----------
    catalog_path : path, optional
        Default ``IROX_CATALOG``, else the embedded demo catalog (:func:`default_catalog_path`).
    model_dir : str or path, optional
        Model name (``models/<name>``) or directory; default ``IROX_MODELS`` or ``default``.

    Returns
    -------
    (widget, state, panels)
        The top-level widget to display, the shared state and the panels by name.
    """
    from .attribution_panel import AttributionPanel
    from .catalog_panel import CatalogPanel
    from .latent_panel import LatentPanel
    from .midir_panel import MidirPanel
    from .model_panel import ModelPanel, try_load_models
    from .picker_panel import PickerPanel
    from .scatter_panel import ScatterPanel
    from .sed_panel import SedPanel
    from .spectrum_panel import SpectrumPanel
    from .upload_panel import UploadPanel

    start = Path(catalog_path) if catalog_path else default_catalog_path()
    cat = Catalog(start)
    model_dir = model_dir if model_dir is not None else default_model_dir()
    bundle, status = try_load_models(model_dir)
    state = ExplorerState(cat, models=bundle, model_status=status)
    panels = {
        "catalogs": CatalogPanel(state, start),
        "models": ModelPanel(state, model_dir),
        "picker": PickerPanel(state),
        "scatter": ScatterPanel(state),
        "spectrum": SpectrumPanel(state),
        "sed": SedPanel(state),
        "latents": LatentPanel(state),
        "attribution": AttributionPanel(state),
        "upload": UploadPanel(state),
        # last: its observer runs after the other panels' (a slider move redraws them first)
        "midir": MidirPanel(state),
    }
    header = widgets.HTML(
        "<h2 style='margin-bottom:2px'>IR–Optical Explorer</h2><p style='margin-top:2px'>What does a galaxy's "
        "optical spectrum tell us about its infrared? The spender autoencoder compresses each spectrum into a few latents; an ensemble predicts the "
        "WISE W1–W4 posterior from them.</p>"
    )
    ui = widgets.VBox(
        [
            header,
            panels["catalogs"].widget,
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
                "Mid-IR spectrum (predicted, 3–35 µm)",
                panels["midir"].widget,
                "The rest-frame 3–35 µm spectrum the optical spectrum implies (posterior median, 68/95% bands"
                " and draws), with the fiber spectrum, ugriz and the WISE points on one observed-wavelength"
                " axis; the sliders move it too. Modes: optical only, conditioned on W1–W4, or ugriz + W1–W4.",
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
    return ui, state, panels
