"""The simulation and information verbs of ``python -m explorer``: simulate, make-demo, report,
validate-sim, ceiling, ladder (registered by :func:`register`, like :mod:`.cli_data`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .errors import ExplorerError
from .jsonutil import command_line, print_json
from .paths import DEMO_CATALOG


def cmd_simulate(args) -> int:
    from .simulate.run import simulate_catalog

    path = simulate_catalog(
        n=args.n,
        seed=args.seed,
        out=args.out,
        workers=args.workers,
        report_dir=args.report,
        progress=not args.quiet,
        command=command_line(),
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


def cmd_validate_sim(args) -> int:
    from .simulate.validate import format_markdown, validate_catalog, write_markdown

    if args.summary:
        from .catalog import Catalog
        from .simulate.validate import sample_summary

        with Catalog(args.catalog) as cat:
            print_json(sample_summary(cat.table))
        return 0
    rows = validate_catalog(args.catalog)
    text = format_markdown(rows, args.catalog)
    if args.write is not None:
        print(f"wrote {write_markdown(args.write, text)}", file=sys.stderr)
    print_json([r.as_dict() for r in rows]) if args.json else print(text, end="")
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
        print_json(out)
    else:
        for key in ("bands", "colors"):
            for name, m in out[key].items():
                print(f"{name:>6}: chi2_n {m['chi2_n']:.3f}  coverage68 {m['coverage68']:.3f}")
    return 0


def cmd_ladder(args) -> int:

    from .ml.ladder import RUNGS, information_ladder, ladder_markdown

    spectrum = json.loads(open(args.spectrum_json).read()) if args.spectrum_json else None
    rungs = tuple(r.strip() for r in args.rungs.split(",") if r.strip()) if args.rungs else None
    unknown = set(rungs or ()) - set(RUNGS)
    if unknown:
        raise ExplorerError(f"ladder --rungs: unknown {sorted(unknown)}; choose from {', '.join(RUNGS)}")
    out = information_ladder(
        args.catalog,
        rungs=rungs or RUNGS,
        n_members=args.members,
        epochs=args.epochs,
        max_train=args.max_train,
        spectrum_result=spectrum,
        seed=args.seed,
        progress=not args.json,
    )
    if args.markdown is not None:
        from .markdown import replace_block

        replace_block(args.markdown, "ladder", ladder_markdown(out, command_line()))
    if args.json:
        print_json(out)
    else:
        for rung, res in out["rungs"].items():
            bands = "  ".join(
                f"{b} {m['chi2_n']:.2f}/{m.get('chi2_n_paper', float('nan')):.2f}"
                for b, m in res["bands"].items()
            )
            print(f"{rung:>15}: chi2_n/chi2_n_paper  {bands}")
    return 0


def register(sub) -> None:
    """Add the simulation verbs to ``python -m explorer``'s subparsers."""
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

    s = sub.add_parser(
        "ceiling", help="supervised spectrum -> WISE network: how much IR information the spectra hold"
    )
    s.add_argument("catalog", nargs="?", default=str(DEMO_CATALOG), help="catalog .h5 (default: demo)")
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

    s = sub.add_parser(
        "ladder",
        help="information ladder of a simulated catalog: WISE chi2_N from exact truth, measured truth, spectrum",
    )
    s.add_argument("catalog", help="simulated catalog (.h5, simulation v2)")
    s.add_argument(
        "--spectrum-json", default=None, help="the `ceiling --json` output, shown as the last rung"
    )
    s.add_argument("--members", type=int, default=2, help="ensemble members per rung (default 2)")
    s.add_argument("--epochs", type=int, default=150, help="maximum epochs (early stopping, default 150)")
    s.add_argument("--max-train", type=int, default=None, help="subsample the training split")
    s.add_argument(
        "--rungs",
        default=None,
        help="comma-separated rungs to train (default: truth_all,truth_visible,truth_measured)",
    )
    s.add_argument("--markdown", type=Path, default=None, help="also write the table into this Markdown file between "
                   "<!-- ladder:start --> and <!-- ladder:end -->")  # fmt: skip
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--json", action="store_true", help="print the full result as JSON")
    s.set_defaults(func=cmd_ladder)

    s = sub.add_parser("report", help="diagnostic figures of a simulated catalog")
    s.add_argument("catalog", nargs="?", default=str(DEMO_CATALOG))
    s.add_argument("--out", type=Path, required=True)
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("validate-sim", help="validation table of a catalog against published statistics")
    s.add_argument("catalog", nargs="?", default=str(DEMO_CATALOG))
    s.add_argument(
        "--write", type=Path, default=None, help="markdown file to put the table in (between markers)"
    )
    s.add_argument("--json", action="store_true")
    s.add_argument(
        "--summary",
        action="store_true",
        help="print the sample summary (JSON) used for the v1 -> v2 comparison",
    )
    s.set_defaults(func=cmd_validate_sim)
