"""How the dashboard is served: Voila's options and environment (``make run``, the browser tests).

:data:`VOILA_OPTIONS`, :func:`voila_env` and :func:`serve_command` are the one way of serving:
``python -m explorer serve`` (what ``make run`` runs) starts :mod:`explorer.app.serving` (Voila with
a kernel limit, idle culling and a busy page) with them, and so do the browser tests and the
browser benchmarks, through :mod:`explorer.testing.browser`; ``tests/test_cli.py`` checks that the
serve verb uses them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Jupyter data directory holding the dashboard's Voila template ``irox`` (Voila's ``lab`` template
#: without its two Font Awesome links to a CDN; Voila's bundle already has Font Awesome). Voila
#: looks for templates on ``JUPYTER_PATH``: see :func:`voila_env`.
JUPYTER_DATA_DIR = Path(__file__).resolve().parent / "jupyter"
#: Largest websocket message Voila's server accepts from a page (bytes). An upload reaches the
#: kernel as one message, and Tornado's default (10 MiB) drops a larger one without a word, so
#: the upload panel's limit (explorer.app.upload_panel.MAX_UPLOAD_BYTES, 50 MB) would never be
#: seen; twice that limit lets a file up to 100 MB arrive and be refused with the panel's message.
WEBSOCKET_MAX_MESSAGE_BYTES = 100 * 1024**2
#: Voila options of ``python -m explorer serve`` (``make run``) besides the port: no browser
#: window, loopback only, the ``irox`` template, uploads up to :data:`WEBSOCKET_MAX_MESSAGE_BYTES`,
#: and one preheated kernel (the notebook already run when a page opens). The browser tests start
#: Voila with exactly these, so they test what a user runs; ``tests/test_cli.py`` checks that the
#: serve verb uses them.
VOILA_OPTIONS = (
    "--no-browser",
    "--Voila.ip=127.0.0.1",
    "--template=irox",
    f"--Voila.tornado_settings={{'websocket_max_message_size': {WEBSOCKET_MAX_MESSAGE_BYTES}}}",
    "--preheat_kernel=True",
    "--pool_size=1",
)
#: the same without the preheated kernel (every page starts and runs a new kernel: cold start)
VOILA_OPTIONS_COLD = tuple(o for o in VOILA_OPTIONS if not o.startswith(("--preheat_kernel", "--pool_size")))


def voila_env(env: dict | None = None) -> dict:
    """``os.environ`` updated with ``env``, and :data:`JUPYTER_DATA_DIR` first on ``JUPYTER_PATH``
    (what ``make run`` sets too), so that ``--template=irox`` is found."""
    out = {**os.environ, **(env or {})}
    rest = out.get("JUPYTER_PATH", "")
    out["JUPYTER_PATH"] = str(JUPYTER_DATA_DIR) + (os.pathsep + rest if rest else "")
    return out


#: the module that serves (Voila's application with the limits of explorer.app.serving)
SERVE_MODULE = "explorer.app.serving"


def limit_options(max_kernels: int | None = None, cull_idle_minutes: float | None = None) -> tuple[str, ...]:
    """Options of :mod:`explorer.app.serving` for a kernel limit and idle culling (None: its
    defaults, a limit from the available memory and culling after 60 minutes idle)."""
    out = ()
    if max_kernels is not None:
        out += (f"--max_kernels={int(max_kernels)}",)
    if cull_idle_minutes is not None:
        out += (f"--cull_idle_minutes={float(cull_idle_minutes):g}",)
    return out


def serve_command(notebook: str | Path, port: int, options=VOILA_OPTIONS, limits=()) -> list[str]:
    """``python -m explorer.app.serving NOTEBOOK --port=P OPTIONS LIMITS`` with this Python."""
    return [sys.executable, "-m", SERVE_MODULE, str(notebook), f"--port={port}", *options, *limits]
