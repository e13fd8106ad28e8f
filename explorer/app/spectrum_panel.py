"""Optical spectrum panel: the observed spectrum, the autoencoder's curves and the line markers.

Redraws from the state's :class:`~explorer.app.state.View`: everything when the galaxy or the
frame changes, only the model curves when the latents (or the models) change.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from bokeh.models import ColumnDataSource, HoverTool, LabelSet, Range1d
from bokeh.plotting import figure

from ..constants import LINES, WAVE_OBS_VAC_AA
from .bokeh_view import batched, bokeh_widget, hold_range
from .compute import empty_spectrum_arrays, galaxy_spectrum_arrays
from .state import ExplorerState
from .style import LINE_GROUP_COLOURS, OKABE_ITO


class SpectrumPanel:
    """Observed spectrum with 1-sigma band, masked pixels shaded, autoencoder reconstruction, the
    spectrum decoded from the current (slider) latents, line markers by group at (1+z) lambda_vac,
    observed/rest-frame toggle, hover readout."""

    GROUPS = ("absorption", "emission", "balmer")

    def __init__(self, state: ExplorerState):
        self.state = state
        self.src = ColumnDataSource(dict(wave=[], flux=[], lo=[], hi=[], recon=[]))
        # the slider curve has its own source: a slider move then re-maps only that glyph in the
        # browser, not the observed spectrum, its band and the reconstruction (halves the redraw)
        self.model_src = ColumnDataSource(dict(wave=[], decoded=[]))
        self.masked = ColumnDataSource(dict(wave=[], top=[], bottom=[]))
        self.lines = ColumnDataSource(dict(x=[], y0=[], y1=[], name=[], colour=[], group=[]))
        fig = figure(
            height=330,
            sizing_mode="stretch_width",
            tools="xpan,xwheel_zoom,box_zoom,reset,save",
            active_scroll="xwheel_zoom",
            x_axis_label="observed wavelength (vacuum) [Å]",
            y_axis_label="flux density [1e-17 erg s⁻¹ cm⁻² Å⁻¹]",
            # held (hold_range): fitted to the galaxy's curves, only widened by the slider curve, so
            # that a slider move does not make the browser re-measure and re-lay-out the plot
            y_range=Range1d(0.0, 1.0),
        )
        fig.vbar(
            x="wave", top="top", bottom="bottom", source=self.masked, color="#BBBBBB", alpha=0.5,
            width=float(np.median(np.diff(WAVE_OBS_VAC_AA))) * 1.5, legend_label="masked",
        )  # fmt: skip
        fig.varea(
            x="wave", y1="lo", y2="hi", source=self.src, color=OKABE_ITO[2], alpha=0.4, legend_label="±1σ"
        )
        r = fig.line(
            "wave", "flux", source=self.src, color=OKABE_ITO[0], line_width=1, legend_label="observed"
        )
        self.recon_renderer = fig.line(
            "wave", "recon", source=self.src, color=OKABE_ITO[6], line_width=1.3, alpha=0.85,
            legend_label="autoencoder reconstruction",
        )  # fmt: skip
        # on the overlay canvas: a slider move repaints this curve only, not the observed spectrum
        self.decoded_renderer = fig.line(
            "wave", "decoded", source=self.model_src, color=OKABE_ITO[5], line_width=1.5, line_dash="dashed",
            legend_label="decoded from sliders", level="overlay",
        )  # fmt: skip
        fig.segment(x0="x", x1="x", y0="y0", y1="y1", color="colour", source=self.lines, line_dash="dashed")
        fig.add_layout(
            LabelSet(
                x="x", y="y1", text="name", source=self.lines, angle=np.pi / 2, text_font_size="8pt",
                text_align="right", x_offset=-2, y_offset=-2,
            )
        )  # fmt: skip
        fig.add_tools(
            HoverTool(
                renderers=[r],
                mode="vline",
                tooltips=[
                    ("λ [Å]", "@wave{0.0}"),
                    ("observed", "@flux{0.00}"),
                    ("reconstruction", "@recon{0.00}"),
                ],
            ),
            HoverTool(
                renderers=[self.decoded_renderer], mode="vline", tooltips=[("decoded", "@decoded{0.00}")]
            ),
        )
        fig.legend.location = "top_right"
        fig.legend.click_policy = "hide"
        fig.legend.label_text_font_size = "8pt"
        self.figure = fig
        self.frame = widgets.ToggleButtons(
            options=["observed", "rest"], value="observed", description="Frame"
        )
        self.frame.observe(lambda c: state.set_rest_frame(c["new"] == "rest"), names="value")
        self.group_boxes = {
            g: widgets.Checkbox(
                value=True, description=f"{g} lines", indent=False, layout=widgets.Layout(width="140px")
            )
            for g in self.GROUPS
        }
        for cb in self.group_boxes.values():
            cb.observe(self._refresh_lines, names="value")
        self.note = widgets.HTML()
        self.bokeh_view = None
        state.observe(self._on_view, names="view")
        self._refresh()
        self.bokeh_view = bokeh_widget(fig)
        self.widget = widgets.VBox(
            [widgets.HBox([self.frame, *self.group_boxes.values()]), self.note, self.bokeh_view]
        )

    def _on_view(self, change) -> None:
        changed = change["new"].changed(change["old"])
        if changed & {"galaxy", "rest_frame"}:
            self._refresh()
        elif changed & {"reconstruction", "prediction", "models"}:
            # a slider move (or other models): only the model curves, so that the browser
            # re-maps only their glyphs
            self._refresh_model("reconstruction" in changed, "prediction" in changed)

    def data(self) -> dict:
        """Arrays the panel plots for the current state (also used by tests)."""
        if self.state.spectrum is None:  # a latent catalog: no observed spectrum
            return empty_spectrum_arrays(self.state.row, self.state.rest_frame)
        return galaxy_spectrum_arrays(self.state.spectrum, self.state.rest_frame)

    def _norm(self) -> float:
        s = self.state.spectrum
        return float(s.norm) if s is not None else float(self.state.row.get("spec_norm", np.nan))

    def _model_flux(self, normalized) -> np.ndarray:
        if normalized is None:
            return np.full(len(WAVE_OBS_VAC_AA), np.nan, np.float32)
        good_range = np.asarray(normalized) != 0  # the decoder is 0 outside its rest-frame range
        return np.where(good_range, np.asarray(normalized) * self._norm(), np.nan).astype(np.float32)

    def _refresh(self) -> None:
        with batched(self.bokeh_view):
            self._refresh_all()

    def _refresh_all(self):
        d = self.data()
        recon = self._model_flux(self.state.reconstruction)
        self._top_bottom = self._y_span(d["flux"] if np.isfinite(d["flux"]).any() else recon)
        top, bottom = self._top_bottom
        p = self.state.prediction
        self.src.data = dict(
            wave=d["wave"],
            flux=d["flux"].astype(np.float32),
            lo=d["lo"].astype(np.float32),
            hi=d["hi"].astype(np.float32),
            recon=recon,
        )
        self.model_src.data = dict(
            wave=d["wave"], decoded=self._model_flux(p.decoded_flux if p is not None else None)
        )
        hold_range(
            self.figure.y_range,
            [d["flux"], d["lo"], d["hi"], recon, self.model_src.data["decoded"], [bottom, top]],
            pad=0.05,
            refit=True,
        )
        self.masked.data = dict(
            wave=d["wave"][~d["good"]],
            top=np.full((~d["good"]).sum(), top),
            bottom=np.full((~d["good"]).sum(), bottom),
        )
        self._draw_lines()
        self.figure.xaxis.axis_label = (
            "rest-frame" if self.state.rest_frame else "observed"
        ) + " wavelength (vacuum) [Å]"
        self._note()

    @staticmethod
    def _y_span(flux) -> tuple[float, float]:
        fin = np.isfinite(flux)
        top = float(np.nanpercentile(flux[fin], 99.5)) * 1.15 if fin.any() else 1.0
        bottom = min(0.0, float(np.nanpercentile(flux[fin], 0.5))) if fin.any() else 0.0
        return top, bottom

    def _refresh_model(self, reconstruction: bool = True, prediction: bool = True) -> None:
        changed = []  # the curves redrawn: only they can widen the held y axis
        with batched(self.bokeh_view):
            if reconstruction:
                self.src.data["recon"] = self._model_flux(self.state.reconstruction)
                changed.append(self.src.data["recon"])
            if prediction:
                p = self.state.prediction
                self.model_src.data["decoded"] = self._model_flux(p.decoded_flux if p is not None else None)
                changed.append(self.model_src.data["decoded"])
            hold_range(self.figure.y_range, changed)
        self._note()

    def _note(self):
        if self.state.spectrum is None:
            self.note.value = (
                "<i>This catalog holds latents, not spectra: the curve is the decoder's spectrum at the "
                "galaxy's latents.</i>"
                if self.state.reconstruction is not None
                else "<i>No spectrum to show: this catalog holds latents, not spectra, and the loaded "
                "model has no decoder (no encoder.pt).</i>"
            )
        elif self.state.models is None or self.state.models.encoder is None:
            self.note.value = "<i>No autoencoder loaded: observed spectrum only.</i>"
        elif self.state.latents_moved:
            self.note.value = (
                "<i>Latent sliders moved: the dashed curve is the decoder's spectrum for them.</i>"
            )
        else:
            self.note.value = ""

    def _refresh_lines(self, *_):
        with batched(self.bokeh_view):
            self._draw_lines()

    def _draw_lines(self):
        top, bottom = self._top_bottom
        z_shift = 1.0 if self.state.rest_frame else 1.0 + float(self.state.row.get("z", 0.0))
        wave = self.src.data["wave"]
        lo, hi = wave[0], wave[-1]
        on = {g for g, cb in self.group_boxes.items() if cb.value}
        xs, names, colours, groups = [], [], [], []
        for line in LINES:
            x = line.center_aa * z_shift
            if lo < x < hi and line.group in on:
                xs.append(x)
                names.append(line.name)
                colours.append(LINE_GROUP_COLOURS[line.group])
                groups.append(line.group)
        self.lines.data = dict(
            x=xs, y0=[bottom] * len(xs), y1=[top] * len(xs), name=names, colour=colours, group=groups
        )
