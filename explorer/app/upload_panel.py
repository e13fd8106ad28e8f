"""Your own data: an SDSS spec FITS upload (+ optional WISE magnitudes typed in) -> the same panels.

The bytes are written to a temporary file and read by :func:`explorer.io.sdss.read_sdss_spectrum`;
any problem (not FITS, truncated, every pixel masked, z outside the accepted range, ...) is shown
in the page as the reader's message and the app keeps the galaxy it was showing.
"""

from __future__ import annotations

import html
import math
import tempfile
from pathlib import Path

import ipywidgets as widgets
import numpy as np

from ..constants import WISE_BANDS, vega_mag_to_mjy
from ..errors import SpectrumFileError
from .state import ExplorerState

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


def upload_row(spectrum, wise: dict | None = None) -> dict:
    """Catalog-like row of an uploaded spectrum.

    Parameters
    ----------
    spectrum : GalaxySpectrum
    wise : dict band -> (mag_vega, sigma_mag, is_upper_limit), optional
        Typed WISE photometry; bands left out (or with NaN magnitude) are unknown.
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
    for k, b in enumerate(WISE_BANDS):
        mag, sig, ul = wise.get(b, (math.nan, math.nan, False))
        key = b.lower()
        have = math.isfinite(mag)
        f = float(vega_mag_to_mjy(mag, k)) if have else math.nan
        # no sigma typed for a detection: DEFAULT_SIGMA_MAG (the page says so)
        sig = math.nan if (ul or not have) else (sig if math.isfinite(sig) else DEFAULT_SIGMA_MAG)
        row[f"{key}_mag_vega"] = mag if have else math.nan
        row[f"{key}_sigma_mag"] = sig
        row[f"{key}_is_ul"] = bool(ul and have)
        row[f"{key}_flux_mjy"] = f
        # flux error from the magnitude error: dF = F * 0.4 ln(10) dm (first order)
        row[f"{key}_flux_err_mjy"] = f * 0.4 * math.log(10) * sig if math.isfinite(sig) else math.nan
    return row


class UploadPanel:
    """FileUpload for an SDSS spec FITS, boxes for W1-W4 magnitudes, and a message line."""

    def __init__(self, state: ExplorerState):
        self.state = state
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
        self.message = widgets.HTML()
        self._spectrum = None
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
                    "its AllWISE W1–W4 Vega magnitudes first (σ in mag; tick UL for a 95% upper limit). "
                    "Without ugriz photometry the predictor uses training means for it, which costs accuracy."
                ),
                widgets.HBox([widgets.VBox(grid), widgets.VBox([self.upload, self.apply])]),
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
        content = f["content"] if isinstance(f, dict) else f.content
        data = bytes(content)
        self.upload.value = ()  # forget the bytes; the same file can be uploaded again
        self.handle_bytes(name, data)

    def handle_bytes(self, name: str, data: bytes):
        """Read an uploaded file's bytes and show it; returns the GalaxySpectrum or None."""
        from ..io.sdss import read_sdss_spectrum

        try:
            wise = self.wise_inputs()
        except ValueError as exc:
            self._error(str(exc))
            return None
        suffix = ".fits.gz" if name.lower().endswith(".gz") else ".fits"
        with tempfile.TemporaryDirectory(prefix="irox-upload-") as tmp:
            path = Path(tmp) / (Path(name).name or f"upload{suffix}")
            path.write_bytes(data)
            try:
                spec = read_sdss_spectrum(path)
            except SpectrumFileError as exc:
                self._error(f"Could not use {name}: {str(exc).replace(str(path), name)}")
                return None
            except Exception as exc:  # anything else the reader did not foresee: still a message
                self._error(f"Could not use {name}: {type(exc).__name__}: {exc}")
                return None
        spec.meta["path"] = name
        self._spectrum = spec
        return self._show(spec, wise, name)

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
        self.message.value = (
            f"<div class='irox-upload-msg irox-ok' style='color:#009E73'>✔ showing {html.escape(name)}: "
            f"{html.escape(spec.id)}, z = {spec.z:.4f}, {spec.n_good_pix} good pixels, "
            f"{n_w} WISE band{'s' if n_w != 1 else ''} typed in"
            + (f" (σ = {DEFAULT_SIGMA_MAG} mag assumed for {', '.join(no_sig)})" if no_sig else "")
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
