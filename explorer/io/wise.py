"""Reader for AllWISE-layout photometry tables (CSV, FITS, IPAC, VOTable or an astropy Table).

Expected columns (AllWISE Source Catalog, Cutri et al. 2013, explanatory supplement sec. 2.1):
``w1mpro``..``w4mpro`` (Vega profile-fit magnitude), ``w1sigmpro``..``w4sigmpro`` (its error;
null when the magnitude is a 95% upper limit), ``ph_qual`` (one letter per band: A, B, C =
detection; U = upper limit; X, Z = no usable measurement), optionally ``w1snr``..``w4snr``,
``ra``/``dec`` and an identifier (``designation``, ``id``...). Column names are matched
case-insensitively; VizieR's names (``W1mag``, ``e_W1mag``, ``qph``) are accepted too.

Magnitudes become flux densities with the Jarrett et al. (2011) Vega zero points
(:func:`explorer.constants.vega_mag_to_mjy`); the flux error follows from the magnitude error,
sigma_F = F * 0.4 ln(10) sigma_m. Upper limits stay upper limits (``is_ul`` True, sigma NaN,
flux = the limit); they are never turned into detections.

Problems with single rows never stop the others from loading: they are listed in
:attr:`WiseTable.bad_rows`. Only a table that cannot be used at all (unreadable, or a band's
columns missing) raises :class:`explorer.errors.WiseTableError`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..constants import WISE_AB_MINUS_VEGA, WISE_BANDS, vega_mag_to_mjy
from ..errors import WiseTableError

__all__ = ["WiseTable", "read_wise_table", "wise_columns", "vega_to_ab", "ab_to_vega", "band_index"]

#: Accepted input names (lower case) for each quantity; ``{n}`` is the band number 1..4.
_MAG_NAMES = ("w{n}mpro", "w{n}mag")
_SIGMA_NAMES = ("w{n}sigmpro", "e_w{n}mag")
_SNR_NAMES = ("w{n}snr", "snr{n}")
_QUAL_NAMES = ("ph_qual", "qph")
_RA_NAMES = ("ra", "ra_deg", "raj2000")
_DEC_NAMES = ("dec", "dec_deg", "dej2000")
_ID_NAMES = ("id", "designation", "source_id", "allwise", "objid", "cntr")

_FORMAT_BY_SUFFIX = {
    ".csv": "ascii.csv",
    ".tbl": "ascii.ipac",
    ".ipac": "ascii.ipac",
    ".xml": "votable",
    ".vot": "votable",
    ".votable": "votable",
    ".fits": "fits",
    ".fit": "fits",
    ".fts": "fits",
}

#: ph_qual letters meaning a detection / an upper limit (AllWISE explanatory supplement).
DETECTED_QUAL = frozenset("ABC")
UPPER_LIMIT_QUAL = "U"


def band_index(band) -> int:
    """0..3 for ``"W1"``..``"W4"`` (or ``"w1"``, or an int 0..3)."""
    if isinstance(band, str | np.str_):
        name = band.upper()
        if name not in WISE_BANDS:
            raise ValueError(f"unknown WISE band {band!r}; expected one of {WISE_BANDS}")
        return WISE_BANDS.index(name)
    i = int(band)
    if not 0 <= i < len(WISE_BANDS):
        raise ValueError(f"WISE band index {band!r} outside 0..3")
    return i


def vega_to_ab(mag_vega, band):
    """WISE Vega magnitude -> AB magnitude (AB = Vega + offset; Jarrett et al. 2011).

    Parameters
    ----------
    mag_vega : array_like
        Vega magnitudes.
    band : str or int
        ``"W1"``..``"W4"`` or 0..3.
    """
    return np.asarray(mag_vega, dtype=float) + WISE_AB_MINUS_VEGA[band_index(band)]


def ab_to_vega(mag_ab, band):
    """WISE AB magnitude -> Vega magnitude (inverse of :func:`vega_to_ab`)."""
    return np.asarray(mag_ab, dtype=float) - WISE_AB_MINUS_VEGA[band_index(band)]


def wise_columns(mag, sigma, is_upper_limit, bands=WISE_BANDS) -> dict[str, np.ndarray]:
    """Catalog columns of WISE photometry given as Vega magnitudes, errors and upper-limit flags.

    Flux densities use the Jarrett et al. (2011) Vega zero points
    (:func:`explorer.constants.vega_mag_to_mjy`); the flux error follows from the magnitude
    error to first order, sigma_F = F * 0.4 ln(10) sigma_m. An upper limit keeps its limiting
    magnitude and flux, with NaN errors (it is never turned into a detection).

    Parameters
    ----------
    mag : array_like (..., len(bands))
        Vega magnitude, or the 95 % upper limit; NaN where unknown.
    sigma : array_like (..., len(bands))
        Magnitude error (ignored for upper limits).
    is_upper_limit : array_like of bool (..., len(bands))
    bands : sequence of str
        Which WISE bands the last axis holds (default W1..W4).

    Returns
    -------
    dict
        For each band b (lower case): ``{b}_mag_vega``, ``{b}_sigma_mag``, ``{b}_flux_mjy``,
        ``{b}_flux_err_mjy`` (arrays of shape ``mag.shape[:-1]``) and ``{b}_is_ul`` (bool).
    """
    mag = np.asarray(mag, dtype=float)
    ul = np.broadcast_to(np.asarray(is_upper_limit, dtype=bool), mag.shape)
    sig = np.where(ul, np.nan, np.broadcast_to(np.asarray(sigma, dtype=float), mag.shape))
    cols: dict[str, np.ndarray] = {}
    for j, band in enumerate(bands):
        b = band.lower()
        flux = vega_mag_to_mjy(mag[..., j], band_index(band))
        cols[f"{b}_mag_vega"] = mag[..., j]
        cols[f"{b}_sigma_mag"] = sig[..., j]
        cols[f"{b}_flux_mjy"] = flux
        cols[f"{b}_flux_err_mjy"] = np.where(ul[..., j], np.nan, flux * 0.4 * np.log(10.0) * sig[..., j])
        cols[f"{b}_is_ul"] = np.array(ul[..., j])
    return cols


@dataclass
class WiseTable:
    """AllWISE photometry converted to the catalog's column names.

    Attributes
    ----------
    source : str
        File name (or a description of the in-memory table).
    columns : dict of str -> ndarray
        For each band b in w1..w4: ``{b}_mag_vega`` (mag, or the 95% upper limit),
        ``{b}_sigma_mag`` (NaN for upper limits), ``{b}_flux_mjy`` (mJy; the limit for upper
        limits), ``{b}_flux_err_mjy`` (NaN for upper limits), ``{b}_is_ul`` (bool), and
        ``{b}_snr`` when the input has it; ``ph_qual`` (4-letter str); ``id`` (str) when an
        identifier column exists; ``ra_deg``, ``dec_deg`` when present. One row per input row.
    bad_rows : dict of int -> str
        Input row index -> reason(s) the row is unusable.
    id_column : str or None
        Input column the ids came from (``"plate,mjd,fiberid"`` when built from those).
    notes : list of str
        Things the reader assumed (e.g. ph_qual inferred from null errors).
    """

    source: str
    columns: dict[str, np.ndarray]
    bad_rows: dict[int, str] = field(default_factory=dict)
    id_column: str | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.columns["ph_qual"])

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"{self.source}: no column {name!r}; columns are {sorted(self.columns)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    @property
    def n_rows(self) -> int:
        return len(self)

    @property
    def good(self) -> np.ndarray:
        """Boolean mask of rows without problems."""
        mask = np.ones(len(self), dtype=bool)
        mask[list(self.bad_rows)] = False
        return mask

    def good_columns(self) -> dict[str, np.ndarray]:
        """The columns restricted to good rows (original row index in ``"row"``)."""
        g = self.good
        out = {k: v[g] for k, v in self.columns.items()}
        out["row"] = np.flatnonzero(g)
        return out

    def report(self) -> str:
        """Human-readable summary: rows, detections / upper limits per band, bad rows."""
        n = len(self)
        g = self.good
        lines = [
            f"WISE table {self.source}: {n} rows, {int(g.sum())} good, {len(self.bad_rows)} flagged",
            f"  id column: {self.id_column or '(none)'}",
        ]
        for w in WISE_BANDS:
            b = w.lower()
            ul = self.columns[f"{b}_is_ul"]
            det = g & ~ul
            flux = self.columns[f"{b}_flux_mjy"][det]
            med = f", median flux {np.median(flux):.4g} mJy" if flux.size else ""
            lines.append(
                f"  {w}: {int(det.sum())} detections, {int((g & ul).sum())} upper limits (good rows){med}"
            )
        lines += [f"  note: {t}" for t in self.notes]
        if self.bad_rows:
            lines.append("  flagged rows (index [id]: reason):")
            ids = self.columns.get("id")
            for k, (i, reason) in enumerate(self.bad_rows.items()):
                if k == 50:
                    lines.append(f"    ... and {len(self.bad_rows) - 50} more")
                    break
                tag = f" [{ids[i]}]" if ids is not None else ""
                lines.append(f"    row {i}{tag}: {reason}")
        return "\n".join(lines)


# -- helpers --------------------------------------------------------------------------------
def _find(lower: dict[str, str], candidates, n: int | None = None) -> str | None:
    for c in candidates:
        key = c.format(n=n) if n is not None else c
        if key in lower:
            return lower[key]
    return None


def _float_column(table, name: str) -> np.ndarray:
    """Float array with masked / null / unparsable entries as NaN."""
    col = table[name]
    mask = np.ma.getmaskarray(col)
    data = np.ma.getdata(col)
    if data.dtype.kind in "fiu":
        out = np.asarray(data, dtype=float).copy()
    else:  # strings such as "null" or "" in a text table
        out = np.full(len(data), np.nan)
        for i, v in enumerate(data):
            try:
                out[i] = float(v.decode() if isinstance(v, bytes) else v)
            except (TypeError, ValueError):
                pass
    out[mask] = np.nan
    return out


def _str_column(table, name: str) -> np.ndarray:
    col = table[name]
    mask = np.ma.getmaskarray(col)
    vals = [
        "" if m else (v.decode(errors="replace") if isinstance(v, bytes) else str(v)).strip()
        for v, m in zip(np.ma.getdata(col), mask, strict=True)
    ]
    return np.array(vals, dtype=str) if vals else np.array([], dtype=str)


def _load_table(source, fmt: str | None):
    from astropy.table import Table

    if isinstance(source, Table):
        name = source.meta.get("name") or "<astropy Table>"
        return source, str(name)
    path = Path(source)
    if not path.exists():
        raise WiseTableError(f"{path}: file does not exist")
    if fmt is None:
        suffixes = [s.lower() for s in path.suffixes]
        if suffixes and suffixes[-1] == ".gz" and len(suffixes) > 1:
            suffixes = suffixes[:-1]
        fmt = _FORMAT_BY_SUFFIX.get(suffixes[-1] if suffixes else "")
    try:
        table = Table.read(path, format=fmt) if fmt else Table.read(path)
    except Exception as exc:
        raise WiseTableError(
            f"{path}: cannot read as a table (format {fmt or 'auto'}): {type(exc).__name__}: {exc}"
        ) from None
    return table, str(path)


def _band_columns(table, lower: dict[str, str], name: str) -> tuple[dict[int, str], dict[int, str]]:
    """Input names of the magnitude and error columns of bands 1..4; raise if any is missing."""
    mag_cols, sig_cols, missing = {}, {}, []
    for k in range(1, 5):
        mag_cols[k] = _find(lower, _MAG_NAMES, k)
        sig_cols[k] = _find(lower, _SIGMA_NAMES, k)
        if mag_cols[k] is None:
            missing.append(f"w{k}mpro")
        if sig_cols[k] is None:
            missing.append(f"w{k}sigmpro")
    if missing:
        raise WiseTableError(f"{name}: missing WISE band columns {missing}; the table has {table.colnames}")
    return mag_cols, sig_cols


def _read_ids(
    table, lower: dict[str, str], name: str, id_column: str | None
) -> tuple[np.ndarray | None, str | None]:
    """(ids, the column they came from): ``id_column``, else the first usual id column, else SDSS
    ids from plate/mjd/fiberid, else (None, None)."""
    if id_column is not None:
        key = id_column.lower()
        if key not in lower:
            raise WiseTableError(f"{name}: id column {id_column!r} not found; the table has {table.colnames}")
        return _str_column(table, lower[key]), lower[key]
    used_id = _find(lower, _ID_NAMES)
    if used_id is not None:
        return _str_column(table, used_id), used_id
    if all(c in lower for c in ("plate", "mjd", "fiberid")):
        from .sdss import sdss_id

        p, m, f = (_float_column(table, lower[c]) for c in ("plate", "mjd", "fiberid"))
        ok = np.isfinite(p) & np.isfinite(m) & np.isfinite(f)
        n = len(table)
        ids = np.array([sdss_id(p[i], m[i], f[i]) if ok[i] else "" for i in range(n)], dtype=str)
        return ids, "plate,mjd,fiberid"
    return None, None


def _flag_duplicate_ids(ids: np.ndarray, reasons: dict[int, list[str]]) -> None:
    """Add "duplicate id" to the reasons of every row whose non-empty id occurs more than once."""
    counts = Counter(ids[ids != ""])
    dup_rows: dict[str, list[int]] = {}
    for i, v in enumerate(ids):
        if v and counts[v] > 1:
            dup_rows.setdefault(v, []).append(i)
    for v, rows in dup_rows.items():
        for i in rows:
            reasons.setdefault(i, []).append(f"duplicate id {str(v)!r} (rows {rows})")


def _flag_band(w: str, letters, mag, sig, qual_given: bool, flag) -> np.ndarray:
    """Flag one band's unusable rows (``flag(mask, reason)``); returns its upper-limit mask."""
    letter = np.array(letters, dtype="<U1")
    is_ul = letter == UPPER_LIMIT_QUAL
    detected = np.isin(letter, list(DETECTED_QUAL)) if qual_given else (letter == "?")
    other = ~is_ul & ~detected

    flag(~np.isfinite(mag), f"{w} magnitude missing")
    flag(other, lambda i: f"{w} has no usable measurement (ph_qual letter {str(letter[i])!r})")
    flag(detected & ~np.isfinite(sig), f"{w} error is null/NaN for a detection")
    flag(detected & np.isfinite(sig) & (sig < 0), f"{w} error is negative")
    flag(detected & (sig == 0), f"{w} error is zero")
    return is_ul


