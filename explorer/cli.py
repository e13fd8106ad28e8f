"""Thin command line over the same functions the app uses: ``python -m explorer <verb>``.

Every verb prints human-readable text by default and one JSON object with ``--json``.
Bad input exits with status 2 and a one-line message naming the file and the problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli_data import register as register_data_verbs
from .cli_midir import register as register_midir_verbs
from .cli_sedfit import register as register_sedfit_verbs
from .cli_sim import register as register_simulation_verbs
from .errors import ExplorerError
from .jsonutil import command_line, print_json
from .paths import DEMO_CATALOG


# --- verbs -------------------------------------------------------------------------------------
def cmd_info(args) -> int:
    from .info import catalog_info, format_info

    info = catalog_info(args.catalog)
    print_json(info) if args.json else print(format_info(info))
    return 0


def cmd_read_spectrum(args) -> int:
    from .io.sdss import summarize_spectrum

    summary = summarize_spectrum(args.file)
    if args.json:
        print_json(summary)
    else:
        for k, v in summary.items():
            print(f"{k:>12}: {v}")
    return 0


def cmd_read_wise(args) -> int:
    from .io.wise import read_wise_table

    table = read_wise_table(args.file, id_column=args.id_column)
    print(table.report())
    return 0


def cmd_train_encoder(args) -> int:
    from .ml.train import train_encoder

    out = train_encoder(
        args.catalog,
        args.name,
        widths=args.widths,
        decoder_hidden=args.decoder_hidden,
        n_latent=args.n_latent,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        max_minutes=args.max_minutes,
        max_train=args.max_train,
        n_threads=args.threads,
        seed=args.seed,
        progress=not args.quiet,
        device=args.device,
    )
    print_json(out)
    return 0


def cmd_import_encoder(args) -> int:
    from .ml.train import import_encoder

    print_json(import_encoder(args.checkpoint, args.name))
    return 0


def cmd_train_predictor(args) -> int:
    from .ml.train import train_predictor

    out = train_predictor(
        args.catalog,
        args.name,
        n_members=args.members,
        features=args.features,
        hidden=args.hidden,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience,
        calibrate=not args.no_calibrate,
        n_threads=args.threads,
        seed=args.seed,
        progress=not args.quiet,
        paper_recipe_minutes=args.paper_recipe_minutes,
    )
    print_json(out)
    return 0


def cmd_evaluate(args) -> int:
    from .catalog import Catalog
    from .io.sdss import real_sdss_spectra
    from .ml.evaluate import evaluate
    from .simulate.population import scatter_floors

    cat = Catalog(args.catalog)  # the models' layer gets the simulator's floors and real spectra from here
    floors, floors_source = scatter_floors(cat.table)
    result = evaluate(
        cat,
        args.models,
        split=args.split,
        floors=floors,
        floors_source=floors_source,
        real_spectra=real_sdss_spectra(),
        figures_dir=args.figures,
        write=args.write,
        progress=not args.json,
        ceiling=args.ceiling,
    )
    if args.readme is not None:
        from .markdown import replace_block
        from .ml.model_card import readme_lines

        replace_block(args.readme, "evaluation", "\n".join(readme_lines(result, command_line())))
    if args.json:
        print_json(result)
    else:
        table3 = result.get("paper_table3", {}).get("chi2_n_paper", {})
        for key in ("bands", "colors"):
            for name, m in result.get(key, {}).items():
                paper = f" (paper's Table 3: {table3[name]:.2f})" if name in table3 else ""
                print(
                    f"{name:>6}: chi2_n {m['chi2_n']:.3f}  chi2_n_paper {m.get('chi2_n_paper', float('nan')):.3f}"
                    f"{paper}  coverage68 {m['coverage68']:.3f}  coverage95 {m['coverage95']:.3f}  "
                    f"bias {m['bias']:+.3f} mag"
                )
        print("acceptance:", json.dumps(result.get("acceptance", {})))
    return 0


def cmd_serve(args) -> int:
    """Serve app.ipynb with Voila: the options of the browser tests (``VOILA_OPTIONS``) and their
    environment (``voila_env``: the dashboard's template on ``JUPYTER_PATH``)."""
    import importlib.util
    import os
    import shlex

    from .app.browser import VOILA_OPTIONS, limit_options, serve_command, voila_env
    from .paths import REPO_ROOT

    catalog = Path(args.catalog).resolve()
    if not catalog.is_file():
        raise FileNotFoundError(f"catalog {args.catalog} does not exist")
    # the dashboard's kernel reads both (explorer.app.build); Voila runs in the repository root
    env = {"IROX_CATALOG": str(catalog)}
    if args.models is not None:
        models = Path(args.models)
        env["IROX_MODELS"] = str(models.resolve()) if models.exists() else str(args.models)
    if importlib.util.find_spec("voila") is None:
        raise FileNotFoundError("voila is not installed in this Python environment (make install)")
    limits = limit_options(args.max_kernels, args.cull_idle_minutes)
    limits += (f"--base_url={args.base_url}",) if args.base_url else ()  # behind a proxy's path
    cmd = serve_command("app.ipynb", args.port, VOILA_OPTIONS, limits)
    full_env = voila_env(env)
    print(f"IR-Optical Explorer: open http://localhost:{args.port} in a browser (Ctrl-C stops the server)")
    if args.dry_run:
        shown = {k: full_env[k] for k in ("JUPYTER_PATH", *env)}
        print(" ".join([*(f"{k}={shlex.quote(v)}" for k, v in shown.items()), *map(shlex.quote, cmd)]))
        return 0
    sys.stdout.flush()
    # Voila replaces this process (as when `make run` started it directly): Ctrl-C reaches it
    # alone, and it shuts its kernels down itself.
    os.chdir(REPO_ROOT)
    os.execve(cmd[0], cmd, full_env)


def cmd_attribute(args) -> int:
    from .catalog import Catalog
    from .ml.registry import load_models

    bundle = load_models(args.models)
    engine_kw = _engine_settings(args)
    with Catalog(args.catalog) as cat:  # the catalog also gives the reference galaxies
        if args.spectrum is not None:  # one real spectrum file -> figure(s)
            summary = _attribute_spectrum(args, bundle, cat, engine_kw)
        elif args.check == "sanity":  # simulated catalogs only: truth columns
            summary = _attribute_sanity(args, bundle, cat, engine_kw)
        elif args.check == "completeness":  # acceptance: >= 95 of 100 test galaxies within 5 % per target
            summary = _attribute_completeness(args, bundle, cat, engine_kw)
        else:  # a sample of the catalog -> sample-wide line ranking
            summary = _attribute_sample(args, bundle, cat, engine_kw)
    return _attribute_output(args, summary)


def _engine_settings(args) -> dict:
    """Engine settings from the flags; a flag left out takes the engine's default."""
    from .attribution.baselines import DEFAULT_N_BASELINES
    from .attribution.engine import DEFAULT_MAX_STEPS, DEFAULT_N_STEPS, DEFAULT_TOL

    given = {
        "n_baselines": args.baselines,
        "n_steps": args.steps,
        "max_steps": args.max_steps,
        "tol": args.tol,
    }
    defaults = {
        "n_baselines": DEFAULT_N_BASELINES, "n_steps": DEFAULT_N_STEPS, "max_steps": DEFAULT_MAX_STEPS,
        "tol": DEFAULT_TOL,
    }  # fmt: skip
    return {k: defaults[k] if v is None else v for k, v in given.items()}


def _attribute_spectrum(args, bundle, cat, engine_kw: dict) -> dict:
    from .attribution.explain import explain_galaxy, reference_spectra
    from .io.sdss import read_sdss_spectrum
    from .ml.domain import spectrum_domain_reason

    spec = read_sdss_spectrum(args.spectrum)
    refs = reference_spectra(bundle, cat, engine_kw["n_baselines"])
    ood = spectrum_domain_reason(bundle, spec)
    ex = explain_galaxy(
        bundle, spec, args.target, references=refs, frame=args.frame, out_of_domain=ood, **engine_kw
    )
    out = Path(args.out or f"exports/{spec.id}_{ex.target}.pdf")
    formats = args.formats.split(",") if args.formats else None
    return {**ex.summary(), "out_of_domain": ood, "files": [str(p) for p in ex.save(out, formats)]}


def _sample_setup(args, bundle, cat, engine_kw: dict, default_targets) -> tuple:
    """(target function factory, resolved targets) for the sample verbs."""
    import numpy as np

    from .attribution.checks import resolve_targets
    from .attribution.explain import catalog_target_factory, model_targets, reference_spectra

    factory = catalog_target_factory(bundle, cat, reference_spectra(bundle, cat, engine_kw["n_baselines"]))
    available = model_targets(bundle, cat.spectrum(int(np.flatnonzero(cat.good)[0])))
    default = available if default_targets == "all" else default_targets
    return factory, resolve_targets(args.target, available, default)


def _attribute_sanity(args, bundle, cat, engine_kw: dict) -> dict:
    from .attribution.sanity import sanity_check

    factory, targets = _sample_setup(args, bundle, cat, engine_kw, ["W3", "W4"])
    return sanity_check(
        factory, cat, targets=targets, n_per_group=args.sample, seed=args.seed, progress=not args.json,
        **engine_kw,
    )  # fmt: skip


def _attribute_completeness(args, bundle, cat, engine_kw: dict) -> dict:
    from .attribution.report import check_completeness

    factory, targets = _sample_setup(args, bundle, cat, engine_kw, "all")
    about = {"models": str(bundle.path), "catalog": str(args.catalog)}
    return check_completeness(
        factory, cat, targets, args.sample, seed=args.seed, progress=not args.json, about=about, **engine_kw
    )


def _attribute_sample(args, bundle, cat, engine_kw: dict) -> dict:
    """Sample-wide line ranking (log L_bol,AGN on AGN galaxies only): JSON, figures, Markdown."""
    from .attribution.report import rank_catalog_sample, ranking_markdown, write_sample_report

    factory, targets = _sample_setup(args, bundle, cat, engine_kw, ["W3"])
    run = None
    if args.workers or args.scheduler:  # one Dask task per --chunk galaxies (explorer.survey)
        from .survey.attribute import rank_sample_survey, write_line_shares

        rankings, samples, run = rank_sample_survey(
            args.catalog, bundle, targets, args.sample, seed=args.seed, chunk=args.chunk, workers=args.workers,
            scheduler=args.scheduler, progress=not args.json, **engine_kw,
        )  # fmt: skip
    else:
        rankings, samples = rank_catalog_sample(
            factory, cat, targets, args.sample, seed=args.seed, progress=not args.json, **engine_kw
        )
    files = write_sample_report(
        rankings, Path(args.out or "exports/attribution"), formats=("png", "svg", "pdf")
    )
    summary = {t: r.to_dict() for t, r in rankings.items()}
    if run is not None:
        files += write_line_shares(rankings, Path(args.out or "exports/attribution"))
        summary["survey"] = run
    if args.markdown:
        md = Path(args.markdown)
        md.parent.mkdir(parents=True, exist_ok=True)
        provenance = _ranking_provenance(args, bundle, targets, engine_kw)
        md.write_text(ranking_markdown(rankings, provenance=provenance, samples=samples))
        files.append(md)
    if getattr(args, "readme", None):
        from .markdown import replace_block

        text = ranking_markdown(
            rankings, provenance=_ranking_provenance(args, bundle, targets, engine_kw), samples=samples
        )
        replace_block(args.readme, "attribution-ranking", text.split("\n", 2)[2])  # without its ### title
        files.append(Path(args.readme))
    summary["files"] = [str(f) for f in files]
    return summary


def _ranking_provenance(args, bundle, targets, engine_kw: dict) -> str:
    """How a ranking table was made: the command, the models (predictor hash), engine settings."""
    sha = bundle.manifest.get("files", {}).get("predictor.pt", {}).get("sha256", "?")[:12]
    return (
        f"`python -m explorer attribute --sample {args.sample} --target {','.join(targets)} "
        f"--seed {args.seed}"
        + (f" --markdown {args.markdown}" if args.markdown else "")
        + (f" --readme {args.readme}" if getattr(args, "readme", None) else "")
        + f"` with models `{args.models}` "
        f"(predictor sha256 {sha}) on `{Path(args.catalog).name}`; engine defaults "
        f"(K = {engine_kw['n_baselines']} reference spectra, {engine_kw['n_steps']} Gauss-Legendre steps "
        f"raised to <= {engine_kw['max_steps']} until completeness <= {engine_kw['tol']:g})."
    )


def _attribute_output(args, summary: dict) -> int:
    failed = summary.get("survey", {}).get("failed", []) if isinstance(summary, dict) else []
    if args.json:
        print_json(summary)
    elif "files" in summary:
        for f in summary["files"]:
            print(f"wrote {f}")
        for f in failed:
            print(f"FAILED chunk {f['chunk']} (catalog rows {f['rows']}): {f['error']}")
    else:
        print_json(summary)
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m explorer",
        description="IR-Optical Explorer: SDSS optical spectra -> WISE infrared.",
    )
    sub = p.add_subparsers(dest="verb", required=True, metavar="<verb>")
    _add_data_verbs(sub)
    _add_model_verbs(sub)
    _add_attribute_verb(sub)
    _add_report_verbs(sub)
    register_data_verbs(sub)
    register_simulation_verbs(sub)
    register_sedfit_verbs(sub)
    register_midir_verbs(sub)
    return p


