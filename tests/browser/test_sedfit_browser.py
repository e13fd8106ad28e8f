"""The SED-fit overlay in a real browser (issue 16): shown for a galaxy with a fit in the
catalog's SED-fit table, absent with a note for one without.

The catalog is a copy of the demo; a tiny fixture table of fake fits (no bagpipes needed) of its
row 0, the galaxy the page opens on, sits beside it as ``<catalog>.sedfit.h5``.
"""

from __future__ import annotations

import shutil

import pytest

from explorer.testing.browser import VoilaServer, open_app, text_of

from .conftest import REPO, serious

pytestmark = pytest.mark.browser

#: the legend entry of the SED fit's draws and the length of their data (4 WISE bands per draw)
LEGEND_JS = """() => {
  const out = [];
  for (const doc of (window.Bokeh && Bokeh.documents) || []) {
    for (const m of doc.all_models) {
      const label = m.label && (m.label.value !== undefined ? m.label.value : m.label);
      if (typeof label === 'string' && label.startsWith('SED-fit draws')) {
        const xs = m.renderers[0].data_source.data.xs;
        out.push([m.visible, xs ? xs.length : -1]);
      }
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def sedfit_app(tmp_path_factory, app_env):
    from explorer.catalog import Catalog
    from explorer.paths import DEMO_CATALOG
    from explorer.testing.sedfit import write_fixture_table

    root = tmp_path_factory.mktemp("sedfit_app")
    shutil.copy(DEMO_CATALOG, root / "cat.h5")
    cat = Catalog(root / "cat.h5")
    write_fixture_table(cat, [0], root / "cat.sedfit.h5", root / "work")
    cat.close()
    env = dict(app_env, IROX_CATALOG=str(root / "cat.h5"), IROX_USER_CATALOGS=str(root / "user"))
    server = VoilaServer(REPO / "app.ipynb", env=env)
    yield server
    server.stop()


def test_overlay_for_a_galaxy_with_a_fit_and_a_note_without(sedfit_app, page_with_console):
    page = page_with_console
    open_app(page, sedfit_app.url)
    page.wait_for_selector(".irox-sedfit", timeout=30_000)
    assert "SED fit" in text_of(page, ".irox-sedfit") and "no SED fit" not in text_of(page, ".irox-sedfit")
    assert page.locator(".irox-chi .irox-sed-pred").count() == 4  # its prediction beside ours
    page.wait_for_function(f"() => ({LEGEND_JS})().some(([v, n]) => v && n > 0)", timeout=15_000)

    page.get_by_role("button", name="next ▶").click()  # a galaxy without a fit
    page.wait_for_selector(".irox-sedfit-none", timeout=15_000)
    assert "no SED fit of this galaxy" in text_of(page, ".irox-sedfit")
    assert page.locator(".irox-chi .irox-sed-pred").count() == 0
    page.wait_for_function(f"() => ({LEGEND_JS})().every(([v, n]) => !v && n === 0)", timeout=15_000)
    assert serious(page) == []


#: the slider -> SED redraw budget, median (issue 5's target: benchmarks/app_bench.py TARGETS)
SLIDER_BUDGET_MS = 250.0
#: slider moves measured without and with the background fit (the benchmark's median of 20)
N_MOVES = 20
#: when the page is over the budget even without the fit (a machine loaded by other work), the
#: the median during the fit may exceed the larger of the budget and the median without the fit by
#: this factor at most (measured: ~1.25 x the median without it on a quiet 2-core machine)
LOADED_TOLERANCE = 1.35


def _slider_latencies_ms(
    page, n: int = N_MOVES, in_page: list | None = None
) -> tuple[list[float], list[str]]:
    """``n`` slider -> SED redraws (latent 1 to alternate ends, as benchmarks/app_bench.py does),
    in ms, and the fit's status line after each; the same moves on the page's clock (Enter event ->
    chi table changed, :func:`explorer.testing.browser.install_page_clock`) appended to ``in_page``."""
    from explorer.testing.browser import install_page_clock, last_page_move, move_slider

    install_page_clock(page)
    ms, status, ends = [], [], ("1000", "-1000")
    for _ in range(n):
        ms.append(1e3 * move_slider(page, "latent 1", values=ends))
        ends = ends[::-1]
        last = last_page_move(page)
        if in_page is not None and last and "sed" in last:
            in_page.append(last["sed"] - last["enter"])
        status.append(
            text_of(page, ".irox-sedfit-status") if page.locator(".irox-sedfit-status").count() else ""
        )
    return ms, status


def test_background_fit_does_not_delay_a_slider_redraw(sedfit_app, page_with_console, sdss_ngc3073):
    """The "fit with bagpipes" button on an uploaded spectrum, in the browser, with the production
    settings and process model (a spawned process; :mod:`explorer.sedfit.worker`).

    Measures, from the browser's side, the slider -> SED redraw latency (readout typed + Enter ->
    the chi table shows the new prediction; ``move_slider``, as the benchmark measures it) for
    ``N_MOVES`` moves before the fit and as many while the fit is sampling (its progress line shows
    likelihood calls after every move). Asserts that the median during the fit is at most
    ``LOADED_TOLERANCE`` times the larger of the slider budget (median <= 250 ms,
    ``benchmarks/app_bench.py``'s target) and the median without the fit; that the fit kept running without
    error meanwhile; and that cancel stops it, with "cancelled" left on show. Cancelling is what
    keeps the test cheap: the fit costs the machine only the seconds of the measurement.
    """
    import statistics

    pytest.importorskip("bagpipes", reason="the SED fit needs the optional 'simulate' extra (bagpipes)")
    page = page_with_console
    open_app(page, sedfit_app.url)
    summary = text_of(page, ".irox-summary")
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").click()
    chooser.value.set_files(str(sdss_ngc3073))
    page.wait_for_function(
        "before => document.querySelector('.irox-summary').innerText !== before", arg=summary, timeout=60_000
    )
    page.wait_for_selector(".irox-sedfit-none", timeout=15_000)  # an upload has no precomputed fit
    # the SDSS photometry table of tests/data (hand-written, plausible values) for this spectrum
    page.get_by_placeholder("total ugriz AB: u,g,r,i,z").fill("15.21,14.18,13.72,13.49,13.33")
    page.wait_for_timeout(500)  # the text reaches the kernel
    _slider_latencies_ms(page, 2)  # not measured: the first redraws of a page are slower
    idle_page, busy_page = [], []
    idle_ms, _ = _slider_latencies_ms(page, in_page=idle_page)

    page.get_by_role("button", name="fit with bagpipes").click()
    page.wait_for_selector(".irox-sedfit-status:has-text('likelihood calls')", timeout=120_000)
    busy_ms, status = _slider_latencies_ms(page, in_page=busy_page)
    for s in status:  # sampling, no error, through every move
        assert "likelihood calls" in s and "failed" not in s and "ended" not in s, status
    print(
        f"slider -> SED median: {statistics.median(idle_ms):.0f} ms without the fit, "
        f"{statistics.median(busy_ms):.0f} ms while it runs (budget {SLIDER_BUDGET_MS:.0f} ms); "
        f"without {[round(x) for x in idle_ms]}, during {[round(x) for x in busy_ms]}; last status: {status[-1]}; "
        f"on the page's clock (Enter -> table) {statistics.median(idle_page or [float('nan')]):.0f} ms without, "
        f"{statistics.median(busy_page or [float('nan')]):.0f} ms during"
    )
    idle, busy = statistics.median(idle_ms), statistics.median(busy_ms)
    # on 2 cores a running fit costs the page ~25 % (quiet machine: 202 -> 254 ms and 194 -> 249 ms,
    # SCHED_IDLE and niceness notwithstanding), i.e. it sits at the budget's edge; this guards the
    # process model against regressions (a fit in the kernel's thread, or one using every core)
    assert busy <= LOADED_TOLERANCE * max(idle, SLIDER_BUDGET_MS), (idle_ms, busy_ms)

    page.get_by_role("button", name="cancel").click()
    page.wait_for_selector(".irox-sedfit-status:has-text('cancelled')", timeout=15_000)
    page.wait_for_timeout(1500)  # a progress message still queued must not overwrite "cancelled"
    assert text_of(page, ".irox-sedfit-status") == "cancelled"
    assert serious(page) == [], (page.console_errors, page.failed_requests)
