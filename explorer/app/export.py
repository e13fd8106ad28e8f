"""Export a figure for talks: write it to ``exports/`` and offer it as a browser download.

The file is written by :func:`explorer.attribution.save_figure` (PNG 300 dpi, SVG with text as
text, PDF with TrueType text) under a temporary name in the same folder, then renamed
(``os.replace``, atomic): an export is complete or absent, never half written, even when the
kernel stops or the server restarts while it is written. The download is an ``<a download>`` link whose ``href`` is a
``data:`` URI of the same bytes, so it works offline and without a file server.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import uuid
from pathlib import Path

MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}


def export_dir() -> Path:
    """``IROX_EXPORT_DIR`` or ``<repo>/exports``."""
    from ..paths import REPO_ROOT

    return Path(os.environ.get("IROX_EXPORT_DIR", REPO_ROOT / "exports"))


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", str(text)).strip("_") or "figure"


def export_figure(fig, stem: str, fmt: str, out_dir: str | Path | None = None) -> tuple[Path, str]:
    """Save ``fig`` as ``<out_dir>/<stem>.<fmt>`` and return (path, HTML download link).

    Raises
    ------
    ValueError
        Unknown format.
    """
    from ..attribution.figures import save_figure

    fmt = fmt.lower()
    if fmt not in MIME:
        raise ValueError(f"unknown export format {fmt!r}; use png, svg or pdf")
    return _write_with_link(lambda p: save_figure(fig, p), stem, fmt, MIME[fmt], out_dir)


#: the spectrum tables' formats (the mid-IR panel's export; explorer.ml.midir_export.write_table)
TABLE_MIME = {"ecsv": "text/plain", "fits": "application/fits"}


def export_table(tab, stem: str, fmt: str, out_dir: str | Path | None = None) -> tuple[Path, str]:
    """Write the astropy table ``tab`` as ``<out_dir>/<stem>.<fmt>`` (ECSV or FITS, units kept) and
    return (path, HTML download link)."""
    from ..ml.midir_export import write_table

    fmt = fmt.lower()
    if fmt not in TABLE_MIME:
        raise ValueError(f"unknown table format {fmt!r}; use ecsv or fits")
    return _write_with_link(lambda p: write_table(tab, p), stem, fmt, TABLE_MIME[fmt], out_dir)


def _write_with_link(write, stem: str, fmt: str, mime: str, out_dir) -> tuple[Path, str]:
    """``write(path)`` under a temporary name in the same folder, then renamed (atomic), and a
    ``data:`` download link of the bytes."""
    path = Path(out_dir or export_dir()) / f"{safe_name(stem)}.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    # a hidden temporary name in the same folder (same file system: the rename is atomic), ending
    # in .<fmt> since the writers pick the format by extension
    partial = path.with_name(f".{path.stem}.partial-{uuid.uuid4().hex[:12]}.{fmt}")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    link = (
        f"<a class='irox-download' download='{html.escape(path.name)}' href='data:{mime};base64,{data}'>"
        f"⬇ download {html.escape(path.name)}</a> <span style='color:#555'>(also written to "
        f"<code>{html.escape(str(path))}</code>, {path.stat().st_size / 1024:.0f} kB)</span>"
    )
    return path, link


def figure_png(fig, dpi: int = 90) -> bytes:
    """PNG bytes of a matplotlib figure for on-screen display."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


class ExportBar:
    """Format buttons that export what a callback returns, with a download link.

    Parameters
    ----------
    make : callable () -> (object, stem) or None
        What to export (None: nothing to export, the bar says so).
    label : str
        What is exported ("SED", "attribution", "spectrum").
    formats : dict format -> MIME type
        The buttons (default: the figure formats PNG / SVG / PDF).
    write : callable (object, stem, fmt) -> (path, link)
        The writer (default :func:`export_figure`; :func:`export_table` for tables).
    """

    def __init__(self, make, label: str, formats: dict | None = None, write=None):
        import ipywidgets as widgets

        self.make, self.write = make, write or export_figure
        kind = "figure" if write is None else "table"
        self.buttons = {
            fmt: widgets.Button(description=fmt.upper(), tooltip=f"export the {label} {kind} as {fmt.upper()}",
                                layout=widgets.Layout(width="64px"))
            for fmt in (formats or MIME)
        }  # fmt: skip
        for fmt, b in self.buttons.items():
            b.on_click(lambda _b, fmt=fmt: self.export(fmt))
        self.link = widgets.HTML()
        self.last_path: Path | None = None
        self.widget = widgets.VBox(
            [widgets.HBox([widgets.HTML(f"export {label}:"), *self.buttons.values()]), self.link]
        )

    def export(self, fmt: str) -> Path | None:
        try:
            made = self.make()
            if made is None:
                self.link.value = "<i>nothing to export yet</i>"
                return None
            path, link = self.write(*made, fmt)
        except (OSError, ValueError) as exc:
            self.link.value = f"<span style='color:#D55E00'>export failed: {html.escape(str(exc))}</span>"
            return None
        self.last_path = path
        self.link.value = link
        return path
