"""Decode latents into spectra: the autoencoder's rest-frame model, redshifted onto the SDSS grid.

spender's ``BaseAutoencoder._forward`` decodes latents ``s`` with ``decoder(s)`` into a
rest-frame spectrum and resamples it with ``decoder.transform(x, instrument, z)`` onto the
instrument's observed grid (Melchior et al. 2023, AJ 166, 74, Sect. 2). These helpers do the
same for latents that did not come from a spectrum (e.g. dragged latent sliders), without the
encoder pass.
"""

from __future__ import annotations

import numpy as np
import torch

from ..constants import N_PIX
from ..errors import ModelError


def _autoencoder(encoder_model):
    model = getattr(encoder_model, "model", encoder_model)
    if not hasattr(model, "decoder") or not hasattr(model, "encoder"):
        raise ModelError(f"{type(encoder_model).__name__} is not a spender autoencoder (no decoder)")
    return model


@torch.no_grad()
def decode_latents(encoder_model, latents: np.ndarray, z) -> np.ndarray:
    """Observed-frame model spectra of latents placed at redshift ``z``.

    Parameters
    ----------
    encoder_model : SpectrumEncoderModel or spender BaseAutoencoder
    latents : ndarray, shape (N, S) or (S,)
    z : float or ndarray (N,)
        Redshift(s) at which to place the rest-frame model.

    Returns
    -------
    ndarray, shape (N, 3921) or (3921,), float32
        Model flux on :data:`explorer.constants.WAVE_OBS_VAC_AA` in the normalized units of
        ``GalaxySpectrum.flux`` (the autoencoder is trained on normalized spectra); 0 outside the
        rest-frame range the decoder covers.
    """
    model = _autoencoder(encoder_model)
    lat = np.asarray(latents, dtype=np.float32)
    single = lat.ndim == 1
    lat = np.atleast_2d(lat)
    z_arr = np.broadcast_to(np.asarray(z, dtype=np.float32), (len(lat),)).copy()
    rest = model.decode(torch.from_numpy(lat))
    obs = model.decoder.transform(rest, instrument=model.encoder.instrument, z=torch.from_numpy(z_arr))
    out = obs.numpy().astype(np.float32)
    if out.shape[1] != N_PIX:
        raise ModelError(f"decoder produced {out.shape[1]} pixels, expected {N_PIX}")
    return out[0] if single else out


@torch.no_grad()
def decode_rest_frame(encoder_model, latents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rest-frame model spectra of latents on the decoder's own grid.

    Returns
    -------
    (wave_rest_aa, flux) : ndarray (L,), ndarray (N, L) or (L,)
        Vacuum rest-frame wavelength in Angstrom and the model flux (normalized units).
    """
    model = _autoencoder(encoder_model)
    lat = np.asarray(latents, dtype=np.float32)
    single = lat.ndim == 1
    rest = model.decode(torch.from_numpy(np.atleast_2d(lat))).numpy()
    wave = model.decoder.wave_rest.numpy().astype(float)
    return wave, (rest[0] if single else rest)
