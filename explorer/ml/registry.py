"""Shipped models: ``models/<name>/`` with a checksummed manifest, and the loaded bundle.

Layout of a model directory::

    models/<name>/
        manifest.json          files (sha256, bytes), per-component config, training command,
                               seed, catalog provenance, package version
        encoder.pt             spender-layout autoencoder checkpoint
        predictor.pt           IR deep ensemble (full covariance, calibrated)
        properties.pt          property heads (simulated catalogs only)
        paper_mlp.pt           baseline (a): the paper's demo MLP
        photometry_only.pt     baseline (b): ugriz + z with our machinery
        evaluation.json        numbers from explorer.ml.evaluate.evaluate
        MODEL_CARD.md          generated from evaluation.json

:func:`load_models` verifies every file listed in the manifest against its sha256 before
loading; a missing, corrupt or mismatched file raises :class:`~explorer.errors.ModelError`
naming the file.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import ModelError
from ..jsonutil import json_default
from .data import build_features, feature_names
from .predictor import IREnsemble, IRPosterior

MANIFEST = "manifest.json"
FORMAT_NAME = "irox-models"
FORMAT_VERSION = 1
COMPONENT_FILES = {
    "encoder": "encoder.pt",
    "predictor": "predictor.pt",
    "properties": "properties.pt",
    "paper_mlp": "paper_mlp.pt",
    "photometry_only": "photometry_only.pt",
}
#: largest total size of a shipped model directory (issue: <= 50 MB for everything shipped)
MAX_TOTAL_BYTES = 50 * 1024**2


def models_root() -> Path:
    from ..paths import MODELS_DIR

    return MODELS_DIR


def resolve_model_dir(name_or_path: str | os.PathLike) -> Path:
    """A model name (``models/<name>``) or a path to a model directory."""
    p = Path(name_or_path)
    if p.is_dir() or p.is_absolute() or len(p.parts) > 1:
        return p
    return models_root() / str(name_or_path)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def catalog_provenance(catalog, with_sha256: bool = True) -> dict:
    """Where a catalog came from: path, sha256 (of the file and of its data), size, simulated flag
    and its own provenance."""
    p = Path(catalog.path)
    out = {
        "path": str(p),
        "n_galaxies": int(catalog.n),
        "simulated": bool(catalog.simulated),
        "provenance": catalog.provenance,
    }
    if with_sha256 and p.is_file():
        out["sha256"] = sha256_file(p)
        out["content_sha256"] = catalog_content_sha256(p)
        out["bytes"] = p.stat().st_size
    return out


def catalog_content_sha256(path: str | os.PathLike) -> str:
    """sha256 of an HDF5 catalog's data: every dataset's name, dtype, shape and values, in name
    order, and no attributes. A catalog simulated again by the same command has other bytes (its
    provenance records when it was made) but the same content digest."""
    import h5py

    h = hashlib.sha256()
    with h5py.File(path, "r") as f:
        names: list[str] = []
        f.visit(lambda n: names.append(n) if isinstance(f[n], h5py.Dataset) else None)
        for name in sorted(names):
            ds = f[name]
            h.update(f"{name}|{ds.dtype.str}|{ds.shape}".encode())
            step = max(1, (1 << 26) // max(1, ds.dtype.itemsize * int(np.prod(ds.shape[1:], dtype=np.int64))))
            for i in range(0, ds.shape[0] if ds.shape else 1, step):
                block = ds[i : i + step] if ds.shape else ds[()]
                h.update(np.ascontiguousarray(block).tobytes())
    return h.hexdigest()


#: provenance entries that differ between two runs of the same ``simulate`` command
VOLATILE_PROVENANCE = ("created", "cpu_ms_per_galaxy", "wall_s_setup_and_simulate", "workers")


def same_catalog(path: str | os.PathLike, recorded: dict, provenance: dict | None = None) -> tuple[bool, str]:
    """Is the catalog at ``path`` the one ``recorded`` (a :func:`catalog_provenance` dict) describes?

    Yes if the file's sha256 matches, or its data's (``content_sha256``) where that was recorded.
    A record without a content digest (written before it existed) is matched on the catalog's own
    provenance: the same generator command, seed, versions and settings, times aside. Returns
    ``(same, how)``, ``how`` naming the test that decided."""
    if sha256_file(path) == recorded.get("sha256"):
        return True, "file sha256"
    if "content_sha256" in recorded:
        return catalog_content_sha256(path) == recorded["content_sha256"], "data sha256"
    if provenance is None or not recorded.get("provenance"):
        return False, "file sha256"

    def stable(d):
        return {k: v for k, v in d.items() if k not in VOLATILE_PROVENANCE}

    return stable(provenance) == stable(recorded["provenance"]), "provenance (times aside)"


def command_line() -> str:
    """The command that is running, as a user would type it (``python -m explorer ...``)."""
    argv = [str(a) for a in sys.argv]
    if argv and Path(argv[0]).name == "__main__.py" and Path(argv[0]).parent.name == "explorer":
        argv = ["-m", "explorer"] + argv[1:]  # `python -m explorer` sets argv[0] to the file path
    return " ".join(["python"] + argv)


def read_manifest(model_dir: str | os.PathLike) -> dict:
    d = Path(model_dir)
    mpath = d / MANIFEST
    if not d.is_dir():
        raise ModelError(f"model directory {d} does not exist")
    if not mpath.is_file():
        raise ModelError(f"{mpath} is missing: {d} is not a model directory")
    try:
        man = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{mpath} is not valid JSON: {exc}") from None
    if man.get("format") != FORMAT_NAME:
        raise ModelError(f"{mpath}: format {man.get('format')!r}, expected {FORMAT_NAME!r}")
    if not isinstance(man.get("files"), dict):
        raise ModelError(f"{mpath}: no 'files' table")
    return man


def register_file(
    model_dir: str | os.PathLike,
    filename: str,
    *,
    component: str | None = None,
    config: dict | None = None,
    info: dict | None = None,
) -> dict:
    """Add (or refresh) one file in the directory's manifest, creating the manifest if needed.

    Parameters
    ----------
    model_dir : path-like
    filename : str
        File name inside ``model_dir`` (already written).
    component : str, optional
        Component name (``encoder``, ``predictor``...); its ``config`` and ``info`` (training
        command, seed, catalog provenance...) are stored under ``components``.
    """
    d = Path(model_dir)
    f = d / filename
    if not f.is_file():
        raise ModelError(f"cannot register {f}: file does not exist")
    mpath = d / MANIFEST
    if mpath.is_file():
        man = read_manifest(d)
    else:
        from .. import __version__

        man = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "name": d.name,
            "package_version": __version__,
            "files": {},
            "components": {},
        }
    man["files"][filename] = {"sha256": sha256_file(f), "bytes": f.stat().st_size}
    if component is not None:
        entry = {"file": filename, "config": config or {}}
        entry.update(info or {})
        man["components"][component] = entry
        for key in ("training_command", "seed", "catalog"):
            # top-level provenance: the predictor's (the encoder's until a predictor exists)
            if info and key in info and (component == "predictor" or key not in man):
                man[key] = info[key]
    man["updated_utc"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    man["total_bytes"] = int(sum(v["bytes"] for v in man["files"].values()))
    tmp = mpath.with_suffix(".json.partial")
    tmp.write_text(json.dumps(man, indent=2, default=json_default))
    tmp.replace(mpath)
    return man


def save_component(
    model_dir: str | os.PathLike, component: str, state: dict, *, config=None, info=None
) -> Path:
    """``torch.save`` a component's state dict and register it in the manifest."""
    d = Path(model_dir)
    d.mkdir(parents=True, exist_ok=True)
    fname = COMPONENT_FILES[component]
    path = d / fname
    tmp = path.with_suffix(".pt.partial")
    torch.save(state, tmp)
    tmp.replace(path)
    register_file(d, fname, component=component, config=config, info=info)
    return path