# -- public API -----------------------------------------------------------------------------
def read_wise_table(source, *, id_column: str | None = None, format: str | None = None) -> WiseTable:  # noqa: A002
    """Read an AllWISE-layout table and convert it to catalog columns.

    Parameters
    ----------
    source : path-like or astropy.table.Table
        CSV, FITS, IPAC (``.tbl``) or VOTable file, or a Table already in memory.
    id_column : str, optional
        Column with the object identifiers (matched case-insensitively). Default: the first
        of ``id``, ``designation``, ``source_id``, ``allwise``, ``objid``, ``cntr``; else, when
        the table has ``plate``, ``mjd``, ``fiberid``, the SDSS id ``"PPPP-MMMMM-FFFF"``
        (the same ids :func:`explorer.io.sdss.read_sdss_spectrum` gives spectra); else no ids.
    format : str, optional
        astropy ``Table.read`` format; default from the file suffix, else astropy guesses.

    Returns
    -------
    WiseTable
        All rows, with problems flagged in ``bad_rows``.

    Raises
    ------
    WiseTableError
        The file is missing or unreadable, ``id_column`` does not exist, or the magnitude or
        error column of any band is missing.
    """
    table, name = _load_table(source, format)
    lower = {c.lower(): c for c in table.colnames}
    n = len(table)

    mag_cols, sig_cols = _band_columns(table, lower, name)
    notes: list[str] = []
    qual_col = _find(lower, _QUAL_NAMES)
    qual_given = qual_col is not None
    qual = _str_column(table, qual_col) if qual_given else None
    if not qual_given:
        notes.append(
            "no ph_qual column: a null error is read as a 95% upper limit (U), otherwise a detection"
        )

    cols: dict[str, np.ndarray] = {}
    reasons: dict[int, list[str]] = {}

    def flag(mask, text):
        for i in np.flatnonzero(mask):
            reasons.setdefault(int(i), []).append(text(i) if callable(text) else text)

    # -- identifiers
    ids, used_id = _read_ids(table, lower, name, id_column)
    if ids is not None:
        cols["id"] = ids
        flag(ids == "", "id missing")
        _flag_duplicate_ids(ids, reasons)

    # -- coordinates
    ra_col, dec_col = _find(lower, _RA_NAMES), _find(lower, _DEC_NAMES)
    if ra_col is not None and dec_col is not None:
        cols["ra_deg"] = _float_column(table, ra_col)
        cols["dec_deg"] = _float_column(table, dec_col)

    # -- quality string: one letter per band
    if qual_given:
        raw_qual = qual
        flag(
            np.array([len(q) != 4 for q in raw_qual], dtype=bool),
            lambda i: f"ph_qual {str(raw_qual[i])!r} is not 4 letters",
        )
        qual = np.array([q.upper().ljust(4, "?")[:4] for q in raw_qual], dtype="<U4")
    else:
        # Without ph_qual a null error means a 95% upper limit (AllWISE convention); the
        # detection grade (A/B/C) is unknown and written as "?".
        qual = np.array(["????"] * n, dtype="<U4")

    # -- photometry per band
    for k, w in enumerate(WISE_BANDS, start=1):
        mag = _float_column(table, mag_cols[k])
        sig = _float_column(table, sig_cols[k])
        if not qual_given:
            qual = np.array(
                [
                    q[: k - 1] + ("U" if not np.isfinite(e) else "?") + q[k:]
                    for q, e in zip(qual, sig, strict=True)
                ],
                dtype="<U4",
            )
        is_ul = _flag_band(w, [q[k - 1] for q in qual], mag, sig, qual_given, flag)
        cols.update(wise_columns(mag[:, None], sig[:, None], is_ul[:, None], bands=(w,)))
        snr_col = _find(lower, _SNR_NAMES, k)
        if snr_col is not None:
            cols[f"{w.lower()}_snr"] = _float_column(table, snr_col)

    cols["ph_qual"] = qual
    bad_rows = {i: "; ".join(rs) for i, rs in sorted(reasons.items())}
    return WiseTable(source=name, columns=cols, bad_rows=bad_rows, id_column=used_id, notes=notes)
