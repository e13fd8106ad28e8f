"""Talk figures: pure functions returning a Figure; PNG/SVG/PDF exports keep text as text."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zlib

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from explorer.attribution.engine import attribute
from explorer.attribution.figures import OKABE_ITO, plot_attribution, plot_line_ranking, save_figure
from explorer.attribution.lines import line_shares, sample_line_ranking
from explorer.attribution.toys import WindowModel, toy_spectrum
from explorer.constants import LINES, WAVE_OBS_VAC_AA

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def halpha_result():
    z = 0.1
    gal = toy_spectrum(z, seed=0)
    bases = np.stack([toy_spectrum(z, seed=s, line_scale={"Halpha": 0.2}).flux for s in range(3)])
    return gal, attribute(WindowModel("Halpha", z), gal, "W3", baselines=bases)


def _svg_texts(path):
    root = ET.parse(path).getroot()
    return ["".join(el.itertext()) for el in root.iter("{http://www.w3.org/2000/svg}text")]


def test_plot_attribution_returns_figure_with_labelled_top_line(halpha_result):
    gal, res = halpha_result
    fig = plot_attribution(gal, res, target_label="W3 (mag)", top_n=3)
    assert isinstance(fig, Figure)
    ax_s, ax_a = fig.axes
    assert fig.irox_labels[0].startswith("Hα ")
    assert "100%" in fig.irox_labels[0]
    assert "Å" in ax_a.get_xlabel() and "observed" in ax_a.get_xlabel()
    assert "erg" in ax_s.get_ylabel() and "W3 (mag)" in ax_a.get_ylabel()
    # positive attribution drawn in Okabe-Ito vermillion
    colours = {tuple(np.round(c.get_facecolor()[0][:3], 3)) for c in ax_a.collections if len(c.get_paths())}
    vermillion = tuple(np.round([int(OKABE_ITO["vermillion"][i : i + 2], 16) / 255 for i in (1, 3, 5)], 3))
    assert vermillion in colours
    # rest frame: x axis spans the grid divided by (1+z)
    fig_r = plot_attribution(gal, res, frame="rest")
    lo, hi = fig_r.axes[1].get_xlim()
    assert lo == pytest.approx(WAVE_OBS_VAC_AA[0] / 1.1) and hi == pytest.approx(WAVE_OBS_VAC_AA[-1] / 1.1)
    assert "rest-frame" in fig_r.axes[1].get_xlabel()
    with pytest.raises(ValueError, match="frame"):
        plot_attribution(gal, res, frame="galactic")


def test_save_png_svg_pdf(tmp_path, halpha_result):
    gal, res = halpha_result
    fig = plot_attribution(gal, res, target_label="W3 (mag)", top_n=4)
    png = save_figure(fig, tmp_path / "a.png")
    svg = save_figure(fig, tmp_path / "a.svg")
    pdf = save_figure(fig, tmp_path / "sub" / "a.pdf")
    # PNG at 300 dpi: 10 x 6 inch -> 3000 x 1800 pixels
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    assert (w, h) == (3000, 1800)
    # SVG: the line labels are <text> elements, not paths
    texts = _svg_texts(svg)
    for label in fig.irox_labels:
        assert label in texts, (label, texts[:20])
    assert any("Hα" in t for t in texts)
    # PDF: TrueType (Type 42) fonts, text not converted to Type 3 outlines
    raw = pdf.read_bytes()
    assert raw.startswith(b"%PDF")
    streams = [raw] + [
        zlib.decompress(m) for m in re.findall(rb"stream\r?\n(.*?)endstream", raw, re.S) if _inflates(m)
    ]
    blob = b"".join(streams)
    assert b"/TrueType" in blob or b"/CIDFontType2" in blob
    assert b"/Type3" not in blob
    with pytest.raises(ValueError, match="unsupported extension"):
        save_figure(fig, tmp_path / "a.jpg")


def _inflates(data: bytes) -> bool:
    try:
        zlib.decompress(data)
    except zlib.error:
        return False
    return True


def test_plot_line_ranking(tmp_path, halpha_result):
    gal, res = halpha_result
    shares = [line_shares(res)]
    for s in (1, 2):
        g = toy_spectrum(0.1, seed=s)
        shares.append(
            line_shares(attribute(WindowModel("Halpha", 0.1), g, "W3", baselines=np.ones((1, g.flux.size))))
        )
    rk = sample_line_ranking(shares)
    fig = plot_line_ranking(rk, "W3 (mag)", top_n=5)
    assert isinstance(fig, Figure)
    assert fig.irox_labels[0] == "Hα"
    assert "W3 (mag)" in fig._suptitle.get_text() and "3 galaxies" in fig._suptitle.get_text()
    svg = save_figure(fig, tmp_path / "rank.svg")
    texts = _svg_texts(svg)
    assert any(t.startswith("Hα (n=3)") for t in texts)


def test_figure_on_a_real_sdss_spectrum(tmp_path, sdss_ngc3073):
    """NGC 3073 (real SDSS DR18 file shipped with ppxf): a star-forming dwarf with strong Halpha."""
    from explorer.io.sdss import read_sdss_spectrum

    spec = read_sdss_spectrum(sdss_ngc3073)
    res = attribute(WindowModel("Halpha", spec.z, dtype=torch.float32), spec, "W3", baselines=None)
    assert res.settings["baseline_kind"] == "smooth"  # the galaxy with its lines smoothed away
    assert res.converged and line_shares(res).top_lines(1) == ["Halpha"]
    fig = plot_attribution(spec, res, frame="rest", target_label="W3 (mag)")
    assert fig.irox_labels[0].startswith("Hα")
    texts = _svg_texts(save_figure(fig, tmp_path / "ngc3073.svg"))
    assert fig.irox_labels[0] in texts


def _text_boxes(fig):
    """Pixel boxes of the visible, non-empty text artists of a drawn figure, tick labels aside
    (matplotlib keeps tick labels outside the view limits as undrawn artists: the axes' tight
    boxes, checked separately, cover the drawn ones)."""
    from matplotlib.axis import Tick

    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    ticks = {id(t) for tick in fig.findobj(Tick) for t in (tick.label1, tick.label2)}
    out = []
    for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_window_extent")):
        if t.get_visible() and t.get_text().strip() and id(t) not in ticks:
            out.append((t.get_text(), t.get_window_extent(renderer)))
    out += [(f"axes {i} with its tick labels", ax.get_tightbbox(renderer)) for i, ax in enumerate(fig.axes)]
    return out


def _assert_disjoint_and_inside(fig, names):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    boxes = _text_boxes(fig)
    canvas = fig.bbox
    for text, box in boxes:
        assert box.x0 >= canvas.x0 - 0.5 and box.x1 <= canvas.x1 + 0.5, f"{text!r} sticks out sideways"
        assert box.y0 >= canvas.y0 - 0.5 and box.y1 <= canvas.y1 + 0.5, f"{text!r} sticks out vertically"
    labels = [(t, b) for t, b in boxes if any(t.startswith(n) for n in names)]
    assert len(labels) == len(names)
    for i, (ta, a) in enumerate(labels):
        for tb, b in labels[i + 1 :]:
            assert not a.overlaps(b), f"line labels {ta!r} and {tb!r} overlap"


@pytest.mark.parametrize("frame", ["observed", "rest"])
def test_line_labels_never_overlap_on_a_real_spectrum(sdss_ngc3522, frame):
    """NGC 3522 (z = 0.004): CaII K, CaII H, FeI 4046, SrII, Hdelta and the G band all within
    ~400 A; with every one of them among the top lines their labels must still be disjoint and
    inside the canvas (they overlapped before the placement measured the boxes)."""
    from explorer.attribution.lines import line_label, line_windows
    from explorer.io.sdss import read_sdss_spectrum

    spec = read_sdss_spectrum(sdss_ngc3522)
    crowd = ["CaII K", "CaII H", "FeI 4046", "SrII 4078", "Hdelta", "G band", "Hgamma", "CaII triplet"]
    attr = np.zeros_like(WAVE_OBS_VAC_AA)
    for k, w in enumerate(x for x in line_windows(LINES, spec.z) if x.name in crowd):
        attr[(WAVE_OBS_VAC_AA >= w.lo_obs_aa) & (WAVE_OBS_VAC_AA <= w.hi_obs_aa)] = 1.0 + 0.1 * k
    fig = plot_attribution(spec, attr, target_label="W3 (mag)", top_n=len(crowd), frame=frame)
    assert len(fig.irox_labels) == len(crowd)
    _assert_disjoint_and_inside(fig, [line_label(n) for n in crowd])


def test_out_of_domain_caption(sdss_ngc3522):
    from explorer.io.sdss import read_sdss_spectrum

    spec = read_sdss_spectrum(sdss_ngc3522)
    attr = np.random.default_rng(0).normal(size=WAVE_OBS_VAC_AA.size)
    fig = plot_attribution(spec, attr, target_label="W3 (mag)", out_of_domain="z = 0.0042 below 0.02")
    assert fig.irox_caption == "z = 0.0042 below 0.02"
    texts = [t for t, _ in _text_boxes(fig)]
    assert any("outside the model's training domain: z = 0.0042 below 0.02" in t for t in texts)
    assert plot_attribution(spec, attr).irox_caption == ""


def test_ranking_axis_labels_inside_the_canvas(halpha_result):
    gal, res = halpha_result
    rk = sample_line_ranking([line_shares(res, gal.z, weight=gal.weight)])
    fig = plot_line_ranking(rk, "W3 (mag)", top_n=5)
    _assert_disjoint_and_inside(fig, [])
