"""The project's on-disk catalog format (HDF5), its writer and a lazy reader.

Layout of a catalog file (``format = "irox-catalog"``, ``format_version = 1``)::

    /                       attrs: format, format_version, n_galaxies, loglam_start,
                                   loglam_step, n_pix, medium="vacuum", flux_unit,
                                   simulated (bool), provenance (JSON string)
    /spectra/flux           (N, 3921) observed-frame flux on the spender grid DIVIDED by
                            ``spec_norm`` (dimensionless); chunked one galaxy per chunk
    /spectra/weight         (N, 3921) inverse variance of that normalized flux; 0 = masked
    /table/<column>         one 1-D dataset per column, length N (see ``COLUMNS``)
    /latents                (N, S) optional: precomputed encoder latents (attrs: source)

A *latent catalog* (``content = "latents"``) has ``/latents`` and no ``/spectra`` group: the
galaxies come as official spender latents (e.g. the paper's released table, see
:mod:`explorer.io.paper_table`), so spectra-level features (reading, decoding, attributing a
spectrum) are unavailable while everything that needs only latents + z + normalization works.
Files without the ``content`` attribute are spectral catalogs (``content = "spectra"``).

One galaxy is read with :meth:`Catalog.spectrum` without loading the rest of the file.
Rows that fail validation (duplicate id, z outside [0, 0.5], no usable pixels, NaN or
negative WISE errors) are *flagged* in :attr:`Catalog.bad_rows`; they never stop the good
rows from loading.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .constants import LOGLAM_START, LOGLAM_STEP, N_PIX, SDSS_FLUX_UNIT, WISE_BANDS, Z_MAX, Z_MIN
from .errors import CatalogError

FORMAT_NAME = "irox-catalog"
FORMAT_VERSION = 1

#: Column name -> (unit, description). Columns marked required must be present.
COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("", "galaxy identifier (SDSS plate-mjd-fiber or simulated id)"),
    "ra_deg": ("deg", "right ascension (ICRS)"),
    "dec_deg": ("deg", "declination (ICRS)"),
    "z": ("", "spectroscopic redshift"),
    "z_err": ("", "redshift error"),
    "spec_norm": (SDSS_FLUX_UNIT, "median flux in rest frame 5300-5850 A (spender normalization)"),
    "n_good_pix": ("", "number of grid pixels with weight > 0"),
    "split": ("", "train / valid / test"),
    "class_label": ("", "star-forming / quenched / agn (simulation truth, or empty)"),
    **{f"mag_{b}_total": ("mag (AB)", f"SDSS {b} total (model) magnitude") for b in "ugriz"},
    **{f"magerr_{b}_total": ("mag", f"error of mag_{b}_total") for b in "ugriz"},
    **{f"mag_{b}_fiber": ("mag (AB)", f"SDSS {b} 3-arcsec fiber magnitude") for b in "ugriz"},
    **{f"magerr_{b}_fiber": ("mag", f"error of mag_{b}_fiber") for b in "ugriz"},
    **{
        f"{w.lower()}_mag_vega": ("mag (Vega)", f"{w} profile-fit mag, or its 95% upper limit")
        for w in WISE_BANDS
    },
    **{f"{w.lower()}_sigma_mag": ("mag", f"{w} mag error; NaN for upper limits") for w in WISE_BANDS},
    **{
        f"{w.lower()}_flux_mjy": ("mJy", f"{w} flux density from the mag (upper limit if w?_is_ul)")
        for w in WISE_BANDS
    },
    **{
        f"{w.lower()}_flux_err_mjy": ("mJy", f"{w} flux density error; NaN for upper limits")
        for w in WISE_BANDS
    },
    **{f"{w.lower()}_is_ul": ("", f"{w} is a 95% upper limit (ph_qual U)") for w in WISE_BANDS},
    "ph_qual": ("", "AllWISE photometric quality, one letter per band"),
}
REQUIRED = ("id", "z", "spec_norm", "split") + tuple(
    f"{w.lower()}_{s}" for w in WISE_BANDS for s in ("mag_vega", "sigma_mag", "is_ul")
)


@dataclass
class GalaxySpectrum:
    """One spectrum on the spender grid.

    Attributes
    ----------
    id : str
    z : float
    flux : ndarray, shape (3921,)
        Observed-frame flux divided by ``norm`` (dimensionless).
    weight : ndarray, shape (3921,)
        Inverse variance of ``flux``; 0 where masked.
    norm : float
        Normalization in 1e-17 erg/s/cm^2/A (median flux in rest frame 5300-5850 A).
    meta : dict
        Other per-galaxy values (catalog row, or SPECOBJ header values).
    """

    id: str
    z: float
    flux: np.ndarray
    weight: np.ndarray
    norm: float
    meta: dict = field(default_factory=dict)

    @property
    def n_good_pix(self) -> int:
        return int(np.count_nonzero(self.weight > 0))


def _encode_column(name: str, values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind in ("U", "O"):
        arr = np.array([str(v) for v in arr], dtype="S")
    if arr.ndim != 1:
        raise CatalogError(f"catalog column {name!r} must be 1-D, got shape {arr.shape}")
    return arr


def write_catalog(
    path: str | Path,
    table: dict[str, np.ndarray],
    flux: np.ndarray | None,
    weight: np.ndarray | None,
    *,
    simulated: bool,
    provenance: dict | None = None,
    spectra_dtype: str = "float32",
    compression: str | None = "gzip",
    latents: np.ndarray | None = None,
    latent_source: str = "",
    extra_attrs: dict | None = None,
    ir_rest: dict | None = None,
) -> Path:
    """Write a catalog file.

    Parameters
    ----------
    path : path-like
        Output ``.h5`` file (parent directories are created).
    table : dict of str -> 1-D array
        Per-galaxy columns, each of length N; must include ``REQUIRED``.
    flux, weight : ndarray, shape (N, 3921)
        Normalized flux and its inverse variance on the spender grid.
    simulated : bool
        Whether the galaxies are simulated (truth columns expected then).
    provenance : dict, optional
        Command, seed, package versions... stored as JSON in the file attributes.
    spectra_dtype : {"float32", "float16"}
        Storage type of the spectra (float16 halves the file; its 5e-4 relative precision is
        far below the noise of SDSS spectra).
    latents : ndarray, shape (N, S), optional
        Precomputed latents. With ``flux = weight = None`` the file is a latent catalog.
    latent_source : str
        Where the latents come from (e.g. "spender sdss_II (paper release)").
    extra_attrs : dict, optional
        More root attributes (scalars or strings), e.g. ``optical_photometry``.
    ir_rest : dict, optional
        Noiseless rest-frame IR spectra of a simulated catalog: ``wave_um`` (W,) and components
        (N, W) in mJy (see :mod:`explorer.simulate.irspec`), stored under ``/ir_rest``.
    """
    import h5py

    path = Path(path)
    n, flux, weight, latents = _checked_inputs(path, table, flux, weight, latents)
    has_spectra = flux is not None
    cols = dict(table)
    if "n_good_pix" not in cols and has_spectra:
        cols["n_good_pix"] = np.count_nonzero(weight > 0, axis=1).astype(np.int32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".partial")
    kw = dict(compression=compression, shuffle=compression is not None) if compression else {}
    with h5py.File(tmp, "w") as f:
        f.attrs.update(
            format=FORMAT_NAME,
            format_version=FORMAT_VERSION,
            n_galaxies=n,
            loglam_start=LOGLAM_START,
            loglam_step=LOGLAM_STEP,
            n_pix=N_PIX,
            medium="vacuum",
            flux_unit=SDSS_FLUX_UNIT,
            simulated=bool(simulated),
            provenance=json.dumps(provenance or {}, sort_keys=True),
            content="spectra" if has_spectra else "latents",
        )
        f.attrs.update(extra_attrs or {})
        if has_spectra:
            g = f.create_group("spectra")
            chunks = (1, N_PIX) if n else None
            g.create_dataset("flux", data=flux.astype(spectra_dtype), chunks=chunks, **kw)
            g.create_dataset("weight", data=weight.astype(spectra_dtype), chunks=chunks, **kw)
        if latents is not None:
            ds = f.create_dataset("latents", data=latents, **kw)
            ds.attrs["source"] = latent_source
        if ir_rest:
            _write_ir_rest(f, ir_rest, n, path, kw)
        t = f.create_group("table")
        for name, col in cols.items():
            ds = t.create_dataset(name, data=_encode_column(name, col))
            unit, desc = COLUMNS.get(name, ("", ""))
            ds.attrs["unit"] = unit
            ds.attrs["description"] = desc
    tmp.replace(path)
    return path


class Catalog:
    """Lazy reader of a catalog file.

    The per-galaxy table is read on first use; spectra are read one galaxy (or one batch) at a
    time. Rows that fail validation are listed in :attr:`bad_rows` (index -> reason) and
    excluded from :attr:`good`.

    Parameters
    ----------
    path : path-like
        A file written by :func:`write_catalog`.
    """

    def __init__(self, path: str | Path):
        import h5py

        self.path = Path(path)
        if not self.path.exists():
            raise CatalogError(f"catalog {self.path} does not exist")
        try:
            self._h5 = h5py.File(self.path, "r")
        except OSError as exc:
            raise CatalogError(f"catalog {self.path} is not a readable HDF5 file: {exc}") from None
        attrs = self._h5.attrs
        # read the attributes before closing: a closed file's attrs read as None in the message
        fmt, version = attrs.get("format"), attrs.get("format_version", -1)
        if fmt != FORMAT_NAME:
            self._h5.close()
            raise CatalogError(f"{self.path} is not an {FORMAT_NAME} file (format attribute {fmt!r})")
        if int(version) != FORMAT_VERSION:
            self._h5.close()
            raise CatalogError(
                f"{self.path} has format_version {version}, this reader needs {FORMAT_VERSION}"
            )
        self.content = str(attrs.get("content", "spectra"))
        needs = (
            ("spectra/flux", "spectra/weight", "table") if self.content != "latents" else ("latents", "table")
        )
        for need in needs:
            if need not in self._h5:
                self._h5.close()
                raise CatalogError(f"{self.path} is truncated or damaged: group/dataset {need!r} missing")
        self.n = int(attrs["n_galaxies"])
        self.simulated = bool(attrs["simulated"])
        self.provenance = json.loads(attrs.get("provenance", "{}"))
        missing = [c for c in REQUIRED if c not in self._h5["table"]]
        if missing:
            self._h5.close()
            raise CatalogError(f"{self.path}: required columns missing from /table: {missing}")
        for name in ("spectra/flux", "spectra/weight") if self.has_spectra else ():
            if self._h5[name].shape != (self.n, N_PIX):
                shape = self._h5[name].shape
                self._h5.close()
                raise CatalogError(f"{self.path}: {name} has shape {shape}, expected ({self.n}, {N_PIX})")
        if "latents" in self._h5 and (
            self._h5["latents"].ndim != 2 or self._h5["latents"].shape[0] != self.n
        ):
            shape = self._h5["latents"].shape
            self._h5.close()
            raise CatalogError(f"{self.path}: latents have shape {shape}, expected ({self.n}, S)")
        for name, ds in self._h5["table"].items():
            if ds.shape != (self.n,):
                self._h5.close()
                raise CatalogError(
                    f"{self.path}: column {name!r} has {ds.shape[0] if ds.shape else 0} rows, expected {self.n}"
                )
        self._table: dict[str, np.ndarray] | None = None
        self._bad: dict[int, str] | None = None

    # -- content ----------------------------------------------------------------------------
    @property
    def has_spectra(self) -> bool:
        """False for a latent catalog (no ``/spectra``; latents stored instead)."""
        return self.content != "latents"

    @property
    def latents(self) -> np.ndarray | None:
        """Stored latents (N, S) float32, or None when the catalog holds spectra only."""
        if "latents" not in self._h5:
            return None
        if getattr(self, "_latents", None) is None:
            self._latents = self._h5["latents"][()].astype(np.float32)
        return self._latents

    @property
    def attrs(self) -> dict:
        """Root attributes other than the layout ones (e.g. ``optical_photometry``)."""
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in self._h5.attrs.items()}

    def _need_spectra(self) -> None:
        if not self.has_spectra:
            raise CatalogError(
                f"{self.path} is a latent catalog (official latents, no spectra): spectra cannot be read"
            )

    # -- table ------------------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        return list(self._h5["table"].keys())

    @property
    def table(self) -> dict[str, np.ndarray]:
        """All per-galaxy columns as arrays (strings decoded to ``str``)."""
        if self._table is None:
            out = {}
            for name, ds in self._h5["table"].items():
                arr = ds[()]
                if arr.dtype.kind == "S":
                    arr = arr.astype(str)
                out[name] = arr
            self._table = out
        return self._table

    def column(self, name: str) -> np.ndarray:
        if name not in self._h5["table"]:
            raise CatalogError(f"{self.path}: no column {name!r}; columns are {self.columns}")
        return self.table[name]

    def row(self, i: int) -> dict:
        """One galaxy's table row as a dict of Python scalars."""
        self._check_index(i)
        return {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in self.table.items()}

    def index_of(self, galaxy_id: str) -> int:
        ids = self.table["id"]
        hits = np.flatnonzero(ids == str(galaxy_id))
        if hits.size == 0:
            raise CatalogError(f"{self.path}: no galaxy with id {galaxy_id!r}")
        return int(hits[0])

    # -- validation ---------------------------------------------------------------------------
    @property
    def bad_rows(self) -> dict[int, str]:
        """Row index -> reason, for rows that fail validation."""
        if self._bad is None:
            self._bad = validate_table(self.table)
        return self._bad

    @property
    def good(self) -> np.ndarray:
        """Boolean mask of rows that passed validation."""
        mask = np.ones(self.n, dtype=bool)
        mask[list(self.bad_rows)] = False
        return mask

    def split_indices(self, split: str, good_only: bool = True) -> np.ndarray:
        sel = self.table["split"] == split
        if good_only:
            sel &= self.good
        return np.flatnonzero(sel)

    # -- spectra ------------------------------------------------------------------------------
    def _check_index(self, i: int) -> None:
        if not 0 <= int(i) < self.n:
            raise CatalogError(f"{self.path}: galaxy index {i} out of range 0..{self.n - 1}")

    def spectrum(self, i: int) -> GalaxySpectrum:
        """Read one galaxy's spectrum (and only that) from disk."""
        self._need_spectra()
        self._check_index(i)
        i = int(i)
        flux = self._h5["spectra/flux"][i].astype(np.float32)
        weight = self._h5["spectra/weight"][i].astype(np.float32)
        t = self._h5["table"]
        gid = t["id"][i]
        gid = gid.decode() if isinstance(gid, bytes) else str(gid)
        return GalaxySpectrum(
            id=gid,
            z=float(t["z"][i]),
            flux=flux,
            weight=weight,
            norm=float(t["spec_norm"][i]),
            meta={"index": i, "catalog": str(self.path)},
        )

    @property
    def has_ir_rest(self) -> bool:
        """Whether the catalog stores noiseless rest-frame IR spectra (simulated catalogs, v2)."""
        return "ir_rest" in self._h5

    def ir_rest(self, indices) -> dict:
        """Noiseless rest-frame IR spectra: ``wave_um`` (W,) and each component (len(indices), W),
        f_nu in mJy; a :class:`CatalogError` if the catalog has none."""
        if not self.has_ir_rest:
            raise CatalogError(f"{self.path}: no rest-frame IR spectra (/ir_rest) in this catalog")
        idx = np.asarray(indices, dtype=int)
        g = self._h5["ir_rest"]
        uniq, inverse = np.unique(idx, return_inverse=True)
        out = {"wave_um": g["wave_um"][()]}
        for name in g.attrs["components"].split(","):
            out[name] = (
                g[name][uniq].astype(np.float32)[inverse] if idx.size else np.zeros((0, out["wave_um"].size))
            )
        return out

    def spectra(self, indices) -> tuple[np.ndarray, np.ndarray]:
        """Read a batch: (flux, weight), each (len(indices), 3921) float32."""
        self._need_spectra()
        idx = np.asarray(indices, dtype=int)
        if idx.size == 0:
            return np.zeros((0, N_PIX), np.float32), np.zeros((0, N_PIX), np.float32)
        out_of_range = idx[(idx < 0) | (idx >= self.n)]
        if out_of_range.size:
            raise CatalogError(
                f"{self.path}: galaxy indices {out_of_range[:10].tolist()} out of range 0..{self.n - 1}"
            )
        order = np.argsort(idx)
        sorted_idx = idx[order]
        uniq, inverse = np.unique(sorted_idx, return_inverse=True)
        flux = self._h5["spectra/flux"][uniq].astype(np.float32)[inverse]
        weight = self._h5["spectra/weight"][uniq].astype(np.float32)[inverse]
        out_f = np.empty_like(flux)
        out_w = np.empty_like(weight)
        out_f[order] = flux
        out_w[order] = weight
        return out_f, out_w

    def close(self) -> None:
        self._h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        kind = "simulated" if self.simulated else "observed"
        latent = "" if self.has_spectra else ", latents only"
        return f"Catalog({str(self.path)!r}, {self.n} {kind} galaxies{latent})"


