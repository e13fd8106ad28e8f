"""The dashboard on a real catalog in a real browser (issue 13's acceptance).

``python -m explorer build-catalog`` makes a 2-galaxy catalog from ppxf's two SDSS DR18 spectra,
the hand-written AllWISE table and the SDSS photometry table; Voila opens it through
``IROX_CATALOG``. The model is ``models/default`` (else random weights) copied to a temporary
folder with a ``domain.json`` computed from the demo catalog, so the page can say that these
z ≈ 0.004 galaxies lie below the training redshifts.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from explorer.testing.browser import VoilaServer, open_app, text_of, wait_text_change

from .conftest import REPO, serious

pytestmark = pytest.mark.browser

DATA = REPO / "tests" / "data"
IDS = ("0945-52652-0470", "2488-54149-0001")


@pytest.fixture(scope="module")
def real_app(tmp_path_factory, sdss_ngc3073, sdss_ngc3522, app_env):
    """Voila on the ppxf catalog with a domain-aware copy of the test models."""
    from explorer.ml.domain import domain_reference
    from explorer.ml.registry import load_models
    from explorer.paths import DEMO_CATALOG

    root = tmp_path_factory.mktemp("real_app")
    (root / "spectra").mkdir()
    for f in (sdss_ngc3073, sdss_ngc3522):
        shutil.copy(f, root / "spectra")
    cat = root / "ppxf.h5"
    subprocess.run(
        [sys.executable, "-m", "explorer", "build-catalog", str(root / "spectra"),
         "--wise", str(DATA / "allwise_ppxf.tbl"), "--photometry", str(DATA / "sdss_photometry_ppxf.csv"),
         "--out", str(cat), "--workers", "1", "--quiet"],
        cwd=REPO, check=True, timeout=300,
    )  # fmt: skip
    models = root / "models"
    shutil.copytree(app_env["IROX_MODELS"], models)
    if not (models / "domain.json").exists():  # models/default ships one (from its training run)
        domain_reference(load_models(models), DEMO_CATALOG, max_rows=1000, save=True)
    env = dict(app_env, IROX_MODELS=str(models), IROX_CATALOG=str(cat), IROX_USER_CATALOGS=str(root / "user"))
    server = VoilaServer(REPO / "app.ipynb", env=env)
    yield server
    server.stop()


def test_real_catalog_opens_with_both_galaxies_and_the_domain_warning(real_app, page_with_console):
    page = page_with_console
    open_app(page, real_app.url)
    body = page.inner_text("body")
    assert "No models loaded" not in body
    assert "2 galaxies from ppxf.h5" in text_of(page, ".irox-catalog")
    assert "simulated" not in text_of(page, ".irox-catalog")
    # the picker's table: both galaxies, no class column (no simulation truth)
    page.wait_for_selector(".slick-row", timeout=30_000)
    rows = [
        page.locator(".slick-row").nth(i).locator(".slick-cell").first.inner_text().strip() for i in range(2)
    ]
    assert sorted(rows) == list(IDS) and page.locator(".slick-row").count() == 2
    headers = page.locator(".slick-header-column").all_inner_texts()
    assert "class" not in [h.strip() for h in headers]
    # beside the prediction: the out-of-domain warning with its reason, for each galaxy
    for _ in range(2):
        warn = page.locator(".irox-ood")
        warn.first.wait_for(state="visible", timeout=15_000)
        text = warn.first.inner_text()
        assert "Out of the model's training domain" in text and "outside training range" in text
        assert "z=0.00" in text
        summary = text_of(page, ".irox-summary")
        page.get_by_role("button", name="next ▶").click()
        wait_text_change(page, ".irox-summary", summary)
    assert not serious(page), serious(page)
