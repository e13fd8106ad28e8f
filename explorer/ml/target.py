"""A differentiable path from a spectrum's pixels to every IR prediction, for attributions.

:func:`build_target_function` binds one galaxy's non-spectral inputs (z, normalization, ugriz
total and fiber magnitudes) into a ``torch.nn.Module`` that maps normalized flux
``(B, 3921)`` through the encoder, the IR ensemble and the property heads to
``(B, len(TARGETS))`` outputs. The attribution engine (:mod:`explorer.attribution`) integrates
gradients of these outputs with respect to the flux; it takes the module by its contract
(``targets``, ``model_id``, optional ``reference_baselines``), so this layer does not import it.

Outputs (all in the units the app shows):

* ``W1``..``W4``: predicted Vega magnitudes (ensemble mean);
* ``W1-W2``, ``W2-W3``, ``W3-W4``: colours (Vega);
* ``qpah``: ln q_PAH (fractional changes);
* ``lbol_agn``: log10 L_bol,AGN / (erg/s) (meaningful for AGN);
* ``log_sfr``: log10 SFR / (M_sun/yr).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..constants import IR_TARGETS, N_PIX, PROPERTY_TARGETS
from ..errors import ModelError
from .data import build_features


class SpectrumToIR(nn.Module):
    """flux (B, 3921) -> predictions (B, T) for one galaxy's fixed context.

    Parameters
    ----------
    bundle : explorer.ml.registry.ModelBundle
        Needs ``encoder`` and ``predictor``; ``properties`` adds the property targets.
    z, spec_norm : float
        Redshift and normalization (1e-17 erg/s/cm^2/A) of the galaxy.
    mag_total, mag_fiber : array (5,), optional
        ugriz total and 3" fiber AB magnitudes (missing -> the training mean).
    """

    def __init__(self, bundle, z: float, spec_norm: float, mag_total=None, mag_fiber=None):
        super().__init__()
        if bundle.encoder is None or bundle.predictor is None:
            raise ModelError(f"{bundle.path}: attributions need an encoder and a predictor")
        self.autoencoder = bundle.encoder.model.eval()
        self.n_latent = bundle.encoder.n_latent
        table = bundle.input_table(z, spec_norm, mag_total, mag_fiber, n=1)
        pred = bundle.predictor
        self.ir_members = nn.ModuleList([m.eval() for m in pred.members])
        self._ir_ctx, self._ir_mean, self._ir_std = self._context(pred.x_scaler, pred.feature_kind, table)
        self.register_buffer("y_mean", torch.tensor(pred.y_mean, dtype=torch.float32))
        self.register_buffer("y_std", torch.tensor(pred.y_std, dtype=torch.float32))
        self.targets = list(IR_TARGETS)
        #: cache key of the models (set by :func:`build_target_function`)
        self.model_id: str | None = None
        self.props = None
        if bundle.properties is not None:
            props = bundle.properties
            self.props = nn.ModuleList([m.eval() for m in props.members])
            self._pr_ctx, self._pr_mean, self._pr_std = self._context(
                props.x_scaler, props.feature_kind, table
            )
            self.register_buffer("t_mean", torch.tensor(props.t_mean, dtype=torch.float32))
            self.register_buffer("t_std", torch.tensor(props.t_std, dtype=torch.float32))
            self.targets += list(PROPERTY_TARGETS)
        for p in self.parameters():
            p.requires_grad_(False)

    def _context(self, scaler, kind: str, table: dict):
        """Standardized non-latent features (fixed) and the latent columns' scaling."""
        raw = build_features(kind, table, [0], np.zeros((1, self.n_latent), np.float32))[0]
        s = self.n_latent
        ctx = (raw[s:] - scaler.mean[s:]) / scaler.std[s:]
        ctx = np.where(np.isfinite(ctx), ctx, 0.0).astype(np.float32)  # missing -> training mean
        return (
            torch.from_numpy(ctx),
            torch.from_numpy(np.asarray(scaler.mean[:s], np.float32)),
            torch.from_numpy(np.asarray(scaler.std[:s], np.float32)),
        )

    def forward(self, flux: torch.Tensor) -> torch.Tensor:
        if flux.ndim != 2 or flux.shape[1] != N_PIX:
            raise ModelError(f"expected flux of shape (B, {N_PIX}), got {tuple(flux.shape)}")
        s = self.autoencoder.encode(flux)
        b = s.shape[0]
        x_ir = torch.cat([(s - self._ir_mean) / self._ir_std, self._ir_ctx.expand(b, -1)], dim=1)
        mu = torch.stack([m(x_ir)[0] for m in self.ir_members]).mean(0) * self.y_std + self.y_mean
        out = [mu, mu[:, :3] - mu[:, 1:]]
        if self.props is not None:
            x_pr = torch.cat([(s - self._pr_mean) / self._pr_std, self._pr_ctx.expand(b, -1)], dim=1)
            out.append(torch.stack([m(x_pr)[0] for m in self.props]).mean(0) * self.t_std + self.t_mean)
        return torch.cat(out, dim=1)


class ReferenceSpectra:
    """Typical galaxies' autoencoder models, placed at any redshift (attribution baselines).

    The latents of ``n`` galaxies drawn (seeded) from a catalog are decoded and redshifted onto the
    SDSS grid at the target's z, so a baseline differs from the target in its spectral features,
    not in its redshift or in the noise.
    """

    def __init__(self, bundle, catalog, n: int = 32, seed: int = 0):
        from .decode import decode_latents

        self._decode = decode_latents
        self._encoder = bundle.encoder
        rng = np.random.default_rng(seed)
        good = np.flatnonzero(catalog.good)
        idx = np.sort(rng.choice(good, size=min(n, len(good)), replace=False))
        flux, _ = catalog.spectra(idx)
        self.latents = bundle.encoder.encode(flux)
        self.ids = [str(catalog.table["id"][i]) for i in idx]
        self._cache: dict[float, np.ndarray] = {}

    def __call__(self, z: float) -> np.ndarray:
        key = round(float(z), 6)
        if key not in self._cache:
            self._cache[key] = self._decode(self._encoder, self.latents, key)
        return self._cache[key]


def build_target_function(bundle, spectrum, row: dict | None = None, references=None) -> SpectrumToIR:
    """The attribution target for one galaxy.

    Parameters
    ----------
    bundle : ModelBundle
    spectrum : GalaxySpectrum
        The galaxy (its z and norm are bound into the module).
    row : dict, optional
        Catalog row with ``mag_{ugriz}_total`` / ``mag_{ugriz}_fiber`` (else missing -> mean).
    references : ReferenceSpectra or callable ``z -> (M, 3921)``, optional
        Baselines; without them the engine falls back to a smoothed copy of the galaxy.

    Returns
    -------
    SpectrumToIR
        A module that meets the attribution engine's target-function contract
        (:class:`explorer.attribution.engine.TargetFunctionLike`): ``targets``, ``model_id``
        (the first 16 hex digits of ``predictor.pt``'s checksum) and, with ``references``,
        ``reference_baselines``.
    """
    row = row or {}
    mag_total = np.array([row.get(f"mag_{b}_total", np.nan) for b in "ugriz"], float)
    mag_fiber = np.array([row.get(f"mag_{b}_fiber", np.nan) for b in "ugriz"], float)
    module = SpectrumToIR(bundle, spectrum.z, spectrum.norm, mag_total, mag_fiber)
    checksum = bundle.manifest.get("files", {}).get("predictor.pt", {}).get("sha256", str(bundle.path))
    module.model_id = checksum[:16]
    if references is not None:
        module.reference_baselines = references
    return module