def verify(model_dir: str | os.PathLike) -> dict:
    """Check every file listed in the manifest (exists, sha256). Returns the manifest."""
    d = Path(model_dir)
    man = read_manifest(d)
    for fname, meta in man["files"].items():
        f = d / fname
        if not f.is_file():
            raise ModelError(f"{f} is listed in {d / MANIFEST} but missing")
        if f.stat().st_size != meta.get("bytes", f.stat().st_size):
            raise ModelError(
                f"{f} is corrupt or was changed: {f.stat().st_size} bytes, manifest says {meta['bytes']}"
            )
        digest = sha256_file(f)
        if digest != meta.get("sha256"):
            raise ModelError(
                f"{f} is corrupt or was changed: sha256 {digest[:12]}..., manifest says {str(meta.get('sha256'))[:12]}..."
            )
    return man


def _torch_load(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"{path} cannot be read as a torch checkpoint: {exc}") from None


@dataclass
class ModelBundle:
    """Everything in one model directory, loaded.

    Attributes
    ----------
    path : Path
    manifest : dict
    encoder : SpectrumEncoderModel or None
    predictor : IREnsemble or None
    properties : PropertyEnsemble or None
    paper_mlp : PaperMLPModel or None
    photometry_only : IREnsemble or None
    midir : dict or None
        The mid-IR spectrum models (``midir.pt``: ``{"optical": MidIRModel, "photometry": MidIRModel}``);
        not loaded by :func:`load_models` but by the app's loader
        (:func:`explorer.app.model_panel.try_load_models`, with :func:`explorer.ml.midir_eval.load_midir`).
    midir_error : str
        Why a listed ``midir.pt`` could not be read ("" when it was, or when there is none).
    """

    path: Path
    manifest: dict
    encoder: object = None
    predictor: IREnsemble | None = None
    properties: object = None
    paper_mlp: object = None
    photometry_only: IREnsemble | None = None
    evaluation: dict = field(default_factory=dict)
    midir: dict | None = None
    midir_error: str = ""

    def _need(self, attr: str):
        comp = getattr(self, attr)
        if comp is None:
            raise ModelError(
                f"{self.path}: component {attr!r} ({COMPONENT_FILES.get(attr)}) is not in this model directory"
            )
        return comp

    def encode(self, flux: np.ndarray) -> np.ndarray:
        """Latents (N, S) of normalized spectra (N, 3921)."""
        return self._need("encoder").encode(flux)

    @staticmethod
    def input_table(z, spec_norm, mag_total=None, mag_fiber=None, n: int | None = None) -> dict:
        """Per-galaxy inputs as a catalog-like table.

        Parameters
        ----------
        z : (N,) redshift
        spec_norm : (N,) spectrum normalization, 1e-17 erg/s/cm^2/A
        mag_total, mag_fiber : (N, 5) ugriz total / 3-arcsec fiber AB magnitudes, optional
            (missing values are replaced by the training mean, which costs accuracy)
        """
        z = np.atleast_1d(np.asarray(z, float))
        n = len(z) if n is None else n
        table = {
            "z": np.broadcast_to(z, (n,)),
            "spec_norm": np.broadcast_to(np.asarray(spec_norm, float), (n,)),
        }
        for name, mags in (("total", mag_total), ("fiber", mag_fiber)):
            m = np.full((n, 5), np.nan) if mags is None else np.broadcast_to(np.asarray(mags, float), (n, 5))
            for k, b in enumerate("ugriz"):
                table[f"mag_{b}_{name}"] = m[:, k]
        return table

    def predict(
        self,
        flux: np.ndarray | None = None,
        z=None,
        spec_norm=None,
        mag_total=None,
        mag_fiber=None,
        latents: np.ndarray | None = None,
        sigma_obs_mag: np.ndarray | None = None,
    ) -> IRPosterior:
        """IR posterior of galaxies from their spectra (or precomputed latents).

        Parameters
        ----------
        flux : (N, 3921) normalized spectra on the spender grid (``GalaxySpectrum.flux``)
        z : (N,) redshift
        spec_norm : (N,) normalization, 1e-17 erg/s/cm^2/A (``GalaxySpectrum.norm``)
        mag_total, mag_fiber : (N, 5) ugriz total and fiber AB magnitudes
        latents : (N, S), optional, instead of ``flux``
        sigma_obs_mag : (N, 4), optional catalog errors of W1-W4

        Returns
        -------
        IRPosterior
            The predictive distribution of the TRUE W1-W4 magnitudes; with ``sigma_obs_mag``,
            that of a MEASUREMENT with those errors (``kind == "observation"``).
        """
        if latents is None:
            if flux is None:
                raise ModelError("predict needs flux (N, 3921) or latents (N, S)")
            latents = self.encode(np.atleast_2d(flux))
        latents = np.atleast_2d(latents)
        pred = self._need("predictor")
        table = self.input_table(z, spec_norm, mag_total, mag_fiber, n=len(latents))
        x = build_features(pred.config.feature_kind, table, np.arange(len(latents)), latents)
        post = pred.predict(x)
        return post.observed(np.atleast_2d(sigma_obs_mag)) if sigma_obs_mag is not None else post

    def predict_properties(
        self, flux=None, z=None, spec_norm=None, mag_total=None, mag_fiber=None, latents=None
    ):
        """q_PAH, P(AGN), L_bol,AGN and SFR with uncertainties (:class:`PropertyPosterior`)."""
        if latents is None:
            if flux is None:
                raise ModelError("predict_properties needs flux (N, 3921) or latents (N, S)")
            latents = self.encode(np.atleast_2d(flux))
        latents = np.atleast_2d(latents)
        props = self._need("properties")
        table = self.input_table(z, spec_norm, mag_total, mag_fiber, n=len(latents))
        return props.predict(build_features(props.feature_kind, table, np.arange(len(latents)), latents))

    def catalog_latents(self, catalog, idx, batch: int = 2048, progress: bool = False) -> np.ndarray:
        """Encode the spectra of rows ``idx`` of a catalog (read in batches).

        A latent catalog (no spectra, e.g. the paper's release) gives its stored latents.
        """
        from tqdm.auto import tqdm

        idx = np.asarray(idx, dtype=int)
        if not catalog.has_spectra:
            return np.asarray(catalog.latents, dtype=np.float32)[idx]
        enc = self._need("encoder")
        out = []
        for s in tqdm(range(0, len(idx), batch), desc="encode spectra", disable=not progress):
            f, _ = catalog.spectra(idx[s : s + batch])
            out.append(enc.encode(f))
        return np.concatenate(out) if out else np.zeros((0, enc.n_latent), np.float32)


