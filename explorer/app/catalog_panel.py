"""Catalog menu: the demo catalog, the user's catalogs and the one opened at start.

The menu lists :func:`explorer.app.catalogs.available_catalogs` (the user folder is
``IROX_USER_CATALOGS``, default ``<repo>/data/user/``). A choice opens the file and calls
:meth:`ExplorerState.set_catalog`; the panels follow the state's new view. A file that cannot be
opened leaves the current catalog on show and the line under the menu says why.
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets

from ..catalog import Catalog
from .catalogs import available_catalogs, user_catalog_dir
from .state import ExplorerState


def catalog_description(cat: Catalog) -> str:
    """One line on what the catalog holds (HTML)."""
    name = f"<code>{html.escape(cat.path.name)}</code>"
    if not cat.has_spectra:
        kind = (
            "a <b>latent catalog</b> (official spender latents, no spectra): the latent scatter, the SED "
            "posterior and the sliders work; spectra and attributions need a spectral catalog"
        )
    elif cat.simulated:
        kind = "the <b>simulated</b> SDSS × WISE sample (see data/README.md)"
    else:
        kind = "observed SDSS spectra × AllWISE photometry"
    return f"<span class='irox-catalog'>{cat.n} galaxies from {name}: {kind}.</span>"


class CatalogPanel:
    """A dropdown of catalogs and a line on the open one."""

    def __init__(self, state: ExplorerState, current: str | Path | None = None):
        self.state = state
        self.choices = available_catalogs(current if current is not None else state.catalog.path)
        paths = [p for _, p in self.choices]
        value = str(state.catalog.path)
        if value not in paths:
            self.choices.insert(0, (Path(value).name, value))
        self.menu = widgets.Dropdown(
            options=self.choices, value=value, description="catalog", layout=widgets.Layout(width="520px")
        )
        self.menu.observe(self._on_menu, names="value")
        self.info = widgets.HTML()
        self.message = widgets.HTML()
        folder = html.escape(str(user_catalog_dir()))
        self.hint = widgets.HTML(
            f"<span style='color:#777;font-size:11px'>Your catalogs: put <code>*.h5</code> files built with "
            f"<code>python -m explorer build-catalog</code> or <code>import-paper-table</code> in "
            f"<code>{folder}</code> (or set <code>IROX_USER_CATALOGS</code>) and reload the page.</span>"
        )
        state.observe(self._on_view, names="view")
        self._show()
        self.widget = widgets.VBox([widgets.HBox([self.menu, self.message]), self.info, self.hint])

    def _on_view(self, change) -> None:
        if "catalog" in change["new"].changed(change["old"]):
            self._show()

    def _show(self) -> None:
        self.info.value = catalog_description(self.state.catalog)

    def open(self, path: str | Path) -> None:
        """Browse the catalog at ``path`` (what a menu choice does)."""
        try:
            cat = Catalog(path)
        except Exception as exc:  # an unreadable file: say so, keep the catalog on show
            self.message.value = f"<span style='color:#D55E00'>{html.escape(str(exc))}</span>"
            return
        self.message.value = ""
        self.state.set_catalog(cat)

    def _on_menu(self, change) -> None:
        if change["new"] and str(change["new"]) != str(self.state.catalog.path):
            self.open(change["new"])
