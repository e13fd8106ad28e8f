"""The dashboard's background SED fit (explorer.app.sedfit_runner, explorer.sedfit.worker): the
fit process's setup, and what the page shows for progress, a failure, a dead process, a result
arriving as the process ends, and a cancel. The watcher is driven with stand-in processes and
queues (no bagpipes needed), except where a real spawned process is the point."""

from __future__ import annotations

import os
import queue
import threading
from types import SimpleNamespace

import numpy as np

from explorer.app.sedfit_runner import FitRunner


class FakeProc:
    """What the watcher uses of a multiprocessing.Process."""

    def __init__(self, alive: bool = True, exitcode: int | None = None):
        self.alive, self.exitcode = alive, exitcode

    def is_alive(self) -> bool:
        return self.alive

    def terminate(self) -> None:
        self.alive, self.exitcode = False, -15

    def join(self, timeout=None) -> None:
        pass


class LateQueue(queue.Queue):
    """A queue whose first get times out although its item is on the way (the race of a result
    sent just before the process ends)."""

    def __init__(self, item):
        super().__init__()
        self.first, self.item = True, item

    def get(self, block=True, timeout=None):
        if self.first:
            self.first = False
            self.put(self.item)
            raise queue.Empty
        return super().get(block, timeout)


def _runner():
    state = SimpleNamespace(shown=[])
    state.set_sedfit = lambda gid, fit, note: state.shown.append((gid, fit, note))
    return FitRunner(state)


def _running(runner, proc):
    """``runner`` as right after start(): a fit process, buttons of a running fit."""
    runner._proc, runner._cancelled = proc, threading.Event()
    runner.button.disabled, runner.cancel_button.disabled = True, False
    return runner._cancelled


def test_progress_then_a_failure_says_why_and_frees_the_buttons():
    runner, proc = _runner(), FakeProc()
    cancelled = _running(runner, proc)
    q = queue.Queue()
    q.put(("progress", 600))
    q.put(("progress", 1200))
    q.put(("error", "SedFitError: g: the SED fit predicted a non-finite WISE flux"))
    runner._watch(proc, q, "g", cancelled)
    assert runner.progress.value == min(0.95, 1200 / runner.settings.n_like_max)
    assert "SED fit failed: SedFitError: g: the SED fit predicted" in runner.status.value
    assert runner.progress.bar_style == "danger"
    assert not runner.button.disabled and runner.cancel_button.disabled


def test_cancel_is_not_overwritten_by_progress_already_queued():
    runner, proc = _runner(), FakeProc()
    cancelled = _running(runner, proc)
    q = queue.Queue()
    q.put(("progress", 400))  # sent by the process just before it was terminated
    runner.cancel()
    assert not runner.running and not proc.alive
    runner._watch(proc, q, "g", cancelled)
    assert ">cancelled<" in runner.status.value and runner.progress.bar_style == "warning"
    assert not runner.button.disabled and runner.cancel_button.disabled


def test_a_result_sent_as_the_process_ends_is_shown():
    from explorer.testing.sedfit import fake_result

    runner, proc = _runner(), FakeProc(alive=False, exitcode=0)
    cancelled = _running(runner, proc)
    res = fake_result("g", 0.05, [12.0, 11.9, 9.0, 7.0], n_draws=20)
    runner._watch(proc, LateQueue(("done", res)), "g", cancelled)
    assert "done in" in runner.status.value and runner.progress.bar_style == "success"
    ((gid, fit, note),) = runner.state.shown
    assert gid == "g" and np.array_equal(fit.wise_mag_draws, res.wise_mag_draws) and "this session" in note


def test_a_process_that_dies_without_a_word_says_so():
    runner, proc = _runner(), FakeProc(alive=False, exitcode=-9)  # killed (out of memory, say)
    cancelled = _running(runner, proc)
    runner._watch(proc, queue.Queue(), "g", cancelled)
    assert "the fit process ended without a result (killed by signal 9)" in runner.status.value
    assert runner.progress.bar_style == "danger" and not runner.button.disabled


def test_typed_ugriz_survives_a_slider_move_but_not_a_new_galaxy():
    runner = _runner()

    def view(gid):
        return SimpleNamespace(galaxy=SimpleNamespace(source="upload", id=gid), row={})

    runner.on_view(view("a"))
    runner.ugriz.value = "15.2,14.2,13.7,13.5,13.3"
    runner.on_view(view("a"))  # the same upload, a new view (a slider moved)
    assert runner.ugriz.value == "15.2,14.2,13.7,13.5,13.3"
    runner.on_view(view("b"))  # another upload: its own (here unknown) photometry
    assert runner.ugriz.value == ""
    runner.on_view(SimpleNamespace(galaxy=SimpleNamespace(source="catalog", id="c"), row={}))
    assert runner.widget.layout.display == "none"


def _report_setup(q) -> None:
    """In a spawned process: numpy loaded first (as when the fit's arguments are unpickled), then
    the fit process's setup; reports niceness before and after and the BLAS/OpenMP threads."""
    import os

    import numpy  # noqa: F401
    from threadpoolctl import threadpool_info

    from explorer.sedfit.worker import setup_fit_process

    before = [p["num_threads"] for p in threadpool_info()]
    n0 = os.nice(0)
    setup_fit_process()
    policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else None
    q.put(
        (n0, os.nice(0), before, [p["num_threads"] for p in threadpool_info()], os.environ["OMP_NUM_THREADS"],
         policy)
    )  # fmt: skip


def test_fit_process_is_single_threaded_and_runs_at_lower_priority():
    import multiprocessing as mp

    from explorer.sedfit.worker import FIT_NICENESS

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_report_setup, args=(q,))
    p.start()
    n0, n1, before, after, omp, policy = q.get(timeout=120)
    p.join(30)
    assert before and after == [1] * len(after) and omp == "1", (before, after)
    assert n1 == min(19, n0 + FIT_NICENESS)
    if hasattr(os, "SCHED_IDLE"):  # Linux: the fit only gets CPU time nothing else wants
        assert policy == os.SCHED_IDLE


def test_a_fit_that_fails_in_its_process_shows_the_error_in_the_panel():
    """The real process model (spawn, queue): a fit that raises reports its error, not silence.
    (Without bagpipes the error is the missing import; either way a message.)"""
    from explorer.sedfit.fit import QUICK
    from explorer.sedfit.worker import start_fit_process

    runner = _runner()
    proc, q = start_fit_process(None, QUICK)  # no data: the fit raises in the process
    cancelled = _running(runner, proc)
    runner._watch(proc, q, "g", cancelled)
    assert "SED fit failed:" in runner.status.value and "Error" in runner.status.value, runner.status.value
    assert not runner.button.disabled
    proc.join(60)  # the error arrives just before the process exits: give a loaded machine time
    assert not proc.is_alive()
