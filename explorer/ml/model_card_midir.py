"""The mid-IR spectrum model's sections of the model card and the README (issue 15): Rissaki et
al.'s metric per design and mode, the calibration per wavelength bin, the split by WISE detection
and class (:func:`midir_section`, :func:`midir_readme_lines`), from ``midir_evaluation.json``."""

from __future__ import annotations

import json
from pathlib import Path

from .model_card import _fmt, _g

#: the mid-IR model's evaluation, written by ``python -m explorer train-midir`` beside ``midir.pt``
MIDIR_EVALUATION_FILE = "midir_evaluation.json"
#: Rissaki et al.'s best number of the 100 random test galaxies with chi^2 < 5 (their Eq. 6)
RISSAKI_BEST_OF_100 = 72
#: issue 15's targets: optical only, optical + WISE
MIDIR_TARGETS = {"optical": 72, "optical+wise": 90}
_MODE_NAMES = {"optical": "optical", "optical+wise": "optical + WISE", "photometry": "ugriz + WISE"}


def midir_rows(doc: dict) -> list[str]:
    """Markdown table rows: one per design and mode of a ``midir_evaluation.json``."""
    rows = [
        "| design | mode | χ² < 5 (100 random) | median χ² | inside 68% / 95% | PAH 7.7 / 11.3 scatter | target |",
        "|---|---|---|---|---|---|---|",
    ]
    shipped = doc.get("shipped_design")
    for design, block in doc.get("designs", {}).items():
        for mode, m in block.get("test", {}).items():
            r, cov, pah = m.get("rissaki", {}), m.get("coverage", {}), m.get("pah", {})
            label = design_label(design, block)
            name = f"**{label}** (shipped)" if design == shipped else label
            target = MIDIR_TARGETS.get(mode)
            met = (
                ""
                if target is None
                else (f"≥ {target}: " + ("met" if r.get("n_chi2_below_5", -1) >= target else "not met"))
            )
            rows.append(
                f"| {name} | {_MODE_NAMES.get(mode, mode)} | {r.get('n_chi2_below_5', '–')}/{r.get('n_random', '–')} "
                f"({100 * r.get('all_fraction_below_5', float('nan')):.0f}% of {m.get('n_galaxies', '–')}) "
                f"| {_fmt(r.get('median_chi2'))} | {_fmt(cov.get('overall_68'))} / {_fmt(cov.get('overall_95'))} "
                f"| {_fmt(_g(pah, 'PAH 7.7', 'robust_frac_scatter'))} / {_fmt(_g(pah, 'PAH 11.3', 'robust_frac_scatter'))} "
                f"| {met} |"
            )
    return rows


def midir_coverage_lines(design: dict) -> list[str]:
    """Per mode of a design's test entry: the range of the 68/95% coverage over the wavelength bins
    and the bins outside issue 15's tolerance (:data:`COVERAGE_TOLERANCE`)."""
    cov_lines = []
    for mode, m in design.get("test", {}).items():
        bins = m.get("coverage", {}).get("bins", [])
        if not bins:
            continue
        out = [f"{b['bin_um'][0]:.1f}–{b['bin_um'][1]:.1f} µm ({b[f'inside_{q}']:.3f} in the {q}%)"
               for b in bins for q, nominal in ((68, 0.68), (95, 0.95))
               if abs(b[f"inside_{q}"] - nominal) > COVERAGE_TOLERANCE]  # fmt: skip
        verdict = "all within ±0.05" if not out else "outside ±0.05: " + ", ".join(out)
        drawn = m.get("coverage_as_drawn", {}).get("bins", [])
        before = (
            f" (as drawn, before the recalibration: {_span(drawn, 68)} and {_span(drawn, 95)})"
            if drawn
            else ""
        )
        cov_lines.append(
            f"- {_MODE_NAMES.get(mode, mode)}: {len(bins)} log bins over 3–35 µm, true f_ν inside the 68% band"
            f" in {_span(bins, 68)} of galaxies, inside the 95% band in {_span(bins, 95)}{before}; {verdict}"
        )
    return cov_lines


def _span(bins, q) -> str:
    vals = [b[f"inside_{q}"] for b in bins]
    return f"{min(vals):.2f}–{max(vals):.2f}"


