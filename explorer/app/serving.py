"""Serve the dashboard to a group: Voila with a kernel limit, idle culling and a "server busy" page.

``python -m explorer serve`` (and the browser tests, through :mod:`explorer.testing.browser`) run
``python -m explorer.app.serving app.ipynb ...``: Voila's own application (:class:`ServingVoila`, a
subclass of ``voila.app.Voila``) with three additions, all in this module:

- **a kernel limit** (``--max_kernels``): at most that many kernels (the preheated one included)
  live at once. Every page holds one kernel of about :data:`KERNEL_MEMORY_BYTES`, so the default
  (:func:`default_max_kernels`) is what the memory available at start-up holds after a reserve for
  the server and the system;
- **a "server busy" page** (HTTP 503, ``Retry-After: 60``, :data:`BUSY_PAGE`) for a page asked for
  while the limit is reached, instead of a page that hangs while a kernel cannot start;
- **idle culling** (``--cull_idle_minutes``): jupyter_server's culler
  (``MappingKernelManager.cull_idle_timeout``, ``cull_interval``, ``cull_connected=True``, so that
  a tab left open and idle frees its kernel too; Voila's own kernel manager never culls a
  preheated kernel waiting in its pool). The page of a culled kernel says so and offers a reload
  (a script in the ``irox`` template, ``explorer/app/jupyter``).

The preheated pool refills in the background (Voila starts the kernel and runs the notebook as
tasks on the server's event loop, 1 s after a page took the pool's kernel); with the limit reached
it waits, and refills as soon as a kernel is shut down (page closed, kernel culled).

Voila's code from the page is still the only code a kernel runs (no code comes from the browser).
"""

from __future__ import annotations

import asyncio
import html
import sys

#: Resident memory of one dashboard kernel (bytes), rounded up: the largest kernel of the load test
#: (``benchmarks/load_test.py``, N = 5, 10, 20 with galaxy switches, sliders and one attribution
#: each) peaked at 683 MB; 12 kernels and the server together at 6.8 GB (README).
KERNEL_MEMORY_BYTES = 700 * 1024**2
#: Memory kept for the Voila server, the system and other work when the default limit is derived.
RESERVE_BYTES = 2 * 1024**3
#: Default minutes of inactivity (no message from or to the kernel) before a kernel is culled.
DEFAULT_CULL_IDLE_MINUTES = 60.0


def available_memory_bytes() -> int:
    """Memory available to new processes now (``MemAvailable`` of ``/proc/meminfo``, via psutil)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # psutil is a dependency of ipykernel; this is a fallback only
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    raise RuntimeError("cannot tell the available memory; pass --max-kernels")


def default_max_kernels(available_bytes: int | None = None) -> int:
    """(available memory - :data:`RESERVE_BYTES`) / :data:`KERNEL_MEMORY_BYTES`, at least 1."""
    available = available_memory_bytes() if available_bytes is None else available_bytes
    return max(1, int((available - RESERVE_BYTES) // KERNEL_MEMORY_BYTES))


BUSY_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="60">
<title>IR–Optical Explorer: server busy</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:4em auto;color:#222}}
.irox-busy{{border-left:4px solid #E69F00;padding:0.5em 1em;background:#fff8e6}}</style></head>
<body><h1>IR–Optical Explorer</h1>
<div class="irox-busy"><p><b>The server is busy: try again in a minute.</b></p>
<p>All {max_kernels} places of this server are taken (each open page holds one Python kernel).
This page tries again by itself in a minute; a place frees when someone closes the dashboard or
leaves it idle for {cull}.</p>
<p><button onclick="location.reload()">try again now</button></p></div></body></html>
"""


class KernelLimitReached(RuntimeError):
    """A kernel was asked for while :attr:`ServingVoila.max_kernels` kernels are alive."""


class KernelStartLimit:
    """Put before the base kernel manager class (under Voila's pool): refuse a kernel beyond the
    limit, whoever asks (a page, the pool's refill).

    The limit is the application's :attr:`ServingVoila.max_kernels` (0: none).
    """

    _starting = 0

    @property
    def max_kernels(self) -> int:
        return int(getattr(self.parent, "max_kernels", 0) or 0)

    def kernels_alive(self) -> int:
        """Kernels started or starting (the preheated one included)."""
        return len(self._kernels) + self._starting

    def has_room(self) -> bool:
        return self.max_kernels <= 0 or self.kernels_alive() < self.max_kernels

    async def start_kernel(self, *args, **kwargs):
        if not self.has_room():
            raise KernelLimitReached(f"{self.max_kernels} kernels are running (the limit)")
        self._starting += 1
        try:
            return await super().start_kernel(*args, **kwargs)
        finally:
            self._starting -= 1


