"""Thin command line over the same functions the app uses: ``python -m explorer <verb>``.

Every verb prints human-readable text by default and one JSON object with ``--json``.
Bad input exits with status 2 and a one-line message naming the file and the problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import ExplorerError
from .jsonutil import json_default
from .paths import DEMO_CATALOG


def _print_json(obj) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False, default=json_default))


# --- verbs -------------------------------------------------------------------------------------
def cmd_info(args) -> int:
    from .info import catalog_info, format_info

    info = catalog_info(args.catalog)
    _print_json(info) if args.json else print(format_info(info))
    return 0


def cmd_read_spectrum(args) -> int:
    from .io.sdss import summarize_spectrum

    summary = summarize_spectrum(args.file)
    if args.json:
        _print_json(summary)
    else:
        for k, v in summary.items():
            print(f"{k:>12}: {v}")
    return 0


def cmd_read_wise(args) -> int:
    from .io.wise import read_wise_table

    table = read_wise_table(args.file, id_column=args.id_column)
    print(table.report())
    return 0


def cmd_simulate(args) -> int:
    from .simulate.run import simulate_catalog

    path = simulate_catalog(
        n=args.n,
        seed=args.seed,
        out=args.out,
        workers=args.workers,
        report_dir=args.report,
        progress=not args.quiet,
        command=" ".join(["python -m explorer", *sys.argv[1:]]),
    )
    print(f"wrote {path}")
    return 0


def cmd_make_demo(args) -> int:
    from .simulate.demo import make_demo_catalog

    path = make_demo_catalog(args.source, args.out, n=args.n, seed=args.seed)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_report(args) -> int:
    from .simulate.report import make_report

    for p in make_report(args.catalog, args.out):
        print(f"wrote {p}")
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
    _print_json(out)
    return 0


def cmd_import_encoder(args) -> int:
    from .ml.train import import_encoder

    _print_json(import_encoder(args.checkpoint, args.name))
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
    _print_json(out)
    return 0


def cmd_evaluate(args) -> int:
    from .ml.evaluate import evaluate

    result = evaluate(
        args.catalog,
        args.models,
        split=args.split,
        figures_dir=args.figures,
        write=args.write,
        progress=not args.json,
    )
    if args.json:
        _print_json(result)
    else:
        for key in ("bands", "colors"):
            for name, m in result.get(key, {}).items():
                print(
                    f"{name:>6}: chi2_n {m['chi2_n']:.3f}  coverage68 {m['coverage68']:.3f}  "
                    f"coverage95 {m['coverage95']:.3f}  bias {m['bias']:+.3f} mag"
                )
        print("acceptance:", json.dumps(result.get("acceptance", {})))
    return 0


def cmd_ceiling(args) -> int:
    from .ml.ceiling import information_ceiling

    out = information_ceiling(
        args.catalog,
        minutes=args.minutes,
        n_latent=args.n_latent,
        widths=tuple(int(w) for w in args.widths.split(",")),
        batch_size=args.batch_size,
        lr=args.lr,
        max_train=args.max_train,
        n_threads=args.threads,
        seed=args.seed,
        progress=not args.json,
    )
    if args.json:
        _print_json(out)
    else:
        for key in ("bands", "colors"):
            for name, m in out[key].items():
                print(f"{name:>6}: chi2_n {m['chi2_n']:.3f}  coverage68 {m['coverage68']:.3f}")
    return 0


def cmd_attribute(args) -> int:
    import numpy as np

    from .attribution.checks import completeness_report, resolve_targets
    from .attribution.figures import plot_attribution, save_figure
    from .attribution.lines import line_shares
    from .attribution.report import ranking_markdown, target_label, write_sample_report
    from .attribution.sample import sample_rankings
    from .catalog import Catalog
    from .ml.registry import load_models
    from .ml.target import ReferenceSpectra, build_target_function

    bundle = load_models(args.models)
    engine_kw = dict(n_baselines=args.baselines, n_steps=args.steps, max_steps=args.max_steps, tol=args.tol)
    with Catalog(args.catalog) as cat:
        refs = ReferenceSpectra(bundle, cat, n=max(32, args.baselines), seed=0)

        def factory(spec):
            return build_target_function(bundle, spec, cat.row(spec.meta["index"]), refs)

        if args.spectrum is not None:  # one real spectrum file -> figure(s)
            from .attribution.engine import attribute_targets
            from .io.sdss import read_sdss_spectrum

            spec = read_sdss_spectrum(args.spectrum)
            tf = build_target_function(bundle, spec, None, refs)
            (target,) = resolve_targets(args.target, tf.targets, ["W3"])[:1]
            res = attribute_targets(tf, spec, [target], **engine_kw)[target]
            shares = line_shares(res, weight=spec.weight)
            fig = plot_attribution(
                spec, res, frame=args.frame, target_label=target_label(target), shares=shares
            )
            out = Path(args.out or f"exports/{spec.id}_{target}.pdf")
            formats = args.formats.split(",") if args.formats else [out.suffix.lstrip(".") or "pdf"]
            written = [str(save_figure(fig, out.with_suffix("." + f))) for f in formats]
            summary = {
                "galaxy_id": spec.id,
                "z": spec.z,
                "target": target,
                "completeness_gap": res.completeness_gap,
                "converged": res.converged,
                "n_steps": res.n_steps,
                "top_lines": shares.ranking("share", include_continuum=False)[:6],
                "files": written,
            }
            return _attribute_output(args, summary)

        available = build_target_function(
            bundle, cat.spectrum(int(np.flatnonzero(cat.good)[0])), None
        ).targets
        if args.check == "sanity":  # simulated catalogs only: truth columns
            from .attribution.sanity import sanity_check

            targets = resolve_targets(args.target, available, ["W3", "W4"])
            summary = sanity_check(
                factory, cat, targets=targets, n_per_group=args.sample, seed=args.seed, progress=not args.json,
                **engine_kw,
            )  # fmt: skip
            return _attribute_output(args, summary)

        rng = np.random.default_rng(args.seed)
        if args.check == "completeness":  # acceptance: >= 95 of 100 test galaxies within 5 % per target
            pool = cat.split_indices("test")
            idx = np.sort(rng.choice(pool, size=min(args.sample, len(pool)), replace=False))
            targets = resolve_targets(args.target, available, available)
            rankings = sample_rankings(factory, cat, idx, targets, progress=not args.json, **engine_kw)
            summary = completeness_report(rankings, tol=args.tol)
            summary.update(
                n_galaxies=int(len(idx)), models=str(bundle.path), catalog=str(args.catalog),
                settings=next(iter(rankings.values())).settings if rankings else {},
            )  # fmt: skip
            return _attribute_output(args, summary)

        # a sample of the catalog -> sample-wide line ranking (log L_bol,AGN on AGN galaxies only)
        good = np.flatnonzero(cat.good)
        idx = np.sort(rng.choice(good, size=min(args.sample, len(good)), replace=False))
        targets = resolve_targets(args.target, available, ["W3"])
        agn_targets = [t for t in targets if t == "lbol_agn"]
        labels = np.asarray(cat.table.get("class_label", np.array([""] * cat.n))).astype(str)
        agn_pool = np.flatnonzero(cat.good & (labels == "agn"))
        if not agn_pool.size:
            agn_targets = []
        other = [t for t in targets if t not in agn_targets]
        rankings = {}
        if other:
            rankings.update(sample_rankings(factory, cat, idx, other, progress=not args.json, **engine_kw))
        samples = {}
        if agn_targets:
            idx_agn = np.sort(rng.choice(agn_pool, size=min(args.sample, agn_pool.size), replace=False))
            rankings.update(
                sample_rankings(factory, cat, idx_agn, agn_targets, progress=not args.json, **engine_kw)
            )
            samples = {t: "class_label agn" for t in agn_targets}
        rankings = {t: rankings[t] for t in targets}
        out_dir = Path(args.out or "exports/attribution")
        files = write_sample_report(rankings, out_dir, formats=("png", "svg", "pdf"))
        summary = {t: r.to_dict() for t, r in rankings.items()}
        if args.markdown:
            md = Path(args.markdown)
            md.parent.mkdir(parents=True, exist_ok=True)
            provenance = (
                f"`python -m explorer attribute --sample {args.sample} --target {','.join(targets)} "
                f"--seed {args.seed} --markdown {args.markdown}` with models `{args.models}` "
                f"(predictor sha256 "
                f"{bundle.manifest.get('files', {}).get('predictor.pt', {}).get('sha256', '?')[:12]}) on "
                f"`{Path(args.catalog).name}`; engine defaults (K = {args.baselines} reference spectra, "
                f"{args.steps} Gauss-Legendre steps raised to <= {args.max_steps} until completeness <= "
                f"{args.tol:g})."
            )
            md.write_text(ranking_markdown(rankings, provenance=provenance, samples=samples))
            files.append(md)
        summary["files"] = [str(f) for f in files]
    return _attribute_output(args, summary)


def _attribute_output(args, summary: dict) -> int:
    if args.json:
        _print_json(summary)
    elif "files" in summary:
        for f in summary["files"]:
            print(f"wrote {f}")
    else:
        _print_json(summary)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m explorer",
        description="IR-Optical Explorer: SDSS optical spectra -> WISE infrared.",
    )
    sub = p.add_subparsers(dest="verb", required=True, metavar="<verb>")

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

    s = sub.add_parser("simulate", help="simulate an SDSS x WISE catalog (needs the 'simulate' extra)")
    s.add_argument("--n", type=int, required=True, help="number of galaxies")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", type=Path, required=True, help="output catalog .h5")
    s.add_argument("--report", type=Path, default=None, help="write diagnostic PNGs to this folder")
    s.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("make-demo", help="cut the embedded demo catalog from a large simulated run")
    s.add_argument("source", type=Path, help="large simulated catalog .h5")
    s.add_argument("--out", type=Path, default=DEMO_CATALOG)
    s.add_argument("--n", type=int, default=2000)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_make_demo)

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
    s.add_argument("--features", default="spectrum", choices=["spectrum", "spectrum_ap"])
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
    s.add_argument("catalog", nargs="?", default="runs/sim50k.h5")
    s.add_argument("--models", default="default")
    s.add_argument("--split", default="test")
    s.add_argument("--figures", type=Path, default=None, help="write evaluation figures here")
    s.add_argument("--write", action="store_true", help="write evaluation.json and MODEL_CARD.md")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser(
        "ceiling", help="supervised spectrum -> WISE network: how much IR information the spectra hold"
    )
    s.add_argument("catalog", nargs="?", default="runs/sim50k.h5")
    s.add_argument("--minutes", type=float, default=35.0, help="wall-clock training budget")
    s.add_argument("--n-latent", type=int, default=32, help="learned bottleneck width")
    s.add_argument("--widths", default="16,32,64", help="encoder conv widths")
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--lr", type=float, default=2e-3)
    s.add_argument("--max-train", type=int, default=None)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_ceiling)

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
    s.add_argument("--catalog", default=str(DEMO_CATALOG), help="catalog (also the reference galaxies)")
    s.add_argument("--models", default="default")
    s.add_argument("--out", default=None, help="figure path (--spectrum) or output folder (--sample)")
    s.add_argument("--formats", default=None, help="e.g. png,svg,pdf (default: the --out suffix)")
    s.add_argument("--frame", default="observed", choices=["observed", "rest"])
    s.add_argument("--baselines", type=int, default=8, help="reference spectra per galaxy (K)")
    s.add_argument("--steps", type=int, default=16, help="initial integration steps (engine default)")
    s.add_argument("--max-steps", type=int, default=512, help="raise steps up to this for completeness")
    s.add_argument("--tol", type=float, default=0.05, help="completeness tolerance (relative)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_attribute)

    s = sub.add_parser("report", help="diagnostic figures of a simulated catalog")
    s.add_argument("catalog", nargs="?", default=str(DEMO_CATALOG))
    s.add_argument("--out", type=Path, required=True)
    s.set_defaults(func=cmd_report)
    return p


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