def midir_section(model_dir) -> str:
    """The "Mid-IR spectrum" section from ``midir_evaluation.json``, or "" without a mid-IR model."""
    path = Path(model_dir) / MIDIR_EVALUATION_FILE
    if not path.exists():
        return ""
    doc = json.loads(path.read_text())
    shipped = doc.get("designs", {}).get(doc.get("shipped_design"), {})
    cov_lines = midir_coverage_lines(shipped)
    return "\n".join(
        [
            "",
            "",
            "## Mid-IR spectrum (midir.pt)",
            "",
            "A posterior over the rest-frame 3–35 µm spectrum from the predictor's features"
            + _aux_phrase(shipped.get("config", {}).get("aux_targets"))
            + ", conditioned on",
            f"W1–W4 in the WISE modes (`explorer/ml/midir*.py`). Command: `{doc.get('command', '?')}`;",
            f"{doc.get('n_train', '?')} training and {doc.get('n_valid', '?')} validation galaxies,"
            f" {doc.get('n_test_evaluated', '?')} test galaxies evaluated; shipped design chosen by"
            f" {doc.get('selection', '?')}.",
            "",
            "Rissaki et al.'s metric (their Eq. 6, χ² over 5–35 µm of the posterior median; number of 100",
            f"random test galaxies with χ² < 5; their best: {RISSAKI_BEST_OF_100}/100 from ~20-band UV–submm",
            "photometry), the fraction of true spectra inside the 68/95% bands (over all bins), and the PAH",
            "band fluxes' robust fractional scatter against the truth:",
            "",
            *midir_rows(doc),
            "",
            "Calibration per wavelength bin (shipped design; nominal 0.68 / 0.95, issue 15's tolerance ±0.05):",
            "",
            *cov_lines,
            *midir_group_lines(shipped),
            "",
        ]
    )


def design_label(design: str, block: dict) -> str:
    """``pca + log_ldust head``: a design's name and its auxiliary heads (``block``: its entry in
    ``midir_evaluation.json``)."""
    aux = block.get("config", {}).get("aux_targets") or []
    return design + "".join(f" + {t.removeprefix('truth_')} head" for t in aux)


def _aux_phrase(aux) -> str:
    """' and an out-of-fold head's prediction of log_ldust (explorer/ml/midir_aux.py)', or ''."""
    if not aux:
        return ""
    names = ", ".join(t.removeprefix("truth_") for t in aux)
    return f" and out-of-fold auxiliary heads' predictions of {names} from them (`explorer/ml/midir_aux.py`)"


#: issue 15: the fraction of true spectra inside a band within this of its nominal level per bin
COVERAGE_TOLERANCE = 0.05


def midir_readme_lines(doc: dict) -> list[str]:
    """The README's mid-IR block (``train-midir --readme``): the command, every design and mode,
    and the shipped design by WISE detection and class."""
    cmd = doc.get("reevaluated_by") or doc.get("command", "?")
    shipped = doc.get("designs", {}).get(doc.get("shipped_design"), {})
    return [
        f"From `{cmd}` on `{_g(doc, 'catalog', 'path')}` ({doc.get('n_train', '?')} training galaxies,"
        f" {doc.get('n_test_evaluated', '?')} random test galaxies evaluated; shipped design chosen by"
        f" {doc.get('selection', '?')}):",
        "",
        *midir_rows(doc),
        "",
        "Calibration per wavelength bin (shipped design; nominal 0.68 / 0.95, issue 15's tolerance ±0.05;"
        " bands with the levels recalibrated on the validation split, `explorer/ml/midir_calibrate.py`):",
        "",
        *midir_coverage_lines(shipped),
        *midir_group_lines(shipped),
    ]


def midir_group_lines(design: dict) -> list[str]:
    """Rissaki's chi^2 < 5 fraction and median by WISE detection and by class, per mode (all the
    evaluated test galaxies of the shipped design), or [] when the evaluation predates the split."""
    tests = design.get("test", {})
    groups = [g for g in next(iter(tests.values()), {}).get("rissaki_by_group", {})]
    if not groups:
        return []
    modes = list(tests)
    L = ["", "Where the spectrum is pinned down: fraction of the evaluated test galaxies with χ² < 5 (median χ²)"
         " by what WISE detected and by class:", "",
         "| galaxies | n | " + " | ".join(_MODE_NAMES.get(m, m) for m in modes) + " |", "|---" * (len(modes) + 2) + "|"]  # fmt: skip
    for g in groups:
        cells = []
        for m in modes:
            r = tests[m].get("rissaki_by_group", {}).get(g, {})
            frac, med = r.get("fraction_below_5"), r.get("median_chi2")
            cells.append("–" if frac is None else f"{frac:.2f} ({med:.2g})")
        n = tests[modes[0]]["rissaki_by_group"][g]["n"]
        L.append(f"| {g} | {n} | " + " | ".join(cells) + " |")
    return L
