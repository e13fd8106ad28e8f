"""Assemble the dashboard (``app.ipynb`` calls :func:`build_app`)."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets

from ..catalog import Catalog
from ..paths import DEMO_CATALOG
from .panels import PickerPanel, SedPanel, SpectrumPanel
from .state import ExplorerState


def load_bokeh_inline() -> None:
    """Load BokehJS from the installed package, never from a CDN (works offline in Voila)."""
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)


def build_app(catalog_path: str | Path | None = None) -> tuple[widgets.Widget, ExplorerState, dict]:
    """Build the dashboard on a catalog (default: the embedded demo catalog).

    Returns
    -------
    (widget, state, panels)
        The top-level widget to display, the shared state and the panels by name.
    """
    cat = Catalog(catalog_path or DEMO_CATALOG)
    state = ExplorerState(cat)
    panels = {"picker": PickerPanel(state), "spectrum": SpectrumPanel(state), "sed": SedPanel(state)}
    header = widgets.HTML(
        "<h2>IR–Optical Explorer</h2><p>What does a galaxy's optical spectrum tell us about its "
        f"infrared? {cat.n} galaxies from <code>{cat.path.name}</code>"
        + (" (<b>simulated</b> SDSS × WISE sample: see data/README.md)" if cat.simulated else "")
        + ". Optical spectrum with line markers at (1+z) λ<sub>vac</sub>; observed WISE SED in mJy.</p>"
    )
    ui = widgets.VBox(
        [
            header,
            panels["picker"].widget,
            widgets.HTML('<b>Optical spectrum</b> (SDSS 3" fiber)'),
            panels["spectrum"].widget,
            widgets.HTML("<b>WISE SED</b> (whole galaxy)"),
            panels["sed"].widget,
        ]
    )
    return ui, state, panels
