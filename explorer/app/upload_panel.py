"""Your own data: an SDSS spec FITS upload (+ optional WISE magnitudes typed in or an AllWISE row
pasted) -> the same panels.

A file larger than :data:`MAX_UPLOAD_BYTES` is refused before anything is written. Otherwise the
bytes are written, under a fixed name, into a private temporary directory (removed whatever
happens) and read by :func:`explorer.io.sdss.read_sdss_spectrum`, which refuses a gzip that
inflates beyond :data:`MAX_UPLOAD_DECOMPRESSED_BYTES`; nothing in an upload is executed. Any
problem (too large, not FITS, truncated, every pixel masked, z outside the accepted range, ...) is
shown in the page as the reader's message and the app keeps the galaxy it was showing. (A file
beyond Voila's websocket cap, :data:`explorer.app.browser.WEBSOCKET_MAX_MESSAGE_BYTES` = twice the
limit, never reaches the kernel: the server drops it and the page shows nothing, but keeps working.)

A pasted AllWISE row (a header line and one data row: IPAC table, CSV, tab- or
whitespace-separated) is parsed by astropy into a table and converted and validated by
:func:`explorer.io.wise.read_wise_table`, the reader of AllWISE files; its magnitudes then fill the
W1-W4 boxes.
"""

from __future__ import annotations

import html
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from ..constants import WISE_BANDS
from ..errors import SpectrumFileError, WiseTableError
from ..io.sdss import MAX_DECOMPRESSED_BYTES
from ..io.wise import wise_columns
from .state import ExplorerState

#: largest uploaded file read (bytes), checked before anything is written: SDSS spec files are
#: under ~10 MB (the largest, with every exposure kept), so 50 MB refuses only what is not one
MAX_UPLOAD_BYTES = 50 * 1024**2
#: largest size a gzipped upload may inflate to (bytes): the SDSS reader's bound
MAX_UPLOAD_DECOMPRESSED_BYTES = MAX_DECOMPRESSED_BYTES

#: magnitude error assumed for a typed WISE detection without sigma (an assumption of the app,
#: not a survey value: it only sets the chi denominator and the error bar)
DEFAULT_SIGMA_MAG = 0.05


def parse_number(text: str, what: str) -> float:
    """A typed number, NaN when empty; ValueError naming ``what`` otherwise."""
    text = (text or "").strip()
    if not text:
        return math.nan
    try:
        v = float(text)
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{what}: {text!r} is not a finite number")
    return v


#: the name a pasted row goes by in messages
PASTED_ROW = "AllWISE row"
#: a pasted row farther than this from the spectrum's position gets a warning (arcsec): the
#: default radius of explorer.io.crossmatch.crossmatch_by_position, about half the W1 beam
#: (6.1" FWHM, Wright et al. 2010) and the SDSS fiber diameter
MATCH_RADIUS_ARCSEC = 3.0


@dataclass
class PastedWise:
    """WISE photometry read from a pasted AllWISE row.

    Attributes
    ----------
    bands : dict band -> (mag_vega, sigma_mag, is_upper_limit)
        NaN magnitude for a band the row gives no usable measurement for.
    skipped : dict band -> str
        Bands left out and why (the reader's words).
    id : str
        The row's identifier (``designation``...), "" when it has none.
    ra_deg, dec_deg : float
        The row's position (NaN when it has none).
    fmt : str
        How the text was read (astropy format name).
    """

    bands: dict
    skipped: dict
    id: str
    ra_deg: float
    dec_deg: float
    fmt: str


def _text_format(lines: list[str]) -> str:
    """astropy format of pasted table text: IPAC (``|`` header), tab-, comma- or space-separated."""
    if any(line.lstrip().startswith("|") for line in lines):
        return "ascii.ipac"
    header = next((line for line in lines if not line.lstrip().startswith(("#", "\\"))), "")
    if "\t" in header:
        return "ascii.tab"
    if "," in header:
        return "ascii.csv"
    return "ascii.basic"


