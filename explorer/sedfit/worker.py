"""Run one SED fit in a separate process (the dashboard's "fit with bagpipes" button).

The fit is CPU-bound Python (bagpipes, nautilus): in a thread it would hold the interpreter lock
and delay every slider redraw of the page, so it runs in a spawned process that reports through a
queue: ``("progress", n_likelihood_calls)``, then ``("done", FitResult)`` or ``("error", text)``.
Cancelling terminates the process.
"""

from __future__ import annotations

import multiprocessing as mp

from .data import FitData
from .fit import FitSettings


def _run(data: FitData, settings: FitSettings, queue) -> None:
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        from .fit import fit_galaxy

        res = fit_galaxy(data, settings, progress=lambda n: queue.put(("progress", n)))
        queue.put(("done", res))
    except Exception as exc:  # report any failure to the page
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def start_fit_process(data: FitData, settings: FitSettings):
    """(process, queue) of a fit started in a new process (spawned: no state shared by fork)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(data, settings, queue), daemon=True)
    proc.start()
    return proc, queue
