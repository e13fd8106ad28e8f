"""The single state object every panel observes: one immutable :class:`View` per change.

A change (a galaxy selected or uploaded, a slider moved, the frame toggled, other models
chosen) is computed in full first (encoding, prediction, decoded spectrum, sample summary) and
then published as ONE new :class:`View` in the ``view`` trait. Panels observe ``view`` only;
:meth:`View.changed` tells them which parts differ from the view they showed before, so a panel
never sees a half-updated state and needs no guard of its own. Panels read the state and call
its methods; they never talk to each other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import traitlets

from ..catalog import Catalog, GalaxySpectrum
from .catalogs import DomainNote, domain_note, load_domain_ref, models_for_catalog
from .compute import Prediction, SampleSummary, encode_spectrum, predict_galaxy, sample_summary


@dataclass(frozen=True)
class Galaxy:
    """The galaxy on show: its spectrum and catalog-like row.

    Attributes
    ----------
    spectrum : GalaxySpectrum or None
        None for a galaxy of a latent catalog (no spectra stored).
    row : dict
        Catalog-like row (``id``, ``z``, ``spec_norm``, magnitudes, WISE columns; missing values
        are NaN or absent).
    source : {"catalog", "upload"}
    index : int or None
        Row in the catalog (None for an uploaded spectrum).
    """

    spectrum: GalaxySpectrum | None
    row: dict
    source: str = "catalog"
    index: int | None = None

    @property
    def id(self) -> str:
        return str(self.row.get("id", "" if self.spectrum is None else self.spectrum.id))


@dataclass(frozen=True, eq=False)
class View:
    """Everything the panels show, computed once per change (never modified: a change makes a new one).

    Attributes
    ----------
    galaxy : Galaxy
        The galaxy on show.
    index : int
        Row of the catalog galaxy selected last (kept while an upload is on show: previous /
        next and "back to the catalog" start from it).
    rest_frame : bool
        Spectra in the rest frame.
    models : ModelBundle or None
        Loaded models (None: observed data only).
    model_status : str
        HTML-safe text on the loaded models.
    sample : SampleSummary or None
        The catalog under the current models (S/N, latents, predictions, chi).
    galaxy_latents : ndarray (S,) or None
        Latents the encoder gives the galaxy's spectrum.
    latents : ndarray (S,) or None
        Current latent vector (moved by the sliders).
    reconstruction : ndarray (3921,) or None
        Autoencoder reconstruction of the spectrum at ``galaxy_latents`` (normalized).
    prediction : Prediction or None
        The models' prediction for ``latents`` (None without models).
    catalog : Catalog
        The open catalog (a new one on a switch from the catalog menu).
    domain_ref : DomainReference or None
        The models' training domain (``domain.json``; None when the models have none).
    domain : DomainNote or None
        The galaxy on show (at ``latents``) against ``domain_ref`` (None without models).
    sedfit : SedFitDraws or None
        The separable SED fit's posterior of the galaxy on show (:mod:`explorer.sedfit`), from
        the catalog's SED-fit table or a fit run in this session; None when there is none.
    sedfit_note : str
        Where the SED fit comes from, or why there is none (HTML-safe).
    """

    galaxy: Galaxy
    index: int = 0
    rest_frame: bool = False
    models: object = None
    model_status: str = ""
    sample: SampleSummary | None = None
    galaxy_latents: np.ndarray | None = None
    latents: np.ndarray | None = None
    reconstruction: np.ndarray | None = None
    prediction: Prediction | None = None
    catalog: object = None
    domain_ref: object = None
    domain_status: str = ""
    domain: DomainNote | None = None
    sedfit: object = None
    sedfit_note: str = ""

    @property
    def spectrum(self) -> GalaxySpectrum | None:
        return self.galaxy.spectrum

    @property
    def row(self) -> dict:
        return self.galaxy.row

    @property
    def latents_moved(self) -> bool:
        """True when the sliders are away from the galaxy's own latents."""
        if self.latents is None or self.galaxy_latents is None:
            return False
        return not np.allclose(self.latents, self.galaxy_latents, rtol=0, atol=1e-9)

    def changed(self, old: View | None) -> frozenset[str]:
        """Names of the fields that differ from ``old`` (all of them when ``old`` is None).

        Arrays, models and predictions are compared by identity: a new computation is a change;
        the domain note by value (a slider move that keeps the verdict is no change of it).
        """
        names = [f.name for f in dataclasses.fields(self)]
        if old is None:
            return frozenset(names)
        out = []
        for name in names:
            a, b = getattr(self, name), getattr(old, name)
            differ = (a != b) if isinstance(a, (bool, int, str, DomainNote)) else (a is not b)
            if differ:
                out.append(name)
        return frozenset(out)


