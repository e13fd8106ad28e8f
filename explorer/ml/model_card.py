"""MODEL_CARD.md generated from a model directory's manifest and evaluation numbers."""

from __future__ import annotations

import json
from pathlib import Path

from ..constants import WISE_BANDS
from .predictor import COLOR_PAIRS, color_name

_COLS = (
    "n",
    "chi2_n",
    "mean_chi",
    "iqr_sigma_chi",
    "bias",
    "sigma_iqr",
    "outlier_frac",
    "coverage68",
    "coverage95",
)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def _table(block: dict) -> list[str]:
    lines = ["| | " + " | ".join(_COLS) + " |", "|---" * (len(_COLS) + 1) + "|"]
    for key in list(WISE_BANDS) + [color_name(i, j) for i, j in COLOR_PAIRS]:
        m = block.get("bands", {}).get(key) or block.get("colors", {}).get(key)
        if m:
            lines.append(f"| {key} | " + " | ".join(_fmt(m.get(c)) for c in _COLS) + " |")
    return lines


def render_model_card(manifest: dict, result: dict) -> str:
    """Markdown text of the model card."""
    comps = manifest.get("components", {})
    enc = comps.get("encoder", {})
    pred = comps.get("predictor", {})
    cat = manifest.get("catalog", {})
    L = [f"# Model card: `{manifest.get('name', '?')}`", ""]
    acc = {k: v for k, v in result.get("acceptance", {}).items() if v is not None}
    if acc:
        failing = [k for k, v in acc.items() if not v]
        L += [
            f"> **Status: {len(acc) - len(failing)} of {len(acc)} acceptance checks pass"
            + (f"; failing: {', '.join(failing)}.**" if failing else ".**")
            + (" Trained on a SIMULATED catalog (see data/README.md)." if cat.get("simulated") else ""),
            "",
        ]
    L += [
        "Predicts the WISE W1-W4 magnitudes (joint Gaussian-mixture posterior with full covariance) and",
        "q_PAH, P(AGN), L_bol,AGN and SFR from an SDSS optical spectrum, following Jespersen et al. 2025",
        "(arXiv:2503.03816). All numbers below come from `explorer.ml.evaluate.evaluate` on the held-out",
        f"`{result.get('meta', {}).get('split', 'test')}` split of `{result.get('meta', {}).get('catalog', '?')}`",
        f"(N = {result.get('meta', {}).get('n', '?')}); rerun with `python -m explorer evaluate`.",
        "",
        "## Components",
        f"- **encoder.pt**: spender autoencoder (Melchior et al. 2023), config `{json.dumps(enc.get('config', {}))}`;",
        f"  trained with spender's fidelity loss: {json.dumps(enc.get('train_info', {}), default=str)[:600]}",
        f"- **predictor.pt**: deep ensemble, config `{json.dumps(pred.get('config', {}))}`.",
        "  Gaussian likelihood with covariance = model (Cholesky) + diag(catalog sigma^2); upper limits",
        "  censored (conditional Gaussian CDF given the detected bands); per-band variance scale fitted on",
        "  the validation split.",
        "- **properties.pt**: heteroscedastic Gaussian heads (ln q_PAH, log L_bol,AGN for AGN, log SFR) + AGN classifier.",
        "- **paper_mlp.pt**: the paper's demo MLP 8-20-50-50-20-4 (4,884 parameters; inputs 6 latents, z, log10 spec_norm).",
        "- **photometry_only.pt**: ugriz total mags + z with the same machinery as predictor.pt.",
        "",
        "## Training data",
        f"- catalog `{cat.get('path', '?')}` (sha256 `{str(cat.get('sha256', '?'))[:16]}...`, "
        f"{cat.get('n_galaxies', '?')} galaxies, simulated={cat.get('simulated', '?')})",
        f"- command: `{manifest.get('training_command', '?')}`, seed {manifest.get('seed', '?')}",
        "",
        "## Reproduce",
        "",
        "```bash",
        f"{enc.get('training_command', '# encoder: see manifest.json')}",
        f"{pred.get('training_command', manifest.get('training_command', '# predictor: see manifest.json'))}",
        f"python -m explorer evaluate {cat.get('path', 'CATALOG')} --models {manifest.get('name', 'NAME')} --write --json",
        "```",
        "",
        "## WISE magnitudes and colours (ours)",
        "chi uses the catalog error only (paper definition). `pred` = the expected catalog magnitude",
        "given that the band is detected (posterior draws through the AllWISE measurement model: the",
        "metric scores detected sources only, which are Eddington-biased near the limit); coverage uses",
        "the predictive interval of the observation (model + catalog error).",
        "",
    ]
    L += _metric_sections(result)
    L += _property_sections(result)
    return "\n".join(L)