def parse_allwise_row(text: str) -> PastedWise:
    """Read one pasted AllWISE row (header line + one data row) with the AllWISE file reader.

    Parameters
    ----------
    text : str
        IPAC table text (as IRSA writes it), CSV, tab- or whitespace-separated text with a header
        line naming ``w1mpro, w1sigmpro, ..., w4mpro, w4sigmpro`` (any case; VizieR's ``W1mag``,
        ``e_W1mag`` too; other columns allowed) and one data row. A null or empty sigma means a
        95% upper limit unless ``ph_qual`` says otherwise (AllWISE convention).

    Returns
    -------
    PastedWise

    Raises
    ------
    WiseTableError
        Message starting with "AllWISE row:" that names the problem: nothing pasted, text that is
        not a table, no data row or more than one, a band's column missing, or a row problem
        that is not about one band (e.g. a ``ph_qual`` that is not 4 letters).
    """
    from astropy.table import Table

    from ..io.wise import read_wise_table

    lines = [line.rstrip("\r\n") for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise WiseTableError(f"{PASTED_ROW}: nothing pasted (a header line and one data row are needed)")
    if len(lines) == 1:
        raise WiseTableError(
            f"{PASTED_ROW}: only one line pasted; a header line (w1mpro, w1sigmpro, ...) and one data row "
            "are needed"
        )
    fmt = _text_format(lines)
    try:
        table = Table.read("\n".join(lines) + "\n", format=fmt, guess=False)
    except Exception as exc:
        what = {"ascii.ipac": "an IPAC table", "ascii.tab": "tab-separated", "ascii.csv": "CSV"}
        raise WiseTableError(
            f"{PASTED_ROW}: cannot read the text as {what.get(fmt, 'whitespace-separated')} "
            f"(a header line, then one data row): {type(exc).__name__}: {str(exc).strip() or 'no detail'}"
        ) from None
    if len(table) != 1:
        raise WiseTableError(
            f"{PASTED_ROW}: {'no data row after the header' if len(table) == 0 else f'{len(table)} data rows'}; "
            "paste the header line and exactly one row"
        )
    table.meta["name"] = PASTED_ROW  # the reader's messages then start with "AllWISE row:"
    wt = read_wise_table(table)  # conversion and validation of the AllWISE reader
    bands, skipped, row_problems = {}, {}, []
    for reason in wt.bad_rows.get(0, "").split("; ") if wt.bad_rows else []:
        band = reason.split(" ", 1)[0]
        if band in WISE_BANDS:
            skipped[band] = f"{skipped[band]}; {reason}" if band in skipped else reason
        elif reason != "id missing":  # an empty designation does not matter here
            row_problems.append(reason)
    if row_problems:
        raise WiseTableError(f"{PASTED_ROW}: {'; '.join(row_problems)}")
    for b in WISE_BANDS:
        k = b.lower()
        if b in skipped:
            bands[b] = (math.nan, math.nan, False)
        else:
            bands[b] = (
                float(wt[f"{k}_mag_vega"][0]),
                float(wt[f"{k}_sigma_mag"][0]),
                bool(wt[f"{k}_is_ul"][0]),
            )
    if len(skipped) == len(WISE_BANDS):
        raise WiseTableError(f"{PASTED_ROW}: no usable WISE band ({'; '.join(skipped.values())})")
    return PastedWise(
        bands=bands,
        skipped=skipped,
        id=str(wt["id"][0]) if "id" in wt else "",
        ra_deg=float(wt["ra_deg"][0]) if "ra_deg" in wt else math.nan,
        dec_deg=float(wt["dec_deg"][0]) if "dec_deg" in wt else math.nan,
        fmt=fmt,
    )


def separation_arcsec(ra1_deg, dec1_deg, ra2_deg, dec2_deg) -> float:
    """Angle between two sky positions in arcsec (haversine formula; NaN if one is unknown)."""
    vals = [float(v) for v in (ra1_deg, dec1_deg, ra2_deg, dec2_deg)]
    if not all(math.isfinite(v) for v in vals):
        return math.nan  # (min(1.0, nan) below would be 1.0: a false 180 degrees)
    ra1, dec1, ra2, dec2 = (math.radians(v) for v in vals)
    h = math.sin((dec2 - dec1) / 2) ** 2 + math.cos(dec1) * math.cos(dec2) * math.sin((ra2 - ra1) / 2) ** 2
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h)))) * 3600.0


