"""From per-pixel attributions to spectral features: line shares, per-galaxy and sample rankings.

Definitions (used everywhere in the project; figures and reports quote them)
-----------------------------------------------------------------------------
Each line of :data:`explorer.constants.LINES` has a rest-frame window
``[min(wave) - half_width, max(wave) + half_width]`` (vacuum Angstrom). At redshift z the
window is ``(1 + z) *`` that on the observed grid; a grid pixel belongs to a window when its
centre lies inside. A pixel inside two windows goes to the line whose centre is nearest. Every
good pixel (weight > 0) outside all windows belongs to the **continuum** bucket.

- ``share`` (primary): ``sum_{p in window} |a_p| / sum_{all good p} |a_p|``. Shares of the lines
  and the continuum add up to exactly 1, so "Halpha carries 12% of the attribution" is
  meaningful. Absolute values are used so that positive and negative pixels inside a window do
  not cancel (a line whose wings push up and whose core pushes down still *matters*).
- ``net``: the signed sum over the window, in the target's unit (e.g. mag): how much the
  window moves the prediction away from the baselines' mean.
- ``share_per_aa``: ``share / width``, width = rest-frame Angstrom covered by the window's good
  pixels, so wide windows (MgI b, the CaII triplet, the continuum) are not rewarded for width.
- ``enrichment``: ``share / (n_pix_window / n_pix_good)``: share per pixel relative to a uniform
  spread over all good pixels (dimensionless; 1 = no more than an average pixel). On spender's
  log-lambda grid a pixel spans the same rest-frame velocity at every redshift, so this is
  proportional to share per rest-frame Angstrom at a given wavelength.

A line is ``covered`` when at least half of its window's pixels lie on the grid and are good;
uncovered lines are left out of per-galaxy rankings and count as missing (NaN) in sample
statistics (their pixels still count in the shares, which keeps the sum at 1).

Sample ranking: median (and 25th/75th percentiles) over galaxies of each quantity, lines ranked
by median share; ``n_covered`` says how many galaxies contributed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..constants import LINES, LOGLAM_STEP, N_PIX, WAVE_OBS_VAC_AA, Line
from ..errors import AttributionError

CONTINUUM = "continuum"
#: Fraction of a window's pixels that must be on the grid and good for the line to count.
MIN_COVERAGE = 0.5

_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε"}


def line_label(name: str) -> str:
    """Talk-ready label: ``"Halpha" -> "Hα"``, ``"[OIII] 5007" -> "[O III] 5007"``, ``"CaII K" -> "Ca II K"``.

    Plain Unicode (no mathtext), so the label stays one text element in SVG/PDF exports.
    """
    m = re.fullmatch(r"H(alpha|beta|gamma|delta|epsilon)", name)
    if m:
        return "H" + _GREEK[m.group(1)]
    return re.sub(r"(\[?)([A-Z][a-z]?)(IV|V|I{1,3})(?=\]|\s|$)", r"\1\2 \3", name)


@dataclass(frozen=True)
class LineWindow:
    """A line's window at one redshift."""

    name: str
    group: str
    lo_rest_aa: float
    hi_rest_aa: float
    center_rest_aa: float
    z: float

    @property
    def lo_obs_aa(self) -> float:
        return self.lo_rest_aa * (1 + self.z)

    @property
    def hi_obs_aa(self) -> float:
        return self.hi_rest_aa * (1 + self.z)

    @property
    def n_pix_expected(self) -> float:
        """Grid pixels the window spans (log-lambda step 1e-4), on or off the grid."""
        return math.log10(self.hi_rest_aa / self.lo_rest_aa) / LOGLAM_STEP


def line_windows(lines: Sequence[Line], z: float) -> list[LineWindow]:
    """Windows of ``lines`` at redshift ``z``."""
    out = []
    for ln in lines:
        lo, hi = ln.window_rest_aa()
        out.append(LineWindow(ln.name, ln.group, float(lo), float(hi), ln.center_aa, float(z)))
    return out


