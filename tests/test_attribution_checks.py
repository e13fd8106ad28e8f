"""Completeness report, target names, the README ranking table, and the CLI checks on the shipped model."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from explorer.attribution.checks import completeness_report, gap_histogram, resolve_targets
from explorer.attribution.report import PAPER_FEATURES, ranking_markdown
from explorer.attribution.sample import sample_rankings
from explorer.attribution.toys import WindowModel, toy_spectrum
from explorer.constants import LINES_BY_NAME
from explorer.errors import AttributionError

torch.set_num_threads(1)


def test_resolve_targets():
    avail = ["W1", "W2", "W3", "qpah"]
    assert resolve_targets(None, avail, ["W3"]) == ["W3"]
    assert resolve_targets("all", avail, ["W3"]) == avail
    assert resolve_targets(" W1, qpah ", avail, ["W3"]) == ["W1", "qpah"]
    with pytest.raises(AttributionError, match="'W9'.*'all'"):
        resolve_targets("W1,W9", avail, ["W3"])


def test_gap_histogram_bins():
    h = gap_histogram(np.array([0.0005, 0.005, 0.03, 0.05, 0.07, 0.5, np.inf]))
    assert h == {"<=0.001": 1, "<=0.01": 1, "<=0.02": 0, "<=0.05": 2, "<=0.1": 1, "<=0.2": 0, ">0.2": 2}
    assert sum(h.values()) == 7


def _rankings():
    specs = [toy_spectrum(z, seed=i, galaxy_id=f"g{i}") for i, z in enumerate([0.05, 0.08, 0.1, 0.12])]
    base = lambda s: toy_spectrum(s.z, seed=50, line_scale={"Halpha": 0.0, "[OII]": 0.0}).flux[None]  # noqa: E731
    return sample_rankings(
        lambda s: WindowModel("Halpha", s.z), specs, range(4), ["W3"], baselines_fn=base
    ), specs


def test_completeness_report_counts_and_pass_flag():
    rankings, _ = _rankings()
    rep = completeness_report(rankings)
    w3 = rep["targets"]["W3"]
    assert w3["n"] == 4 and w3["n_within_tol"] == 4 and w3["passes"] and rep["all_pass"]
    assert sum(w3["gap_histogram"].values()) == 4 and w3["n_steps_counts"] == {"16": 4}
    assert len(w3["worst"]) == 4 and {"id", "gap", "gap_per_baseline", "delta"} <= set(w3["worst"][0])
    # one galaxy whose gap is out of tolerance: 3 of 4 is below 95 %
    rankings["W3"].per_galaxy[0]["completeness_gap"] = 0.2
    rep = completeness_report(rankings)
    assert rep["targets"]["W3"]["n_within_tol"] == 3 and not rep["all_pass"]
    assert rep["targets"]["W3"]["worst"][0]["gap"] == 0.2
    assert rep["targets"]["W3"]["gap_histogram"]["<=0.2"] == 1
    json.dumps(rep, allow_nan=False)


def test_ranking_markdown_table():
    rankings, _ = _rankings()
    md = ranking_markdown(rankings, provenance="made by a test", samples={"W3": "toy"})
    lines = md.splitlines()
    assert lines[0].startswith("### ") and "made by a test" in md
    header = next(i for i, ln in enumerate(lines) if ln.startswith("| Target"))
    assert lines[header + 1].startswith("|---")
    row = lines[header + 2].split("|")
    assert row[1].strip() == "W3" and row[2].strip() == "4 (toy)"
    assert row[3].strip().startswith("Hα 1.000")  # the window model sees only Halpha
    assert row[5].strip().startswith("Hα ") and row[5].strip().endswith("e-3")  # share per Angstrom
    assert row[6].strip() == "Hα" and "CaII H&K, SrII, FeI, [OII], Hα" in row[7]
    # every window the paper's features name exists in the line list
    assert all(w in LINES_BY_NAME for ws in PAPER_FEATURES.values() for w in ws)


def test_cli_completeness_check_and_markdown_on_shipped_model(tmp_path, capsys):
    from explorer.cli import main

    assert (
        main(["attribute", "--check", "completeness", "--sample", "2", "--target", "W3,qpah", "--json"]) == 0
    )
    rep = json.loads(capsys.readouterr().out)
    assert set(rep["targets"]) == {"W3", "qpah"} and rep["n_galaxies"] == 2
    for t in rep["targets"].values():
        assert t["n"] == 2 and t["n_failed"] == 0
        assert t["n_within_tol"] == sum(
            t["gap_histogram"][k] for k in ("<=0.001", "<=0.01", "<=0.02", "<=0.05")
        )
    assert rep["settings"]["tol"] == 0.05 and rep["settings"]["n_baselines"] == 8

    md = tmp_path / "rank.md"
    readme = tmp_path / "README.md"
    readme.write_text(
        "# x\n\n<!-- attribution-ranking:start -->\nold\n<!-- attribution-ranking:end -->\nend\n"
    )
    args = [
        "attribute",
        "--sample",
        "2",
        "--target",
        "W1,lbol_agn",
        "--markdown",
        md,
        "--readme",
        readme,
        "--out",
        tmp_path,
        "--json",
    ]
    assert main([str(a) for a in args]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert str(md) in summary["files"]
    text = md.read_text()
    assert "| W1 | 2 |" in text and "| log L_bol,AGN | 2 (class_label agn) |" in text
    block = readme.read_text()
    assert "old" not in block and "| W1 | 2 |" in block and block.endswith("end\n") and "### " not in block
    assert "--readme" in block and "--markdown" in block  # the provenance line names the command
    # log L_bol,AGN is ranked on AGN only
    from explorer.catalog import Catalog
    from explorer.paths import DEMO_CATALOG

    with Catalog(DEMO_CATALOG) as cat:
        labels = [cat.table["class_label"][r["index"]] for r in summary["lbol_agn"]["per_galaxy"]]
    assert labels == ["agn", "agn"]
    assert not math.isnan(summary["W1"]["completeness"]["gap_median"])
