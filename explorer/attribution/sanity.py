"""Sanity checks of the attributions on a simulated catalog, where the physical truth is known.

Two properties the attributions of a model that learned the physics should show (issue 4):

1. **AGN lines in torus-dominated galaxies.** Where hot AGN dust (the torus) makes most of the W3
   and W4 flux, the narrow-line diagnostics of the AGN, [OIII] 4959/5007, Hbeta, [NII] 6548/6583
   and Halpha (the BPT lines, Kewley et al. 2001; L[OIII] tracks L_bol,AGN, Heckman et al. 2004),
   should take a larger share of the W3/W4 attribution than in galaxies without an AGN.
2. **Star-formation lines.** Halpha and [OII] 3727 trace the star formation rate (Kennicutt 1998),
   which sets the dust and PAH emission in W3/W4; they should take a larger share in
   star-forming than in quenched galaxies.

Groups (from the simulator's truth columns, seeded draws of ``n_per_group`` galaxies each):

- ``torus``: ``truth_w3_torus_frac > torus_frac`` and ``truth_w4_torus_frac > torus_frac``;
- ``star-forming`` / ``quenched``: ``class_label`` with ``truth_agn_type == 0``;
- ``non-AGN``: the star-forming and quenched groups together.

A *feature* is one or more line windows of :data:`explorer.constants.LINES` (e.g. "[NII]" =
"[NII] 6548" + "[NII] 6583"); its share in a galaxy is the sum of its windows' shares of
|attribution| (:mod:`explorer.attribution.lines`), defined only where all its windows are
covered. A property *holds* for a target when the group medians are ordered as stated; the
one-sided Mann-Whitney U p-value of the same ordering is reported beside it.

Run: ``python -m explorer attribute --check sanity --sample 20 --json`` (20 galaxies per group).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..constants import LINES, Line
from ..errors import AttributionError
from .lines import LineRanking
from .sample import SampleRanking, sample_rankings

#: Features (name -> line windows of explorer.constants.LINES).
FEATURES: dict[str, tuple[str, ...]] = {
    "[OIII]": ("[OIII] 4959", "[OIII] 5007"),
    "Hbeta": ("Hbeta",),
    "[NII]": ("[NII] 6548", "[NII] 6583"),
    "Halpha": ("Halpha",),
    "[OII]": ("[OII]",),
}
#: Broad-line wings, reported beside property 1 (not part of it). The simulator's type-1 AGN have
#: broad Balmer lines of FWHM 2000-6000 km/s (sigma up to 56 A at Halpha), almost all outside the
#: narrow +-8/10 A windows. These windows (+-100 A ~ +-4600 km/s at Halpha, +-75 A at Hbeta) are
#: appended AFTER the line list: overlapping pixels go to the nearest centre and ties to the earlier
#: line, so the narrow windows keep their pixels and the wings take theirs from the continuum.
BROAD_WINGS: tuple[Line, ...] = (
    Line("Halpha broad wings", "balmer", (6564.61,), 100.0),
    Line("Hbeta broad wings", "balmer", (4862.69,), 75.0),
)
#: Features with the wings (name -> windows), reported in ``torus_vs_non_agn_with_broad_wings``.
BROAD_FEATURES: dict[str, tuple[str, ...]] = {
    "Halpha incl. broad wings": ("Halpha", "Halpha broad wings"),
    "Hbeta incl. broad wings": ("Hbeta", "Hbeta broad wings"),
}
#: Property 1: larger share in torus-dominated than in non-AGN galaxies.
AGN_FEATURES = ("[OIII]", "Hbeta", "[NII]", "Halpha")
#: Property 2: larger share in star-forming than in quenched galaxies.
SF_FEATURES = ("Halpha", "[OII]")
TRUTH_COLUMNS = ("class_label", "truth_agn_type", "truth_w3_torus_frac", "truth_w4_torus_frac")


def feature_shares(ranking: LineRanking, windows: Sequence[str]) -> np.ndarray:
    """Per-galaxy share of |attribution| summed over ``windows``.

    Parameters
    ----------
    ranking : LineRanking
        Per-galaxy shares (rows = galaxies; NaN where a window is not covered).
    windows : sequence of str
        Line names of the feature.

    Returns
    -------
    ndarray (n_galaxies,), dimensionless; NaN where any of the windows is not covered.
    """
    missing = [w for w in windows if w not in ranking.names]
    if missing:
        raise AttributionError(f"feature_shares: unknown line windows {missing}; known: {ranking.names}")
    cols = [ranking.names.index(w) for w in windows]
    return ranking.share[:, cols].sum(axis=1)  # NaN propagates: all windows must be covered


def select_groups(
    table: dict, n_per_group: int, seed: int = 0, torus_frac: float = 0.5, good: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Seeded draws of row indices for the ``torus``, ``star-forming`` and ``quenched`` groups.

    Parameters
    ----------
    table : dict of column arrays
        Needs :data:`TRUTH_COLUMNS` (a simulated catalog).
    n_per_group : int
        Galaxies per group (fewer if the catalog has fewer).
    seed : int
    torus_frac : float
        Torus fraction of the W3 and of the W4 flux above which a galaxy is torus-dominated.
    good : bool array, optional
        Rows allowed (e.g. ``Catalog.good``).

    Returns
    -------
    dict group -> sorted int array of row indices.

    Raises
    ------
    AttributionError
        A truth column is missing, or a group is empty.
    """
    missing = [c for c in TRUTH_COLUMNS if c not in table]
    if missing:
        raise AttributionError(
            f"sanity groups need the simulator's truth columns; the catalog lacks {missing}"
        )
    n = len(table["class_label"])
    ok = np.ones(n, bool) if good is None else np.asarray(good, bool)
    label = np.asarray(table["class_label"]).astype(str)
    agn_type = np.asarray(table["truth_agn_type"])
    masks = {
        "torus": ok
        & (np.asarray(table["truth_w3_torus_frac"]) > torus_frac)
        & (np.asarray(table["truth_w4_torus_frac"]) > torus_frac),
        "star-forming": ok & (label == "star-forming") & (agn_type == 0),
        "quenched": ok & (label == "quenched") & (agn_type == 0),
    }
    rng = np.random.default_rng(seed)
    out = {}
    for name, m in masks.items():
        rows = np.flatnonzero(m)
        if rows.size == 0:
            raise AttributionError(f"sanity group {name!r} is empty in this catalog")
        out[name] = np.sort(rng.choice(rows, size=min(n_per_group, rows.size), replace=False))
    return out