def pixel_line_index(lines: Sequence[Line], z: float) -> np.ndarray:
    """Line index of every grid pixel (-1 = continuum), overlaps to the nearest line centre.

    Returns
    -------
    ndarray (3921,) of int
    """
    wave_rest_aa = WAVE_OBS_VAC_AA / (1 + z)
    idx = np.full(N_PIX, -1, dtype=np.int64)
    best = np.full(N_PIX, np.inf)
    for i, w in enumerate(line_windows(lines, z)):
        inside = (wave_rest_aa >= w.lo_rest_aa) & (wave_rest_aa <= w.hi_rest_aa)
        dist = np.abs(wave_rest_aa - w.center_rest_aa)
        take = inside & (dist < best)
        idx[take] = i
        best[take] = dist[take]
    return idx


@dataclass
class LineShares:
    """Attribution shares of every line (and the continuum) for one galaxy and target.

    Arrays have one entry per line of ``names`` (the lines, then ``"continuum"``).
    """

    galaxy_id: str
    target: str
    z: float
    names: list[str]
    groups: list[str]
    share: np.ndarray
    net: np.ndarray
    width_rest_aa: np.ndarray
    n_pix: np.ndarray
    covered: np.ndarray
    total_abs: float
    n_good: int
    meta: dict = field(default_factory=dict)

    @property
    def share_per_aa(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.width_rest_aa > 0, self.share / self.width_rest_aa, np.nan)

    @property
    def enrichment(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.n_pix > 0, self.share / (self.n_pix / self.n_good), np.nan)

    def ranking(self, by: str = "share", include_continuum: bool = True) -> list[dict]:
        """Covered lines sorted by ``by`` ("share", "share_per_aa", "enrichment" or "abs_net"), largest first."""
        rows = []
        per_aa, enr = self.share_per_aa, self.enrichment
        for i, name in enumerate(self.names):
            if not self.covered[i] or (name == CONTINUUM and not include_continuum):
                continue
            rows.append(
                {
                    "name": name,
                    "label": line_label(name) if name != CONTINUUM else CONTINUUM,
                    "group": self.groups[i],
                    "share": float(self.share[i]),
                    "share_per_aa": float(per_aa[i]),
                    "enrichment": float(enr[i]),
                    "net": float(self.net[i]),
                    "abs_net": abs(float(self.net[i])),
                    "width_rest_aa": float(self.width_rest_aa[i]),
                    "n_pix": int(self.n_pix[i]),
                }
            )
        if by not in ("share", "share_per_aa", "enrichment", "abs_net"):
            raise ValueError(f"unknown ranking key {by!r}")
        rows.sort(key=lambda r: -np.nan_to_num(r[by], nan=-np.inf))
        for k, r in enumerate(rows, 1):
            r["rank"] = k
        return rows

    def top_lines(self, n: int = 6, by: str = "share") -> list[str]:
        """Names of the n highest-ranked covered lines (continuum excluded)."""
        return [r["name"] for r in self.ranking(by, include_continuum=False)[:n]]

    def to_dict(self) -> dict:
        return {
            "galaxy_id": self.galaxy_id,
            "target": self.target,
            "z": self.z,
            "total_abs": self.total_abs,
            "n_good": self.n_good,
            "definition": "share = sum|attr| in window / sum|attr| over good pixels; see explorer.attribution.lines",
            "lines": self.ranking("share"),
        }


