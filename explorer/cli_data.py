"""Command-line verbs for real data: ``build-catalog``, ``import-paper-table``,
``export-paper-table`` and ``predict`` (registered by :func:`register` from ``cli.py``).

Each verb is a thin layer over one library function (:mod:`explorer.io.build`,
:mod:`explorer.io.paper_table`, :mod:`explorer.ml.predict`); bad input exits with status 2 and a
one-line message naming the file and the problem (``cli.main`` catches ``ExplorerError``).
"""

from __future__ import annotations

import json
from pathlib import Path

from .jsonutil import command_line, json_default, print_json


def cmd_build_catalog(args) -> int:
    from .io.build import build_catalog

    rep = build_catalog(
        args.spectra,
        args.wise,
        args.out,
        photometry=args.photometry,
        match=args.match,
        radius_arcsec=args.radius,
        wise_id_column=args.wise_id_column,
        workers=args.workers,
        cache_dir=False if args.no_cache else args.cache,
        drop_unmatched=args.drop_unmatched,
        deredden=not args.no_deredden,
        progress=not (args.quiet or args.json),
        command=command_line(),
    )
    report = args.report or args.out.with_suffix(".report.json")
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(rep.to_dict(), indent=2, default=json_default))
    print_json(rep.to_dict()) if args.json else print(rep.text() + f"\n  full report: {report}")
    return 0


def cmd_import_paper_table(args) -> int:
    from .io.paper_table import import_paper_table

    out = import_paper_table(
        args.tables,
        args.out,
        test_ids=args.test_ids,
        test_ids_into=args.test_ids_into,
        valid_fraction=args.valid_fraction,
        seed=args.seed,
        reg_scale="log10" if args.reg_log10 else "linear",
        command=command_line(),
    )
    if args.json:
        print_json(out)
    else:
        print(f"wrote {out['path']}: {out['n_galaxies']} galaxies (latent catalog), splits {out['splits']}")
        for line in out["rejected"] + out["notes"]:
            print(f"  {line}")
    return 0


def cmd_export_paper_table(args) -> int:

    from .catalog import Catalog
    from .io.paper_table import export_paper_table, export_rows

    with Catalog(args.catalog) as cat:
        latents = None
        if cat.latents is None:
            from .ml.registry import load_models

            bundle = load_models(args.models, components=["encoder"])
            latents = bundle.catalog_latents(cat, export_rows(cat, args.rows), progress=not args.json)
        out = export_paper_table(cat, args.out, latents=latents, test_ids_out=args.test_ids, rows=args.rows)
    print_json(out) if args.json else print(f"wrote {out['path']} ({out['n_rows']} rows)")
    return 0


def cmd_predict(args) -> int:
    from .cli_survey import cmd_predict_survey, wants_survey
    from .ml.predict import predict_catalog

    if wants_survey(args):  # a cluster, HATS in or out, or a paper-layout table: explorer.survey
        return cmd_predict_survey(args, command_line())

    out = predict_catalog(
        args.catalog,
        args.models,
        args.out,
        chunk=args.chunk,
        train_catalog=args.train_catalog,
        progress=not (args.quiet or args.json),
        command=command_line(),
    )
    if args.json:
        print_json(out)
    else:
        print(
            f"wrote {out['path']}: {out['n_rows']} galaxies, {out['n_out_of_domain']} flagged out of the "
            f"training domain (columns ood, ood_reason) in {out['seconds']:.1f} s"
        )
        for line in out["out_of_domain_examples"]:
            print(f"  out of domain: {line}")
    return 0


def register(subparsers) -> None:
    """Add the real-data verbs (and the survey verb ``crossmatch-wise``) to ``python -m explorer``'s
    subparsers."""
    from .cli_survey import add_cluster_flags
    from .cli_survey import register as register_survey_verbs
    from .io.build import DEFAULT_RADIUS_ARCSEC

    register_survey_verbs(subparsers)

    s = subparsers.add_parser(
        "build-catalog", help="catalog from real SDSS spectra x an AllWISE table (x SDSS photometry)"
    )
    s.add_argument("spectra", nargs="+", help="folder(s), glob(s), list file(s) or spec FITS files")
    s.add_argument("--wise", required=True, help="AllWISE table from IRSA (.tbl, .csv, .fits, .xml)")
    s.add_argument("--out", type=Path, required=True, help="output catalog .h5")
    s.add_argument(
        "--photometry", default=None, help="SkyServer/CasJobs ugriz export (specObjID or plate/mjd/fiberID)"
    )
    s.add_argument("--match", choices=["position", "id"], default="position")
    s.add_argument(
        "--radius",
        type=float,
        default=DEFAULT_RADIUS_ARCSEC,
        help=f"match radius in arcsec (default {DEFAULT_RADIUS_ARCSEC:g}: half the 6.1 arcsec W1 beam)",
    )
    s.add_argument("--wise-id-column", default=None, help="WISE column with the SDSS id (--match id)")
    s.add_argument("--workers", type=int, default=2, help="reader processes (default 2)")
    s.add_argument("--cache", type=Path, default=None, help="cache folder (default: OUT with .cache)")
    s.add_argument("--no-cache", action="store_true")
    s.add_argument("--drop-unmatched", action="store_true", help="leave spectra without WISE out")
    s.add_argument(
        "--no-deredden", action="store_true", help="keep ugriz uncorrected for Galactic extinction"
    )
    s.add_argument(
        "--report", type=Path, default=None, help="build report JSON (default: OUT with .report.json)"
    )
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_build_catalog)

    s = subparsers.add_parser(
        "import-paper-table", help="the paper's released sdss_wise_cross_reg*.csv -> latent catalog"
    )
    s.add_argument("tables", nargs="+", help="sdss_wise_cross_reg0.csv(.gz), sdss_wise_cross_reg1.csv(.gz)")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--test-ids", default=None, help="test_ids.csv (row indices into the reg1 table)")
    s.add_argument("--test-ids-into", default=None, help="the table the test ids index (default: *reg1*)")
    s.add_argument("--valid-fraction", type=float, default=0.1)
    s.add_argument("--reg-log10", action="store_true", help="the reg column holds log10 of the normalization")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_import_paper_table)

    s = subparsers.add_parser(
        "export-paper-table", help="write a catalog in the paper's release layout (CSV)"
    )
    s.add_argument("catalog")
    s.add_argument("--out", type=Path, required=True, help=".csv or .csv.gz")
    s.add_argument("--models", default="default", help="encoder for a spectral catalog")
    s.add_argument("--test-ids", type=Path, default=None, help="also write test_ids.csv here")
    s.add_argument("--rows", type=int, default=None, help="only the first N good rows")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_export_paper_table)

    s = subparsers.add_parser(
        "predict", help="WISE posteriors, properties and out-of-domain flags for a catalog"
    )
    s.add_argument("catalog", help="catalog .h5, paper-layout table .csv(.gz), or HATS catalog of latents")
    s.add_argument("--models", default="default")
    s.add_argument(
        "--out",
        type=Path,
        required=True,
        help=".fits, .csv, .parquet or .ecsv; a folder name: a HATS catalog",
    )
    s.add_argument(
        "--chunk",
        type=int,
        default=2048,
        help="galaxies per chunk (memory stays flat); per task on a cluster",
    )
    s.add_argument("--train-catalog", default=None, help="to compute domain.json if the model lacks it")
    add_cluster_flags(s)
    s.add_argument("--rows", type=int, default=None, help="survey runs: only the first N rows (HATS: pixels)")
    s.add_argument(
        "--report", type=Path, default=None, help="survey runs: run report JSON (default OUT.report.json)"
    )
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_predict)
