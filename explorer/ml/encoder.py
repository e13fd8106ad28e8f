"""The spectrum autoencoder: spender's architecture with configurable convolution widths.

spender (Melchior et al. 2023, AJ 166, 74; Liang et al. 2023, AJ 166, 75) encodes an SDSS
spectrum on its fixed observed-frame grid with three convolution blocks (Conv1d +
InstanceNorm + PReLU, kernel sizes 5, 11, 21, max-pooling after the first two), splits the
last block's channels into attention values and keys (softmax over wavelength), sums the
attended values and maps them with an MLP to S latents. The decoder is an MLP with Speculator
activations (Alsing et al. 2020) that outputs a rest-frame spectrum, which is redshifted and
linearly resampled onto the observed grid.

spender 0.3 fixes the convolution widths at (128, 256, 512) inside
``spender.model.SpectrumEncoder.__init__``. :class:`WidthSpectrumEncoder` subclasses it and
only replaces the constructor, so that the forward pass (attention pooling, MLP) is spender's
own code and the parameter names are spender's; with ``widths=(128, 256, 512)`` the module is
identical to spender's encoder.

Checkpoints are written in spender's own layout (``torch.save({"model": state_dict,
"losses": ...})``, see spender's ``train/train_sdss.py``) plus an ``"irox"`` entry with our
configuration. :func:`load_encoder` reads both our files and official spender checkpoints
(e.g. ``spender.sdss.paperII-*.pt``, S = 6), inferring the architecture from tensor shapes.
Training lives in :mod:`.encoder_training`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..constants import N_PIX, WAVE_OBS_VAC_AA, Z_MAX
from ..errors import ModelError

#: spender's SDSS encoder widths (fixed in spender 0.3) and kernel sizes.
SPENDER_WIDTHS = (128, 256, 512)
SPENDER_KERNELS = (5, 11, 21)
#: spender's default encoder MLP and decoder MLP hidden sizes.
SPENDER_ENCODER_HIDDEN = (128, 64, 32)
SPENDER_DECODER_HIDDEN = (64, 256, 1024)

#: CPU default, chosen from step-time measurements on 2 cores (``encoder_training.time_training_step``):
#: about 60x fewer encoder multiply-adds than spender's widths, 0.08 s per step of 64 spectra
#: (spender's widths: 2.0 s), so ~40k steps fit in 55 minutes. In an equal-step comparison on a
#: 3,000-galaxy simulated catalog it reached the same validation fidelity loss as (32, 64, 128).
DEFAULT_WIDTHS = (16, 32, 64)
#: spender's decoder; its cost is small next to the encoder's convolutions.
DEFAULT_DECODER_HIDDEN = SPENDER_DECODER_HIDDEN


def spender_submodule(name: str):
    """Import ``spender.<name>`` without executing ``spender/__init__.py`` yet.

    spender 0.3's package ``__init__`` imports its normalizing-flow module, which imports
    ``nflows``, which imports ``matplotlib.pyplot`` at module level: over a second of a cold model
    load that needs none of them. The submodules we use (``model``, ``instrument``, ``util``,
    ``data.sdss``) only import each other by module, so they load under a package object whose
    ``__init__`` has not run. That object runs the real ``__init__`` the first time anyone asks
    it for a name it does not have (PEP 562 module ``__getattr__``), so ``import spender;
    spender.load_model`` and ``from spender import Instrument`` keep working, with the same
    classes. Falls back to a normal import if anything about this fails.
    """
    import importlib
    import importlib.util
    import sys

    full = f"spender.{name}"
    if full in sys.modules or "spender" in sys.modules:
        return importlib.import_module(full)
    try:
        spec = importlib.util.find_spec("spender")
        pkg = importlib.util.module_from_spec(spec)
    except (ImportError, AttributeError, ValueError):
        return importlib.import_module(full)

    def complete_init(attr):
        # first request for a missing name: run spender/__init__.py in this module, then retry
        del pkg.__getattr__
        spec.loader.exec_module(pkg)
        try:
            return pkg.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module 'spender' has no attribute {attr!r}") from None

    pkg.__getattr__ = complete_init
    sys.modules["spender"] = pkg
    try:
        return importlib.import_module(full)
    except ImportError:
        sys.modules.pop("spender", None)
        return importlib.import_module(full)


def sdss_instrument(official: bool = False):
    """spender's SDSS instrument (observed grid 10**arange(3.578, 3.97, 1e-4), 3921 px).

    Parameters
    ----------
    official : bool
        Return an instance of spender's own ``spender.data.sdss.SDSS`` class (used to load
        official spender checkpoints with ``spender.load_model``). By default a plain
        ``spender.instrument.Instrument`` on the same grid: ``SDSS`` adds nothing else to it (no
        LSF, no calibration, the same buffers), and importing ``spender.data.sdss`` imports
        astropy.table and astropy.io.fits, about 1 s of every cold model load.
        tests/test_ml_encoder.py checks that both give the same module state.
    """
    if official:
        inst = spender_submodule("data.sdss").SDSS()
    else:
        Instrument = spender_submodule("instrument").Instrument
        inst = Instrument(10 ** torch.arange(3.578, 3.97, 0.0001))
    if inst.wave_obs.numel() != N_PIX or not np.allclose(inst.wave_obs.numpy(), WAVE_OBS_VAC_AA, rtol=1e-6):
        raise ModelError("spender's SDSS instrument grid differs from explorer.constants.WAVE_OBS_VAC_AA")
    return inst


def rest_frame_grid(z_max: float = Z_MAX, n_bins: int | None = None) -> torch.Tensor:
    """spender's rest-frame grid: linear from min(wave_obs)/(1+z_max) to max(wave_obs).

    spender's training scripts use ``bins = int(n_obs * (1 + z_max))`` (their ``train_sdss.py``).
    """
    wave_obs = torch.as_tensor(WAVE_OBS_VAC_AA, dtype=torch.float32)
    if n_bins is None:
        n_bins = int(N_PIX * (1 + z_max))
    return torch.linspace(float(wave_obs.min()) / (1 + z_max), float(wave_obs.max()), n_bins)


def _spender_encoder_class():
    return spender_submodule("model").SpectrumEncoder


class WidthSpectrumEncoder(_spender_encoder_class()):
    """spender's ``SpectrumEncoder`` with configurable convolution widths.

    Parameters
    ----------
    instrument : spender.Instrument
        The observing instrument (SDSS).
    n_latent : int
        Number of latents S.
    widths : tuple of 3 int
        Output channels of the three convolution blocks; the last must be even (half are
        attention values, half keys). spender uses (128, 256, 512).
    n_hidden : tuple of int
        Hidden sizes of the MLP from attended features to latents.
    """

    def __init__(self, instrument, n_latent, widths=DEFAULT_WIDTHS, n_hidden=SPENDER_ENCODER_HIDDEN):
        nn.Module.__init__(self)  # skip spender's constructor (fixed widths); same attributes below
        MLP = spender_submodule("model").MLP

        widths = tuple(int(w) for w in widths)
        if len(widths) != 3 or widths[-1] % 2:
            raise ModelError(f"encoder widths must be 3 integers with an even last one, got {widths}")
        self.instrument = instrument
        self.n_latent = int(n_latent)
        self.widths = widths
        self.conv1, self.conv2, self.conv3 = self._conv_blocks(list(widths), list(SPENDER_KERNELS))
        self.n_feature = widths[-1] // 2
        self.pool1, self.pool2 = tuple(nn.MaxPool1d(s, padding=s // 2) for s in SPENDER_KERNELS[:2])
        self.softmax = nn.Softmax(dim=-1)
        act = [nn.PReLU(n) for n in n_hidden] + [nn.Identity()]
        self.mlp = MLP(self.n_feature, self.n_latent, n_hidden=tuple(n_hidden), act=act)


@dataclass
class EncoderConfig:
    """Architecture of the autoencoder (everything needed to rebuild it)."""

    n_latent: int = 6
    widths: tuple = DEFAULT_WIDTHS
    encoder_hidden: tuple = SPENDER_ENCODER_HIDDEN
    decoder_hidden: tuple = DEFAULT_DECODER_HIDDEN
    z_max: float = Z_MAX
    n_rest: int = field(default_factory=lambda: int(N_PIX * (1 + Z_MAX)))
    speculator_activation: bool = True

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("widths", "encoder_hidden", "decoder_hidden"):
            d[k] = list(d[k])
        return d


def build_autoencoder(config: EncoderConfig):
    """Build a spender ``BaseAutoencoder`` from :class:`EncoderConfig`."""
    sm = spender_submodule("model")
    BaseAutoencoder, SpectrumDecoder = sm.BaseAutoencoder, sm.SpectrumDecoder

    inst = sdss_instrument()
    enc = WidthSpectrumEncoder(inst, config.n_latent, config.widths, config.encoder_hidden)
    wave_rest = torch.linspace(
        float(WAVE_OBS_VAC_AA.min()) / (1 + config.z_max), float(WAVE_OBS_VAC_AA.max()), int(config.n_rest)
    )
    act = None if config.speculator_activation else [nn.LeakyReLU()] * (len(config.decoder_hidden) + 1)
    dec = SpectrumDecoder(wave_rest, config.n_latent, n_hidden=tuple(config.decoder_hidden), act=act)
    return BaseAutoencoder(enc, dec)


def _config_from_state_dict(sd: dict) -> EncoderConfig:
    """Infer the architecture from a spender-layout state dict (tensor shapes)."""
    try:
        widths = tuple(int(sd[f"encoder.conv{i}.0.weight"].shape[0]) for i in (1, 2, 3))
        enc_lin = sorted(
            (int(k.split(".")[2]), v)
            for k, v in sd.items()
            if k.startswith("encoder.mlp.") and k.endswith("weight")
        )
        enc_lin = [v for _, v in enc_lin if v.ndim == 2]
        dec_lin = sorted(
            (int(k.split(".")[2]), v)
            for k, v in sd.items()
            if k.startswith("decoder.mlp.") and k.endswith("weight")
        )
        dec_lin = [v for _, v in dec_lin if v.ndim == 2]
        wave_rest = sd["decoder.wave_rest"]
    except (KeyError, ValueError, IndexError) as exc:
        raise ModelError(f"state dict is not a spender autoencoder (missing/odd key: {exc})") from None
    n_latent = int(dec_lin[0].shape[1])
    enc_hidden = tuple(int(w.shape[0]) for w in enc_lin[:-1])
    dec_hidden = tuple(int(w.shape[0]) for w in dec_lin[:-1])
    wave_rest = wave_rest.float()
    z_max = round(float(WAVE_OBS_VAC_AA.min() / float(wave_rest[0]) - 1.0), 4)
    return EncoderConfig(
        n_latent=n_latent,
        widths=widths,
        encoder_hidden=enc_hidden,
        decoder_hidden=dec_hidden,
        z_max=z_max,
        n_rest=int(wave_rest.numel()),
        speculator_activation="decoder.mlp.1.beta" in sd,
    )


class SpectrumEncoderModel:
    """A trained autoencoder with numpy-in / numpy-out helpers.

    Parameters
    ----------
    autoencoder : spender.model.BaseAutoencoder
    config : EncoderConfig
    meta : dict
        Training information (losses, timing, source file).
    """

    def __init__(self, autoencoder, config: EncoderConfig, meta: dict | None = None):
        self.model = autoencoder.eval()
        self.config = config
        self.meta = meta or {}

    @property
    def n_latent(self) -> int:
        return self.config.n_latent

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @torch.no_grad()
    def encode(self, flux: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Latents of normalized spectra.

        Parameters
        ----------
        flux : ndarray, shape (N, 3921) or (3921,)
            Normalized observed-frame flux on the spender grid (``GalaxySpectrum.flux``).

        Returns
        -------
        ndarray, shape (N, S) (or (S,) for one spectrum), float32
        """
        flux = np.asarray(flux, dtype=np.float32)
        single = flux.ndim == 1
        flux = np.atleast_2d(flux)
        if flux.shape[1] != N_PIX:
            raise ModelError(f"spectra must have {N_PIX} pixels on the spender grid, got shape {flux.shape}")
        flux = np.nan_to_num(flux, nan=0.0, posinf=0.0, neginf=0.0)
        out = [
            self.model.encode(torch.from_numpy(flux[i : i + batch_size]))
            for i in range(0, len(flux), batch_size)
        ]
        s = torch.cat(out).numpy() if out else np.zeros((0, self.n_latent), np.float32)
        return s[0] if single else s

    @torch.no_grad()
    def reconstruct(self, flux: np.ndarray, z: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Reconstruction on the observed grid (normalized flux units), shape (N, 3921)."""
        flux = np.atleast_2d(np.nan_to_num(np.asarray(flux, dtype=np.float32)))
        z = np.atleast_1d(np.asarray(z, dtype=np.float32))
        out = []
        for i in range(0, len(flux), batch_size):
            y = torch.from_numpy(flux[i : i + batch_size])
            out.append(self.model(y, z=torch.from_numpy(z[i : i + batch_size])))
        return torch.cat(out).numpy()

    def reduced_chi2(
        self, flux: np.ndarray, weight: np.ndarray, z: np.ndarray, batch_size: int = 512
    ) -> np.ndarray:
        """Reduced chi^2 of the reconstruction: sum(w (x - recon)^2) / n_good, shape (N,)."""
        flux = np.atleast_2d(np.nan_to_num(np.asarray(flux, dtype=np.float32)))
        weight = np.atleast_2d(np.nan_to_num(np.asarray(weight, dtype=np.float32)))
        recon = self.reconstruct(flux, z, batch_size)
        n_good = np.count_nonzero(weight > 0, axis=1)
        chi2 = np.sum(weight * (flux - recon) ** 2, axis=1, dtype=np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n_good > 0, chi2 / np.maximum(n_good, 1), np.nan)

    def save(self, path: str | Path, losses=None) -> Path:
        """Save in spender's layout (``{"model": state_dict, "losses": ...}``) plus our config."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "model": self.model.state_dict(),
                "losses": losses if losses is not None else self.meta.get("losses", []),
                "irox": {"config": self.config.to_dict(), "meta": _jsonable(self.meta)},
            },
            path,
        )
        return path


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def load_encoder(path: str | Path) -> SpectrumEncoderModel:
    """Load an autoencoder checkpoint: ours or an official spender file.

    spender's own files (``torch.save({"model": state_dict or [state_dict, ...], ...})``,
    e.g. ``spender.sdss.paperII-c273bb69.pt``) are detected by the absence of our ``"irox"``
    entry; when their architecture is spender's default they are loaded with
    ``spender.load_model(path, SDSS())`` itself, otherwise the architecture is inferred from
    the tensor shapes.

    Raises
    ------
    ModelError
        The file is missing, not a torch file, or not a spender autoencoder.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"encoder checkpoint {path} does not exist")
    try:
        struct = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises several types for damaged files
        raise ModelError(f"encoder checkpoint {path} is not a readable torch file: {exc}") from None
    if not isinstance(struct, dict) or "model" not in struct:
        raise ModelError(f"encoder checkpoint {path} has no 'model' entry (not spender's layout)")
    sd = struct["model"]
    if isinstance(sd, list | tuple):  # spender saves [autoencoder, ...] in some scripts
        sd = sd[0]
    if not isinstance(sd, dict):
        raise ModelError(f"encoder checkpoint {path}: 'model' is {type(sd).__name__}, expected a state dict")
    sd = {k.replace("mlp.mlp", "mlp"): v for k, v in sd.items()}  # spender's legacy key names
    try:
        config = _config_from_state_dict(sd)
    except ModelError as exc:
        raise ModelError(f"encoder checkpoint {path}: {exc}") from None
    irox = struct.get("irox")
    meta = dict(irox.get("meta", {})) if isinstance(irox, dict) else {"format": "spender"}
    meta["source_file"] = str(path)
    is_spender_default = (
        irox is None
        and config.widths == SPENDER_WIDTHS
        and config.encoder_hidden == SPENDER_ENCODER_HIDDEN
        and config.decoder_hidden == SPENDER_DECODER_HIDDEN
    )
    if is_spender_default:
        import spender

        # spender's training scripts store "losses" as a numpy array (train_sdss_paperII.py:
        # np.zeros((2, n_encoder, n_epoch, 3))), which torch >= 2.6's default weights_only=True
        # refuses; the file was already unpickled above with the same trust.
        model = spender.load_model(str(path), sdss_instrument(official=True), weights_only=False)
        return SpectrumEncoderModel(model, config, meta)
    model = build_autoencoder(config)
    if "encoder.conv1.0.weight" in sd and sd["encoder.mlp.0.weight"].shape[1] != model.encoder.n_feature:
        # spender backwards compatibility: an extra redshift input in old encoder MLPs
        sd["encoder.mlp.0.weight"] = sd["encoder.mlp.0.weight"][:, : model.encoder.n_feature]
    sd.setdefault("encoder.instrument.wave_obs", model.encoder.instrument.wave_obs)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise ModelError(
            f"encoder checkpoint {path} does not match its inferred architecture: {exc}"
        ) from None
    return SpectrumEncoderModel(model, config, meta)