def line_shares(
    attribution,
    z: float | None = None,
    lines: Sequence[Line] = LINES,
    *,
    weight: np.ndarray | None = None,
    galaxy_id: str | None = None,
    target: str | None = None,
) -> LineShares:
    """Share of |attribution| in each line window and the continuum for one galaxy.

    Parameters
    ----------
    attribution : ndarray (3921,) or AttributionResult
        Per-pixel attribution on the observed grid. An AttributionResult also supplies z,
        the good-pixel mask, galaxy id and target.
    z : float
        Redshift (taken from the result when omitted).
    lines : sequence of Line
    weight : ndarray (3921,), optional
        Pixels with weight 0 are excluded (default: the result's mask, else all pixels).
    """
    good = None
    if hasattr(attribution, "attribution"):
        res = attribution
        attr = np.asarray(res.attribution, dtype=float)
        z = res.z if z is None else z
        good = np.asarray(res.good, dtype=bool)
        galaxy_id = galaxy_id or res.galaxy_id
        target = target or res.target
    else:
        attr = np.asarray(attribution, dtype=float)
    if z is None:
        raise AttributionError("line_shares: redshift z is required with a bare attribution array")
    if attr.shape != (N_PIX,):
        raise AttributionError(f"line_shares: attribution must have shape ({N_PIX},), got {attr.shape}")
    if weight is not None:
        good = np.asarray(weight) > 0 if good is None else good & (np.asarray(weight) > 0)
    if good is None:
        good = np.ones(N_PIX, dtype=bool)
    good = good & np.isfinite(attr)

    lines = list(lines)
    idx = pixel_line_index(lines, z)
    idx = np.where(idx < 0, len(lines), idx)  # continuum = last bucket
    n_b = len(lines) + 1
    absattr = np.where(good, np.abs(attr), 0.0)
    sattr = np.where(good, attr, 0.0)
    abs_sum = np.bincount(idx, weights=absattr, minlength=n_b)
    net = np.bincount(idx, weights=sattr, minlength=n_b)
    n_pix = np.bincount(idx, weights=good.astype(float), minlength=n_b).astype(int)
    # rest-frame width of each good pixel: lambda_obs * ln(10) * dloglam / (1 + z)
    pix_width_rest_aa = WAVE_OBS_VAC_AA * np.log(10) * LOGLAM_STEP / (1 + z)
    width = np.bincount(idx, weights=np.where(good, pix_width_rest_aa, 0.0), minlength=n_b)
    total = float(absattr.sum())
    share = abs_sum / total if total > 0 else np.full(n_b, np.nan)
    covered = np.zeros(n_b, dtype=bool)
    for i, w in enumerate(line_windows(lines, z)):
        covered[i] = n_pix[i] >= MIN_COVERAGE * w.n_pix_expected and n_pix[i] > 0
    covered[-1] = n_pix[-1] > 0
    return LineShares(
        galaxy_id=str(galaxy_id) if galaxy_id is not None else "",
        target=str(target) if target is not None else "",
        z=float(z),
        names=[ln.name for ln in lines] + [CONTINUUM],
        groups=[ln.group for ln in lines] + [CONTINUUM],
        share=share,
        net=net,
        width_rest_aa=width,
        n_pix=n_pix,
        covered=covered,
        total_abs=total,
        n_good=int(good.sum()),
    )


def _q(x: np.ndarray, q: float) -> float:
    x = x[np.isfinite(x)]
    return float(np.percentile(x, q)) if x.size else float("nan")


