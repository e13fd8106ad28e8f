"""The mid-IR spectrum section in a real browser (issue 15): drawn with its bands, and a latent
slider redraws it within the SED panel's budget (median <= 250 ms).

The models are a random-weight encoder and predictor with a tiny ``midir.pt`` trained on a toy
catalog with planted rest-frame IR spectra (the same fixture as tests/test_app_midir_panel.py);
the page opens on that catalog. The latency is measured as ``benchmarks/app_bench.py`` measures
the SED's: a slider's readout set + Enter -> the panel's text (sent after its plot patch) changes.
"""

from __future__ import annotations

import os
import shutil
import statistics

import pytest

from explorer.testing.browser import VoilaServer, move_slider, open_app, text_of

from .conftest import REPO, serious

pytestmark = pytest.mark.browser

#: median slider -> redrawn mid-IR spectrum (ms), the SED panel's budget (benchmarks/app_bench.py)
BUDGET_MS = 250.0
#: on a machine so loaded that the SED table itself misses the budget, the mid-IR redraw may take
#: at most this factor times the SED table's median of the same session (the panel must add little)
LOADED_TOLERANCE = 1.25

#: length and smallest value of the mid-IR band's columns (the SED's band has 4 points)
BAND_JS = """() => {
  const out = [];
  for (const doc of (window.Bokeh && Bokeh.documents) || []) {
    for (const m of doc.all_models) {
      const d = m.data;
      if (d && d.q975 !== undefined && d.q025 !== undefined && d.wave && d.wave.length > 10) {
        const lo = Array.from(d.q025), hi = Array.from(d.q975);
        out.push([d.wave.length, Math.min(...lo), lo.every((v, i) => v <= hi[i])]);
      }
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def midir_app(tmp_path_factory, app_env):
    from explorer.testing.models import write_random_models, write_tiny_midir
    from explorer.testing.toy import make_toy_catalog

    root = tmp_path_factory.mktemp("midir_browser")
    cat = make_toy_catalog(root / "toy_ir.h5", n=300, seed=0, ir_rest=True)
    models = write_random_models(root / "models")
    write_tiny_midir(models, cat)
    env = dict(app_env, IROX_CATALOG=str(cat), IROX_MODELS=str(models), IROX_USER_CATALOGS=str(root / "user"))
    server = VoilaServer(REPO / "app.ipynb", env=env)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_midir_section_renders_and_follows_the_sliders(midir_app, page_with_console):
    page = page_with_console
    open_app(page, midir_app.url)
    page.wait_for_selector("text=Mid-IR spectrum (predicted, 3–35 µm)", timeout=30_000)
    page.wait_for_selector(".irox-midir-readout", timeout=30_000)
    assert "7.7 µm" in text_of(page, ".irox-midir-readout")
    assert page.locator(".irox-midir-note").count() == 0  # the model directory has a midir.pt
    page.wait_for_function(
        f"() => ({BAND_JS})().some(([n, lo, ok]) => n > 50 && lo > 0 && ok)", timeout=15_000
    )

    # ten slider moves timed at the SED table (the budget's reference, same session and load), then
    # ten at the mid-IR readout (sent after the mid-IR plot's patch, the last panel to redraw)
    timings = {}
    for name, watch in (("sed", ".irox-chi"), ("midir", ".irox-midir-readout")):
        ms, ends = [], ("1000", "-1000")
        for _ in range(10):
            ms.append(1e3 * move_slider(page, "latent 1", watch=watch, values=ends))
            ends = ends[::-1]
        timings[name] = ms
    assert "Prediction from the moved sliders." in text_of(page, ".irox-midir-readout")
    med = {k: statistics.median(v) for k, v in timings.items()}
    print(f"slider -> redraw, median of 10 (ms): SED table {med['sed']:.0f}, mid-IR {med['midir']:.0f}; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    assert med["midir"] <= BUDGET_MS or med["midir"] <= LOADED_TOLERANCE * med["sed"], (
        f"median slider -> mid-IR redraw {med['midir']:.0f} ms > {BUDGET_MS:.0f} ms (the SED table's in this "
        f"session: {med['sed']:.0f} ms; load average {os.getloadavg()[0]:.1f}): {sorted(round(t) for t in timings['midir'])}"
    )

    # the mode toggle redraws the prediction and says what the conditioning did
    before = text_of(page, ".irox-midir-readout")
    page.get_by_role("button", name="optical + WISE").click()
    page.wait_for_function(
        "b => { const t = document.querySelector('.irox-midir-readout').innerText; return t !== b && t.includes('conditioned on'); }",
        arg=before,
        timeout=15_000,
    )
    assert serious(page) == [], (page.console_errors, page.failed_requests)