def _compare(a: np.ndarray, b: np.ndarray) -> dict:
    """Medians of two samples (NaN dropped), whether median(a) > median(b), one-sided MWU p."""
    from scipy.stats import mannwhitneyu

    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    med_a = float(np.median(a)) if a.size else math.nan
    med_b = float(np.median(b)) if b.size else math.nan
    p = float(mannwhitneyu(a, b, alternative="greater").pvalue) if a.size and b.size else math.nan
    return {
        "median_a": med_a,
        "median_b": med_b,
        "n_a": int(a.size),
        "n_b": int(b.size),
        "holds": bool(med_a > med_b),
        "p_one_sided": p,
    }


def _definitions(torus_frac: float) -> dict:
    """The ``"definitions"`` entry of :func:`sanity_check`'s result: what groups and shares mean."""
    return {
        "torus": f"truth_w3_torus_frac > {torus_frac} and truth_w4_torus_frac > {torus_frac}",
        "non-AGN": "star-forming + quenched groups (truth_agn_type == 0)",
        "share": "sum over the feature's windows of sum|attr| in window / sum|attr| over good pixels",
        "holds": "median(group a) > median(group b); p_one_sided: Mann-Whitney U, a > b",
        "features": {k: list(v) for k, v in FEATURES.items()},
        "broad_wing_features": {k: list(v) for k, v in BROAD_FEATURES.items()},
        "broad_wing_windows_rest_aa": {ln.name: list(ln.window_rest_aa()) for ln in BROAD_WINGS},
    }