def validate_table(table: dict[str, np.ndarray]) -> dict[int, str]:
    """Flag bad rows of a per-galaxy table.

    Returns
    -------
    dict
        Row index -> human-readable reason (several reasons joined by "; ").
    """
    reasons: dict[int, list[str]] = {}

    def flag(mask, text):
        for i in np.flatnonzero(mask):
            reasons.setdefault(int(i), []).append(text if isinstance(text, str) else text(i))

    ids = np.asarray(table["id"]).astype(str)
    counts = Counter(ids)
    dup = np.array([counts[g] > 1 for g in ids], dtype=bool)
    flag(dup, lambda i: f"duplicate id {ids[i]!r}")
    z = np.asarray(table["z"], dtype=float)
    flag(~np.isfinite(z) | (z < Z_MIN) | (z > Z_MAX), lambda i: f"z={z[i]:.4g} outside [{Z_MIN}, {Z_MAX}]")
    if "n_good_pix" in table:
        flag(np.asarray(table["n_good_pix"]) == 0, "no unmasked spectrum pixels")
    norm = np.asarray(table["spec_norm"], dtype=float)
    flag(~np.isfinite(norm) | (norm <= 0), lambda i: f"spectrum normalization {norm[i]!r} is not positive")
    for w in WISE_BANDS:
        b = w.lower()
        ul = np.asarray(table[f"{b}_is_ul"], dtype=bool)
        sig = np.asarray(table[f"{b}_sigma_mag"], dtype=float)
        mag = np.asarray(table[f"{b}_mag_vega"], dtype=float)
        flag(~ul & ~np.isfinite(sig), f"{w} error is NaN for a detection")
        flag(~ul & (sig < 0), f"{w} error is negative")
        flag(~np.isfinite(mag), f"{w} magnitude missing")
    return {i: "; ".join(r) for i, r in sorted(reasons.items())}


