"""Toy spectra and stand-in target functions for tests and benchmarks of the attribution engine.

Nothing here is a trained model. :class:`StandInIRModel` has the *shape and cost* of the
project's model (a spender-like convolutional encoder with widths 32/64/128, 6 latents, and the
demo's small MLP regressor to W1..W4, Jespersen et al. 2025), with random weights, so engine
timings measured on it carry over to the real model. :func:`toy_spectrum` makes a galaxy-like
spectrum with known lines on the observed grid.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..catalog import GalaxySpectrum
from ..constants import IR_TARGETS, LINES_BY_NAME, N_PIX, WAVE_OBS_VAC_AA
from .baselines import normalize_like_spender

#: Toy line strengths: name -> amplitude relative to the continuum (negative = absorption).
TOY_LINES = {
    "[OII]": 0.8,
    "CaII K": -0.35,
    "CaII H": -0.3,
    "FeI 4046": -0.1,
    "SrII 4078": -0.08,
    "Hdelta": -0.1,
    "G band": -0.15,
    "Hbeta": 0.4,
    "[OIII] 5007": 0.5,
    "MgI b": -0.15,
    "NaI D": -0.12,
    "[NII] 6583": 0.5,
    "Halpha": 1.5,
    "[SII]": 0.3,
}


def toy_spectrum(
    z: float = 0.1,
    seed: int = 0,
    *,
    line_scale: dict[str, float] | None = None,
    snr: float = 20.0,
    n_masked: int = 40,
    galaxy_id: str | None = None,
) -> GalaxySpectrum:
    """A galaxy-like normalized spectrum on the observed grid with Gaussian lines of known strength.

    Parameters
    ----------
    z : float
        Redshift.
    seed : int
        Noise and mask seed.
    line_scale : dict, optional
        Multiplies the amplitude of the named lines in :data:`TOY_LINES`.
    snr : float
        Signal-to-noise per pixel of the continuum.
    n_masked : int
        Number of randomly masked pixels (weight 0), plus a 20-pixel masked block.
    """
    rng = np.random.default_rng(seed)
    wave_rest_aa = WAVE_OBS_VAC_AA / (1 + z)
    # Continuum: 4000 A break and a gentle slope.
    cont = 0.6 + 0.4 / (1 + np.exp(-(wave_rest_aa - 4000.0) / 30.0)) + 0.1 * (wave_rest_aa - 5500.0) / 3000.0
    flux = cont.copy()
    scale = line_scale or {}
    sigma_aa = 2.5
    for name, amp in TOY_LINES.items():
        amp = amp * scale.get(name, 1.0)
        for w in LINES_BY_NAME[name].wave_vac_aa:
            flux += amp * cont * np.exp(-0.5 * ((wave_rest_aa - w) / sigma_aa) ** 2)
    sig = cont / snr
    flux = flux + rng.normal(0, 1, N_PIX) * sig
    weight = 1.0 / sig**2
    masked = rng.choice(N_PIX, n_masked, replace=False)
    weight[masked] = 0.0
    weight[1500:1520] = 0.0
    norm_flux = normalize_like_spender(flux, z)
    med = flux[0] / norm_flux[0]
    return GalaxySpectrum(
        id=galaxy_id or f"toy-{seed}",
        z=float(z),
        flux=norm_flux.astype(np.float32),
        weight=(weight * med**2).astype(np.float32),
        norm=1.0,
        meta={"toy": True},
    )


class StandInIRModel(nn.Module):
    """Random-weight model with the cost of the project's encoder + IR regressor.

    Encoder: spender's layout (Melchior et al. 2023) with conv widths ``widths`` (kernel sizes
    5, 11, 21; max-pooling 5 and 11; InstanceNorm + PReLU; softmax attention over half the
    channels; MLP 64 -> 128 -> 64 -> 32 -> 6). Regressor: the demo MLP 8 -> 20 -> 50 -> 50 ->
    20 -> 4 (ReLU) on (6 latents, z, log10 norm). Colours are differences of the magnitudes.

    Parameters
    ----------
    z : float
        Redshift bound inside the module (per galaxy, as the contract asks).
    widths : tuple of int
    seed : int
        Weight initialization seed.
    """

    def __init__(self, z: float = 0.1, widths=(32, 64, 128), n_latent: int = 6, seed: int = 0):
        super().__init__()
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            blocks, f_in = [], 1
            for f, k in zip(widths, (5, 11, 21)):
                blocks.append(
                    nn.Sequential(nn.Conv1d(f_in, f, k, padding=k // 2), nn.InstanceNorm1d(f), nn.PReLU(f))
                )
                f_in = f
            self.conv = nn.ModuleList(blocks)
            self.pool1 = nn.MaxPool1d(5, padding=2)
            self.pool2 = nn.MaxPool1d(11, padding=5)
            c = widths[-1] // 2
            self.mlp = nn.Sequential(
                nn.Linear(c, 128), nn.PReLU(128), nn.Linear(128, 64), nn.PReLU(64),
                nn.Linear(64, 32), nn.PReLU(32), nn.Linear(32, n_latent),
            )  # fmt: skip
            self.head = nn.Sequential(
                nn.Linear(n_latent + 2, 20), nn.ReLU(), nn.Linear(20, 50), nn.ReLU(),
                nn.Linear(50, 50), nn.ReLU(), nn.Linear(50, 20), nn.ReLU(), nn.Linear(20, 4),
            )  # fmt: skip
        finally:
            torch.random.set_rng_state(gen_state)
        self.register_buffer("aux", torch.tensor([z, 0.0]))
        self.targets = list(IR_TARGETS)
        self.model_id = f"stand-in-{'-'.join(map(str, widths))}-seed{seed}"

    def forward(self, flux: torch.Tensor) -> torch.Tensor:
        x = flux.unsqueeze(1)
        x = self.pool1(self.conv[0](x))
        x = self.pool2(self.conv[1](x))
        x = self.conv[2](x)
        h, a = x.chunk(2, dim=1)
        latents = self.mlp((h * torch.softmax(a, dim=-1)).sum(-1))
        mags = 12.0 + self.head(torch.cat([latents, self.aux.expand(flux.shape[0], -1)], dim=1))
        colours = mags[:, :-1] - mags[:, 1:]
        return torch.cat([mags, colours], dim=1)


class WindowModel(nn.Module):
    """Output depends only on the flux inside one line's window: F = softplus(sum w_p x_p) per target.

    A "physics" toy with a known answer: every attribution must fall inside the window.
    """

    def __init__(self, line_name: str = "Halpha", z: float = 0.1, dtype=torch.float64):
        super().__init__()
        lo, hi = LINES_BY_NAME[line_name].window_rest_aa()
        win = (WAVE_OBS_VAC_AA >= lo * (1 + z)) & (WAVE_OBS_VAC_AA <= hi * (1 + z))
        w = torch.zeros(N_PIX, dtype=dtype)
        w[torch.as_tensor(win)] = 1.0 / max(int(win.sum()), 1)
        self.register_buffer("w", w)
        self.scale = nn.Parameter(torch.tensor(3.0, dtype=dtype))
        self.targets = ["W3"]
        self.model_id = f"window-{line_name}"

    def forward(self, flux: torch.Tensor) -> torch.Tensor:
        return nn.functional.softplus(self.scale * (flux @ self.w))[:, None]
