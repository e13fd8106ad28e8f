"""The single state object every panel observes (selected galaxy, latents, prediction, models).

Panels read from :class:`ExplorerState` and set its traits; they never talk to each other. The
state itself derives the model quantities: when the galaxy changes it encodes the spectrum
(``galaxy_latents``, and ``latents`` is reset to them); when ``latents`` change it recomputes
``prediction`` (IR posterior, properties, decoded spectrum). Observers registered by the state
run before the panels' observers, so a panel reacting to ``galaxy`` already sees the new
latents and prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import traitlets

from ..catalog import Catalog, GalaxySpectrum
from .compute import Prediction, SampleSummary, encode_spectrum, predict_galaxy, sample_summary


@dataclass
class Galaxy:
    """The galaxy on show: its spectrum and catalog-like row.

    Attributes
    ----------
    spectrum : GalaxySpectrum
    row : dict
        Catalog-like row (``id``, ``z``, ``spec_norm``, magnitudes, WISE columns; missing values
        are NaN or absent).
    source : {"catalog", "upload"}
    index : int or None
        Row in the catalog (None for an uploaded spectrum).
    """

    spectrum: GalaxySpectrum
    row: dict
    source: str = "catalog"
    index: int | None = None

    @property
    def id(self) -> str:
        return str(self.row.get("id", self.spectrum.id))


class ExplorerState(traitlets.HasTraits):
    """Shared, observable state of the dashboard.

    Parameters
    ----------
    catalog : Catalog
        The open catalog the app browses.
    models : ModelBundle, optional
        Loaded models (None: observed data only).
    model_status : str
        What the page says about the models (e.g. why none are loaded).
    """

    index = traitlets.Int(0, help="row of the selected catalog galaxy")
    galaxy = traitlets.Any(None, help="the Galaxy on show (catalog row or upload)")
    rest_frame = traitlets.Bool(False, help="show spectra in the rest frame")
    latents = traitlets.Any(None, help="current latent vector (S,), moved by the sliders")
    galaxy_latents = traitlets.Any(None, help="latents the encoder gives the galaxy's spectrum")
    reconstruction = traitlets.Any(
        None, help="autoencoder reconstruction (3921,) of the spectrum, normalized"
    )
    prediction = traitlets.Any(None, help="Prediction for the current latents (None without models)")
    models = traitlets.Any(None, help="ModelBundle or None")
    model_status = traitlets.Unicode("", help="HTML-safe text on the loaded models")
    sample = traitlets.Any(None, help="SampleSummary of the catalog under the current models")
    busy = traitlets.Unicode("", help="what a background job is doing ('' when idle)")

    def __init__(self, catalog: Catalog, models=None, model_status: str = "", **kwargs):
        super().__init__(**kwargs)
        self.catalog = catalog
        self._cache: dict[int, GalaxySpectrum] = {}
        self.observe(self._on_index, names="index")
        self.observe(self._on_galaxy, names="galaxy")
        self.observe(self._on_latents, names="latents")
        self.observe(self._on_models, names="models")
        self.model_status = model_status
        self.models = models
        if self.models is None:  # no change event: compute the sample summary once here
            self.sample = sample_summary(self.catalog, None)
        self.galaxy = self._catalog_galaxy(self.index)

    # -- selection ------------------------------------------------------------------------------
    @traitlets.validate("index")
    def _valid_index(self, proposal):
        i = int(proposal["value"])
        if not 0 <= i < self.catalog.n:
            raise traitlets.TraitError(f"galaxy index {i} outside 0..{self.catalog.n - 1}")
        return i

    def _catalog_galaxy(self, i: int) -> Galaxy:
        if i not in self._cache:
            self._cache[i] = self.catalog.spectrum(i)
        return Galaxy(self._cache[i], self.catalog.row(i), "catalog", i)

    def select(self, i: int) -> None:
        """Show catalog galaxy ``i`` (also when it is already the index but an upload is on show)."""
        i = int(i)
        if i == self.index and (self.galaxy is None or self.galaxy.source != "catalog"):
            self.galaxy = self._catalog_galaxy(i)
        else:
            self.index = i

    def show_upload(self, spectrum: GalaxySpectrum, row: dict) -> None:
        """Show a user's spectrum (with a catalog-like ``row``) in every panel."""
        self.galaxy = Galaxy(spectrum, dict(row), "upload", None)

    def _on_index(self, change) -> None:
        self.galaxy = self._catalog_galaxy(change["new"])

    # -- models ---------------------------------------------------------------------------------
    def _on_models(self, change) -> None:
        self.sample = sample_summary(self.catalog, change["new"])
        if self.galaxy is not None:
            self._encode_galaxy()

    def _on_galaxy(self, change) -> None:
        self._encode_galaxy()

    def _encode_galaxy(self) -> None:
        m = self.models
        if m is None or getattr(m, "encoder", None) is None or self.galaxy is None:
            self.galaxy_latents = None
            self.reconstruction = None
            self.latents = None
            self.prediction = None
            return
        gl = None
        g = self.galaxy
        if g.source == "catalog" and self.sample is not None and self.sample.latents is not None:
            gl = np.asarray(self.sample.latents[g.index], dtype=np.float64)
        if gl is None:
            gl = encode_spectrum(m, g.spectrum.flux)
        self.galaxy_latents = gl
        self.set_latents(gl)
        p = self.prediction
        if p is not None and p.decoded_flux is not None:  # the decoder at the galaxy's own latents
            self.reconstruction = p.decoded_flux
        else:
            from ..ml.decode import decode_latents

            self.reconstruction = decode_latents(m.encoder, gl, float(g.row["z"]))

    def set_latents(self, latents) -> None:
        """Set the latent vector (always recomputes the prediction, even if equal)."""
        new = None if latents is None else np.asarray(latents, dtype=np.float64).copy()
        if new is not None and self.latents is not None and np.array_equal(new, self.latents):
            self._on_latents({"new": new})
            return
        self.latents = new

    def set_latent(self, k: int, value: float) -> None:
        """Move one latent (what a slider does)."""
        if self.latents is None:
            return
        new = np.array(self.latents, dtype=np.float64)
        new[int(k)] = float(value)
        self.latents = new

    def reset_latents(self) -> None:
        """Back to the galaxy's own latents."""
        if self.galaxy_latents is not None:
            self.set_latents(self.galaxy_latents)

    def _on_latents(self, change) -> None:
        lat = change["new"]
        m = self.models
        if lat is None or m is None or getattr(m, "predictor", None) is None:
            self.prediction = None if lat is None or m is None else self._decode_only(lat)
            return
        self.prediction = predict_galaxy(m, self.galaxy.row, lat)

    def _decode_only(self, lat) -> Prediction | None:
        if getattr(self.models, "encoder", None) is None:
            return None
        from ..ml.decode import decode_latents

        return Prediction(
            latents=np.asarray(lat, float),
            posterior=None,
            decoded_flux=decode_latents(self.models.encoder, lat, float(self.galaxy.row["z"])),
        )

    @property
    def latents_moved(self) -> bool:
        """True when the sliders are away from the galaxy's own latents."""
        if self.latents is None or self.galaxy_latents is None:
            return False
        return not np.allclose(self.latents, self.galaxy_latents, rtol=0, atol=1e-9)

    # -- convenience ----------------------------------------------------------------------------
    @property
    def spectrum(self) -> GalaxySpectrum:
        """Spectrum of the galaxy on show."""
        return self.galaxy.spectrum

    @property
    def row(self) -> dict:
        """Catalog-like row of the galaxy on show."""
        return self.galaxy.row

    @property
    def sample_summary(self) -> SampleSummary | None:
        return self.sample