def _write_ir_rest(f, ir_rest: dict, n: int, path: Path, kw: dict) -> None:
    """The ``/ir_rest`` group of :func:`write_catalog`."""
    wave = np.asarray(ir_rest["wave_um"], float)
    names = [k for k in ir_rest if k != "wave_um"]
    g = f.create_group("ir_rest")
    g.create_dataset("wave_um", data=wave)
    g.attrs.update(components=",".join(names), unit="mJy", frame="rest wavelength, observed f_nu")
    for name in names:
        arr = np.asarray(ir_rest[name], np.float32)
        if arr.shape != (n, wave.size):
            raise CatalogError(f"cannot write {path}: ir_rest/{name} {arr.shape} must be ({n}, {wave.size})")
        g.create_dataset(name, data=arr, chunks=(1, wave.size) if n else None, **kw)


def _checked_inputs(path: Path, table: dict, flux, weight, latents):
    """(n, flux, weight, latents) as arrays, or a :class:`CatalogError` naming what is wrong."""
    missing = [c for c in REQUIRED if c not in table]
    if missing:
        raise CatalogError(f"cannot write {path}: required columns missing: {missing}")
    n = len(np.asarray(table["id"]))
    has_spectra = flux is not None or weight is not None
    if not has_spectra and latents is None:
        raise CatalogError(f"cannot write {path}: a catalog needs spectra (flux, weight) or latents")
    if has_spectra:
        flux = np.asarray(flux)
        weight = np.asarray(weight)
        if flux.shape != (n, N_PIX) or weight.shape != (n, N_PIX):
            raise CatalogError(
                f"cannot write {path}: flux {flux.shape} and weight {weight.shape} must be ({n}, {N_PIX})"
            )
    if latents is not None:
        latents = np.asarray(latents, dtype=np.float32)
        if latents.ndim != 2 or latents.shape[0] != n:
            raise CatalogError(f"cannot write {path}: latents {latents.shape} must be ({n}, S)")
    for name, col in table.items():
        if len(np.asarray(col)) != n:
            raise CatalogError(f"cannot write {path}: column {name!r} has {len(col)} rows, expected {n}")
    return n, flux, weight, latents
