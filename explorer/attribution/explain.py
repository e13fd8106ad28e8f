"""One galaxy: build its target function, attribute an output, sum line shares, draw the figure.

This is the one-galaxy flow of ``python -m explorer attribute --spectrum`` and of the app's
attribution panel (the panel passes its cache, its progress wrapper and its reference spectra)::

    refs = reference_spectra(bundle, catalog)                  # decoded typical galaxies
    ex = explain_galaxy(bundle, spectrum, "W3", row=row, references=refs)
    ex.result, ex.shares, ex.figure, ex.summary()              # AttributionResult, LineShares, Figure
    ex.save("exports/gal_W3.pdf", formats=("png", "svg"))

:func:`explain_targets` is the same flow for a target function that is already built (several
outputs of one galaxy share their forward passes). Engine settings not given are the engine's
defaults (:mod:`explorer.attribution.engine`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from ..catalog import GalaxySpectrum
from ..constants import LINES, Line, target_spec
from .baselines import DEFAULT_N_BASELINES
from .cache import AttributionCache, cached_attribute_targets
from .checks import resolve_targets
from .engine import AttributionResult
from .figures import plot_attribution, save_figure
from .lines import LineShares, line_shares

#: Typical galaxies decoded as reference spectra (the engine draws its baselines among them).
N_REFERENCES = 32
#: The output explained when none is named.
DEFAULT_TARGET = "W3"


@dataclass
class Explanation:
    """What one galaxy's attribution of one output gives: result, line shares and figure.

    Attributes
    ----------
    spectrum : GalaxySpectrum
    result : AttributionResult
        Per-pixel attribution (target units per pixel) and its completeness.
    shares : LineShares
        Share of |attribution| per line window and the continuum.
    figure : matplotlib.figure.Figure or None
        :func:`~explorer.attribution.figures.plot_attribution` (None when not drawn).
    top_n : int
        Lines highlighted in the figure and listed by :meth:`top_lines`.
    """

    spectrum: GalaxySpectrum
    result: AttributionResult
    shares: LineShares
    figure: Figure | None
    top_n: int = 6

    @property
    def target(self) -> str:
        return self.result.target

    def top_lines(self, n: int | None = None) -> list[dict]:
        """The ``n`` (default ``top_n``) lines with the largest share of |attribution|."""
        return self.shares.ranking("share", include_continuum=False)[: self.top_n if n is None else n]

    def summary(self) -> dict:
        """JSON-ready: galaxy id, z, target, completeness gap, convergence, steps, top lines."""
        return {
            "galaxy_id": self.spectrum.id,
            "z": self.spectrum.z,
            "target": self.target,
            "completeness_gap": self.result.completeness_gap,
            "converged": self.result.converged,
            "n_steps": self.result.n_steps,
            "top_lines": self.top_lines(),
        }

    def save(self, path: str | Path, formats: Sequence[str] | None = None) -> list[Path]:
        """Save the figure as ``path`` with each suffix of ``formats`` (default: ``path``'s own)."""
        if self.figure is None:
            raise ValueError(f"no figure of {self.spectrum.id} / {self.target} to save (figure=False)")
        path = Path(path)
        formats = list(formats) if formats else [path.suffix.lstrip(".") or "pdf"]
        return [save_figure(self.figure, path.with_suffix("." + f)) for f in formats]


def explain_targets(
    target_fn,
    spectrum: GalaxySpectrum,
    targets: Sequence[str],
    *,
    lines: Sequence[Line] = LINES,
    frame: str = "observed",
    top_n: int = 6,
    figure: bool = True,
    cache: AttributionCache | None = None,
    model_id: str | None = None,
    out_of_domain: str | None = None,
    **engine_kwargs,
) -> dict[str, Explanation]:
    """Attribute ``targets`` of one galaxy (shared forward passes), then line shares and figures.

    Parameters
    ----------
    target_fn, spectrum, targets
        As :func:`~explorer.attribution.engine.attribute_targets`.
    lines : sequence of Line
    frame : {"observed", "rest"}
        Wavelength axis of the figure.
    top_n : int
        Lines highlighted per figure.
    figure : bool
        Draw the figures (False: results and shares only).
    cache, model_id
        Optional :class:`~explorer.attribution.cache.AttributionCache` (needs a model id).
    out_of_domain : str, optional
        Why the galaxy lies outside the models' training domain: the figures say so in a caption.
    **engine_kwargs
        baselines, n_baselines, rng, n_steps, max_steps, tol, ... (default: the engine's).

    Returns
    -------
    dict target -> Explanation, in the order of ``targets``.
    """
    results = cached_attribute_targets(
        cache, target_fn, spectrum, targets, model_id=model_id, **engine_kwargs
    )
    out = {}
    for t, res in results.items():
        shares = line_shares(res, lines=lines, weight=spectrum.weight)
        fig = None
        if figure:
            fig = plot_attribution(
                spectrum, res, lines, frame=frame, top_n=top_n,
                target_label=target_spec(t).axis_label, shares=shares, out_of_domain=out_of_domain,
            )  # fmt: skip
        out[t] = Explanation(spectrum, res, shares, fig, top_n)
    return out


def explain_galaxy(
    bundle,
    spectrum: GalaxySpectrum,
    target: str | None = None,
    *,
    row: dict | None = None,
    references=None,
    wrap: Callable | None = None,
    lines: Sequence[Line] = LINES,
    frame: str = "observed",
    top_n: int = 6,
    figure: bool = True,
    cache: AttributionCache | None = None,
    model_id: str | Callable | None = None,
    out_of_domain: str | None = None,
    **engine_kwargs,
) -> Explanation:
    """Explain one output of one galaxy with the models of ``bundle``.

    Parameters
    ----------
    bundle : explorer.ml.registry.ModelBundle
        Needs an encoder and a predictor (the property outputs need property heads).
    spectrum : GalaxySpectrum
    target : str, optional
        Output name (:data:`explorer.constants.TARGETS`); default :data:`DEFAULT_TARGET`. A
        comma-separated list, or ``"all"``, explains its first name (as the command line does).
    row : dict, optional
        The galaxy's catalog row (ugriz magnitudes); None for a spectrum file.
    references : ReferenceSpectra or callable ``z -> (M, 3921)``, optional
        Baselines (:func:`reference_spectra`); None: the engine's fallback baseline.
    wrap : callable, optional
        ``wrap(target_fn) -> target_fn`` applied before attributing (e.g. a progress counter).
    model_id : str or callable, optional
        Cache key of the models (default: the target function's ``model_id``), or
        ``model_id(target_fn) -> str`` computed from the target function before ``wrap``.
    lines, frame, top_n, figure, cache, out_of_domain, **engine_kwargs
        As :func:`explain_targets` (the command line and the app pass the out-of-domain reason of
        :func:`explorer.ml.domain.spectrum_domain_reason` / the page's domain note).

    Raises
    ------
    AttributionError
        ``target`` is not an output of these models (the message lists them).
    """
    from ..ml.target import build_target_function

    target_fn = build_target_function(bundle, spectrum, row, references)
    (name,) = resolve_targets(target, target_fn.targets, [DEFAULT_TARGET])[:1]
    if callable(model_id):
        model_id = model_id(target_fn)
    if wrap is not None:
        target_fn = wrap(target_fn)
    return explain_targets(
        target_fn, spectrum, [name], lines=lines, frame=frame, top_n=top_n, figure=figure,
        cache=cache, model_id=model_id, out_of_domain=out_of_domain, **engine_kwargs,
    )[name]  # fmt: skip


def reference_spectra(bundle, catalog, n_baselines: int = DEFAULT_N_BASELINES, seed: int = 0):
    """The catalog's typical galaxies decoded by the models: at least :data:`N_REFERENCES`, and
    never fewer than the ``n_baselines`` the engine draws per galaxy."""
    from ..ml.target import ReferenceSpectra

    return ReferenceSpectra(bundle, catalog, n=max(N_REFERENCES, n_baselines), seed=seed)


def catalog_target_factory(bundle, catalog, references=None) -> Callable:
    """``spectrum -> target function`` for a catalog's galaxies (their rows bound in), as
    :func:`~explorer.attribution.sample.sample_rankings` takes it."""
    from ..ml.target import build_target_function

    def factory(spectrum: GalaxySpectrum):
        return build_target_function(bundle, spectrum, catalog.row(spectrum.meta["index"]), references)

    return factory


def model_targets(bundle, spectrum: GalaxySpectrum) -> list[str]:
    """The output names the models of ``bundle`` give (those of a target function for ``spectrum``)."""
    from ..ml.target import build_target_function

    return list(build_target_function(bundle, spectrum, None).targets)