def upload_row(spectrum, wise: dict | None = None) -> dict:
    """Catalog-like row of an uploaded spectrum.

    Parameters
    ----------
    spectrum : GalaxySpectrum
    wise : dict band -> (mag_vega, sigma_mag, is_upper_limit), optional
        Typed WISE photometry; bands left out (or with NaN magnitude) are unknown. The catalog's
        WISE columns come from :func:`explorer.io.wise.wise_columns`, as for a catalog row.
    """
    meta = spectrum.meta or {}
    row = {
        "id": str(spectrum.id),
        "z": float(spectrum.z),
        "spec_norm": float(spectrum.norm),
        "split": "upload",
        "class_label": "",
        "sdss_class": str(meta.get("class", "")),
        "ra_deg": float(meta.get("ra_deg", np.nan)),
        "dec_deg": float(meta.get("dec_deg", np.nan)),
    }
    wise = wise or {}
    mag, sig, ul = np.array([wise.get(b, (math.nan, math.nan, False)) for b in WISE_BANDS], dtype=float).T
    have = np.isfinite(mag)
    ul = (ul != 0) & have  # a flag without a magnitude is no upper limit
    # no sigma typed for a detection: DEFAULT_SIGMA_MAG (the page says so); unknown bands stay NaN
    sig = np.where(have & ~ul & ~np.isfinite(sig), DEFAULT_SIGMA_MAG, np.where(have, sig, math.nan))
    for key, col in wise_columns(np.where(have, mag, math.nan), sig, ul).items():
        row[key] = bool(col) if col.dtype == bool else float(col)
    return row


