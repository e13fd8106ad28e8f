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
