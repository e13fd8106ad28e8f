"""Run one SED fit in a separate process (the dashboard's "fit with bagpipes" button).

The fit is CPU-bound Python (bagpipes, nautilus): in a thread it would hold the interpreter lock
and delay every slider redraw of the page, so it runs in a spawned process that reports through a
queue: ``("progress", n_likelihood_calls)``, then ``("done", FitResult)`` or ``("error", text)``.
Cancelling terminates the process.

The process is made a background job first (:func:`setup_fit_process`): one BLAS / OpenMP thread
(the fit is single-threaded by design, and numpy's OpenBLAS, already loaded when the process
unpickles its arguments, would otherwise start one thread per core and take every core of a small
machine) and a lower CPU priority, so that on a machine with few cores the kernel that redraws
the page is served first.
"""

from __future__ import annotations

import multiprocessing as mp
import os

from .data import FitData
from .fit import FitSettings

#: added to the fit process's niceness (Unix): the kernel that serves the page keeps priority
FIT_NICENESS = 10
#: thread-count variables of the BLAS / OpenMP libraries loaded after the setup
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def setup_fit_process(niceness: int = FIT_NICENESS) -> None:
    """Make the current process a single-threaded background job (called in the fit process).

    Libraries loaded from now on read :data:`THREAD_ENV`; those already loaded (numpy's OpenBLAS)
    are limited through threadpoolctl (a dependency of nautilus, which limits its own network
    training the same way, but not the likelihood calls).
    """
    for var in THREAD_ENV:
        os.environ[var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)  # kept for the life of the process
    except ImportError:  # no threadpoolctl: the fit may use more BLAS threads, nothing else changes
        pass
    if niceness and hasattr(os, "nice"):
        try:
            os.nice(niceness)
        except OSError:  # not permitted here: the fit runs at the kernel's priority
            pass
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        # Linux: run only on CPU time nothing else wants. Niceness alone left the page's slider
        # redraw ~25 % slower during a fit on 2 cores (median 254 against 202 ms, browser test)
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            pass


def _run(data: FitData, settings: FitSettings, queue) -> None:
    setup_fit_process()
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