class UploadPanel:
    """FileUpload for an SDSS spec FITS, boxes for W1-W4 magnitudes, a text area for a pasted
    AllWISE row (which fills the boxes), and a message line."""

    def __init__(
        self,
        state: ExplorerState,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        max_decompressed_bytes: int = MAX_UPLOAD_DECOMPRESSED_BYTES,
    ):
        self.state = state
        self.max_upload_bytes = max_upload_bytes
        self.max_decompressed_bytes = max_decompressed_bytes
        self.upload = widgets.FileUpload(accept="", multiple=False, description="SDSS spec FITS")
        self.upload.observe(self._on_upload, names="value")
        self.mag = {
            b: widgets.Text(placeholder="mag", layout=widgets.Layout(width="70px")) for b in WISE_BANDS
        }
        self.sig = {b: widgets.Text(placeholder="σ", layout=widgets.Layout(width="60px")) for b in WISE_BANDS}
        self.ul = {
            b: widgets.Checkbox(
                value=False, description="UL", indent=False, layout=widgets.Layout(width="50px")
            )
            for b in WISE_BANDS
        }
        self.apply = widgets.Button(description="apply WISE magnitudes", layout=widgets.Layout(width="190px"))
        self.apply.on_click(lambda _: self._reapply())
        self.paste = widgets.Textarea(
            placeholder=(
                "or paste an AllWISE row: the header line and one data row, as IRSA gives them "
                "(IPAC table, CSV, or tab/space separated), e.g.\n"
                "designation w1mpro w1sigmpro w2mpro w2sigmpro w3mpro w3sigmpro w4mpro w4sigmpro ph_qual\n"
                "J094650.03+012525.7 11.540 0.023 11.432 0.021 8.812 0.028 6.921 null AAAU"
            ),
            rows=5,
            layout=widgets.Layout(width="640px"),
        )
        self.read_row = widgets.Button(description="read AllWISE row", layout=widgets.Layout(width="190px"))
        self.read_row.on_click(lambda _: self.read_allwise())
        self.message = widgets.HTML()
        self._spectrum = None
        self._pasted: PastedWise | None = None  # the last row read
        self._pasted_text = None  # the text it was read from
        self._pasted_boxes = None  # what it wrote into the boxes
        grid = [
            widgets.HBox(
                [
                    widgets.HTML(f"<b>{b}</b>", layout=widgets.Layout(width="30px")),
                    self.mag[b],
                    self.sig[b],
                    self.ul[b],
                ]
            )
            for b in WISE_BANDS
        ]
        self.widget = widgets.VBox(
            [
                widgets.HTML(
                    "Upload an SDSS <code>spec-PPPP-MMMMM-FFFF.fits</code> (DR8+, may be gzipped). Optionally type "
                    "its AllWISE W1–W4 Vega magnitudes first (σ in mag; tick UL for a 95% upper limit), or paste "
                    "its AllWISE row (<code>w1mpro, w1sigmpro, …, w4sigmpro</code>; a null σ is an upper limit). "
                    "Without ugriz photometry the predictor uses training means for it, which costs accuracy."
                ),
                widgets.HBox([widgets.VBox(grid), widgets.VBox([self.upload, self.apply])]),
                widgets.HBox([self.paste, self.read_row]),
                self.message,
            ]
        )

    def wise_inputs(self) -> dict:
        """Typed WISE photometry: band -> (mag, sigma, is_ul). ValueError on a bad entry."""
        out = {}
        for b in WISE_BANDS:
            m = parse_number(self.mag[b].value, f"{b} magnitude")
            s = parse_number(self.sig[b].value, f"{b} σ")
            if math.isfinite(s) and s <= 0:
                raise ValueError(f"{b} σ must be positive, got {s}")
            out[b] = (m, s, bool(self.ul[b].value))
        return out

    def _boxes(self) -> tuple:
        return tuple((self.mag[b].value, self.sig[b].value, self.ul[b].value) for b in WISE_BANDS)

    def read_allwise(self, show: bool = True) -> PastedWise | None:
        """Read the pasted AllWISE row into the W1-W4 boxes (and re-show an uploaded spectrum
        with it when ``show``); None, with the problem in the page, when the text is unusable."""
        text = self.paste.value
        try:
            pw = parse_allwise_row(text)
        except WiseTableError as exc:
            self._error(str(exc))
            return None
        except Exception as exc:  # anything the reader did not foresee: still a message
            self._error(f"{PASTED_ROW}: {type(exc).__name__}: {exc}")
            return None
        for b, (mag, sig, ul) in pw.bands.items():
            have = math.isfinite(mag)
            self.mag[b].value = repr(mag) if have else ""  # repr: the number exactly as read
            self.sig[b].value = repr(sig) if have and not ul and math.isfinite(sig) else ""
            self.ul[b].value = bool(ul and have)
        self._pasted, self._pasted_text, self._pasted_boxes = pw, text, self._boxes()
        if show and self._spectrum is not None:
            self._show(
                self._spectrum, self.wise_inputs(), str(self._spectrum.meta.get("path", self._spectrum.id))
            )
        else:
            self.message.value = (
                f"<div class='irox-upload-msg irox-ok' style='color:#009E73'>✔ {PASTED_ROW}"
                f"{' ' + html.escape(pw.id) if pw.id else ''} read into the W1–W4 boxes"
                f"{self._pasted_notes(None)}; now upload its SDSS spectrum.</div>"
            )
        return pw

    def _pasted_notes(self, spec) -> str:
        """Bands the pasted row could not give, and a position mismatch with ``spec`` (HTML)."""
        pw = self._pasted
        out = ""
        if pw.skipped:
            out += "".join(
                f" <span class='irox-warn' style='color:#D55E00'>({b} not used: {html.escape(r)})</span>"
                for b, r in pw.skipped.items()
            )
        meta = (spec.meta or {}) if spec is not None else {}
        sep = separation_arcsec(
            pw.ra_deg, pw.dec_deg, meta.get("ra_deg", math.nan), meta.get("dec_deg", math.nan)
        )
        if math.isfinite(sep) and sep > MATCH_RADIUS_ARCSEC:
            out += (
                f" <span class='irox-warn' style='color:#D55E00'>(the {PASTED_ROW} is {sep:.1f}″ from the "
                "spectrum's position: is it the same galaxy?)</span>"
            )
        return out

    def _error(self, text: str) -> None:
        self.message.value = (
            f"<div class='irox-upload-msg irox-error' style='color:#D55E00'>⚠ {html.escape(text)}</div>"
        )

    def _on_upload(self, change) -> None:
        files = change["new"]
        if not files:
            return
        f = files[0]
        name = (
            str(f.get("name", "upload.fits"))
            if isinstance(f, dict)
            else str(getattr(f, "name", "upload.fits"))
        )
        content = memoryview(f["content"] if isinstance(f, dict) else f.content)
        self.upload.value = ()  # forget the widget's bytes; the same file can be uploaded again
        if not self._too_large(name, content.nbytes):  # checked before the bytes are even copied
            self.handle_bytes(name, bytes(content))

    def _too_large(self, name: str, n_bytes: int) -> bool:
        """Refuse (with a message naming the limit) a file larger than ``max_upload_bytes``."""
        if n_bytes <= self.max_upload_bytes:
            return False
        self._error(
            f"Could not use {name}: the file is {n_bytes / 1024**2:.1f} MB, larger than the upload limit of "
            f"{self.max_upload_bytes / 1024**2:.0f} MB (an SDSS spec file is under ~10 MB)"
        )
        return True

    def handle_bytes(self, name: str, data: bytes):
        """Read an uploaded file's bytes and show it; returns the GalaxySpectrum or None."""
        if self._too_large(name, len(data)):  # before anything is written
            return None
        if self.paste.value.strip() and self.paste.value != self._pasted_text:
            # a row pasted but not read yet: read it now (a bad row stops here, with its message)
            if self.read_allwise(show=False) is None:
                return None
        try:
            wise = self.wise_inputs()
        except ValueError as exc:
            self._error(str(exc))
            return None
        spec = self._read_spectrum(name, data)
        if spec is None:
            return None
        spec.meta["path"] = name
        self._spectrum = spec
        return self._show(spec, wise, name)

    def _read_spectrum(self, name: str, data: bytes):
        """The upload's GalaxySpectrum, or None with the reader's message in the page (the
        temporary path replaced by ``name``). The bytes go into a private temporary directory
        (mode 0700) under a fixed name (nothing of ``name`` reaches the file system), and the
        directory is removed whatever happens."""
        from ..io.sdss import read_sdss_spectrum

        suffix = ".fits.gz" if name.lower().endswith(".gz") else ".fits"
        with tempfile.TemporaryDirectory(prefix="irox-upload-") as tmp:
            path = Path(tmp) / f"upload{suffix}"
            try:
                path.write_bytes(data)
                return read_sdss_spectrum(path, max_decompressed_bytes=self.max_decompressed_bytes)
            except SpectrumFileError as exc:
                self._error(f"Could not use {name}: {str(exc).replace(str(path), name)}")
            except Exception as exc:  # anything else the reader did not foresee: still a message
                self._error(
                    f"Could not use {name}: {type(exc).__name__}: {str(exc).replace(str(path), name)}"
                )
        return None

    def _show(self, spec, wise, name):
        try:
            self.state.show_upload(spec, upload_row(spec, wise))
        except Exception as exc:  # a model failure on odd input must not break the page
            self._error(f"{name} was read but could not be shown: {type(exc).__name__}: {exc}")
            return None
        n_w = sum(math.isfinite(v[0]) for v in wise.values())
        no_sig = [
            b for b, (m, sg, ul) in wise.items() if math.isfinite(m) and not ul and not math.isfinite(sg)
        ]
        pasted = self._pasted is not None and self._boxes() == self._pasted_boxes
        source = (
            f"from the pasted {PASTED_ROW}" + (f" {html.escape(self._pasted.id)}" if self._pasted.id else "")
            if pasted
            else "typed in"
        )
        self.message.value = (
            f"<div class='irox-upload-msg irox-ok' style='color:#009E73'>✔ showing {html.escape(name)}: "
            f"{html.escape(spec.id)}, z = {spec.z:.4f}, {spec.n_good_pix} good pixels, "
            f"{n_w} WISE band{'s' if n_w != 1 else ''} {source}"
            + (f" (σ = {DEFAULT_SIGMA_MAG} mag assumed for {', '.join(no_sig)})" if no_sig else "")
            + (self._pasted_notes(spec) if pasted else "")
            + ".</div>"
        )
        return spec

    def _reapply(self) -> None:
        if self._spectrum is None:
            self._error("upload a spectrum first")
            return
        try:
            wise = self.wise_inputs()
        except ValueError as exc:
            self._error(str(exc))
            return
        self._show(self._spectrum, wise, str(self._spectrum.meta.get("path", self._spectrum.id)))
