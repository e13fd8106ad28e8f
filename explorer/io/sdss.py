"""Reader for real SDSS spectra (spec / spec-lite FITS, DR8 and later; BOSS and eBOSS alike).

A file holds (SDSS data model, ``spec-PLATE-MJD-FIBER.fits``):

- HDU1 ``COADD``: ``flux`` [1e-17 erg/s/cm^2/A], ``loglam`` [log10 vacuum A], ``ivar``
  [1/flux^2], ``and_mask`` (and ``or_mask``, ``wdisp``, ``sky``, ``model``);
- HDU2 ``SPECOBJ``: one row with ``PLATE``, ``MJD``, ``FIBERID``, ``Z``, ``Z_ERR``,
  ``ZWARNING``, ``CLASS``, ``SUBCLASS`` (and ``PLUG_RA``, ``PLUG_DEC``).

The reader puts the pixels on spender's fixed observed-frame grid
(:data:`explorer.constants.LOGLAM_GRID`), masks bad pixels and strong sky lines, and normalizes
the spectrum the way spender does (Melchior et al. 2023, AJ 166 74): divide by the median flux
in rest-frame 5300-5850 A and multiply the inverse variance by that factor squared.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from ..catalog import GalaxySpectrum
from ..constants import (
    LOGLAM_GRID,
    LOGLAM_START,
    LOGLAM_STEP,
    N_PIX,
    NORM_WINDOW_REST_AA,
    SDSS_FLUX_UNIT,
    WAVE_OBS_VAC_AA,
    Z_MAX,
    Z_MIN,
)
from ..errors import SpectrumFileError
from .skylines import sky_line_mask

__all__ = ["read_sdss_spectrum", "summarize_spectrum", "place_on_grid", "sdss_id"]

COADD_COLUMNS = ("flux", "loglam", "ivar", "and_mask")
SPECOBJ_COLUMNS = ("plate", "mjd", "fiberid", "z")
SPECOBJ_OPTIONAL = ("z_err", "zwarning", "class", "subclass", "plug_ra", "plug_dec")

#: Largest offset (in pixels) between the file's loglam and the grid for nearest-pixel mapping.
NEAREST_TOLERANCE_PIX = 0.01

_FITS_MAGIC = b"SIMPLE  ="
_GZIP_MAGIC = b"\x1f\x8b"

#: Largest decompressed size of a gzipped spectrum that is read (bytes). The largest SDSS
#: ``spec`` files (every exposure kept, BOSS 4,600 pixels x ~40 exposures) are ~10 MB; 256 MB
#: leaves wide room while refusing a "zip bomb" that inflates to gigabytes.
MAX_DECOMPRESSED_BYTES = 256 * 1024**2


def _gunzip_bounded(path: Path, limit: int) -> bytes:
    """Decompress ``path`` into memory, refusing it as soon as it passes ``limit`` bytes."""
    import gzip
    import zlib

    out = bytearray()
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                out += chunk
                if len(out) > limit:
                    raise SpectrumFileError(
                        f"{path}: gzip content inflates beyond {limit / 1024**2:.0f} MB; "
                        "refused (not an SDSS spectrum)"
                    )
    except (OSError, EOFError, zlib.error) as exc:
        raise SpectrumFileError(f"{path}: truncated or corrupt gzip file ({exc})") from None
    return bytes(out)


def sdss_id(plate: int, mjd: int, fiberid: int) -> str:
    """SDSS spectrum identifier ``"PPPP-MMMMM-FFFF"`` (zero-padded as in spec file names)."""
    return f"{int(plate):04d}-{int(mjd):05d}-{int(fiberid):04d}"


# -- FITS access ------------------------------------------------------------------------------
def _open_fits(path: Path, max_decompressed_bytes: int | None = None):
    """Open a FITS file, turning every way it can be broken into a SpectrumFileError.

    A gzipped file is inflated in memory up to ``max_decompressed_bytes``
    (default :data:`MAX_DECOMPRESSED_BYTES`) and refused beyond it, so a small upload cannot
    expand to gigabytes.
    """
    from astropy.io import fits
    from astropy.utils.exceptions import AstropyUserWarning

    if not path.exists():
        raise SpectrumFileError(f"{path}: file does not exist")
    if path.is_dir():
        raise SpectrumFileError(f"{path}: is a directory, not a FITS file")
    with open(path, "rb") as fh:
        head = fh.read(len(_FITS_MAGIC))
    if not (head.startswith(_FITS_MAGIC) or head.startswith(_GZIP_MAGIC)):
        raise SpectrumFileError(f"{path}: not a FITS file (it does not start with a SIMPLE card)")
    source = path
    if head.startswith(_GZIP_MAGIC):
        limit = MAX_DECOMPRESSED_BYTES if max_decompressed_bytes is None else max_decompressed_bytes
        source = io.BytesIO(_gunzip_bounded(path, limit))
        if not source.getvalue().startswith(_FITS_MAGIC):
            raise SpectrumFileError(f"{path}: gzip file does not hold a FITS file")
    try:
        with warnings.catch_warnings():
            # astropy only *warns* about a short file; a cut download must not pass silently.
            warnings.simplefilter("error", AstropyUserWarning)
            hdul = fits.open(source, memmap=False, lazy_load_hdus=False)
    except AstropyUserWarning as exc:
        raise SpectrumFileError(f"{path}: truncated or corrupt FITS file ({exc})") from None
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError... on bad bytes
        raise SpectrumFileError(
            f"{path}: truncated or corrupt FITS file ({type(exc).__name__}: {exc})"
        ) from None
    return hdul


def _lower_columns(hdu) -> dict[str, str]:
    """Map lower-case column name -> column name as written in the file."""
    names = getattr(getattr(hdu, "columns", None), "names", None) or []
    return {n.lower(): n for n in names}


def _find_table(hdul, extname: str, position: int, required: tuple[str, ...]):
    """Find a table HDU by EXTNAME, else at ``position`` if it has the required columns."""
    for hdu in hdul:
        if hdu.name.upper() == extname and hasattr(hdu, "columns"):
            return hdu
    if len(hdul) > position:
        hdu = hdul[position]
        cols = _lower_columns(hdu)
        if cols and all(c in cols for c in required):
            return hdu
    return None


def _table_data(path: Path, hdu, label: str):
    try:
        data = hdu.data
    except Exception as exc:
        raise SpectrumFileError(
            f"{path}: truncated or corrupt FITS file: cannot read the {label} HDU ({type(exc).__name__}: {exc})"
        ) from None
    if data is None or len(data) == 0:
        raise SpectrumFileError(f"{path}: the {label} HDU has no rows")
    return data


def _check_columns(path: Path, hdu, label: str, required: tuple[str, ...]) -> dict[str, str]:
    cols = _lower_columns(hdu)
    missing = [c for c in required if c not in cols]
    if missing:
        raise SpectrumFileError(
            f"{path}: {label} HDU is missing required columns {missing} (has {sorted(cols.values())})"
        )
    return cols


def _scalar(value):
    """Python scalar from a FITS cell (bytes -> stripped str)."""
    if isinstance(value, bytes):
        return value.decode(errors="replace").strip()
    if isinstance(value, str):
        return value.strip()
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, bytes):
            return value.decode(errors="replace").strip()
    return value


# -- resampling -------------------------------------------------------------------------------
def place_on_grid(
    loglam: np.ndarray, flux: np.ndarray, ivar: np.ndarray, good: np.ndarray
) -> tuple[np.ndarray, np.ndarray, str]:
    """Put pixels on spender's grid (:data:`explorer.constants.LOGLAM_GRID`).

    SDSS/BOSS loglam lies on a 1e-4 grid, usually the same as spender's; then each pixel goes to
    its nearest grid index. Otherwise flux and variance are interpolated linearly in loglam;
    a grid pixel whose two neighbours are not both good gets weight 0.

    Parameters
    ----------
    loglam : ndarray, shape (n,)
        log10 of the observed vacuum wavelength in Angstrom, increasing.
    flux : ndarray, shape (n,)
        Flux density (any unit).
    ivar : ndarray, shape (n,)
        Inverse variance of ``flux``.
    good : ndarray of bool, shape (n,)
        Pixels that may be used.

    Returns
    -------
    flux_grid, ivar_grid : ndarray, shape (3921,)
        Flux and inverse variance on the grid; ivar 0 (flux 0) where there are no data.
    method : {"nearest", "interpolate", "none"}
    """
    loglam = np.asarray(loglam, dtype=float)
    flux = np.asarray(flux, dtype=float)
    ivar = np.asarray(ivar, dtype=float)
    good = np.asarray(good, dtype=bool) & np.isfinite(loglam)
    flux_grid = np.zeros(N_PIX)
    ivar_grid = np.zeros(N_PIX)
    if loglam.size == 0 or not np.any(np.isfinite(loglam)):
        return flux_grid, ivar_grid, "none"

    pos = (loglam - LOGLAM_START) / LOGLAM_STEP  # fractional grid index of every pixel
    finite = np.isfinite(pos)
    idx = np.rint(pos[finite]).astype(np.int64)
    frac = pos[finite] - idx
    if np.all(np.abs(frac) < NEAREST_TOLERANCE_PIX) and np.unique(idx).size == idx.size:
        full_idx = np.full(loglam.size, -1, dtype=np.int64)
        full_idx[finite] = idx
        use = good & (full_idx >= 0) & (full_idx < N_PIX)
        flux_grid[full_idx[use]] = flux[use]
        ivar_grid[full_idx[use]] = ivar[use]
        return flux_grid, ivar_grid, "nearest"

    # Linear interpolation in loglam of flux and variance between bracketing good pixels.
    order = np.argsort(loglam[finite])
    ll = loglam[finite][order]
    fl = flux[finite][order]
    iv = ivar[finite][order]
    ok = good[finite][order]
    if ll.size < 2:
        return flux_grid, ivar_grid, "none"
    j = np.searchsorted(ll, LOGLAM_GRID, side="right") - 1  # ll[j] <= grid < ll[j+1]
    inside = (j >= 0) & (j < ll.size - 1)
    exact_last = np.isclose(LOGLAM_GRID, ll[-1], rtol=0, atol=1e-9) & ok[-1]
    lo = np.clip(j, 0, ll.size - 2)
    hi = lo + 1
    gap = ll[hi] - ll[lo]
    # A gap wider than 1.5 pixels means missing data, not a neighbour.
    usable = inside & ok[lo] & ok[hi] & (gap > 0) & (gap < 1.5 * LOGLAM_STEP)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(usable, (LOGLAM_GRID - ll[lo]) / np.where(gap > 0, gap, 1.0), 0.0)
        var_lo = np.where(ok[lo], 1.0 / iv[lo], np.inf)
        var_hi = np.where(ok[hi], 1.0 / iv[hi], np.inf)
        var = (1 - t) * var_lo + t * var_hi
        flux_grid = np.where(usable, (1 - t) * fl[lo] + t * fl[hi], 0.0)
        ivar_grid = np.where(usable & np.isfinite(var) & (var > 0), 1.0 / var, 0.0)
    if np.any(exact_last):
        flux_grid[exact_last] = fl[-1]
        ivar_grid[exact_last] = iv[-1]
    flux_grid[ivar_grid == 0] = 0.0
    return flux_grid, ivar_grid, "interpolate"


def _read_columns(path: Path, max_decompressed_bytes: int | None):
    """(flux, loglam, ivar, and_mask, SPECOBJ info) of a file, its HDUs and columns checked."""
    with _open_fits(path, max_decompressed_bytes) as hdul:
        coadd = _find_table(hdul, "COADD", 1, ("flux", "loglam", "ivar"))
        if coadd is None:
            raise SpectrumFileError(f"{path}: no COADD HDU (extensions: {[h.name for h in hdul]})")
        specobj = _find_table(hdul, "SPECOBJ", 2, SPECOBJ_COLUMNS)
        if specobj is None:
            raise SpectrumFileError(f"{path}: no SPECOBJ HDU (extensions: {[h.name for h in hdul]})")
        ccols = _check_columns(path, coadd, "COADD", COADD_COLUMNS)
        scols = _check_columns(path, specobj, "SPECOBJ", SPECOBJ_COLUMNS)
        cdata = _table_data(path, coadd, "COADD")
        sdata = _table_data(path, specobj, "SPECOBJ")
        flux = np.asarray(cdata[ccols["flux"]], dtype=float)
        loglam = np.asarray(cdata[ccols["loglam"]], dtype=float)
        ivar = np.asarray(cdata[ccols["ivar"]], dtype=float)
        and_mask = np.asarray(cdata[ccols["and_mask"]])
        row = sdata[0]
        info = {name: _scalar(row[scols[name]]) for name in SPECOBJ_COLUMNS}
        all_scols = _lower_columns(specobj)
        for name in SPECOBJ_OPTIONAL:
            if name in all_scols:
                info[name] = _scalar(row[all_scols[name]])
    return flux, loglam, ivar, and_mask, info


def _checked_redshift(path: Path, flux: np.ndarray, ivar: np.ndarray, info: dict) -> float:
    """The SPECOBJ redshift, after checking that the file has some finite flux and positive ivar."""
    if not np.any(np.isfinite(flux)):
        raise SpectrumFileError(f"{path}: flux is NaN/inf in every pixel")
    if not np.any(np.isfinite(ivar) & (ivar > 0)):
        raise SpectrumFileError(f"{path}: ivar is zero (or non-positive) in every pixel")
    try:
        z = float(info["z"])
    except (TypeError, ValueError):
        raise SpectrumFileError(f"{path}: SPECOBJ Z is not a number ({info['z']!r})") from None
    if not (np.isfinite(z) and Z_MIN <= z <= Z_MAX):
        raise SpectrumFileError(f"{path}: redshift z={z:.4g} outside the accepted range [{Z_MIN}, {Z_MAX}]")
    return z


def _normalization(path: Path, flux_grid: np.ndarray, ivar_grid: np.ndarray, z: float) -> float:
    """Median flux of the good grid pixels in the rest-frame normalization window (checked > 0)."""
    lo_rest, hi_rest = NORM_WINDOW_REST_AA
    wave_rest = WAVE_OBS_VAC_AA / (1.0 + z)
    in_window = (wave_rest >= lo_rest) & (wave_rest <= hi_rest) & (ivar_grid > 0)
    if not np.any(in_window):
        raise SpectrumFileError(
            f"{path}: no good pixels in the normalization window rest {lo_rest:.0f}-{hi_rest:.0f} A "
            f"(observed {lo_rest * (1 + z):.0f}-{hi_rest * (1 + z):.0f} A at z={z:.4f})"
        )
    norm = float(np.median(flux_grid[in_window]))
    if not (np.isfinite(norm) and norm > 0):
        raise SpectrumFileError(
            f"{path}: normalization (median flux in rest {lo_rest:.0f}-{hi_rest:.0f} A) is {norm:.4g}, not positive"
        )
    return norm


def _spectrum_meta(path: Path, info: dict, grid_method: str) -> dict:
    """``GalaxySpectrum.meta`` of a file from its SPECOBJ entries."""
    return {
        "plate": int(info["plate"]),
        "mjd": int(info["mjd"]),
        "fiberid": int(info["fiberid"]),
        "z_err": float(info["z_err"]) if "z_err" in info else float("nan"),
        "zwarning": int(info["zwarning"]) if "zwarning" in info else 0,
        "class": str(info.get("class", "")),
        "subclass": str(info.get("subclass", "")),
        "ra_deg": float(info["plug_ra"]) if "plug_ra" in info else float("nan"),
        "dec_deg": float(info["plug_dec"]) if "plug_dec" in info else float("nan"),
        "path": str(path),
        "grid_method": grid_method,
        "norm_unit": SDSS_FLUX_UNIT,
    }


# -- public API -------------------------------------------------------------------------------
def read_sdss_spectrum(
    path, *, mask_sky_lines: bool = True, max_decompressed_bytes: int | None = None
) -> GalaxySpectrum:
    """Read one SDSS spec / spec-lite file onto spender's grid, masked and normalized.

    Parameters
    ----------
    path : path-like
        ``spec-PPPP-MMMMM-FFFF.fits`` (DR8+, SDSS-I/II legacy, BOSS or eBOSS; may be gzipped).
    mask_sky_lines : bool
        Give weight 0 to pixels on strong night-sky lines (:mod:`explorer.io.skylines`).
    max_decompressed_bytes : int, optional
        Largest inflated size of a gzipped file (default :data:`MAX_DECOMPRESSED_BYTES`).

    Returns
    -------
    GalaxySpectrum
        ``flux`` (3921,) observed-frame flux divided by ``norm`` (dimensionless);
        ``weight`` (3921,) inverse variance of that normalized flux, 0 where masked or without
        data; ``norm`` median flux in rest frame 5300-5850 A in 1e-17 erg/s/cm^2/A;
        ``meta`` with plate, mjd, fiberid, z_err, zwarning, class, subclass, ra_deg, dec_deg
        (plug position, when present), path, grid_method, norm_unit.

    Raises
    ------
    SpectrumFileError
        The file is missing, not FITS, truncated or corrupt, has no COADD or SPECOBJ HDU, lacks
        required columns, has all-NaN flux or no positive ivar, a redshift outside
        [Z_MIN, Z_MAX], or no good pixels (or a non-positive median) in the normalization window.
    """
    path = Path(path)
    flux, loglam, ivar, and_mask, info = _read_columns(path, max_decompressed_bytes)
    z = _checked_redshift(path, flux, ivar, info)

    good = (and_mask == 0) & np.isfinite(flux) & np.isfinite(ivar) & (ivar > 0) & np.isfinite(loglam)
    flux_grid, ivar_grid, method = place_on_grid(loglam, flux, ivar, good)
    if mask_sky_lines:
        ivar_grid[sky_line_mask(WAVE_OBS_VAC_AA)] = 0.0
    flux_grid[ivar_grid == 0] = 0.0
    if not np.any(ivar_grid > 0):
        raise SpectrumFileError(
            f"{path}: no good pixels on the spender grid {WAVE_OBS_VAC_AA[0]:.1f}-{WAVE_OBS_VAC_AA[-1]:.1f} A"
        )
    norm = _normalization(path, flux_grid, ivar_grid, z)
    meta = _spectrum_meta(path, info, method)
    return GalaxySpectrum(
        id=sdss_id(meta["plate"], meta["mjd"], meta["fiberid"]),
        z=z,
        flux=(flux_grid / norm).astype(np.float32),
        weight=(ivar_grid * norm**2).astype(np.float32),
        norm=norm,
        meta=meta,
    )


def summarize_spectrum(path, *, mask_sky_lines: bool = True) -> dict:
    """Short JSON-ready summary of one SDSS spectrum file (backs ``read-spectrum --json``).

    Parameters
    ----------
    path : path-like
        SDSS spec / spec-lite FITS file.

    Returns
    -------
    dict
        ``id`` (str "PPPP-MMMMM-FFFF"), ``z``, ``z_err``, ``zwarning``, ``class``, ``subclass``,
        ``n_good_pix`` (unmasked pixels on the 3921-pixel grid), ``n_pix_grid``, ``norm``
        and ``norm_unit`` (1e-17 erg/s/cm^2/A), ``ra_deg``, ``dec_deg``, ``path``. Only Python
        scalars and strings, so ``json.dumps`` works (NaN becomes ``None``).

    Raises
    ------
    SpectrumFileError
        As :func:`read_sdss_spectrum`.
    """
    spec = read_sdss_spectrum(path, mask_sky_lines=mask_sky_lines)

    def clean(x):
        return None if isinstance(x, float) and not np.isfinite(x) else x

    m = spec.meta
    return {
        "id": spec.id,
        "z": float(spec.z),
        "z_err": clean(float(m["z_err"])),
        "zwarning": int(m["zwarning"]),
        "class": m["class"],
        "subclass": m["subclass"],
        "n_good_pix": spec.n_good_pix,
        "n_pix_grid": int(N_PIX),
        "norm": float(spec.norm),
        "norm_unit": SDSS_FLUX_UNIT,
        "ra_deg": clean(float(m["ra_deg"])),
        "dec_deg": clean(float(m["dec_deg"])),
        "path": m["path"],
    }


#: The two real SDSS DR18 spectra shipped by ``ppxf`` (read in place, not redistributed here).
PPXF_SDSS_FILES = ("NGC3073_SDSS_DR18.fits", "NGC3522_SDSS_DR18.fits")


def real_sdss_spectra() -> dict[str, GalaxySpectrum | str] | str:
    """The real SDSS spectra shipped by ``ppxf``, read, by file name.

    Returns
    -------
    dict or str
        ``{file name: GalaxySpectrum, or "unreadable: <reason>"}``, or the string
        ``"unavailable: ppxf not installed"``.
    """
    try:
        import importlib.resources as res

        base = res.files("ppxf") / "spectra"
    except ModuleNotFoundError:
        return "unavailable: ppxf not installed"
    out: dict[str, GalaxySpectrum | str] = {}
    for name in PPXF_SDSS_FILES:
        try:
            out[name] = read_sdss_spectrum(Path(str(base / name)))
        except Exception as exc:  # report, keep going
            out[name] = f"unreadable: {type(exc).__name__}: {exc}"
    return out
