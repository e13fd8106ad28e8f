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
from explorer.constants import WAVE_OBS_VAC_AA

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