def _metric_sections(result: dict) -> list[str]:
    """WISE metric tables: ours, with the posterior mean, by class, baselines, the truth reference."""
    L = []
    L += _table(result)
    if result.get("true_mean"):
        L += ["", "### Same, with `pred` = posterior mean of the true magnitude", ""]
        L += _table(result["true_mean"])
    by_class = result.get("by_class")
    if by_class:
        groups = list(next(iter(by_class.values())))
        L += [
            "",
            "### Where the chi^2 comes from (simulation classes)",
            "",
            "`chi2_n` within each class of the simulated test split (same `pred` and selection as above),",
            "with the class's share of the chi^2 sum and its number of galaxies in brackets.",
            "",
            "| | " + " | ".join(groups) + " |",
            "|---|" + "---|" * len(groups),
        ]
        for name, block in by_class.items():
            cells = [
                "-" if block[g]["chi2_n"] is None else
                f"{block[g]['chi2_n']:.2f} ({block[g]['share_of_chi2_sum']:.2f}; {block[g]['n']})"
                for g in groups
            ]  # fmt: skip
            L.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, block in result.get("baselines", {}).items():
        L += ["", f"### Baseline: {name}", ""] + _table(block)
    ref = (result.get("reference") or {}).get("truth_flux")
    if ref:
        L += [
            "",
            "### Reference: the noiseless truth as the prediction",
            "",
            "The simulator's noise-free magnitude of each galaxy scored with the same metric (`truth`), and",
            "the expected catalog magnitude given a detection computed from it (`detected`): the lowest",
            "`chi2_n` a predictor can reach on this catalog. `truth` stays above 1 in W4 because faint",
            "detections are Eddington-biased (sources detected at S/N 2-4 are mostly upward fluctuations).",
            "",
        ]
        for key in ("truth", "detected"):
            if ref.get(key):
                L += [f"`{key}`:", ""] + _table(ref[key]) + [""]
    return L


def _property_sections(result: dict) -> list[str]:
    """Physical properties, autoencoder, acceptance checks and limitations."""
    L = []
    props = result.get("properties")
    L += ["", "## Physical properties", ""]
    if isinstance(props, dict):
        for k, v in props.items():
            L.append(f"- **{k}**: " + ", ".join(f"{kk} = {_fmt(vv)}" for kk, vv in v.items()))
    else:
        L.append(f"- {props}")
    fl = result.get("floors", {})
    L.append(f"- floors from: {fl.get('source', '-')}")
    ae = result.get("autoencoder")
    if ae:
        L += ["", "## Autoencoder", ""]
        L.append(f"- median reduced chi^2 on test spectra: {_fmt(ae.get('test_median_reduced_chi2'))}")
        real = ae.get("real_sdss_reduced_chi2")
        if isinstance(real, dict):
            for k, v in real.items():
                L.append(
                    f"- real SDSS DR18 `{k}`: "
                    + (
                        f"z = {v['z']:.4f}, reduced chi^2 = {v['reduced_chi2']:.3f}"
                        if isinstance(v, dict)
                        else str(v)
                    )
                )
        else:
            L.append(f"- real SDSS spectra: {real}")
    acc = result.get("acceptance", {})
    if acc:
        L += ["", "## Acceptance checks", "", "| check | pass |", "|---|---|"]
        L += [f"| {k} | {_fmt(v)} |" for k, v in acc.items()]
    L += [
        "",
        "## Limitations",
        "- Trained on a *simulated* catalog when `simulated=True` above: numbers measure how well the",
        "  model recovers the simulator's relations, not real SDSS x WISE galaxies.",
        "- With two or more censored bands the censored likelihood treats them as independent given the",
        "  detected bands.",
        "- Calibration (variance scale) is fitted on the validation split, which also served for early stopping.",
        "",
    ]
    return L


def write_model_card(model_dir, result: dict) -> Path:
    from .registry import read_manifest

    d = Path(model_dir)
    text = render_model_card(read_manifest(d), result)
    path = d / "MODEL_CARD.md"
    path.write_text(text)
    return path