def _target_checks(sr: SampleRanking, group_of: dict[int, str]) -> dict:
    """Both properties for one target's :class:`SampleRanking`
    (``group_of``: row index -> group); one entry of :func:`sanity_check`'s ``"targets"``."""
    rows = sr.per_galaxy
    grp = np.array([group_of[r["index"]] for r in rows])
    agn_type = np.array([r.get("truth_agn_type", -1) for r in rows])
    torus, sf, q = grp == "torus", grp == "star-forming", grp == "quenched"
    non_agn = sf | q
    shares = {name: feature_shares(sr.ranking, wins) for name, wins in FEATURES.items()}
    agn_all = sum(shares[f] for f in AGN_FEATURES)
    sf_all = sum(shares[f] for f in SF_FEATURES)
    res_t = {
        "torus_vs_non_agn": {f: _compare(shares[f][torus], shares[f][non_agn]) for f in AGN_FEATURES},
        "torus_by_agn_type": {
            f: {
                f"type{k}": _compare(shares[f][torus & (agn_type == k)], shares[f][non_agn])["median_a"]
                for k in (1, 2)
            }
            for f in AGN_FEATURES
        },
        "star_forming_vs_quenched": {f: _compare(shares[f][sf], shares[f][q]) for f in SF_FEATURES},
        "completeness": sr.completeness_summary(),
    }
    res_t["torus_vs_non_agn"]["AGN windows combined"] = _compare(agn_all[torus], agn_all[non_agn])
    # the same comparison with the broad Balmer wings counted as Halpha/Hbeta (reported only)
    wings = {name: feature_shares(sr.ranking, wins) for name, wins in BROAD_FEATURES.items()}
    agn_wings = agn_all + sum(feature_shares(sr.ranking, (ln.name,)) for ln in BROAD_WINGS)
    res_t["torus_vs_non_agn_with_broad_wings"] = {
        **{f: _compare(v[torus], v[non_agn]) for f, v in wings.items()},
        "AGN windows combined": _compare(agn_wings[torus], agn_wings[non_agn]),
    }
    res_t["torus_by_agn_type_with_broad_wings"] = {
        f: {f"type{k}": _compare(v[torus & (agn_type == k)], v[non_agn])["median_a"] for k in (1, 2)}
        for f, v in wings.items()
    }
    res_t["star_forming_vs_quenched"]["Halpha+[OII]"] = _compare(sf_all[sf], sf_all[q])
    res_t["n_torus_by_agn_type"] = {f"type{k}": int(np.sum(torus & (agn_type == k))) for k in (1, 2)}
    return res_t


def sanity_check(
    target_fn_factory: Callable,
    catalog,
    *,
    targets: Sequence[str] = ("W3", "W4"),
    n_per_group: int = 20,
    seed: int = 0,
    torus_frac: float = 0.5,
    cache=None,
    progress: bool = False,
    **engine_kwargs,
) -> dict:
    """Attribute the three groups of galaxies and test both properties for every target.

    Parameters
    ----------
    target_fn_factory : callable ``(GalaxySpectrum) -> target function``
        As :func:`explorer.attribution.sample.sample_rankings` (the shipped models:
        ``build_target_function(bundle, spec, row, references)``).
    catalog : explorer.catalog.Catalog
        A simulated catalog with truth columns (e.g. ``data/demo_catalog.h5``).
    targets : sequence of str
    n_per_group, seed, torus_frac
        See :func:`select_groups`.
    cache : AttributionCache, optional
    progress : bool
    **engine_kwargs
        Engine settings (default: the engine's defaults).

    Returns
    -------
    dict (JSON-ready)::

        {"groups": {group: {"n", "ids"}},
         "targets": {target: {
             "torus_vs_non_agn": {feature: {"median_a" (torus), "median_b" (non-AGN), "holds", "p_one_sided", ...},
                                  "AGN windows combined": {...}},
             "torus_by_agn_type": {feature: {"type1": median, "type2": median}},
             "torus_vs_non_agn_with_broad_wings": {"Halpha incl. broad wings": {...}, ...,
                                                   "AGN windows combined": {...}},
             "torus_by_agn_type_with_broad_wings": {...},
             "star_forming_vs_quenched": {feature: {"median_a" (SF), "median_b" (quenched), ...},
                                          "Halpha+[OII]": {...}},
             "completeness": {...}}},
         "settings": {...}}
    """
    groups = select_groups(catalog.table, n_per_group, seed, torus_frac, good=catalog.good)
    order = np.concatenate([groups["torus"], groups["star-forming"], groups["quenched"]])
    group_of = {}
    for g in ("torus", "star-forming", "quenched"):
        for i in groups[g]:
            group_of.setdefault(int(i), g)  # a row is in one group only (masks are disjoint)
    rankings = sample_rankings(
        target_fn_factory,
        catalog,
        order,
        list(targets),
        lines=LINES + BROAD_WINGS,
        extra_columns=TRUTH_COLUMNS,
        cache=cache,
        progress=progress,
        **engine_kwargs,
    )
    out: dict = {
        "groups": {
            g: {"n": int(len(ix)), "ids": [str(catalog.table["id"][i]) for i in ix]}
            for g, ix in groups.items()
        },
        "definitions": _definitions(torus_frac),
        "targets": {},
        "settings": {"n_per_group": n_per_group, "seed": seed, "torus_frac": torus_frac, **engine_kwargs},
    }
    for t, sr in rankings.items():
        out["targets"][t] = _target_checks(sr, group_of)
    return out