@dataclass
class LineRanking:
    """Sample-wide ranking of lines for one target (rows = galaxies, columns = ``names``)."""

    target: str
    names: list[str]
    groups: list[str]
    galaxy_ids: list[str]
    share: np.ndarray
    share_per_aa: np.ndarray
    enrichment: np.ndarray
    net: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def n_galaxies(self) -> int:
        return len(self.galaxy_ids)

    def table(self, by: str = "share") -> list[dict]:
        """One dict per line (and the continuum): medians and 25/75th percentiles, sorted by median ``by``.

        ``by`` is "share", "share_per_aa" or "enrichment". Lines covered in no galaxy are last.
        """
        if by not in ("share", "share_per_aa", "enrichment"):
            raise ValueError(f"unknown ranking key {by!r}")
        rows = []
        for j, name in enumerate(self.names):
            row = {
                "name": name,
                "label": line_label(name) if name != CONTINUUM else CONTINUUM,
                "group": self.groups[j],
                "n_covered": int(np.isfinite(self.share[:, j]).sum()),
            }
            for key, mat in (
                ("share", self.share),
                ("share_per_aa", self.share_per_aa),
                ("enrichment", self.enrichment),
                ("net", self.net),
            ):
                col = mat[:, j]
                row[f"{key}_median"] = _q(col, 50)
                row[f"{key}_p25"] = _q(col, 25)
                row[f"{key}_p75"] = _q(col, 75)
            rows.append(row)
        rows.sort(key=lambda r: -np.nan_to_num(r[f"{by}_median"], nan=-np.inf))
        for k, r in enumerate(rows, 1):
            r["rank"] = k
        # the other ranking, for reference
        other = "share_per_aa" if by == "share" else "share"
        order = sorted(rows, key=lambda r: -np.nan_to_num(r[f"{other}_median"], nan=-np.inf))
        for k, r in enumerate(order, 1):
            r[f"rank_{other}"] = k
        return rows

    def to_dict(self) -> dict:
        """JSON-ready: both rankings (by share and by share per Angstrom) and the definitions."""

        def clean(rows):
            return [
                {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                for r in rows
            ]

        return {
            "target": self.target,
            "n_galaxies": self.n_galaxies,
            "definitions": {
                "share": "sum |attr| in window / sum |attr| over good pixels (lines + continuum = 1)",
                "share_per_aa": "share / rest-frame Angstrom of the window's good pixels",
                "enrichment": "share / (window good pixels / all good pixels)",
                "net": "signed sum of attr in window (target units)",
                "statistic": "median and 25th/75th percentiles over galaxies where the line is covered",
            },
            "by_share": clean(self.table("share")),
            "by_share_per_aa": clean(self.table("share_per_aa")),
            "meta": self.meta,
        }


def sample_line_ranking(shares: Sequence[LineShares], target: str | None = None) -> LineRanking:
    """Aggregate per-galaxy :class:`LineShares` (same line list) into a :class:`LineRanking`."""
    shares = list(shares)
    if not shares:
        raise AttributionError("sample_line_ranking: no galaxies")
    names = shares[0].names
    for s in shares:
        if s.names != names:
            raise AttributionError(f"sample_line_ranking: galaxy {s.galaxy_id} uses a different line list")

    def mat(attr):
        return np.array([np.where(s.covered, getattr(s, attr), np.nan) for s in shares], dtype=float)

    return LineRanking(
        target=target or shares[0].target,
        names=list(names),
        groups=list(shares[0].groups),
        galaxy_ids=[s.galaxy_id for s in shares],
        share=mat("share"),
        share_per_aa=mat("share_per_aa"),
        enrichment=mat("enrichment"),
        net=mat("net"),
    )


def compare_groups(
    ranking: LineRanking,
    labels: Sequence[str],
    group_a: str | Sequence[str],
    group_b: str | Sequence[str],
    *,
    lines: Sequence[str] | None = None,
    metric: str = "share",
) -> list[dict]:
    """Compare a metric between two groups of galaxies, line by line.

    Parameters
    ----------
    ranking : LineRanking
    labels : sequence of str, one per galaxy of ``ranking`` (e.g. class_label)
    group_a, group_b : label or labels forming each group (e.g. "agn" vs ["star-forming", "quenched"])
    lines : names to compare (default all, continuum included)
    metric : "share", "share_per_aa" or "enrichment"

    Returns
    -------
    list of dict: name, median_a, median_b, n_a, n_b, ratio (median_a / median_b), and the
    two-sided Mann-Whitney U p-value (scipy) of the difference.
    """
    from scipy.stats import mannwhitneyu

    labels = np.asarray([str(x) for x in labels])
    if labels.size != ranking.n_galaxies:
        raise AttributionError(f"compare_groups: {labels.size} labels for {ranking.n_galaxies} galaxies")
    ga = np.isin(labels, [group_a] if isinstance(group_a, str) else list(group_a))
    gb = np.isin(labels, [group_b] if isinstance(group_b, str) else list(group_b))
    mat = getattr(ranking, metric)
    out = []
    for name in lines or ranking.names:
        j = ranking.names.index(name)
        a = mat[ga, j]
        b = mat[gb, j]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        med_a = float(np.median(a)) if a.size else float("nan")
        med_b = float(np.median(b)) if b.size else float("nan")
        p = float(mannwhitneyu(a, b).pvalue) if a.size and b.size else float("nan")
        out.append(
            {
                "name": name,
                "metric": metric,
                "median_a": med_a,
                "median_b": med_b,
                "n_a": int(a.size),
                "n_b": int(b.size),
                "ratio": med_a / med_b if med_b else float("nan"),
                "p_value": p,
            }
        )
    return out