def _add_data_verbs(sub) -> None:
    """info, read-spectrum, read-wise."""
    s = sub.add_parser("info", help="summarize a catalog file")
    s.add_argument("catalog", nargs="?", default=str(DEMO_CATALOG), help="catalog .h5 (default: demo)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("read-spectrum", help="read an SDSS spec/spec-lite FITS file onto the spender grid")
    s.add_argument("file")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_read_spectrum)

    s = sub.add_parser("read-wise", help="read an AllWISE-layout table (CSV, FITS, IPAC, VOTable)")
    s.add_argument("file")
    s.add_argument("--id-column", default=None)
    s.set_defaults(func=cmd_read_wise)


def _add_model_verbs(sub) -> None:
    """train-encoder, import-encoder, train-predictor, evaluate, ceiling."""
    s = sub.add_parser("train-encoder", help="train the spender autoencoder (S latents) on a catalog")
    s.add_argument("catalog", help="catalog .h5 with train/valid splits (e.g. runs/sim50k.h5)")
    s.add_argument("--name", default="default", help="models/<name> or a directory")
    s.add_argument("--widths", default="16,32,64", help="encoder conv widths (spender: 128,256,512)")
    s.add_argument("--decoder-hidden", default="64,256,1024")
    s.add_argument("--n-latent", type=int, default=6)
    s.add_argument("--epochs", type=int, default=100)
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--lr", type=float, default=2e-3)
    s.add_argument("--max-minutes", type=float, default=55.0, help="wall-clock training budget")
    s.add_argument("--max-train", type=int, default=None, help="use at most this many spectra")
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu", help="cpu or cuda")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_train_encoder)

    s = sub.add_parser("import-encoder", help="register an official spender checkpoint as models/<name>")
    s.add_argument("checkpoint")
    s.add_argument("--name", default="spender-official")
    s.set_defaults(func=cmd_import_encoder)

    s = sub.add_parser("train-predictor", help="train the IR ensemble, property heads and baselines")
    s.add_argument("catalog")
    s.add_argument("--name", default="default")
    s.add_argument("--members", type=int, default=5, help="deep-ensemble size")
    s.add_argument(
        "--features",
        "--inputs",
        dest="features",
        default="spectrum",
        choices=["spectrum", "spectrum_ap", "paper"],
        help="predictor inputs (--inputs is the same option): spectrum = latents, z, log10 norm, ugriz "
        "aperture corrections and total magnitudes; spectrum_ap = without the total magnitudes; paper = "
        "latents, z, log10 norm, the only choice for a latent catalog (import-paper-table) or a catalog "
        "without ugriz photometry",
    )
    s.add_argument("--hidden", default="128,128,128", help="IR ensemble MLP hidden sizes")
    s.add_argument("--epochs", type=int, default=150)
    s.add_argument("--patience", type=int, default=20, help="early stopping (epochs without improvement)")
    s.add_argument("--batch-size", type=int, default=512)
    s.add_argument("--lr", type=float, default=2e-3)
    s.add_argument("--no-calibrate", action="store_true")
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true")
    s.add_argument(
        "--paper-recipe-minutes",
        type=float,
        default=None,
        help="wall-clock cap of the paper MLP's demo-recipe run",
    )
    s.set_defaults(func=cmd_train_predictor)

    s = sub.add_parser("evaluate", help="metrics of a model directory on a catalog's test split")
    s.add_argument("catalog", nargs="?", default=str(DEMO_CATALOG), help="catalog .h5 (default: demo)")
    s.add_argument("--models", default="default")
    s.add_argument("--split", default="test")
    s.add_argument("--figures", type=Path, default=None, help="write evaluation figures here")
    s.add_argument("--write", action="store_true", help="write evaluation.json and MODEL_CARD.md")
    s.add_argument(
        "--ceiling",
        type=Path,
        default=None,
        help="JSON of `explorer ceiling` on the same catalog (default: docs/evaluation/ceiling.json when "
        "it was measured on this catalog file)",
    )
    s.add_argument("--readme", type=Path, default=None, help="also write the summary table into this Markdown "
                   "file, between <!-- evaluation:start --> and <!-- evaluation:end -->")  # fmt: skip
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("evaluation-diff", help="before -> after table of two evaluation.json files")
    s.add_argument("old", type=Path)
    s.add_argument("new", type=Path)
    s.add_argument("--old-name", default="before")
    s.add_argument("--new-name", default="after")
    s.add_argument("--readme", type=Path, default=None, help="also write it into this Markdown file between "
                   "<!-- evaluation-diff:start --> and :end -->")  # fmt: skip
    s.set_defaults(func=cmd_evaluation_diff)