class PoolLimit:
    """Put before Voila's preheating kernel manager: refill the pool only when a kernel may start,
    and again when a kernel is shut down; tell a page handler whether a page can have a kernel."""

    _closing_all = False

    def pool_tasks(self, notebook_name) -> list:
        """The pool's tasks (each a preheated kernel starting or started) for ``notebook_name``,
        failed ones dropped."""
        pool = getattr(self, "_pools", {}).get(notebook_name, [])
        pool[:] = [t for t in pool if not t.done() or (not t.cancelled() and t.exception() is None)]
        return pool

    def can_serve(self, notebook_name) -> bool:
        """A new page gets a kernel: a preheated one, or room to start one."""
        return bool(self.pool_tasks(notebook_name)) or self.has_room()

    async def get_rendered_notebook(self, *args, **kwargs):
        """Voila's hand-over of the preheated kernel to a page; the kernel's idle time starts now
        (not when it entered the pool), so that the culler leaves the new page alone."""
        from jupyter_server._tz import utcnow

        out = await super().get_rendered_notebook(*args, **kwargs)
        kernel = self._kernels.get(out[2])
        if kernel is not None:
            kernel.last_activity = utcnow()
        return out

    def fill_if_needed(self, *args, **kwargs) -> None:
        """Voila's pool refill, only when a kernel may start (otherwise a later shutdown refills)."""
        pending = sum(not t.done() for t in self.pool_tasks(kwargs.get("notebook_name")))
        if self.max_kernels <= 0 or self.kernels_alive() + pending < self.max_kernels:
            super().fill_if_needed(*args, **kwargs)

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        out = await super().shutdown_kernel(kernel_id, *args, **kwargs)
        if not self._closing_all and self.notebook_path is not None:
            self.fill_if_needed(delay=0, notebook_name=self.notebook_path)  # a place is free again
        return out

    async def shutdown_all(self, *args, **kwargs):
        self._closing_all = True
        return await super().shutdown_all(*args, **kwargs)


def _limited_factory(factory):
    """Voila's kernel-manager factory with the limit: :class:`KernelStartLimit` under Voila's pool
    (its kernel starts go through the limit too), :class:`PoolLimit` over it."""

    def make(base_class, preheat_kernel, *args, **kwargs):
        base = type("LimitedKernelManager", (KernelStartLimit, base_class), {})
        made = factory(base, preheat_kernel, *args, **kwargs)
        if not preheat_kernel:
            made.can_serve = lambda self, notebook_name: self.has_room()
            return made
        return type("ServingKernelManager", (PoolLimit, made), {})

    return make


def _serving_app_class():
    """:class:`ServingVoila`, built on first use (Voila is imported only when serving)."""
    import tornado.web
    from traitlets import Float, Integer
    from voila import app as voila_app
    from voila.tornado.handler import TornadoVoilaHandler

    class ServingVoilaHandler(TornadoVoilaHandler):
        """Voila's page handler; the busy page when no kernel can be had."""

        @tornado.web.authenticated
        async def get(self, path=None):
            km = self.kernel_manager
            if not km.can_serve(self.notebook_path):
                return self.write_busy()
            pool = km.pool_tasks(self.notebook_path) if hasattr(km, "pool_tasks") else []
            if pool and not pool[0].done():  # the preheated kernel is on its way: this page's
                await asyncio.wait([pool[0]])  # (Voila would start another one meanwhile)
            try:
                await super().get(path)
            except KernelLimitReached:  # a page that came in between: nothing was sent yet
                if self._headers_written:
                    raise
                self.clear()
                self.write_busy()

        def write_busy(self) -> None:
            app = self.settings["voila"]
            self.log.warning("server busy: %s kernels running, page refused", app.max_kernels)
            self.set_status(503)
            self.set_header("Retry-After", "60")
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.set_header("Cache-Control", "no-cache, no-store, must-revalidate")
            cull = f"{app.cull_idle_minutes:g} minutes" if app.cull_idle_minutes > 0 else "a long time"
            self.finish(BUSY_PAGE.format(max_kernels=app.max_kernels, cull=html.escape(cull)))

    class ServingVoila(voila_app.Voila):
        """Voila with a kernel limit, idle culling and a busy page (module docstring)."""

        max_kernels = Integer(
            -1,
            config=True,
            help="Most kernels alive at once (preheated included); -1: from the available memory "
            "(explorer.app.serving.default_max_kernels); 0: no limit.",
        )
        cull_idle_minutes = Float(
            DEFAULT_CULL_IDLE_MINUTES,
            config=True,
            help="Shut down a kernel idle this long, page open or not (0: never).",
        )
        aliases = {
            **voila_app.Voila.aliases,
            "max_kernels": "ServingVoila.max_kernels",
            "cull_idle_minutes": "ServingVoila.cull_idle_minutes",
        }

        def init_settings(self):
            if self.max_kernels < 0:
                self.max_kernels = default_max_kernels()
            self.log.info(
                "IR-Optical Explorer: at most %s kernels, idle ones culled after %s minutes",
                self.max_kernels or "unlimited",
                self.cull_idle_minutes or "never",
            )
            if self.cull_idle_minutes > 0:
                timeout_s = max(1, round(self.cull_idle_minutes * 60))
                mkm = self.config.MappingKernelManager
                mkm.cull_idle_timeout = timeout_s
                mkm.cull_interval = max(1, min(60, timeout_s // 3))
                mkm.cull_connected = True  # an idle open tab frees its kernel (its page says so)
            original = voila_app.voila_kernel_manager_factory
            voila_app.voila_kernel_manager_factory = _limited_factory(original)
            try:  # Voila's init_settings builds the kernel manager through the factory
                return super().init_settings()
            finally:
                voila_app.voila_kernel_manager_factory = original

        def init_handlers(self):
            return [
                (h[0], ServingVoilaHandler, *h[2:]) if h[1] is TornadoVoilaHandler else h
                for h in super().init_handlers()
            ]

    return ServingVoila


def main(argv: list[str] | None = None) -> None:
    """``python -m explorer.app.serving NOTEBOOK [Voila options] [--max_kernels=N]
    [--cull_idle_minutes=M]``."""
    _serving_app_class().launch_instance(argv=sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
