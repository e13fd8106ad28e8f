"""MODEL_CARD.md generated from a model directory's manifest and evaluation numbers."""

from __future__ import annotations

import json
from pathlib import Path

from ..constants import WISE_BANDS
from .predictor import COLOR_PAIRS, color_name

_COLS = (
    "n",
    "chi2_n",
    "chi2_n_paper",
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


#: the two chi conventions, one sentence each (used in the model card and the README)
CHI_DEFINITIONS = (
    "`chi2_n` (standard): the mean over detected test galaxies of chi^2 with chi = (pred - obs) / sigma,"
    " sigma the catalog magnitude error, which is 1 when the prediction errors equal the measurement errors.",
    "`chi2_n_paper` (the paper's Table 3 convention): the same mean with chi = (pred - obs) / sqrt(sigma),"
    " the convention of the authors' demo notebook (its loss is `GaussianNLLLoss(pred, obs, var=sqrt(sigma))`),"
    " as documented by the independent reproduction github.com/KoslickiLab/reproducing-jespersen-25"
    " (README, train_their_data.py); for a colour, sigma is the colour's error sqrt(sigma_i^2 + sigma_j^2).",
)


def _g(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def paper_comparison_lines(result: dict) -> list[str]:
    """Markdown table: ours, the paper's Table 3, the retrained paper MLP, the ablation, the ceiling."""
    t3 = _g(result, "paper_table3", "chi2_n_paper") or {}
    ratio = _g(result, "ceiling", "ratio_chi2_n_to_ceiling") or {}
    ceil = _g(result, "ceiling", "ceiling_chi2_n") or {}
    cols = [
        "ours chi2_n",
        "ours chi2_n_paper",
        "paper Table 3 (real data)",
        "paper MLP chi2_n",
        "paper MLP chi2_n_paper",
        "paper MLP, demo-recipe model, chi2_n_paper",
        "ours on the 8 paper inputs chi2_n",
        "same, chi2_n_paper",
        "ceiling chi2_n",
        "ours / ceiling",
    ]
    L = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for key in list(WISE_BANDS) + [color_name(i, j) for i, j in COLOR_PAIRS]:
        blk = "bands" if key in WISE_BANDS else "colors"
        row = [
            _g(result, blk, key, "chi2_n"),
            _g(result, blk, key, "chi2_n_paper"),
            t3.get(key),
            _g(result, "baselines", "paper_mlp", blk, key, "chi2_n"),
            _g(result, "baselines", "paper_mlp", blk, key, "chi2_n_paper"),
            _g(result, "baselines", "paper_mlp_recipe", blk, key, "chi2_n_paper"),
            _g(result, "baselines", "paper_inputs_ensemble", blk, key, "chi2_n"),
            _g(result, "baselines", "paper_inputs_ensemble", blk, key, "chi2_n_paper"),
            ceil.get(key),
            ratio.get(key),
        ]
        cells = [("-" if v is None else f"{v:.2f}") for v in row]
        L.append(f"| {key} | " + " | ".join(cells) + " |")
    return L


def paper_mlp_training_lines(result: dict) -> list[str]:
    """The shipped paper MLP's training log (epochs, best validation loss, wall time) and selection."""
    tr = result.get("paper_mlp_training")
    if not tr:
        return ["- no training log in this model directory"]
    L = []
    log = tr.get("recipe_log")
    if log:
        stop = log.get("stopped_by")
        L += [
            f"- demo recipe run: {log.get('epochs_run')} full-batch epochs in {log.get('wall_seconds', 0) / 60:.1f} min"
            f" ({log.get('ms_per_epoch', 0):.0f} ms per epoch, torch threads {log.get('n_threads')},"
            f" {log.get('n_train')} training galaxies); best validation loss (GaussianNLL, var = sqrt(sigma))"
            f" {log.get('best_valid_loss'):.5f} at epoch {log.get('best_epoch')}; final learning rate"
            f" {log.get('final_lr'):.2e}; stopped by **{stop}**"
            + (
                f" (the wall-clock cap of {log.get('max_minutes')} min bound before the early-stopping"
                f" criterion of {_g(log, 'recipe', 'early_stop_checks')} checks without improvement was met:"
                f" {log.get('checks_without_improvement_at_end')} at the end; the demo trains 2-4 x 10^5 epochs)"
                if stop == "wall_clock_cap"
                else ""
            )
            + ".",
        ]
    sel = tr.get("selection")
    if sel:
        cands = "; ".join(
            f"{k}: mean {v['score']:.3f} ("
            + ", ".join(f"{b} {c:.3f}" for b, c in v["valid_chi2_n_paper"].items() if c is not None)
            + ")"
            for k, v in sel.get("candidates", {}).items()
        )
        L.append(f"- selection rule: {sel.get('rule')}; validation chi2_n_paper {cands}.")
        L.append(f"- shipped: **{sel.get('chosen')}**.")
    elif not log:
        L.append(f"- shipped: {tr.get('shipped')}")
    return L


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
        "- **paper_inputs_ensemble.pt** (ablation): predictor.pt's model and training on the paper's 8 inputs only"
        " (no ugriz magnitudes, no aperture corrections).",
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
    ]
    for comp in ("paper_mlp", "paper_inputs_ensemble"):
        cmd = comps.get(comp, {}).get("training_command")
        if cmd and cmd not in L:
            L.append(cmd)
    L += [
        f"python -m explorer evaluate {cat.get('path', 'CATALOG')} --models {manifest.get('name', 'NAME')} --write --json",
        "```",
        "",
        "## Comparison with the paper",
        "",
        f"- {CHI_DEFINITIONS[0]}",
        f"- {CHI_DEFINITIONS[1]}",
        "- Ours and the baselines are measured on the simulated test split named above; the paper's Table 3",
        "  values are the paper's MLP on real SDSS x AllWISE galaxies. The paper's MLP row is our",
        "  re-implementation trained on this catalog (see below); `ours on the 8 paper inputs` is our",
        "  probabilistic model given only the paper's inputs (6 latents, z, log10 spec_norm), so the",
        "  difference between it and the paper MLP is the model's, and between it and ours the inputs'.",
        "- `ceiling chi2_n`: `python -m explorer ceiling` (a supervised spectrum -> WISE network trained on",
        f"  the same catalog; {_g(result, 'ceiling', 'source') or '-'}); `ours / ceiling` is the distance a",
        "  better encoder would have to close in the standard convention.",
        "",
    ]
    L += paper_comparison_lines(result)
    L += ["", "### How the paper's MLP was trained", ""]
    L += paper_mlp_training_lines(result)
    if result.get("paper_mlp_recipe_training"):
        L += [
            "",
            "The demo-recipe model kept beside it (`paper_mlp_recipe.pt`, the `paper_mlp_recipe` baseline;"
            " column `demo-recipe model` above) comes from its own run:",
            "",
        ]
        L += paper_mlp_training_lines({"paper_mlp_training": result["paper_mlp_recipe_training"]})
    L += [
        "",
        "## WISE magnitudes and colours (ours)",
        "`chi2_n` and `chi2_n_paper` as defined above. `pred` = the expected catalog magnitude",
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
            "with `chi2_n_paper`, the class's share of the (standard) chi^2 sum and its number of galaxies",
            "in brackets.",
            "",
            "| | " + " | ".join(groups) + " |",
            "|---|" + "---|" * len(groups),
        ]
        for name, block in by_class.items():
            cells = [
                "-" if block[g]["chi2_n"] is None else
                f"{block[g]['chi2_n']:.2f} ({block[g].get('chi2_n_paper') or float('nan'):.2f};"
                f" {block[g]['share_of_chi2_sum']:.2f}; {block[g]['n']})"
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
            "the expected catalog magnitude given a detection computed from it (`detected`). Where the catalog",
            "magnitude is the noise-free flux plus noise (simulation v1) this is the lowest `chi2_n` a predictor",
            "can reach; `truth` stays above 1 in W4 because faint detections are Eddington-biased. Where the",
            "catalog also has AllWISE's measurement effects (simulation v2: profile-fit flux lost from resolved",
            "galaxies, the common zero point, the W4 colour term) the noise-free flux is not what the catalog",
            "measures, and a predictor trained on catalog magnitudes scores far better than it.",
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
        "  model recovers the simulator's relations, not real SDSS x WISE galaxies; the comparison with the",
        "  paper's Table 3 is between our model on simulated galaxies and theirs on real ones.",
        "- With two or more censored bands the censored likelihood treats them as independent given the",
        "  detected bands.",
        "- Calibration (variance scale) is fitted on the validation split, which also served for early stopping.",
        "",
    ]
    return L


def write_model_card(model_dir, result: dict) -> Path:
    from .registry import read_manifest

    d = Path(model_dir)
    from .model_card_midir import midir_section

    text = render_model_card(read_manifest(d), result) + midir_section(d) + sedfit_section(d)
    path = d / "MODEL_CARD.md"
    path.write_text(text)
    return path


def sedfit_section(model_dir) -> str:
    """The "SED-fitting comparison" section from ``sedfit_compare.json`` (written by
    ``python -m explorer sedfit-compare --write-card``), or "" when the directory has none."""
    path = Path(model_dir) / "sedfit_compare.json"
    if not path.exists():
        return ""
    doc = json.loads(path.read_text())
    return "\n".join(
        [
            "",
            "",
            "## SED-fitting comparison",
            "",
            "A separable bagpipes SED fit of the same galaxies' optical data, predicting W1-W4, against",
            f"this model (`explorer/sedfit/`). Command: `{doc.get('command', '?')}`.",
            "",
            doc.get("markdown", ""),
            "",
        ]
    )


def fmt_metric(v) -> str:
    """A metric for a README table: 3 significant digits, at most 2 decimals above 0.1, "–" if None."""
    if v is None:
        return "–"
    a = abs(v)
    return f"{v:.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}" if a >= 0.1 else f"{v:.3f}"


def readme_lines(result: dict, command: str) -> list[str]:
    """The README's summary of an evaluation (``evaluate --readme``): the paper's metric and ours per
    band for our model, the paper's Table 3, the retrained paper MLP, the ablation, photometry only,
    the ceiling and the noiseless truth; calibration; colours and properties in one line each."""
    t3 = _g(result, "paper_table3", "chi2_n_paper") or {}
    bl = lambda name, metric: {b: _g(result, "baselines", name, "bands", b, metric) for b in WISE_BANDS}  # noqa: E731
    ours = lambda metric: {b: _g(result, "bands", b, metric) for b in WISE_BANDS}  # noqa: E731
    truth = {b: _g(result, "reference", "truth_flux", "detected", "bands", b, "chi2_n") for b in WISE_BANDS}
    rows = [
        ("χ²_N,paper (ours)", ours("chi2_n_paper"), "≤ paper's Table 3"),
        ("paper's Table 3 (their MLP on **real** galaxies)", t3, "—"),
        ("χ²_N,paper paper's MLP (shipped `paper_mlp.pt`)", bl("paper_mlp", "chi2_n_paper"), "ours lower"),
        ("χ²_N,paper paper's MLP, demo-recipe run (`paper_mlp_recipe.pt`)", bl("paper_mlp_recipe", "chi2_n_paper"), "—"),
        ("χ²_N,paper ours on the paper's 8 inputs (ablation)", bl("paper_inputs_ensemble", "chi2_n_paper"), "—"),
        ("χ²_N (ours)", ours("chi2_n"), "reported as ÷ ceiling"),
        ("χ²_N paper's MLP (shipped)", bl("paper_mlp", "chi2_n"), "ours lower"),
        ("χ²_N ours on the paper's 8 inputs (ablation)", bl("paper_inputs_ensemble", "chi2_n"), "—"),
        ("χ²_N optical photometry only", bl("photometry_only", "chi2_n"), "—"),
        ("χ²_N information ceiling (`explorer ceiling`)", _g(result, "ceiling", "ceiling_chi2_n") or {}, "—"),
        ("χ²_N ours ÷ ceiling", _g(result, "ceiling", "ratio_chi2_n_to_ceiling") or {}, "—"),
        ("χ²_N of the simulator's noiseless flux, as the expected detected magnitude", truth, "—"),
    ]  # fmt: skip
    f = fmt_metric
    L = [f"Numbers from `{command}` (N = {_g(result, 'meta', 'n')} galaxies of the `{_g(result, 'meta', 'split')}`"
         f" split of `{_g(result, 'meta', 'catalog')}`; written by the same command).", "",
         "| | " + " | ".join(WISE_BANDS) + " | target |", "|---" * 6 + "|"]  # fmt: skip
    L += [
        f"| {name} | " + " | ".join(f(vals.get(b)) for b in WISE_BANDS) + f" | {target} |"
        for name, vals, target in rows
    ]
    cov = [
        f"{f(_g(result, 'bands', b, 'coverage68'))} / {f(_g(result, 'bands', b, 'coverage95'))}"
        for b in WISE_BANDS
    ]
    L.append("| coverage68 / coverage95 | " + " | ".join(cov) + " | 0.65–0.71 / 0.93–0.97 |")
    colors = [color_name(i, j) for i, j in COLOR_PAIRS]
    L += ["", "Colours " + ", ".join(colors) + ": χ²_N " + " / ".join(f(_g(result, "colors", c, "chi2_n")) for c in colors)
          + " (paper's convention " + " / ".join(f(_g(result, "colors", c, "chi2_n_paper")) for c in colors) + ")."]  # fmt: skip
    p = result.get("properties") if isinstance(result.get("properties"), dict) else {}
    parts = []
    if "qpah" in p:
        parts.append(
            f"q_PAH fractional scatter {f(p['qpah'].get('frac_scatter'))} (floor {f(p['qpah'].get('floor'))})"
        )
    if "lbol_agn" in p:
        parts.append(
            f"L_bol,AGN scatter {f(p['lbol_agn'].get('scatter_dex'))} dex (floor {f(p['lbol_agn'].get('floor'))} dex)"
        )
    if "log_sfr" in p:
        parts.append(f"SFR scatter {f(p['log_sfr'].get('scatter_dex'))} dex")
    ae = result.get("autoencoder") or {}
    if ae.get("test_median_reduced_chi2") is not None:
        parts.append(f"autoencoder median reduced χ² on test spectra {f(ae['test_median_reduced_chi2'])}")
    acc = result.get("acceptance") or {}
    if acc:
        parts.append(f"{sum(bool(v) for v in acc.values())} of {len(acc)} acceptance checks pass")
    if parts:
        L += ["", "; ".join(parts) + "."]
    return L


def change_lines(old: dict, new: dict, old_name: str, new_name: str) -> list[str]:
    """A short before → after table of two evaluations (``evaluation-diff``): χ²_N in both
    conventions and coverage per band, the ceiling, the properties, the acceptance count."""
    rows = []
    for b in WISE_BANDS:
        for key, label in (("chi2_n", "χ²_N"), ("chi2_n_paper", "χ²_N,paper"), ("coverage68", "coverage68")):
            rows.append((f"{b} {label}", _g(old, "bands", b, key), _g(new, "bands", b, key)))
        rows.append(
            (
                f"{b} χ²_N ceiling",
                _g(old, "ceiling", "ceiling_chi2_n", b),
                _g(new, "ceiling", "ceiling_chi2_n", b),
            )
        )
    for prop, key, label in (("qpah", "frac_scatter", "q_PAH fractional scatter"), ("lbol_agn", "scatter_dex", "L_bol,AGN scatter [dex]"),
                             ("log_sfr", "scatter_dex", "SFR scatter [dex]")):  # fmt: skip
        rows.append((label, _g(old, "properties", prop, key), _g(new, "properties", prop, key)))
    rows.append(("autoencoder median reduced χ²", _g(old, "autoencoder", "test_median_reduced_chi2"),
                 _g(new, "autoencoder", "test_median_reduced_chi2")))  # fmt: skip
    L = [f"| | {old_name} | {new_name} |", "|---|---|---|"]
    L += [f"| {name} | {fmt_metric(a)} | {fmt_metric(b)} |" for name, a, b in rows]
    acc = [
        (sum(map(bool, (d.get("acceptance") or {}).values())), len(d.get("acceptance") or {}))
        for d in (old, new)
    ]
    L.append(f"| acceptance checks passed | {acc[0][0]} of {acc[0][1]} | {acc[1][0]} of {acc[1][1]} |")
    return L