def cmd_evaluation_diff(args) -> int:
    import json

    from .ml.model_card import change_lines

    docs = [json.loads(Path(p).read_text()) for p in (args.old, args.new)]
    text = "\n".join([f"From `{command_line()}`:", "", *change_lines(*docs, args.old_name, args.new_name)])
    if args.readme is not None:
        from .markdown import replace_block

        replace_block(args.readme, "evaluation-diff", text)
    print(text)
    return 0


def _add_attribute_verb(sub) -> None:
    s = sub.add_parser("attribute", help="integrated-gradient attributions of IR predictions to the spectrum")
    s.add_argument(
        "--target",
        default=None,
        help="comma-separated: W1..W4, W1-W2, W2-W3, W3-W4, qpah, lbol_agn, log_sfr, or 'all' "
        "(default W3; W3,W4 for --check sanity; all for --check completeness)",
    )
    s.add_argument(
        "--sample", type=int, default=100, help="catalog galaxies to rank (per group for --check sanity)"
    )
    s.add_argument("--spectrum", type=Path, default=None, help="instead: one SDSS spec FITS file")
    s.add_argument(
        "--check",
        choices=["completeness", "sanity"],
        default=None,
        help="completeness: per-target gap counts on --sample test galaxies; sanity: line shares in "
        "torus-dominated/non-AGN and star-forming/quenched groups (simulated catalogs)",
    )
    s.add_argument("--markdown", type=Path, default=None, help="also write the ranking as a Markdown table")
    s.add_argument("--readme", type=Path, default=None, help="also write the ranking table into this Markdown file "
                   "between <!-- attribution-ranking:start --> and :end -->")  # fmt: skip
    s.add_argument("--catalog", default=str(DEMO_CATALOG), help="catalog (also the reference galaxies)")
    s.add_argument("--models", default="default")
    s.add_argument("--out", default=None, help="figure path (--spectrum) or output folder (--sample)")
    s.add_argument("--formats", default=None, help="e.g. png,svg,pdf (default: the --out suffix)")
    s.add_argument("--frame", default="observed", choices=["observed", "rest"])
    # default None = the engine's default (explorer.attribution.engine; imported when the verb runs)
    s.add_argument("--baselines", type=int, default=None, help="reference spectra per galaxy (K)")
    s.add_argument("--steps", type=int, default=None, help="initial integration steps (engine default)")
    s.add_argument("--max-steps", type=int, default=None, help="raise steps up to this for completeness")
    s.add_argument("--tol", type=float, default=None, help="completeness tolerance (relative)")
    s.add_argument("--seed", type=int, default=0)
    from .cli_survey import add_cluster_flags

    add_cluster_flags(s)  # --sample as Dask tasks
    s.add_argument(
        "--chunk", type=int, default=10, help="--sample with --workers/--scheduler: galaxies per task"
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_attribute)


def _add_report_verbs(sub) -> None:
    """serve."""
    s = sub.add_parser("serve", help="serve the dashboard (app.ipynb) with Voila")
    s.add_argument("--port", type=int, default=8866)
    s.add_argument(
        "--catalog", default=str(DEMO_CATALOG), help="catalog .h5 the dashboard opens (default: demo)"
    )
    s.add_argument(
        "--models", default=None, help="model name or directory (default: $IROX_MODELS, else default)"
    )
    s.add_argument(
        "--dry-run", action="store_true", help="print the Voila command and its environment; start nothing"
    )
    s.add_argument(
        "--max-kernels",
        type=int,
        default=None,
        help="most kernels (pages) at once, the preheated one included "
        "(default: available memory less 2 GB, over 0.7 GB a kernel)",
    )
    s.add_argument(
        "--cull-idle-minutes",
        type=float,
        default=None,
        help="shut down a kernel idle this long (default 60; 0: never)",
    )
    s.add_argument(
        "--base-url", default=None, help="URL path prefix behind a proxy, e.g. /services/explorer/"
    )
    s.set_defaults(func=cmd_serve)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ExplorerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
