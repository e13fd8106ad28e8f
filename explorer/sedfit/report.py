"""Plain-text tables of :func:`explorer.sedfit.compare.compare` (the README's table)."""

from __future__ import annotations

from ..constants import WISE_BANDS


def _f(v, fmt="{:.2f}") -> str:
    return "–" if v is None else fmt.format(v)


def format_comparison(r: dict) -> str:
    """Markdown tables: per band (both conventions, bias, coverage), per class, properties, time."""
    m = r["meta"]
    lines = [
        f"{m['n']} galaxies of {m['catalog']} ({', '.join(f'{k} {v}' for k, v in m['n_by_class'].items())}); "
        f"SED-fit table {m['table']}",
        "",
        "| | " + " | ".join(WISE_BANDS) + " |",
        "|---|" + "---|" * len(WISE_BANDS),
    ]
    rows = (
        ("χ²_N", "chi2_n", "{:.3g}"),
        ("χ²_N,paper", "chi2_n_paper", "{:.3g}"),
        ("mean χ", "mean_chi", "{:+.2f}"),
        ("bias median(obs − pred) [mag]", "bias", "{:+.3f}"),
        ("coverage68", "coverage68", "{:.2f}"),
        ("coverage95", "coverage95", "{:.2f}"),
        ("n detected", "n", "{:d}"),
    )
    for label, key, fmt in rows:
        for who in ("ours", "sedfit"):
            vals = [r[who]["bands"].get(b, {}).get(key) for b in WISE_BANDS]
            lines.append(
                f"| {label} ({'ours' if who == 'ours' else 'SED fit'}) | "
                + " | ".join(_f(v, fmt) for v in vals)
                + " |"
            )
    lines += [
        "",
        "Per class (mean χ; coverage68 / coverage95):",
        "",
        "| class | who | " + " | ".join(WISE_BANDS) + " |",
        "|---|---|" + "---|" * 4,
    ]
    for c in r["ours"].get("class_coverage", {}):
        for who in ("ours", "sedfit"):
            cc = r[who]["class_coverage"][c]
            cells = [
                f"{_f(cc[b]['mean_chi'], '{:+.1f}')}; {_f(cc[b]['coverage68'])} / {_f(cc[b]['coverage95'])} (n={cc[b]['n']})"
                for b in WISE_BANDS
            ]
            lines.append(f"| {c} | {'ours' if who == 'ours' else 'SED fit'} | " + " | ".join(cells) + " |")
    lines += ["", "| property vs truth | ours | SED fit |", "|---|---|---|"]
    for prop, keys in (
        ("qpah", ("frac_scatter", "frac_bias", "coverage68")),
        ("log_sfr", ("scatter_dex", "bias_dex", "coverage68")),
    ):
        for k in keys:
            o = r["ours"].get("properties", {}).get(prop, {}).get(k)
            s = r["sedfit"].get("properties", {}).get(prop, {}).get(k)
            fmt = "{:.2f}" if k == "coverage68" else "{:+.3f}"
            lines.append(f"| {prop} {k} | {_f(o, fmt)} | {_f(s, fmt)} |")
    w = r["wall_s_per_galaxy"]
    lines += [
        "",
        f"wall time per galaxy: ours {w['ours'] * 1e3:.1f} ms (encode + predict), SED fit {w['sedfit']:.1f} s "
        f"({w['sedfit_source']}); ratio {w['ratio']:.0f}. CPU time per galaxy: ours "
        f"{w.get('cpu_s_ours', float('nan')) * 1e3:.1f} ms, SED fit {w.get('cpu_s_sedfit', float('nan')):.1f} s",
    ]
    return "\n".join(lines)


#: File of a model directory that holds the last ``sedfit-compare --write-card`` result.
COMPARE_FILE = "sedfit_compare.json"


def write_to_model_card(models: str, result: dict, command: str):
    """Store ``result`` (with its command and markdown tables) in the model directory, register it
    in the manifest, and re-render the model card, whose "SED-fitting comparison" section shows it."""
    import json

    from ..jsonutil import json_default
    from ..ml.model_card import write_model_card
    from ..ml.registry import register_file, resolve_model_dir

    d = resolve_model_dir(models)
    doc = {"command": command, "markdown": format_comparison(result), "result": result}
    path = d / COMPARE_FILE
    path.write_text(json.dumps(doc, indent=1, default=json_default))
    register_file(d, COMPARE_FILE)
    evaluation = json.loads((d / "evaluation.json").read_text()) if (d / "evaluation.json").exists() else {}
    write_model_card(d, evaluation)
    register_file(d, "MODEL_CARD.md")
    return path
