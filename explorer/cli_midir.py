"""Command-line verbs of the mid-IR spectrum model (issue 15): ``train-midir``, ``midir`` and
``midir-ladder``.

Registered by :func:`register` from ``cli.py``; each verb is a thin layer over
:func:`explorer.ml.midir_train.train_midir`, :mod:`explorer.ml.midir_eval` /
:mod:`explorer.ml.midir_export` and :func:`explorer.ml.midir_ladder.midir_ladder`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ModelError
from .jsonutil import command_line, print_json


def cmd_train_midir(args) -> int:
    from .ml.midir_train import recalibrate_midir, reevaluate_midir, train_midir

    if args.calibrate_only:
        out = recalibrate_midir(
            args.catalog, args.name, progress=not (args.quiet or args.json), command=command_line()
        )
    elif args.evaluate_only:
        out = reevaluate_midir(
            args.catalog, args.name, progress=not (args.quiet or args.json), command=command_line()
        )
    else:
        out = train_midir(
            args.catalog, args.name, designs=tuple(args.designs.split(",")), n_latent=args.n_latent,
            epochs=args.epochs, n_members=args.members, glo_epochs=args.glo_epochs, max_eval=args.max_eval,
            seed=args.seed, progress=not (args.quiet or args.json), command=command_line(),
            aux_targets=tuple(c for c in args.aux.split(",") if c),
        )  # fmt: skip
    if args.readme is not None:
        from .markdown import replace_block
        from .ml.model_card_midir import midir_readme_lines

        replace_block(args.readme, "midir", "\n".join(midir_readme_lines(out)))
    if args.json:
        print_json(out)
        return 0
    print(f"{out['path']} (design {out['shipped_design']}: {out['selection']})")
    for design, r in out["designs"].items():
        for mode, m in r["test"].items():
            ri = m["rissaki"]
            print(f"  {design:4s} {mode:13s} chi2<5: {ri['n_chi2_below_5']}/{ri['n_random']}  median chi2 "
                  f"{ri['median_chi2']:.2f}  68/95% inside: {m['coverage']['overall_68']:.2f}/{m['coverage']['overall_95']:.2f}")  # fmt: skip
    return 0


def _fits_posterior(args, bundle, models):
    """Optical-only posterior of one SDSS spectrum FITS file (no ugriz, no WISE)."""
    from .io.sdss import read_sdss_spectrum
    from .ml.data import build_features

    if args.mode != "optical":
        raise ModelError(
            f"{args.source}: a spectrum file has no WISE or ugriz photometry: use --mode optical"
        )
    spec = read_sdss_spectrum(args.source)
    lat = bundle.encode(spec.flux[None])
    table = bundle.input_table(spec.z, spec.norm, n=1)
    x = build_features(models["optical"].feature_kind, table, np.arange(1), lat)
    return models["optical"].predict(x, [spec.z]), [spec.id], None


def _catalog_posterior(args, bundle, models):
    from .catalog import Catalog
    from .ml.midir_eval import midir_data, posterior

    with Catalog(args.source) as cat:
        if args.index is not None:
            if not 0 <= args.index < cat.n:
                raise ModelError(f"{args.source}: --index {args.index} outside 0..{cat.n - 1}")
            idx = np.array([args.index])
        else:
            idx = cat.split_indices(args.split) if args.split else np.arange(cat.n)
        data = midir_data(cat, bundle, idx, truth=cat.has_ir_rest, progress=not args.quiet,
                          optical_kind=models["optical"].feature_kind)  # fmt: skip
    return posterior(models, args.mode, data), data["id"], data.get("log_fnu")


def cmd_midir(args) -> int:
    from .ml.midir_eval import load_midir
    from .ml.midir_export import midir_table, write_table
    from .ml.registry import load_models

    bundle = load_models(
        args.models, components=["encoder"]
    )  # the features are the encoder's and the catalog's
    models = load_midir(args.models)
    src = str(args.source).lower()
    fits = src.endswith((".fits", ".fits.gz", ".fit"))
    post, ids, truth = (_fits_posterior if fits else _catalog_posterior)(args, bundle, models)
    tab = midir_table(post, ids, args.mode, n_draws=args.draws, truth_log_fnu=truth)
    out = write_table(tab, args.out)
    fallbacks = [f"{i}: {n}" for i, n in zip(ids, post.notes, strict=True) if "optical-only" in n]
    print(f"wrote {out}: {len(ids)} galaxies x {len(tab) // max(len(ids), 1)} wavelengths, mode {args.mode}")
    for line in fallbacks[:10]:
        print(f"  {line}")
    if len(fallbacks) > 10:
        print(f"  ... {len(fallbacks) - 10} more galaxies without usable WISE photometry")
    return 0


def cmd_midir_ladder(args) -> int:
    import json

    from .ml.midir_ladder import midir_ladder, midir_ladder_markdown
    from .ml.registry import resolve_model_dir

    if args.from_json:
        from .ml.midir_ladder import merge_ladders

        out = merge_ladders([_read_json(f) for f in args.from_json.split(",")])
    elif args.catalog is None:
        raise ModelError("midir-ladder needs a CATALOG, or --from-json with results of earlier runs")
    else:
        out = midir_ladder(
            args.catalog, rungs=tuple(r for r in args.rungs.split(",") if r), design=args.design, epochs=args.epochs,
            max_eval=args.max_eval, seed=args.seed, progress=not (args.quiet or args.json), command=command_line(),
            models=args.models, probes=tuple(c for c in (args.probe or "").split(",") if c),
        )  # fmt: skip
    shipped = None
    if args.models is not None:
        f = resolve_model_dir(args.models) / "midir_evaluation.json"
        if not f.is_file():
            raise ModelError(f"{f.parent}: no midir_evaluation.json to compare with (train-midir writes it)")
        shipped = json.loads(f.read_text())
    lines = midir_ladder_markdown(out, command_line(), shipped)
    if args.readme is not None:
        from .markdown import replace_block

        replace_block(args.readme, "midir-ladder", "\n".join(lines))
    if args.json:
        print_json(out)
    else:
        print("\n".join(lines))
    return 0


def _read_json(path: str) -> dict:
    import json
    from pathlib import Path

    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: not a midir-ladder --json result ({e})") from None


def register(subparsers) -> None:
    """Add ``train-midir`` and ``midir`` to ``python -m explorer``'s subparsers."""
    from .ml.midir_eval import MODES

    s = subparsers.add_parser("train-midir", help="train the mid-IR spectrum model on a simulated v2 catalog")
    s.add_argument("catalog", help="simulated catalog with rest-frame IR spectra (/ir_rest)")
    s.add_argument(
        "--name",
        default="default",
        help="model directory with the encoder and predictor; midir.pt goes there",
    )
    s.add_argument("--designs", default="pca,glo", help="designs to train and compare (comma-separated)")
    s.add_argument(
        "--n-latent", type=int, default=12, help="shape coefficients (PCA components / GLO latents)"
    )
    s.add_argument("--epochs", type=int, default=100)
    s.add_argument("--members", type=int, default=3, help="ensemble members of the coefficient prior")
    s.add_argument("--glo-epochs", type=int, default=300)
    s.add_argument("--max-eval", type=int, default=1000, help="test galaxies evaluated (random subset)")
    s.add_argument("--aux", default="truth_log_ldust", help="truth columns whose auxiliary heads feed the prior "
                   "(comma-separated, '' for none; explorer/ml/midir_aux.py): truth_log_ldust, truth_log_sfr "
                   "(default: truth_log_ldust, which lifted every mode on the v2 50k run)")  # fmt: skip
    s.add_argument("--readme", type=Path, default=None, help="also write the results into this Markdown file "
                   "between <!-- midir:start --> and <!-- midir:end -->")  # fmt: skip
    s.add_argument("--evaluate-only", action="store_true", help="no training: evaluate the shipped midir.pt again "
                   "on the same test galaxies and update midir_evaluation.json")  # fmt: skip
    s.add_argument("--calibrate-only", action="store_true", help="no training: fit the shipped midir.pt's band "
                   "levels on the validation split (explorer/ml/midir_calibrate.py), then evaluate it again")  # fmt: skip
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_train_midir)

    s = subparsers.add_parser("midir", help="mid-IR spectrum posterior (median, 68/95%% bands) of galaxies")
    s.add_argument("source", help="catalog .h5 or one SDSS spectrum .fits")
    s.add_argument("--models", default="default")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--index", type=int, default=None, help="one catalog row")
    g.add_argument("--split", default=None, help="train, valid or test (default: every row)")
    s.add_argument("--mode", choices=MODES, default="optical")
    s.add_argument("--draws", type=int, default=1000)
    s.add_argument("--out", type=Path, required=True, help=".ecsv or .fits")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=cmd_midir)

    s = subparsers.add_parser("midir-ladder", help="the mid-IR spectrum model trained on truth inputs: "
                              "how much of the 5-35 micron spectrum the optical can hold (simulated v2)")  # fmt: skip
    s.add_argument(
        "catalog", nargs="?", help="simulated v2 catalog with rest-frame IR spectra and truth columns"
    )
    s.add_argument("--from-json", default=None, metavar="FILE,FILE",
                   help="no training: the table of earlier runs' --json results (same catalog and test galaxies)")  # fmt: skip
    s.add_argument("--rungs", default="basis,truth_all,truth_visible",
                   help="comma-separated: basis, truth_all, truth_visible, truth_measured, truth_unhidden, truth_every, encoder (the "
                   "--models features); any of these with truth columns added, each with an optional "
                   "random error: truth_visible+truth_log_ldust, encoder+truth_log_ldust~0.2")  # fmt: skip
    s.add_argument("--probe", default=None, metavar="COLUMN,COLUMN",
                   help="also: how well the --models encoder's features predict these truth columns (MLP probe)")  # fmt: skip
    s.add_argument("--design", choices=("pca", "glo"), default="pca")
    s.add_argument("--epochs", type=int, default=100)
    s.add_argument(
        "--max-eval", type=int, default=1000, help="test galaxies evaluated (train-midir's subset)"
    )
    s.add_argument(
        "--models",
        default=None,
        help="add this model directory's midir_evaluation.json rows; its encoder for the encoder rungs",
    )
    s.add_argument("--readme", type=Path, default=None, help="also write the table into this Markdown file "
                   "between <!-- midir-ladder:start --> and <!-- midir-ladder:end -->")  # fmt: skip
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_midir_ladder)
