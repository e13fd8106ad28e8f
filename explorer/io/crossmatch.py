"""Crossmatch spectra with WISE photometry: by identifier or by sky position.

Both functions return a :class:`MatchResult` with the matched index pairs, the unmatched entries
on both sides listed explicitly, and the ambiguous cases (one WISE source claimed by several
spectra, e.g. repeat spectra of one galaxy or a close pair; or several WISE sources within the
radius of one spectrum, e.g. a blend). Ambiguous pairs are kept, and reported, so the caller
decides what to do with them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..errors import CrossmatchError

__all__ = ["MatchResult", "crossmatch_by_id", "crossmatch_by_position"]


@dataclass
class MatchResult:
    """Outcome of a crossmatch between side 1 (spectra) and side 2 (WISE).

    Attributes
    ----------
    method : {"id", "position"}
    n1, n2 : int
        Number of entries on each side.
    idx1, idx2 : ndarray of int, shape (n_match,)
        Matched pairs: entry ``idx1[k]`` of side 1 goes with entry ``idx2[k]`` of side 2.
        Every side-1 entry appears at most once.
    sep_arcsec : ndarray of float, shape (n_match,)
        Separation of each pair in arcsec (NaN for an id match).
    unmatched1, unmatched2 : ndarray of int
        Side-1 entries with no partner; side-2 entries nobody matched.
    ambiguous1 : dict of int -> list of int
        Side-1 entry -> all side-2 candidates, when there is more than one (paired with the
        nearest / the first).
    ambiguous2 : dict of int -> list of int
        Side-2 entry -> the side-1 entries that all matched it, when more than one.
    radius_arcsec : float or None
        Match radius (position matches).
    nearest_sep_arcsec : ndarray of float, shape (n1,) or None
        Distance from every side-1 entry to its nearest side-2 entry (position matches), so an
        unmatched entry shows how far it missed.
    names : (str, str)
        Labels of the two sides, used in messages and the report.
    """

    method: str
    n1: int
    n2: int
    idx1: np.ndarray
    idx2: np.ndarray
    sep_arcsec: np.ndarray
    unmatched1: np.ndarray
    unmatched2: np.ndarray
    ambiguous1: dict[int, list[int]] = field(default_factory=dict)
    ambiguous2: dict[int, list[int]] = field(default_factory=dict)
    radius_arcsec: float | None = None
    nearest_sep_arcsec: np.ndarray | None = None
    names: tuple[str, str] = ("spectra", "wise")

    @property
    def n_matched(self) -> int:
        return int(self.idx1.size)

    def partner_of(self, i1: int) -> int | None:
        """Side-2 index matched to side-1 entry ``i1`` (None if unmatched)."""
        hit = np.flatnonzero(self.idx1 == int(i1))
        return int(self.idx2[hit[0]]) if hit.size else None

    def report(self, max_list: int = 20) -> str:
        """Human-readable summary of the match."""
        a, b = self.names
        how = f"within {self.radius_arcsec:g} arcsec" if self.method == "position" else "by identifier"
        lines = [
            f"crossmatch {a} ({self.n1}) x {b} ({self.n2}) {how}: {self.n_matched} matched, "
            f"{self.unmatched1.size} {a} unmatched, {self.unmatched2.size} {b} unmatched, "
            f"{len(self.ambiguous2)} {b} entries claimed by several {a}, "
            f"{len(self.ambiguous1)} {a} entries with several {b} candidates"
        ]
        if self.method == "position" and self.n_matched:
            s = self.sep_arcsec
            lines.append(f"  separation: median {np.median(s):.3g} arcsec, max {np.max(s):.3g} arcsec")

        def listing(title, items):
            items = list(items)
            if not items:
                return
            shown = ", ".join(str(x) for x in items[:max_list])
            more = f" ... (+{len(items) - max_list})" if len(items) > max_list else ""
            lines.append(f"  {title}: {shown}{more}")

        if self.nearest_sep_arcsec is not None:
            listing(
                f"{a} unmatched (index: nearest {b} in arcsec)",
                (f"{i}: {self.nearest_sep_arcsec[i]:.3g}" for i in self.unmatched1),
            )
        else:
            listing(f"{a} unmatched (index)", self.unmatched1)
        listing(f"{b} unmatched (index)", self.unmatched2)
        listing(f"ambiguous: {b} index <- several {a}", (f"{k} <- {v}" for k, v in self.ambiguous2.items()))
        listing(f"ambiguous: {a} index -> several {b}", (f"{k} -> {v}" for k, v in self.ambiguous1.items()))
        return "\n".join(lines)


def _unmatched(n: int, used) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    mask[np.asarray(list(used), dtype=int)] = False
    return np.flatnonzero(mask)


def _claimed_twice(idx1: np.ndarray, idx2: np.ndarray) -> dict[int, list[int]]:
    claimed: dict[int, list[int]] = defaultdict(list)
    for i1, i2 in zip(idx1.tolist(), idx2.tolist(), strict=True):
        claimed[i2].append(i1)
    return {k: v for k, v in sorted(claimed.items()) if len(v) > 1}


def crossmatch_by_id(spec_ids, wise_ids, *, names: tuple[str, str] = ("spectra", "wise")) -> MatchResult:
    """Match entries whose identifiers are equal (as stripped strings).

    Parameters
    ----------
    spec_ids, wise_ids : sequence
        Identifiers of side 1 and side 2 (e.g. ``"0945-52652-0470"``). Empty strings and None
        never match.
    names : (str, str)
        Labels of the two sides for messages.

    Returns
    -------
    MatchResult
        Duplicate identifiers on side 2 pair with their first occurrence and are listed in
        ``ambiguous1``; several side-1 entries with the same identifier all pair and are listed
        in ``ambiguous2``.
    """
    ids1 = ["" if v is None else str(v).strip() for v in np.atleast_1d(np.asarray(spec_ids, dtype=object))]
    ids2 = ["" if v is None else str(v).strip() for v in np.atleast_1d(np.asarray(wise_ids, dtype=object))]
    where2: dict[str, list[int]] = defaultdict(list)
    for j, v in enumerate(ids2):
        if v:
            where2[v].append(j)
    idx1, idx2 = [], []
    ambiguous1: dict[int, list[int]] = {}
    for i, v in enumerate(ids1):
        cands = where2.get(v) if v else None
        if not cands:
            continue
        idx1.append(i)
        idx2.append(cands[0])
        if len(cands) > 1:
            ambiguous1[i] = list(cands)
    idx1_a = np.asarray(idx1, dtype=int)
    idx2_a = np.asarray(idx2, dtype=int)
    return MatchResult(
        method="id",
        n1=len(ids1),
        n2=len(ids2),
        idx1=idx1_a,
        idx2=idx2_a,
        sep_arcsec=np.full(idx1_a.size, np.nan),
        unmatched1=_unmatched(len(ids1), idx1),
        unmatched2=_unmatched(len(ids2), [j for c in ambiguous1.values() for j in c] + idx2),
        ambiguous1=ambiguous1,
        ambiguous2=_claimed_twice(idx1_a, idx2_a),
        names=names,
    )


def _coords(ra, dec, label_ra: str, label_dec: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        ra = np.atleast_1d(np.asarray(ra, dtype=float))
        dec = np.atleast_1d(np.asarray(dec, dtype=float))
    except (TypeError, ValueError) as exc:
        raise CrossmatchError(f"{label_ra}/{label_dec} are not numbers: {exc}") from None
    if ra.ndim != 1 or dec.ndim != 1:
        raise CrossmatchError(
            f"{label_ra} and {label_dec} must be 1-D, got shapes {ra.shape} and {dec.shape}"
        )
    if ra.size != dec.size:
        raise CrossmatchError(
            f"length mismatch: {label_ra} has {ra.size} values but {label_dec} has {dec.size}"
        )
    for arr, label in ((ra, label_ra), (dec, label_dec)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise CrossmatchError(
                f"{label} has {bad.size} non-finite value(s) at indices {bad[:10].tolist()}"
                + (" ..." if bad.size > 10 else "")
            )
    bad = np.flatnonzero(np.abs(dec) > 90)
    if bad.size:
        raise CrossmatchError(f"{label_dec} outside [-90, 90] deg at indices {bad[:10].tolist()}")
    return ra, dec


def crossmatch_by_position(
    ra1,
    dec1,
    ra2,
    dec2,
    radius_arcsec: float = 3.0,
    *,
    names: tuple[str, str] = ("spectra", "wise"),
) -> MatchResult:
    """Match every side-1 position to its nearest side-2 position within a radius.

    Parameters
    ----------
    ra1, dec1 : array_like, shape (n1,)
        Side-1 (spectra) ICRS coordinates in degrees.
    ra2, dec2 : array_like, shape (n2,)
        Side-2 (WISE) ICRS coordinates in degrees.
    radius_arcsec : float
        Largest accepted separation; a nearest neighbour beyond it is no match. The default
        3 arcsec is about half the W1 beam (6.1 arcsec FWHM, Wright et al. 2010) and the SDSS
        fiber diameter.
    names : (str, str)
        Labels of the two sides for messages.

    Returns
    -------
    MatchResult

    Raises
    ------
    CrossmatchError
        RA and Dec of one side differ in length, a coordinate is not finite, |Dec| > 90, or the
        radius is not positive.
    """
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    if not (np.isfinite(radius_arcsec) and radius_arcsec > 0):
        raise CrossmatchError(f"match radius must be positive, got {radius_arcsec!r} arcsec")
    a, b = names
    ra1, dec1 = _coords(ra1, dec1, f"ra1 ({a})", f"dec1 ({a})")
    ra2, dec2 = _coords(ra2, dec2, f"ra2 ({b})", f"dec2 ({b})")
    n1, n2 = ra1.size, ra2.size
    empty = np.zeros(0, dtype=int)
    if n1 == 0 or n2 == 0:
        return MatchResult(
            method="position",
            n1=n1,
            n2=n2,
            idx1=empty,
            idx2=empty,
            sep_arcsec=np.zeros(0),
            unmatched1=np.arange(n1),
            unmatched2=np.arange(n2),
            radius_arcsec=float(radius_arcsec),
            nearest_sep_arcsec=np.full(n1, np.inf),
            names=names,
        )
    c1 = SkyCoord(ra1 * u.deg, dec1 * u.deg, frame="icrs")
    c2 = SkyCoord(ra2 * u.deg, dec2 * u.deg, frame="icrs")
    nearest, sep2d, _ = c1.match_to_catalog_sky(c2)
    sep = sep2d.to_value(u.arcsec)
    ok = sep <= radius_arcsec
    idx1 = np.flatnonzero(ok)
    idx2 = np.asarray(nearest)[ok].astype(int)

    # several side-2 sources inside the radius of one side-1 entry (blends)
    ambiguous1: dict[int, list[int]] = {}
    if idx1.size:
        # returns (indices into the argument c2, indices into c1[idx1], ...)
        j_near, i_near, _, _ = c1[idx1].search_around_sky(c2, radius_arcsec * u.arcsec)
        cands: dict[int, list[int]] = defaultdict(list)
        for k, j in zip(i_near.tolist(), j_near.tolist(), strict=True):
            cands[int(idx1[k])].append(int(j))
        ambiguous1 = {i: sorted(v) for i, v in sorted(cands.items()) if len(v) > 1}

    return MatchResult(
        method="position",
        n1=n1,
        n2=n2,
        idx1=idx1,
        idx2=idx2,
        sep_arcsec=sep[ok],
        unmatched1=np.flatnonzero(~ok),
        unmatched2=_unmatched(n2, idx2),
        ambiguous1=ambiguous1,
        ambiguous2=_claimed_twice(idx1, idx2),
        radius_arcsec=float(radius_arcsec),
        nearest_sep_arcsec=sep,
        names=names,
    )
