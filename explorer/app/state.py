"""The single state object every panel observes (selected galaxy, frame, ...)."""

from __future__ import annotations

import traitlets

from ..catalog import Catalog, GalaxySpectrum


class ExplorerState(traitlets.HasTraits):
    """Shared, observable state of the dashboard.

    Panels read from it and set its traits; they never talk to each other directly.

    Parameters
    ----------
    catalog : Catalog
        The open catalog the app browses.
    """

    index = traitlets.Int(0, help="row of the selected galaxy in the catalog")
    rest_frame = traitlets.Bool(False, help="show spectra in the rest frame")

    def __init__(self, catalog: Catalog, **kwargs):
        super().__init__(**kwargs)
        self.catalog = catalog
        self._cache: dict[int, GalaxySpectrum] = {}

    @traitlets.validate("index")
    def _valid_index(self, proposal):
        i = int(proposal["value"])
        if not 0 <= i < self.catalog.n:
            raise traitlets.TraitError(f"galaxy index {i} outside 0..{self.catalog.n - 1}")
        return i

    @property
    def spectrum(self) -> GalaxySpectrum:
        """Spectrum of the selected galaxy (read once, then cached)."""
        if self.index not in self._cache:
            self._cache[self.index] = self.catalog.spectrum(self.index)
        return self._cache[self.index]

    @property
    def row(self) -> dict:
        return self.catalog.row(self.index)
