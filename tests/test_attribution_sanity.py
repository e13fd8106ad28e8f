"""Sanity of the attributions on the simulated demo catalog with the shipped models/default (issue 4).

Property 1: in torus-dominated galaxies the [OIII], Hbeta, [NII] and Halpha windows take a larger
share of the W3/W4 attribution than in non-AGN galaxies. Property 2: Halpha and [OII] take a
larger share in star-forming than in quenched galaxies. Groups, features and statistics are
defined in :mod:`explorer.attribution.sanity`; 20 galaxies per group, seeded, engine defaults.

The slow tests attribute 60 galaxies (about 25 s on one busy core). They use whatever model is in
models/default and no numbers from it: each compares group medians.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from explorer.attribution.lines import LineRanking, pixel_line_index
from explorer.attribution.sanity import (
    AGN_FEATURES,
    BROAD_WINGS,
    FEATURES,
    TRUTH_COLUMNS,
    feature_shares,
    sanity_check,
    select_groups,
)
from explorer.catalog import Catalog
from explorer.errors import AttributionError
from explorer.jsonutil import json_default
from explorer.paths import DEMO_CATALOG

torch.set_num_threads(1)

N_PER_GROUP = 20
SEED = 0


@pytest.fixture(scope="module")
def demo():
    with Catalog(DEMO_CATALOG) as cat:
        yield cat


@pytest.fixture(scope="module")
def sanity(demo):
    from explorer.ml.registry import load_models
    from explorer.ml.target import ReferenceSpectra, build_target_function

    bundle = load_models("default")  # shipped with the repo: missing is a failure, not a skip
    refs = ReferenceSpectra(bundle, demo, n=32, seed=0)
    out = sanity_check(
        lambda s: build_target_function(bundle, s, demo.row(s.meta["index"]), refs),
        demo,
        targets=("W3", "W4"),
        n_per_group=N_PER_GROUP,
        seed=SEED,
    )
    print(json.dumps({t: {k: v for k, v in r.items() if k != "completeness"} for t, r in out["targets"].items()},
                     default=json_default, indent=1))  # fmt: skip
    return out


# --- fast: group selection and feature shares ------------------------------------------------------
def test_groups_follow_the_truth_columns_and_are_seeded(demo):
    t = demo.table
    g = select_groups(t, 15, seed=3, good=demo.good)
    assert {k: len(v) for k, v in g.items()} == {"torus": 15, "star-forming": 15, "quenched": 15}
    assert np.all(t["truth_w3_torus_frac"][g["torus"]] > 0.5)
    assert np.all(t["truth_w4_torus_frac"][g["torus"]] > 0.5)
    assert set(t["class_label"][g["star-forming"]]) == {"star-forming"}
    assert set(t["class_label"][g["quenched"]]) == {"quenched"}
    assert np.all(t["truth_agn_type"][np.concatenate([g["star-forming"], g["quenched"]])] == 0)
    again = select_groups(t, 15, seed=3, good=demo.good)
    other = select_groups(t, 15, seed=4, good=demo.good)
    assert all(np.array_equal(g[k], again[k]) for k in g)
    assert not np.array_equal(g["torus"], other["torus"])
    with pytest.raises(AttributionError, match="truth columns"):
        select_groups({k: v for k, v in t.items() if k != "truth_w4_torus_frac"}, 5)


def test_feature_share_sums_its_windows_and_needs_all_covered():
    names = ["[OIII] 4959", "[OIII] 5007", "Halpha", "continuum"]
    share = np.array([[0.1, 0.3, 0.2, 0.4], [np.nan, 0.3, 0.5, 0.2]])
    r = LineRanking("W3", names, ["emission"] * 3 + ["continuum"], ["a", "b"], share, share, share, share)
    np.testing.assert_allclose(feature_shares(r, ("[OIII] 4959", "[OIII] 5007")), [0.4, np.nan])
    np.testing.assert_allclose(feature_shares(r, ("Halpha",)), [0.2, 0.5])
    with pytest.raises(AttributionError, match="unknown line windows"):
        feature_shares(r, ("[NII] 6583",))
    assert set(AGN_FEATURES) <= set(FEATURES) and "class_label" in TRUTH_COLUMNS


@pytest.mark.parametrize("z", [0.02, 0.1, 0.3])
def test_broad_wings_take_pixels_from_the_continuum_only(z):
    from explorer.constants import LINES, WAVE_OBS_VAC_AA

    narrow = pixel_line_index(LINES, z)
    both = pixel_line_index(LINES + BROAD_WINGS, z)
    is_wing = both >= len(LINES)
    np.testing.assert_array_equal(both[~is_wing], narrow[~is_wing])  # narrow windows unchanged
    assert np.all(narrow[is_wing] == -1)  # wings only take continuum pixels
    rest = WAVE_OBS_VAC_AA / (1 + z)
    ha_wing = both == len(LINES)  # "Halpha broad wings"
    if ha_wing.any():
        assert np.all(np.abs(rest[ha_wing] - 6564.61) <= 100.0)
        # the wings reach past [NII] 6583 (+-6 A) on the red side: +-100 A ~ +-4600 km/s
        assert rest[ha_wing].max() > 6650


# --- slow: the two properties on the shipped model ----------------------------------------------
#: [OII] in W3 with the v2 model on the v2 demo (2026-12-02): 0.0460 in star-forming against 0.0461 in
#: quenched galaxies (18 and 20 galaxies): equal, not larger. Halpha carries the star formation in W3
#: (0.094 vs 0.047); in W4 [OII] does take the larger share (0.060 vs 0.054).
OII_W3_EQUAL = pytest.mark.xfail(
    strict=True,
    reason="[OII] takes the same share of W3 in star-forming and quenched galaxies with the v2 "
    "model (0.0460 vs 0.0461, 20 per group); Halpha carries W3's star formation (0.094 vs 0.047). strict: "
    "a model for which it holds turns this into a failure, so that this marker is removed.",
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "feature"),
    [("W3", "Halpha"), pytest.param("W3", "[OII]", marks=OII_W3_EQUAL), ("W4", "Halpha"), ("W4", "[OII]")],
)
def test_star_formation_lines_take_a_larger_share_in_star_forming_galaxies(sanity, target, feature):
    c = sanity["targets"][target]["star_forming_vs_quenched"][feature]
    assert c["n_a"] >= N_PER_GROUP - 2 and c["n_b"] >= N_PER_GROUP - 2  # [OII] needs z > 0.02
    assert c["median_a"] > c["median_b"], c


@pytest.mark.slow
@pytest.mark.parametrize("target", ["W3", "W4"])
def test_agn_windows_take_a_larger_share_in_torus_dominated_galaxies(sanity, target):
    c = sanity["targets"][target]["torus_vs_non_agn"]["AGN windows combined"]
    assert c["n_a"] == N_PER_GROUP and c["n_b"] == 2 * N_PER_GROUP
    assert c["median_a"] > c["median_b"], c


@pytest.mark.slow
@pytest.mark.parametrize("feature", ["[OIII]", "Hbeta", "[NII]", "Halpha"])
@pytest.mark.parametrize("target", ["W3", "W4"])
def test_each_agn_line_takes_a_larger_share_in_torus_dominated_galaxies(sanity, target, feature):
    # property 1 line by line: the narrow-line AGN diagnostics (BPT: [OIII]/Hbeta, [NII]/Halpha,
    # Kauffmann et al. 2003; L[OIII] ~ L_bol/3500, Heckman et al. 2004)
    c = sanity["targets"][target]["torus_vs_non_agn"][feature]
    assert c["median_a"] > c["median_b"], c


@pytest.mark.slow
@pytest.mark.parametrize("target", ["W3", "W4"])
def test_broad_wing_features_add_to_the_narrow_windows(sanity, target):
    # reported beside property 1: each galaxy's share with the wings is its narrow share plus >= 0
    r = sanity["targets"][target]
    for line in ("Halpha", "Hbeta"):
        wide = r["torus_vs_non_agn_with_broad_wings"][f"{line} incl. broad wings"]
        narrow = r["torus_vs_non_agn"][line]
        assert wide["n_a"] == narrow["n_a"] and wide["n_b"] == narrow["n_b"]
        assert wide["median_a"] >= narrow["median_a"] and wide["median_b"] >= narrow["median_b"]
    assert set(r["torus_by_agn_type_with_broad_wings"]) == {
        "Halpha incl. broad wings",
        "Hbeta incl. broad wings",
    }


@pytest.mark.slow
def test_sanity_attributions_are_complete(sanity):
    for target, r in sanity["targets"].items():
        comp = r["completeness"]
        assert comp["n"] == 3 * N_PER_GROUP and comp["n_failed"] == 0
        assert comp["n_within_tol"] >= 0.95 * comp["n"], (target, comp)