def load_models(name_or_path: str | os.PathLike, components=None, check: bool = True) -> ModelBundle:
    """Load a model directory after verifying its files against the manifest.

    Parameters
    ----------
    name_or_path : str or path
        ``"default"`` (-> ``models/default``) or a directory path.
    components : iterable of str, optional
        Load only these components (all present ones by default).
    check : bool
        Verify sha256 checksums first (on by default).

    Raises
    ------
    ModelError
        Missing directory/manifest, a listed file missing or with a wrong checksum, a file that
        is not a readable checkpoint, or components that do not fit together.
    """
    from .baselines import PaperMLPModel
    from .encoder import load_encoder
    from .properties import PropertyEnsemble

    d = resolve_model_dir(name_or_path)
    man = verify(d) if check else read_manifest(d)
    wanted = set(components) if components is not None else set(COMPONENT_FILES)
    bundle = ModelBundle(path=d, manifest=man)
    for comp, fname in COMPONENT_FILES.items():
        if comp not in wanted:
            continue
        if fname not in man["files"]:
            if components is not None:
                raise ModelError(f"{d}: component {comp!r} requested but {fname} is not in {MANIFEST}")
            continue
        f = d / fname
        if comp == "encoder":
            bundle.encoder = load_encoder(f)
            continue
        st = _torch_load(f)
        try:
            if comp in ("predictor", "photometry_only"):
                obj = IREnsemble.from_state(st)
            elif comp == "properties":
                obj = PropertyEnsemble.from_state(st)
            else:
                obj = PaperMLPModel.from_state(st)
        except (KeyError, RuntimeError, TypeError, ValueError) as exc:
            raise ModelError(f"{f} does not hold a valid {comp} model: {type(exc).__name__}: {exc}") from None
        setattr(bundle, comp, obj)
    _check_consistency(bundle)
    ev = d / "evaluation.json"
    if ev.is_file():
        try:
            bundle.evaluation = json.loads(ev.read_text())
        except json.JSONDecodeError:
            bundle.evaluation = {}
    return bundle


def _check_consistency(b: ModelBundle) -> None:
    """Components must agree on inputs (latent count, feature names) and with the manifest."""
    man = b.manifest
    for comp in ("predictor", "photometry_only"):
        ens = getattr(b, comp)
        if ens is None:
            continue
        fname = b.path / COMPONENT_FILES[comp]
        want = man.get("components", {}).get(comp, {}).get("config", {}).get("feature_names")
        if want is not None and list(want) != list(ens.config.feature_names):
            raise ModelError(
                f"{fname} does not match {MANIFEST}: feature names {ens.config.feature_names} vs {want}"
            )
    if b.encoder is not None:
        n_lat = b.encoder.n_latent
        for comp in ("predictor", "properties", "paper_mlp"):
            obj = getattr(b, comp)
            if obj is None:
                continue
            kind = "paper" if comp == "paper_mlp" else obj.feature_kind
            n_in = len(obj.x_scaler.mean)
            expected = len(feature_names(kind, n_lat))
            if n_in != expected:
                raise ModelError(
                    f"{b.path / COMPONENT_FILES[comp]} expects {n_in} inputs but encoder.pt gives "
                    f"{n_lat} latents ({expected} {kind} features): the files do not belong together"
                )