class ExplorerState(traitlets.HasTraits):
    """Shared, observable state of the dashboard: the :class:`View` on show and how to change it.

    Parameters
    ----------
    catalog : Catalog
        The open catalog the app browses.
    models : ModelBundle, optional
        Loaded models (None: observed data only).
    model_status : str
        What the page says about the models (e.g. why none are loaded).
    """

    view = traitlets.Instance(View, help="what the panels show (replaced as a whole on every change)")

    def __init__(self, catalog: Catalog, models=None, model_status: str = ""):
        super().__init__()
        self._chosen = (models, model_status)  # the user's models (a catalog may not take them)
        self._cache: dict[int, GalaxySpectrum | None] = {}
        self._fits: dict[int, tuple] = {}  # id(catalog) -> (SedFitTable or None, note)
        self.view = self._catalog_view(catalog, models, model_status, rest_frame=False)

    def _catalog_view(self, catalog: Catalog, models, model_status: str, rest_frame: bool) -> View:
        """The first galaxy of ``catalog`` under ``models``: the whole view of a new catalog."""
        usable, note = models_for_catalog(catalog, models)
        status = model_status + (f"<br>{note}" if note else "")
        sample = sample_summary(catalog, usable)
        ref, dnote = load_domain_ref(usable)
        base = View(self._catalog_galaxy(0, catalog), 0, rest_frame, usable, status, sample,
                    catalog=catalog, domain_ref=ref, domain_status=dnote)  # fmt: skip
        return self._with_sedfit(self._galaxy_view(base, base.galaxy))

    # -- the SED fit of the galaxy on show ------------------------------------------------------------
    def _fit_table(self, catalog: Catalog) -> tuple:
        """(SedFitTable or None, note) of ``catalog``: only a table made from this very file."""
        key = id(catalog)
        if key not in self._fits:
            from ..errors import ExplorerError
            from ..sedfit.table import fits_for_catalog

            try:
                self._fits[key] = fits_for_catalog(getattr(catalog, "path", None))
            except (ExplorerError, OSError) as err:
                self._fits[key] = (None, f"SED-fit table not read: {err}")
        return self._fits[key]

    def _with_sedfit(self, view: View) -> View:
        """``view`` with the SED fit of its galaxy (or the note why there is none)."""
        import html

        if view.galaxy.source != "catalog":
            note = "uploaded spectrum: no precomputed SED fit (“fit with bagpipes” runs one)"
            return dataclasses.replace(view, sedfit=None, sedfit_note=note)
        table, note = self._fit_table(view.catalog)
        fit = table.get(view.galaxy.id) if table is not None else None
        if table is not None and fit is None:
            note = f"no SED fit of this galaxy ({len(table)} galaxies of this catalog have one)"
        return dataclasses.replace(view, sedfit=fit, sedfit_note=html.escape(note))

    def set_sedfit(self, galaxy_id: str, fit, note: str = "SED fit run in this session") -> bool:
        """Show a finished SED fit of ``galaxy_id`` if that galaxy is still on show (True if so)."""
        if self.view.galaxy.id != str(galaxy_id):
            return False
        self.view = dataclasses.replace(self.view, sedfit=fit, sedfit_note=note)
        return True

    # -- reading ------------------------------------------------------------------------------------
    catalog = property(lambda self: self.view.catalog, doc="the open Catalog")
    index = property(lambda self: self.view.index, doc="row of the catalog galaxy selected last")
    galaxy = property(lambda self: self.view.galaxy, doc="the Galaxy on show")
    spectrum = property(lambda self: self.view.galaxy.spectrum, doc="spectrum of the galaxy on show")
    row = property(lambda self: self.view.galaxy.row, doc="catalog-like row of the galaxy on show")
    rest_frame = property(lambda self: self.view.rest_frame, doc="spectra in the rest frame")
    models = property(lambda self: self.view.models, doc="ModelBundle or None")
    model_status = property(lambda self: self.view.model_status, doc="text on the loaded models")
    sample = property(lambda self: self.view.sample, doc="SampleSummary under the current models")
    galaxy_latents = property(lambda self: self.view.galaxy_latents, doc="the galaxy's own latents")
    latents = property(lambda self: self.view.latents, doc="current latents (sliders)")
    reconstruction = property(lambda self: self.view.reconstruction, doc="autoencoder reconstruction")
    prediction = property(lambda self: self.view.prediction, doc="Prediction for the current latents")
    domain = property(lambda self: self.view.domain, doc="DomainNote of the galaxy on show, or None")
    latents_moved = property(lambda self: self.view.latents_moved, doc="sliders away from the galaxy")

    # -- selection ----------------------------------------------------------------------------------
    def _catalog_galaxy(self, i: int, catalog: Catalog | None = None) -> Galaxy:
        cat = self.catalog if catalog is None else catalog
        if not 0 <= i < cat.n:
            raise traitlets.TraitError(f"galaxy index {i} outside 0..{cat.n - 1}")
        if i not in self._cache:
            self._cache[i] = cat.spectrum(i) if cat.has_spectra else None
        return Galaxy(self._cache[i], cat.row(i), "catalog", i)

    def select(self, i: int) -> None:
        """Show catalog galaxy ``i`` (also when it is the last selected but an upload is on show)."""
        i = int(i)
        if i == self.view.index and self.view.galaxy.source == "catalog":
            return
        galaxy = self._catalog_galaxy(i)
        self.view = self._with_sedfit(self._galaxy_view(dataclasses.replace(self.view, index=i), galaxy))

    def show_upload(self, spectrum: GalaxySpectrum, row: dict) -> None:
        """Show a user's spectrum (with a catalog-like ``row``) in every panel."""
        self.view = self._with_sedfit(
            self._galaxy_view(self.view, Galaxy(spectrum, dict(row), "upload", None))
        )

    def set_rest_frame(self, rest_frame: bool) -> None:
        """Show spectra in the rest frame (True) or the observed frame."""
        if bool(rest_frame) != self.view.rest_frame:
            self.view = dataclasses.replace(self.view, rest_frame=bool(rest_frame))

    def set_models(self, models, model_status: str = "") -> None:
        """Use other models (None: observed data only): the sample and the galaxy's view anew."""
        self._chosen = (models, model_status)
        usable, note = models_for_catalog(self.catalog, models)
        ref, dnote = load_domain_ref(usable)
        base = dataclasses.replace(
            self.view, models=usable, model_status=model_status + (f"<br>{note}" if note else ""),
            sample=sample_summary(self.catalog, usable), domain_ref=ref, domain_status=dnote,
        )  # fmt: skip
        self.view = self._galaxy_view(base, base.galaxy)

    def set_catalog(self, catalog: Catalog) -> None:
        """Browse another catalog (same models, if they fit it): its first galaxy, everything anew."""
        if catalog is self.catalog:
            return
        self._cache = {}
        models, status = self._chosen
        self.view = self._catalog_view(catalog, models, status, self.view.rest_frame)

    # -- latents ------------------------------------------------------------------------------------
    def set_latents(self, latents) -> None:
        """Set the latent vector (always recomputes the prediction, even if equal)."""
        lat = None if latents is None else np.asarray(latents, dtype=np.float64).copy()
        v = self.view
        self.view = dataclasses.replace(
            v, latents=lat, prediction=_predict(v.models, v.galaxy, lat),
            domain=domain_note(v.domain_ref, v.domain_status, v.galaxy.row, lat) if v.models else None,
        )  # fmt: skip

    def set_latent(self, k: int, value: float) -> None:
        """Move one latent (what a slider does)."""
        if self.view.latents is None:
            return
        new = np.array(self.view.latents, dtype=np.float64)
        new[int(k)] = float(value)
        self.set_latents(new)

    def reset_latents(self) -> None:
        """Back to the galaxy's own latents."""
        if self.view.galaxy_latents is not None:
            self.set_latents(self.view.galaxy_latents)

    # -- the one computation of a galaxy's view -----------------------------------------------------
    @staticmethod
    def _galaxy_view(base: View, galaxy: Galaxy) -> View:
        """``galaxy`` under the models and sample of ``base``: its latents (encoded, or stored in a
        latent catalog), the prediction at them, the decoded spectrum and the out-of-domain note;
        the whole view, computed once."""
        models, sample = base.models, base.sample
        view = dataclasses.replace(
            base, galaxy=galaxy, galaxy_latents=None, latents=None, reconstruction=None, prediction=None,
            domain=None,
        )  # fmt: skip
        if models is None:
            return view
        gl = None
        if galaxy.source == "catalog" and sample is not None and sample.latents is not None:
            gl = np.asarray(sample.latents[galaxy.index], dtype=np.float64)
        elif galaxy.spectrum is not None and models.encoder is not None:
            gl = encode_spectrum(models, galaxy.spectrum.flux)
        if gl is None:
            return view
        lat = gl.copy()
        p = _predict(models, galaxy, lat)
        recon = None
        if p is not None and p.decoded_flux is not None:  # the decoder at the galaxy's own latents
            recon = p.decoded_flux
        elif models.encoder is not None:
            from ..ml.decode import decode_latents

            recon = decode_latents(models.encoder, gl, float(galaxy.row["z"]))
        dom = domain_note(base.domain_ref, base.domain_status, galaxy.row, lat)
        return dataclasses.replace(
            view, galaxy_latents=gl, latents=lat, reconstruction=recon, prediction=p, domain=dom
        )


def _predict(models, galaxy: Galaxy, lat) -> Prediction | None:
    """The models' prediction for latents ``lat`` of ``galaxy`` (decoded spectrum only without a
    predictor; None without latents or models)."""
    if lat is None or models is None:
        return None
    if models.predictor is not None:
        return predict_galaxy(models, galaxy.row, lat)
    if models.encoder is None:
        return None
    from ..ml.decode import decode_latents

    return Prediction(
        latents=np.asarray(lat, float),
        posterior=None,
        decoded_flux=decode_latents(models.encoder, lat, float(galaxy.row["z"])),
    )
