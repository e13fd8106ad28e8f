"""The one-galaxy flow (target function -> attribution -> line shares -> figure) on the shipped
models, and the one table of model outputs (explorer.constants.TARGETS) it labels them with."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.attribution import AttributionCache, attribute_targets, line_shares
from explorer.attribution.explain import N_REFERENCES, explain_galaxy, reference_spectra
from explorer.attribution.figures import plot_line_ranking
from explorer.attribution.report import target_label
from explorer.catalog import Catalog
from explorer.constants import PROPERTY_TARGETS, TARGETS, TARGETS_BY_NAME, target_spec
from explorer.errors import AttributionError
from explorer.paths import DEMO_CATALOG

torch.set_num_threads(1)

#: a cheap but real setting: 2 reference spectra, 8 steps (the numbers are compared, not judged)
FAST = {"n_baselines": 2, "n_steps": 8, "max_steps": 8}


@pytest.fixture(scope="module")
def shipped():
    from explorer.ml.registry import load_models

    bundle = load_models("default")
    with Catalog(DEMO_CATALOG) as cat:
        refs = reference_spectra(bundle, cat, n_baselines=2)
        i = int(np.flatnonzero(cat.good)[0])
        yield bundle, cat, refs, cat.spectrum(i), cat.row(i)


def test_target_table_is_the_target_functions_outputs(shipped):
    from explorer.ml.target import build_target_function

    bundle, _, refs, spec, row = shipped
    assert build_target_function(bundle, spec, row, refs).targets == [t.name for t in TARGETS]
    assert len(TARGETS_BY_NAME) == len(TARGETS)
    for t in TARGETS:
        assert t.label and t.menu and target_label(t.name) == t.axis_label


def test_labels_come_from_the_table():
    # ln q_PAH is a natural log (no "%"); every property output says what it is and its unit
    assert target_label("qpah") == "ln q_PAH"
    assert target_label("lbol_agn") == "log L_bol,AGN (erg/s)"
    assert target_label("log_sfr") == "log SFR (M☉/yr)"
    assert target_label("W3") == "W3 (mag)" and target_label("W1-W2") == "W1-W2 (mag)"
    assert set(PROPERTY_TARGETS) == {"qpah", "lbol_agn", "log_sfr"}
    # a name outside the table (a test model's output) is shown as it is
    assert target_spec("y").axis_label == "y" and target_label("y") == "y"


def test_explain_galaxy_is_the_engine_plus_line_shares_plus_figure(shipped):
    from explorer.ml.target import build_target_function

    bundle, _, refs, spec, row = shipped
    seen = []

    def wrap(tf):
        seen.append(tf)
        return tf

    ex = explain_galaxy(bundle, spec, "qpah", row=row, references=refs, wrap=wrap, top_n=4, **FAST)
    assert len(seen) == 1 and ex.target == "qpah"
    # the same numbers as the engine called by hand
    tf = build_target_function(bundle, spec, row, refs)
    ref = attribute_targets(tf, spec, ["qpah"], **FAST)["qpah"]
    np.testing.assert_allclose(ex.result.attribution, ref.attribution, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ex.shares.share, line_shares(ref, weight=spec.weight).share, rtol=1e-6)
    # the figure says what was attributed, with the table's label
    assert "ln q_PAH" in ex.figure.axes[1].get_ylabel() and len(ex.figure.irox_labels) <= 4
    s = ex.summary()
    assert s["galaxy_id"] == spec.id and s["target"] == "qpah" and len(s["top_lines"]) == 4
    assert s["top_lines"] == ex.shares.ranking("share", include_continuum=False)[:4]


def test_explain_galaxy_target_choice_cache_and_save(shipped, tmp_path):
    bundle, _, refs, spec, row = shipped
    cache = AttributionCache()
    a = explain_galaxy(bundle, spec, None, row=row, references=refs, cache=cache, model_id="m", **FAST)
    assert a.target == "W3"  # the default output
    b = explain_galaxy(bundle, spec, "W3", row=row, references=refs, cache=cache, model_id="m", **FAST)
    assert cache.hits == 1 and b.result is a.result
    # a model id computed from the (unwrapped) target function, as the app keys its cache
    c = explain_galaxy(
        bundle, spec, "W3", row=row, references=refs, cache=cache, wrap=lambda tf: _Wrapped(tf),
        model_id=lambda tf: "wrapped" if isinstance(tf, _Wrapped) else "m", **FAST,
    )  # fmt: skip
    assert cache.hits == 2 and c.result is a.result
    assert explain_galaxy(bundle, spec, "all", row=row, references=refs, figure=False, **FAST).target == "W1"
    with pytest.raises(AttributionError, match="'W9'"):
        explain_galaxy(bundle, spec, "W9", row=row, references=refs, **FAST)
    files = a.save(tmp_path / "g.pdf", formats=("png", "svg"))
    assert [f.name for f in files] == ["g.png", "g.svg"] and all(f.stat().st_size > 10_000 for f in files)
    assert [f.name for f in a.save(tmp_path / "h.png")] == ["h.png"]


class _Wrapped(torch.nn.Module):
    """A pass-through wrapper (like the app's progress counter) that is not a TargetFunction."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.targets = inner, list(inner.targets)
        self.reference_baselines = inner.reference_baselines  # the same baselines, as the app's wrapper

    def forward(self, flux):
        return self.inner(flux)


def test_reference_spectra_never_fewer_than_the_baselines(shipped):
    bundle, cat, refs, *_ = shipped
    assert len(refs.ids) == N_REFERENCES
    assert len(reference_spectra(bundle, cat, n_baselines=N_REFERENCES + 3).ids) == N_REFERENCES + 3


def test_ranking_figure_default_label_from_the_table():
    from explorer.attribution.lines import sample_line_ranking
    from explorer.attribution.toys import WindowModel, toy_spectrum

    spec = toy_spectrum(0.1, seed=1)
    res = attribute_targets(WindowModel("Halpha", 0.1), spec, ["W3"], baselines=np.ones((1, spec.flux.size)))
    ranking = sample_line_ranking([line_shares(res["W3"], weight=spec.weight)], target="lbol_agn")
    fig = plot_line_ranking(ranking)
    assert "log L_bol,AGN (erg/s)" in fig._suptitle.get_text()
