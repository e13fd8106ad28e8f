"""The "fit with bagpipes" control of the SED panel: an SED fit of an uploaded spectrum in the
background, with progress and cancel (:mod:`explorer.sedfit`).

The fit runs in a separate, single-threaded, lower-priority process
(:func:`explorer.sedfit.worker.start_fit_process`), so the page's sliders never wait for it. A
watcher thread only reads the process's queue; everything it shows (progress, status, a failure's
message, the finished posterior, which redraws the SED panel with the overlay) is handed to the
kernel's own event loop, the thread the widgets are driven from. Cancel terminates the process,
and nothing it sent before is shown after "cancelled".
"""

from __future__ import annotations

import html
import importlib.util
import queue as queue_mod
import threading
import time

import ipywidgets as widgets
import numpy as np

from .state import ExplorerState


def _main_loop_call(fn) -> None:
    """Call ``fn`` on the kernel's event loop (the thread widgets are driven from); directly when
    there is no kernel (tests)."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        loop = getattr(kernel, "io_loop", None)
    except ImportError:
        loop = None
    if loop is not None:
        loop.add_callback(fn)
    else:
        fn()


class FitRunner:
    """Button, ugriz entry, progress bar and cancel button for an uploaded galaxy."""

    def __init__(self, state: ExplorerState, settings=None):
        from ..sedfit.fit import FitSettings

        self.state = state
        self.settings = settings or FitSettings()
        self.button = widgets.Button(
            description="fit with bagpipes", icon="play", layout=widgets.Layout(width="150px")
        )
        self.cancel_button = widgets.Button(
            description="cancel", icon="stop", disabled=True, layout=widgets.Layout(width="90px")
        )
        self.ugriz = widgets.Text(
            placeholder="total ugriz AB: u,g,r,i,z", layout=widgets.Layout(width="240px")
        )
        self.progress = widgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, layout=widgets.Layout(width="200px")
        )
        self.status = widgets.HTML()
        self.button.on_click(lambda _: self.start())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.widget = widgets.VBox(
            [widgets.HBox([self.button, self.cancel_button]), self.ugriz, self.progress, self.status],
            layout=widgets.Layout(display="none"),
        )
        self._proc = None
        self._cancelled = threading.Event()
        self._thread: threading.Thread | None = None
        self._galaxy_id = None  # the galaxy of the last fit started
        self._shown_id = None  # the galaxy on show at the last view

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.is_alive() and not self._cancelled.is_set()

    def on_view(self, view) -> None:
        """Shown for an uploaded galaxy only; the ugriz entry filled from its row."""
        upload = view.galaxy.source == "upload"
        self.widget.layout.display = None if upload else "none"
        shown, self._shown_id = self._shown_id, view.galaxy.id
        # a new galaxy only: a slider move (a new view of the same galaxy) keeps the typed ugriz
        if upload and view.galaxy.id not in (shown, self._galaxy_id) and not self.running:
            mags = [view.row.get(f"mag_{b}_total", np.nan) for b in "ugriz"]
            self.ugriz.value = ",".join(f"{m:.3f}" for m in mags) if np.all(np.isfinite(mags)) else ""
            self.status.value = ""
            self.progress.value = 0.0

    def _data(self):
        from ..sedfit.data import SedFitError, make_fit_data

        g = self.state.galaxy
        spec = g.spectrum
        if spec is None:
            raise SedFitError(f"{g.id}: no spectrum to fit")
        try:
            mags = (
                [float(v) for v in self.ugriz.value.replace(" ", "").split(",")]
                if self.ugriz.value.strip()
                else []
            )
        except ValueError:
            mags = []
        if len(mags) != 5:
            raise SedFitError(
                f"{g.id}: no photometry: type the total ugriz AB magnitudes (u,g,r,i,z); the spectrum "
                "is fitted for its shape only"
            )
        errs = [float(g.row.get(f"magerr_{b}_total", 0.03) or 0.03) for b in "ugriz"]
        with np.errstate(divide="ignore", invalid="ignore"):
            ivar = np.asarray(spec.weight, float) / float(spec.norm) ** 2
        s = self.settings
        return make_fit_data(g.id, float(g.row["z"]), np.asarray(spec.flux, float) * spec.norm, ivar, mags, errs,
                             bin_pixels=s.bin_pixels, spec_floor=s.spec_floor, phot_floor=s.phot_floor)  # fmt: skip

    def start(self) -> bool:
        """Start the fit of the uploaded galaxy on show (False, with the reason shown, if not)."""
        from ..errors import ExplorerError
        from ..sedfit.worker import start_fit_process

        if self.running:
            return False
        if importlib.util.find_spec("bagpipes") is None:
            self._say("bagpipes is not installed (the optional 'simulate' extra)", error=True)
            return False
        try:
            data = self._data()
        except ExplorerError as err:
            self._say(str(err), error=True)
            return False
        self._galaxy_id = data.id
        try:
            proc, q = start_fit_process(data, self.settings)
        except Exception as exc:  # no process could be started (OSError, ...): the page says so
            self._say(f"could not start the fit process: {type(exc).__name__}: {exc}", error=True)
            return False
        self._proc, self._cancelled = proc, threading.Event()
        self.button.disabled, self.cancel_button.disabled = True, False
        self.progress.value, self.progress.bar_style = 0.0, "info"
        self._say(f"fitting {data.id} in a separate process (about a minute; the page stays usable)…")
        self._thread = threading.Thread(
            target=self._watch, args=(proc, q, data.id, self._cancelled), daemon=True
        )
        self._thread.start()
        return True

    def cancel(self) -> None:
        """Stop the running fit: its process is terminated and nothing it sent is shown after."""
        if self.running:
            self._cancelled.set()
            self._proc.terminate()
            self._say("cancelled")
            self.progress.bar_style = "warning"
            self._idle(self._proc)

    def _say(self, text: str, error: bool = False) -> None:
        style = " style='color:#D55E00'" if error else ""
        self.status.value = f"<span class='irox-sedfit-status'{style}>{html.escape(text)}</span>"

    def _watch(self, proc, q, galaxy_id: str, cancelled: threading.Event) -> None:
        """Read the fit's queue until it ends (in a thread). What it shows is handed to the kernel's
        event loop (:func:`_main_loop_call`), and dropped there once the fit is cancelled."""
        t0, n_max = time.perf_counter(), max(self.settings.n_like_max, 1)

        def show(fn, *args) -> None:
            _main_loop_call(lambda: None if cancelled.is_set() else fn(*args))

        try:
            while not cancelled.is_set():
                try:
                    kind, value = q.get(timeout=0.25)
                except queue_mod.Empty:
                    if proc.is_alive():
                        continue
                    try:  # its last message can arrive just after the timeout that saw it end
                        kind, value = q.get(timeout=1.0)
                    except queue_mod.Empty:
                        show(self._ended, proc.exitcode)
                        return
                if kind == "progress":
                    show(self._progress, galaxy_id, value, n_max, time.perf_counter() - t0)
                elif kind == "error":
                    show(self._failed, value)
                    return
                else:
                    show(self._done, value, galaxy_id, time.perf_counter() - t0)
                    return
        except (EOFError, OSError, ValueError) as exc:  # the queue itself broke
            show(self._failed, f"lost contact with the fit process ({type(exc).__name__}: {exc})")
        finally:
            proc.join(timeout=5)  # reaped: no zombie left behind
            _main_loop_call(lambda: self._idle(proc))

    def _idle(self, proc) -> None:
        """The buttons of no fit running (when ``proc`` is still the latest fit)."""
        if proc is self._proc:
            self.button.disabled, self.cancel_button.disabled = False, True

    def _progress(self, galaxy_id: str, n_like: int, n_max: int, elapsed: float) -> None:
        self.progress.value = min(0.95, n_like / n_max)
        self._say(f"fitting {galaxy_id}: {n_like} likelihood calls, {elapsed:.0f} s")

    def _failed(self, text: str) -> None:
        self.progress.bar_style = "danger"
        self._say(f"SED fit failed: {text}", error=True)

    def _ended(self, exitcode) -> None:
        """The process ended without a message: killed (out of memory, say) or crashed."""
        how = (
            f"killed by signal {-exitcode}"
            if exitcode is not None and exitcode < 0
            else f"exit code {exitcode}"
        )
        self._failed(f"the fit process ended without a result ({how})")

    def _done(self, res, galaxy_id: str, elapsed: float) -> None:
        from ..sedfit.table import SedFitDraws

        self.progress.value, self.progress.bar_style = 1.0, "success"
        self._say(f"done in {elapsed:.0f} s ({res.n_like} likelihood calls)")
        fit = SedFitDraws(
            galaxy_id, res.wise_mag_draws, res.log_sfr_draws, res.qpah_draws, source="this session"
        )
        note = f"fit run in this session ({elapsed:.0f} s)"
        self.last_fit = fit
        self.state.set_sedfit(galaxy_id, fit, note)  # on the kernel's event loop (see _watch)
