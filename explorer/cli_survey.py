"""Command-line side of :mod:`explorer.survey`: ``predict`` on a cluster (flags added to the
``predict`` verb by :func:`add_cluster_flags`) and the ``crossmatch-wise`` verb."""

from __future__ import annotations

from pathlib import Path

from .jsonutil import command_line, print_json


def add_cluster_flags(s) -> None:
    """--workers / --scheduler / --rows / --report for a verb that can run as Dask tasks."""
    s.add_argument(
        "--workers",
        type=int,
        default=None,
        help="run as Dask tasks on a local cluster of N processes (1 thread each)",
    )
    s.add_argument("--scheduler", default=None, help="run on an existing Dask scheduler (tcp://host:8786)")


def wants_survey(args) -> bool:
    """Whether ``predict`` goes through :mod:`explorer.survey`: a cluster, a HATS output folder
    (``--out`` without a table suffix), an input other than an HDF5 catalog, or a survey-only flag
    (``--rows``, ``--report``)."""
    from .ml.predict import OUTPUT_FORMATS

    src = Path(args.catalog)
    return bool(
        args.workers
        or args.scheduler
        or args.rows is not None
        or args.report is not None
        or args.out.suffix.lower() not in OUTPUT_FORMATS
        or src.is_dir()
        or src.name.lower().endswith((".csv", ".csv.gz"))
    )


def cmd_predict_survey(args, command: str) -> int:
    from .survey.predict import predict_survey

    rep = predict_survey(
        args.catalog, args.models, args.out, workers=args.workers, scheduler=args.scheduler, chunk=args.chunk,
        rows=args.rows, train_catalog=args.train_catalog, progress=not (args.quiet or args.json),
        command=command, report=args.report,
    )  # fmt: skip
    s = rep["summary"]
    if args.json:
        print_json(rep)
    else:
        print(
            f"{s['n_partitions']} partitions: {s['done']} done, {s['skipped']} skipped (finished earlier), "
            f"{s['failed']} failed; {s['rows_predicted']} galaxies predicted in {s['run_seconds']:.1f} s on "
            f"{s['workers']} worker(s)"
        )
        for f in rep["failed"]:
            print(f"  FAILED {f['partition']}: {f['error']}")
        if s["output_written"]:
            print(f"wrote {s['output']} ({s['rows_written']} rows, {s['output_kind']})")
        else:
            print(f"{s['output']} not written: re-run the same command to redo the failed partitions")
        print(f"  run report: {rep['report']}")
    return 1 if s["failed"] else 0


def cmd_crossmatch_wise(args) -> int:
    from .survey.crossmatch import crossmatch_wise

    out = crossmatch_wise(
        args.ours, args.allwise, args.out, radius_arcsec=args.radius, n_neighbors=args.neighbors,
        workers=args.workers, scheduler=args.scheduler, command=command_line(),
    )  # fmt: skip
    print_json(out) if args.json else print(f"wrote {out['path']}: {out['n_matches']} matches")
    return 0


def register(subparsers) -> None:
    """Add ``crossmatch-wise`` to ``python -m explorer``'s subparsers."""
    from .survey.crossmatch import DEFAULT_RADIUS_ARCSEC

    s = subparsers.add_parser(
        "crossmatch-wise", help="join a HATS catalog of ours with an AllWISE HATS catalog (lsdb)"
    )
    s.add_argument("ours", help="HATS catalog (e.g. predict --out DIR)")
    s.add_argument("allwise", help="AllWISE HATS catalog (folder or URL lsdb can open)")
    s.add_argument("--out", type=Path, required=True, help="output HATS catalog folder")
    s.add_argument("--radius", type=float, default=DEFAULT_RADIUS_ARCSEC, help="match radius in arcsec")
    s.add_argument("--neighbors", type=int, default=1, help="nearest AllWISE sources kept per galaxy")
    add_cluster_flags(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_crossmatch_wise)
