"""Command-line verbs of the SED-fitting comparator: ``sedfit`` and ``sedfit-compare``
(registered by :func:`register` from ``cli.py``). Thin layers over :mod:`explorer.sedfit`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .errors import ExplorerError
from .jsonutil import command_line, print_json
from .paths import DEMO_CATALOG


def _settings(args):
    from .sedfit.fit import QUICK, FitSettings

    base = QUICK if args.quick else FitSettings()
    kw = {k: getattr(args, k) for k in ("n_live", "n_eff", "n_draws", "seed") if getattr(args, k) is not None}
    return FitSettings(**{**base.to_dict(), **kw})


def _floats(text: str | None, what: str) -> list[float] | None:
    if text is None:
        return None
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError as err:
        raise ExplorerError(f"{what}: expected 5 comma-separated numbers (u,g,r,i,z), got {text!r}") from err
    if len(vals) != 5:
        raise ExplorerError(f"{what}: expected 5 numbers (u,g,r,i,z), got {len(vals)}")
    return vals


def _part(text: str) -> tuple[int, int]:
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError as err:
        raise ExplorerError(f"--part: expected K/N (e.g. 1/2), got {text!r}") from err
    if not 1 <= k <= n:
        raise ExplorerError(f"--part: K must be 1..N, got {text!r}")
    return k - 1, n


def cmd_sedfit(args) -> int:
    from .catalog import Catalog
    from .sedfit.batch import combine, run_batch, stratified_sample

    settings = _settings(args)
    if args.sample is not None:
        if args.out is None:
            raise ExplorerError("sedfit --sample needs --out DIR (one file per finished fit)")
        cat = Catalog(args.catalog)
        idx = stratified_sample(cat, args.sample, args.split, seed=args.sample_seed)
        k, n = _part(args.part)
        idx = idx[k::n]  # one of n processes sharing the same folder
        rep = run_batch(cat, idx, args.out, settings, log=(lambda s: None) if args.json else print)
        if args.table:
            rep["table"] = str(
                combine(args.out, args.table, catalog_name=Path(args.catalog).name, command=command_line(),
                        catalog_sha256=rep["catalog_sha256"], settings=settings)
            )  # fmt: skip
        print_json(rep) if args.json else print(f"done: {rep}")
        return 0
    data = _single_data(args, settings)
    from .sedfit.fit import fit_galaxy

    res = fit_galaxy(
        data, settings, progress=None if args.json else (lambda n: print(f"  {n} likelihood calls", end="\r"))
    )
    summary = {
        **res.summary(),
        "best_chi2": res.best_chi2,
        "n_data": res.n_data,
        "settings": settings.to_dict(),
    }
    if args.out is not None:
        from .sedfit.batch import write_fit

        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"{res.id}.npz"
        write_fit(
            path,
            res,
            {
                "index": -1 if args.index is None else int(args.index),
                "class_label": "",
                "catalog_sha256": "",
                "settings": settings.to_dict(),
            },
        )
        summary["written"] = str(path)
    if args.json:
        print_json(summary)
    else:
        print()
        _print_summary(summary)
    return 0


def _single_data(args, settings):
    from .sedfit.data import fit_data_from_catalog, make_fit_data

    kw = {
        "bin_pixels": settings.bin_pixels,
        "spec_floor": settings.spec_floor,
        "phot_floor": settings.phot_floor,
    }
    if args.spectrum is not None:
        from .io.sdss import read_sdss_spectrum

        spec = read_sdss_spectrum(args.spectrum)
        mag = _floats(args.ugriz, "--ugriz")
        err = _floats(args.ugriz_err, "--ugriz-err") or [0.03] * 5
        if mag is None:
            raise ExplorerError(
                f"{args.spectrum}: no photometry: give the total ugriz AB magnitudes with --ugriz u,g,r,i,z "
                "(the spectrum is fitted for its shape only; the amplitude comes from the photometry)"
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            ivar = np.asarray(spec.weight, float) / float(spec.norm) ** 2
        return make_fit_data(spec.id, spec.z, np.asarray(spec.flux, float) * spec.norm, ivar, mag, err, **kw)
    if args.index is None:
        raise ExplorerError("sedfit: give --index I, --spectrum FILE.fits or --sample N")
    from .catalog import Catalog

    return fit_data_from_catalog(Catalog(args.catalog), args.index, **kw)


def _print_summary(s: dict) -> None:
    print(
        f"{s['id']}  z = {s['z']:.4f}  wall {s['wall_s']:.1f} s, {s['n_like']} likelihood calls, best chi2 {s['best_chi2']:.1f} / {s['n_data']} points"
    )
    for b in ("w1", "w2", "w3", "w4"):
        print(
            f"  {b.upper()} [Vega mag]: {s[b + '_p50']:.3f}  (68%: {s[b + '_p16']:.3f} .. {s[b + '_p84']:.3f})"
        )
    print(
        f"  log SFR [M_sun/yr, bagpipes cosmology]: {s['log_sfr_p50']:.3f}  (68%: {s['log_sfr_p16']:.3f} .. {s['log_sfr_p84']:.3f})"
    )
    print(f"  q_PAH [%]: {s['qpah_p50']:.2f}  (68%: {s['qpah_p16']:.2f} .. {s['qpah_p84']:.2f})")


def cmd_sedfit_compare(args) -> int:
    from .sedfit.compare import compare
    from .sedfit.table import SedFitTable

    res = compare(args.catalog, SedFitTable(args.table), args.models, time_fits=args.time_fits)
    if args.out is not None:
        import json

        from .jsonutil import json_default

        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=1, default=json_default))
    if args.write_card:
        from .sedfit.report import write_to_model_card

        path = write_to_model_card(args.models, res, command_line())
        print(f"wrote {path} and the model card's SED-fitting section", file=sys.stderr)
    if args.readme is not None:
        from .markdown import replace_block
        from .sedfit.report import format_comparison

        replace_block(args.readme, "sedfit-compare", f"From `{command_line()}`:\n\n" + format_comparison(res))
        print(f"wrote the comparison into {args.readme}", file=sys.stderr)
    if args.json:
        print_json(res)
    else:
        from .sedfit.report import format_comparison

        print(format_comparison(res))
    return 0


def register(subparsers) -> None:
    """Add ``sedfit`` and ``sedfit-compare`` to ``python -m explorer``'s subparsers."""
    from .sedfit.table import DEMO_SEDFIT_TABLE

    s = subparsers.add_parser(
        "sedfit", help="separable SED fit (bagpipes) of a galaxy or a sample; predicts W1-W4"
    )
    s.add_argument("catalog", nargs="?", default=str(DEMO_CATALOG), help="catalog .h5 (default: demo)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--index", type=int, help="fit one catalog row")
    g.add_argument("--spectrum", type=Path, help="fit an SDSS spec/spec-lite FITS file (needs --ugriz)")
    g.add_argument("--sample", type=int, help="fit N galaxies of --split, stratified by class (resumable)")
    s.add_argument("--ugriz", help="total ugriz AB magnitudes for --spectrum: u,g,r,i,z")
    s.add_argument("--ugriz-err", help="their errors (default 0.03 each)")
    s.add_argument("--split", default="test")
    s.add_argument("--sample-seed", type=int, default=0)
    s.add_argument(
        "--part", default="1/1", help="K/N: this process fits every N-th galaxy of the sample (run N at once)"
    )
    s.add_argument("--out", type=Path, help="folder for the per-galaxy fit files")
    s.add_argument(
        "--table",
        type=Path,
        help=f"combine the batch into this table (e.g. {DEMO_SEDFIT_TABLE.relative_to(DEMO_SEDFIT_TABLE.parent.parent)})",
    )
    s.add_argument("--quick", action="store_true", help="test settings (seconds; no result)")
    s.add_argument("--n-live", type=int, default=None, help="nautilus live points")
    s.add_argument("--n-eff", type=int, default=None, help="effective posterior samples to stop at")
    s.add_argument("--n-draws", type=int, default=None, help="posterior draws kept (WISE predicted per draw)")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_sedfit)

    s = subparsers.add_parser("sedfit-compare", help="our IR posterior vs the SED fit on the same galaxies")
    s.add_argument("catalog", nargs="?", default=str(DEMO_CATALOG), help="catalog .h5 (default: demo)")
    s.add_argument(
        "--table", type=Path, default=DEMO_SEDFIT_TABLE, help="SED-fit table (default: data/sedfit_demo.h5)"
    )
    s.add_argument("--models", default="default")
    s.add_argument(
        "--time-fits", type=int, default=1, help="SED fits to time in this run (0: use the table's times)"
    )
    s.add_argument("--out", type=Path, help="also write the JSON here")
    s.add_argument(
        "--write-card",
        action="store_true",
        help="store the comparison with the models (sedfit_compare.json) and show it in their MODEL_CARD.md",
    )
    s.add_argument(
        "--readme",
        type=Path,
        default=None,
        help="also write the tables into this Markdown file between <!-- sedfit-compare:start --> and :end -->",
    )
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_sedfit_compare)
