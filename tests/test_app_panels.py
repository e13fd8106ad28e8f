"""Dashboard logic driven from Python: set state, assert on panel data."""

from __future__ import annotations

import html

import numpy as np
import pytest

from explorer.constants import N_PIX, WAVE_OBS_VAC_AA, vega_mag_to_mjy


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No models (observed data only), caches and exports under tmp_path, no catalog from the
    environment."""
    monkeypatch.delenv("IROX_CATALOG", raising=False)
    monkeypatch.setenv("IROX_MODELS", str(tmp_path / "no-models"))
    monkeypatch.setenv("IROX_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("IROX_EXPORT_DIR", str(tmp_path / "exports"))


@pytest.fixture()
def tiny_catalog(tmp_path, write_tiny_catalog):
    """The shared tiny catalog (tests/conftest.py) cut to 3 galaxies with the values these tests
    check: ids T-0..T-2, z 0.05/0.1/0.2, spec_norm 2/5/1, flat spectra near 1 with 100 pixels of
    galaxy 1 masked, r magnitudes 16/17/17.5 and galaxy 2 a W4 upper limit."""
    n = 3
    rng = np.random.default_rng(1)
    flux = 1.0 + 0.05 * rng.standard_normal((n, N_PIX))
    weight = np.full((n, N_PIX), 400.0)
    weight[1, 100:200] = 0.0  # masked stretch in galaxy 1
    is_ul = np.zeros((n, 4), bool)
    is_ul[2, 3] = True
    return write_tiny_catalog(
        tmp_path / "tiny.h5", n=n, flux=flux, weight=weight, is_ul=is_ul, sigma=np.full((n, 4), 0.05),
        mags=[[12.0, 12.1, 9.0, 7.0], [13.0, 12.0, 10.0, 7.5], [14.0, 14.1, 12.5, 8.0]],
        id=[f"T-{i}" for i in range(n)], z=[0.05, 0.1, 0.2], spec_norm=[2.0, 5.0, 1.0], split=["test"] * n,
        class_label=["star-forming", "agn", "quenched"], mag_r_total=[16.0, 17.0, 17.5],
    )  # fmt: skip


def test_select_galaxy_updates_panels(tiny_catalog):
    from explorer.app.build import build_app

    ui, state, panels = build_app(tiny_catalog)
    spec0 = panels["spectrum"].src.data["flux"].copy()
    sed0 = panels["sed"].det.data["flux"].copy()
    panels["picker"].next.click()
    assert state.index == 1
    assert panels["picker"].id_box.value == "T-1"
    # the spectrum is in physical units: normalized flux x norm (5.0 for galaxy 1)
    assert np.nanmedian(panels["spectrum"].src.data["flux"]) == pytest.approx(5.0, rel=0.02)
    assert not np.allclose(spec0, panels["spectrum"].src.data["flux"], equal_nan=True)
    assert len(panels["spectrum"].masked.data["wave"]) == 100
    assert not np.allclose(sed0, panels["sed"].det.data["flux"])


def test_catalog_from_argument_else_environment_else_demo(tiny_catalog, tmp_path, monkeypatch, capsys):
    import re
    import shlex

    from explorer.app.build import build_app, default_catalog_path
    from explorer.cli import main
    from explorer.errors import CatalogError
    from explorer.paths import DEMO_CATALOG

    assert default_catalog_path() == DEMO_CATALOG  # nothing set
    monkeypatch.setenv("IROX_CATALOG", "")
    assert default_catalog_path() == DEMO_CATALOG  # set but empty
    # what `python -m explorer serve --catalog PATH` hands the dashboard's kernel
    assert main(["serve", "--dry-run", "--catalog", str(tiny_catalog)]) == 0
    words = shlex.split(capsys.readouterr().out.splitlines()[-1])
    env = dict(w.split("=", 1) for w in words if re.match(r"[A-Z_]+=", w))  # VAR=value before the command
    monkeypatch.setenv("IROX_CATALOG", env["IROX_CATALOG"])
    _, state, _ = build_app()
    assert state.catalog.path.resolve() == tiny_catalog.resolve()
    # an explicit argument wins over the environment
    other = tiny_catalog.with_name("other.h5")
    other.write_bytes(tiny_catalog.read_bytes())
    _, state, _ = build_app(other)
    assert state.catalog.path.resolve() == other.resolve()
    # a missing file named by the environment says where the path came from
    monkeypatch.setenv("IROX_CATALOG", str(tmp_path / "nope.h5"))
    with pytest.raises(
        CatalogError, match=r"nope\.h5 \(the IROX_CATALOG environment variable\) does not exist"
    ):
        build_app()


def test_upper_limits_are_not_plotted_as_detections(tiny_catalog):
    from explorer.app.build import build_app

    _, state, panels = build_app(tiny_catalog)
    state.select(2)
    assert list(panels["sed"].ul.data["band"]) == ["W4"]
    assert list(panels["sed"].det.data["band"]) == ["W1", "W2", "W3"]


def test_rest_frame_and_line_markers(tiny_catalog):
    from explorer.app.build import build_app

    _, state, panels = build_app(tiny_catalog)
    state.select(1)  # z = 0.1
    names = list(panels["spectrum"].lines.data["name"])
    x_obs = dict(zip(names, panels["spectrum"].lines.data["x"]))
    assert x_obs["Halpha"] == pytest.approx(6564.61 * 1.1)
    state.set_rest_frame(True)
    x_rest = dict(zip(panels["spectrum"].lines.data["name"], panels["spectrum"].lines.data["x"]))
    assert x_rest["Halpha"] == pytest.approx(6564.61)
    assert panels["spectrum"].src.data["wave"][0] == pytest.approx(WAVE_OBS_VAC_AA[0] / 1.1)


def test_unknown_id_keeps_selection(tiny_catalog):
    from explorer.app.build import build_app

    _, state, panels = build_app(tiny_catalog)
    state.select(1)
    panels["picker"].id_box.value = "NOPE-42"
    assert state.index == 1
    assert "NOPE-42" in panels["picker"].message.value


def test_line_group_toggles(tiny_catalog):
    from explorer.app.build import build_app

    _, state, panels = build_app(tiny_catalog)
    sp = panels["spectrum"]
    state.select(1)
    groups = set(sp.lines.data["group"])
    assert groups == {"absorption", "emission", "balmer"}
    sp.group_boxes["emission"].value = False
    assert "emission" not in set(sp.lines.data["group"]) and "[OII]" not in sp.lines.data["name"]
    sp.group_boxes["balmer"].value = False
    assert set(sp.lines.data["group"]) == {"absorption"}
    state.select(2)  # the toggles survive a galaxy switch
    assert set(sp.lines.data["group"]) == {"absorption"}
    sp.group_boxes["emission"].value = True
    assert "Halpha" not in sp.lines.data["name"] and "[NII] 6583" in sp.lines.data["name"]


def test_no_models_message_in_page(tiny_catalog):
    from explorer.app.build import build_app

    ui, state, panels = build_app(tiny_catalog)
    assert state.models is None
    assert (
        "No models loaded" in panels["models"].status.value
        and "does not exist" in panels["models"].status.value
    )
    assert "No autoencoder loaded" in panels["spectrum"].note.value
    # the model curves are empty (NaN), the observed spectrum is there
    assert np.isnan(panels["spectrum"].src.data["recon"]).all()
    assert np.isfinite(panels["spectrum"].src.data["flux"]).any()


# --- sorting drives previous / next -------------------------------------------------------------
def test_sort_by_z_descending_drives_next_and_previous(tiny_catalog):
    from explorer.app.build import build_app

    _, state, panels = build_app(tiny_catalog)  # z = 0.05, 0.1, 0.2 in catalog order
    picker = panels["picker"]
    assert not picker.table.sortable  # headers do not sort: the dropdown is the one order
    picker.sort_by.value = "z"
    picker.sort_dir.value = "descending"
    assert list(picker.src.data["z"]) == [0.2, 0.1, 0.05]  # the table shows the sort
    state.select(1)  # z = 0.1
    picker.next.click()
    assert state.index == 0 and state.row["z"] == 0.05  # the next-lower z, not catalog row 2
    picker.next.click()
    assert state.index == 2  # wraps to the top of the table (highest z)
    picker.prev.click()
    assert state.index == 0
    # a click in the sorted table still picks the row shown there
    picker.src.selected.indices = [1]
    assert state.index == 1
    # ascending r magnitude: 16.0, 17.0, 17.5 -> rows 0, 1, 2
    picker.sort_by.value = "r"
    picker.sort_dir.value = "ascending"
    picker.next.click()
    assert state.index == 2
    # back to catalog order
    picker.sort_by.value = ""
    assert list(picker.src.data["index"]) == [0, 1, 2]


def test_sort_next_from_a_filtered_out_galaxy_goes_to_its_sort_neighbour(tiny_catalog):
    from explorer.app.build import build_app

    _, state, panels = build_app(tiny_catalog)
    picker = panels["picker"]
    picker.sort_by.value = "z"
    picker.sort_dir.value = "descending"
    state.select(1)  # z = 0.1, then filtered out by class
    picker.cls.value = "star-forming"  # only row 0 (z = 0.05) passes
    assert list(picker.src.data["index"]) == [0]
    picker.next.click()
    assert state.index == 0


def test_sort_rank_missing_values_last_and_stable():
    from explorer.app.picker_panel import PickerPanel

    v = np.array([2.0, np.nan, 1.0, 2.0, 3.0])
    assert list(np.argsort(PickerPanel.sort_rank(v))) == [2, 0, 3, 4, 1]
    assert list(np.argsort(PickerPanel.sort_rank(v, descending=True))) == [4, 0, 3, 2, 1]
    s = np.array(["b", "", "a", "b"])
    assert list(np.argsort(PickerPanel.sort_rank(s, descending=True))) == [0, 3, 2, 1]


# --- a pasted AllWISE row -----------------------------------------------------------------------
#: an AllWISE row as IRSA writes it (IPAC table), at NGC 3073's position; W4 a 95% upper limit
ALLWISE_IPAC = r"""\fixlen = T
|          designation|         ra|        dec|  w1mpro| w1sigmpro|  w2mpro| w2sigmpro|  w3mpro| w3sigmpro|  w4mpro| w4sigmpro|ph_qual|
|                 char|     double|     double|  double|    double|  double|    double|  double|    double|  double|    double|   char|
|                     |        deg|        deg|     mag|       mag|     mag|       mag|     mag|       mag|     mag|       mag|       |
|                 null|       null|       null|    null|      null|    null|      null|    null|      null|    null|      null|   null|
  J100052.07+553707.8  150.2169800  55.6188340   11.540      0.023   11.432      0.021    8.812      0.028    6.921       null    AAAU
"""


def test_pasted_allwise_row_drives_the_sed_panel(tiny_catalog, sdss_ngc3073):
    from explorer.app.build import build_app

    _, state, panels = build_app(tiny_catalog)
    up, sed = panels["upload"], panels["sed"]
    up.paste.value = ALLWISE_IPAC
    up.read_row.click()  # fills the boxes; no spectrum yet
    assert "irox-ok" in up.message.value and "upload its SDSS spectrum" in up.message.value
    assert (up.mag["W1"].value, up.sig["W1"].value, up.ul["W1"].value) == ("11.54", "0.023", False)
    assert (up.mag["W4"].value, up.sig["W4"].value, up.ul["W4"].value) == ("6.921", "", True)
    assert up.handle_bytes("NGC3073.fits", sdss_ngc3073.read_bytes()) is not None
    assert state.galaxy.source == "upload"
    assert "from the pasted AllWISE row J100052.07+553707.8" in up.message.value
    assert "irox-warn" not in up.message.value  # same position as the spectrum, all bands usable
    assert list(sed.det.data["band"]) == ["W1", "W2", "W3"]
    assert list(sed.ul.data["band"]) == ["W4"]  # the null sigma is an upper limit, drawn as one
    assert sed.ul.data["flux"][0] == pytest.approx(vega_mag_to_mjy(6.921, 3))
    assert sed.det.data["flux"][2] == pytest.approx(vega_mag_to_mjy(8.812, 2))
    f1 = vega_mag_to_mjy(11.54, 0)
    assert sed.det.data["hi"][0] - sed.det.data["flux"][0] == pytest.approx(f1 * 0.4 * np.log(10) * 0.023)
    assert "&gt; 6.92 (UL)" in sed.chi_table.value


def test_pasted_csv_row_applies_to_the_uploaded_spectrum(tiny_catalog, sdss_ngc3073):
    """CSV with extra columns, upper-case names, an empty sigma (upper limit), an unusable W3
    (ph_qual X) and a position 20" away: read, W3 left out and the page says why and warns."""
    from explorer.app.build import build_app

    _, state, panels = build_app(tiny_catalog)
    up, sed = panels["upload"], panels["sed"]
    up.handle_bytes("NGC3073.fits", sdss_ngc3073.read_bytes())
    up.paste.value = (
        "cntr,RA,DEC,W1MPRO,W1SIGMPRO,W2MPRO,W2SIGMPRO,W3MPRO,W3SIGMPRO,W4MPRO,W4SIGMPRO,PH_QUAL,cc_flags\n"
        "1234,150.21698,55.624390,12.0,0.03,11.9,0.03,,,7.5,,AAXU,0000\n"
    )
    up.read_row.click()  # re-shows the uploaded spectrum with the row
    assert state.galaxy.source == "upload"
    assert list(sed.det.data["band"]) == ["W1", "W2"] and list(sed.ul.data["band"]) == ["W4"]
    assert sed.det.data["flux"][0] == pytest.approx(vega_mag_to_mjy(12.0, 0))
    msg = html.unescape(up.message.value)
    assert "W3 not used" in msg and "W3 has no usable measurement (ph_qual letter 'X')" in msg
    assert "20.0″ from the spectrum" in msg
    assert up.mag["W3"].value == "" and up.ul["W4"].value


@pytest.mark.parametrize(
    "text, problem",
    [
        (
            "w1mpro w1sigmpro w2mpro w2sigmpro w3mpro w4mpro w4sigmpro\n11.5 0.02 11.4 0.02 8.8 6.9 null\n",
            "AllWISE row: missing WISE band columns ['w3sigmpro']",
        ),
        (
            "w1mpro w1sigmpro w2mpro w2sigmpro w3mpro w3sigmpro w4mpro w4sigmpro\n"
            "11.5 0.02 11.4 0.02 8.8 0.03 6.9 null\n12.5 0.02 12.4 0.02 9.8 0.03 7.9 null\n",
            "AllWISE row: 2 data rows",
        ),
        (
            "w1mpro w1sigmpro w2mpro w2sigmpro w3mpro w3sigmpro w4mpro w4sigmpro\n11.5 0.02 11.4 0.02 8.8 0.03 6.9\n",
            "AllWISE row: cannot read the text as whitespace-separated",
        ),
        ("11.5 0.02 11.4 0.02 8.8 0.03 6.9 null\n", "AllWISE row: only one line pasted"),
        (
            "w1mpro,w1sigmpro,w2mpro,w2sigmpro,w3mpro,w3sigmpro,w4mpro,w4sigmpro,ph_qual\n"
            "11.5,0.02,11.4,0.02,8.8,0.03,6.9,,AAU\n",
            "AllWISE row: ph_qual 'AAU' is not 4 letters",
        ),
        ("", "AllWISE row: nothing pasted"),
    ],
)
def test_bad_pasted_rows_say_why_and_the_app_keeps_working(tiny_catalog, sdss_ngc3073, text, problem):
    from explorer.app.build import build_app

    _, state, panels = build_app(tiny_catalog)
    up = panels["upload"]
    up.mag["W1"].value = "10.0"  # what was typed stays when the row is bad
    up.paste.value = text
    up.read_row.click()
    msg = html.unescape(up.message.value)
    assert "irox-error" in msg and problem in msg, msg
    assert up.mag["W1"].value == "10.0"
    if text:  # an upload with the bad row still in the box stops at the row's message
        assert up.handle_bytes("NGC3073.fits", sdss_ngc3073.read_bytes()) is None
        assert problem in html.unescape(up.message.value) and state.galaxy.source == "catalog"
    else:  # an empty box is no row: the upload goes on with the typed magnitudes
        assert up.handle_bytes("NGC3073.fits", sdss_ngc3073.read_bytes()) is not None
        assert "1 WISE band typed in" in up.message.value and state.galaxy.source == "upload"
        state.select(0)  # back to the catalog
    panels["picker"].next.click()
    assert state.index == 1 and state.galaxy.source == "catalog"


def test_separation_is_nan_when_a_position_is_unknown():
    import math

    from explorer.app.upload_panel import separation_arcsec

    assert math.isnan(separation_arcsec(math.nan, math.nan, 10.0, 20.0))
    assert math.isnan(separation_arcsec(10.0, 20.0, math.nan, 1.0))
    assert abs(separation_arcsec(10.0, 20.0, 10.0, 20.0 + 1 / 3600) - 1.0) < 1e-6


def test_no_panel_imports_another_panel():
    """Panels talk only through the state: a panel module never imports a sibling panel module."""
    import ast
    from pathlib import Path

    import explorer.app

    app_dir = Path(explorer.app.__file__).parent
    panels = {p.stem for p in app_dir.glob("*_panel.py")}
    assert {"picker_panel", "spectrum_panel", "sed_panel", "latent_panel", "scatter_panel"} <= panels
    for name in sorted(panels):
        tree = ast.parse((app_dir / f"{name}.py").read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                mod = node.module or ""
                imported |= {mod.split(".")[-1]} | {a.name for a in node.names if node.level and not mod}
            elif isinstance(node, ast.Import):
                imported |= {a.name.split(".")[-1] for a in node.names}
        assert not (imported & (panels - {name})), f"{name} imports {sorted(imported & panels)}"


# --- upload limits (issue 18) ---------------------------------------------------------------------
def test_oversized_upload_is_refused_before_anything_is_written(tiny_catalog, sdss_ngc3073, monkeypatch):
    import datetime
    import tempfile

    from explorer.app import upload_panel
    from explorer.app.build import build_app

    _, state, panels = build_app(tiny_catalog)
    up = panels["upload"]
    assert up.max_upload_bytes == upload_panel.MAX_UPLOAD_BYTES == 50 * 1024**2
    state.select(1)
    real_tmpdir = tempfile.TemporaryDirectory

    def no_tmpdir(*a, **k):
        raise AssertionError("an oversized upload must not be written anywhere")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", no_tmpdir)
    big = b"SIMPLE  =" + bytes(upload_panel.MAX_UPLOAD_BYTES)  # one limit plus 9 bytes
    assert up.handle_bytes("huge.fits", big) is None
    msg = html.unescape(up.message.value)
    assert "irox-error" in msg and "huge.fits" in msg and "upload limit of 50 MB" in msg, msg
    assert state.galaxy.source == "catalog" and state.index == 1
    # the same through the widget, as a browser sets it: refused, and the widget is cleared
    up.message.value = ""
    up.upload.value = (
        {"name": "huge2.fits", "type": "", "size": len(big), "content": memoryview(big),
         "last_modified": datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)},
    )  # fmt: skip
    assert "huge2.fits" in up.message.value and "upload limit of 50 MB" in up.message.value
    assert up.upload.value == () and state.galaxy.source == "catalog"
    # the page keeps working: a good upload afterwards is shown
    monkeypatch.setattr(tempfile, "TemporaryDirectory", real_tmpdir)
    assert up.handle_bytes("NGC3073.fits", sdss_ngc3073.read_bytes()) is not None
    assert "irox-ok" in up.message.value and state.galaxy.source == "upload"


def test_gzip_bomb_is_refused_with_the_readers_message(tiny_catalog, sdss_ngc3073):
    import gzip

    from explorer.app.build import build_app
    from explorer.io.sdss import MAX_DECOMPRESSED_BYTES

    _, state, panels = build_app(tiny_catalog)
    up = panels["upload"]
    assert up.max_decompressed_bytes == MAX_DECOMPRESSED_BYTES  # the reader's bound by default
    up.max_decompressed_bytes = 1024**2  # a small bound keeps the test fast
    bomb = gzip.compress(b"SIMPLE  =" + bytes(3 * 1024**2))  # a few kB that inflate to 3 MB
    assert len(bomb) < 20_000
    assert up.handle_bytes("spec-bomb.fits.gz", bomb) is None
    msg = html.unescape(up.message.value)
    assert "irox-error" in msg and "spec-bomb.fits.gz: gzip content inflates beyond 1 MB; refused" in msg, msg
    assert "/tmp" not in msg and state.galaxy.source == "catalog"
    # a real gzipped spectrum under the bound is read, so the page keeps working
    good = gzip.compress(sdss_ngc3073.read_bytes())
    assert up.handle_bytes("NGC3073.fits.gz", good) is not None
    assert "irox-ok" in up.message.value and state.galaxy.source == "upload"


@pytest.mark.parametrize("failure", ["reader message", "unforeseen error"])
def test_upload_temporary_directory_is_private_and_removed_after_a_failing_read(
    tiny_catalog, monkeypatch, failure
):
    import stat

    import explorer.io.sdss as sdss
    from explorer.app.build import build_app

    _, state, panels = build_app(tiny_catalog)
    up = panels["upload"]
    seen = []
    real_reader = sdss.read_sdss_spectrum

    def spy(path, **kwargs):
        seen.append((path, stat.S_IMODE(path.parent.stat().st_mode), path.read_bytes(), kwargs))
        if failure == "unforeseen error":
            raise RuntimeError(f"reader exploded on {path}")
        return real_reader(path, **kwargs)

    monkeypatch.setattr(sdss, "read_sdss_spectrum", spy)
    assert up.handle_bytes("../../escape.fits", b"just some text, not FITS") is None
    (path, mode, written, kwargs) = seen[0]
    assert path.name == "upload.fits" and path.parent.name.startswith("irox-upload-")  # not the user's name
    assert mode == 0o700 and written == b"just some text, not FITS"
    assert kwargs == {"max_decompressed_bytes": up.max_decompressed_bytes}
    assert not path.parent.exists()  # removed although the read failed
    msg = html.unescape(up.message.value)
    problem = (
        "not a FITS file"
        if failure == "reader message"
        else "RuntimeError: reader exploded on ../../escape.fits"
    )
    assert "irox-error" in msg and problem in msg and str(path.parent) not in msg, msg
    assert state.galaxy.source == "catalog"


def test_voila_accepts_uploads_beyond_the_upload_limit():
    """Tornado drops a websocket message above its cap without a word; the cap of the served app
    must let a file larger than the upload limit arrive, so that the panel's message is shown."""
    from explorer.app.browser import VOILA_OPTIONS, VOILA_OPTIONS_COLD, WEBSOCKET_MAX_MESSAGE_BYTES
    from explorer.app.upload_panel import MAX_UPLOAD_BYTES

    assert WEBSOCKET_MAX_MESSAGE_BYTES >= 2 * MAX_UPLOAD_BYTES
    option = f"--Voila.tornado_settings={{'websocket_max_message_size': {WEBSOCKET_MAX_MESSAGE_BYTES}}}"
    assert option in VOILA_OPTIONS and option in VOILA_OPTIONS_COLD
    assert not any(o.startswith(("--preheat_kernel", "--pool_size")) for o in VOILA_OPTIONS_COLD)


def test_hold_range_fits_then_only_widens():
    from bokeh.models import Range1d

    from explorer.app.bokeh_view import hold_range

    r = Range1d(0.0, 1.0)
    hold_range(r, [1.0, 10.0, 100.0, np.nan, -5.0], log=True, refit=True)  # non-positive and NaN ignored
    assert (np.log10(r.start), np.log10(r.end)) == pytest.approx((-0.12, 2.12))
    assert (r.reset_start, r.reset_end) == (r.start, r.end)
    held = (r.start, r.end)
    hold_range(r, [5.0, 20.0], log=True)  # inside: unchanged (a slider move sends no axis)
    assert (r.start, r.end) == held
    hold_range(r, [5.0, 1e4], log=True)  # outside: widened on that side only
    assert r.start == held[0] and np.log10(r.end) == pytest.approx(4.0 + 0.06 * (4.0 - np.log10(5.0)))
    hold_range(r, [2.0, 3.0], log=True, refit=True)  # a new galaxy: fitted anew
    assert r.start > 1.0 and r.end < 4.0
    hold_range(r, [np.nan], log=True, refit=True)  # nothing finite: left as it is
    assert r.start > 1.0
    lin = Range1d(0.0, 1.0)
    hold_range(lin, [-1.0, 3.0], refit=True)
    assert (lin.start, lin.end) == pytest.approx((-1.24, 3.24))


def test_inline_patch_message_carries_every_array_and_applies_to_a_copy():
    """explorer.app.bokeh_view.inline_patch_message: one PATCH-DOC with the arrays inline (no
    buffers: three comm messages whatever the number of arrays), which applied to a copy of the
    document reproduces the sources' new columns exactly."""
    from bokeh.document import Document
    from bokeh.models import ColumnDataSource

    from explorer.app.bokeh_view import inline_patch_message

    doc = Document()
    src = ColumnDataSource(dict(x=np.arange(5.0), y=np.zeros(5)), name="src")
    multi = ColumnDataSource(dict(xs=[np.arange(3.0)], ys=[np.ones(3)]), name="multi")
    doc.add_root(src)
    doc.add_root(multi)
    copy = Document.from_json(doc.to_json())
    events = []
    doc.on_change(lambda e: events.append(e))
    src.data = dict(x=np.linspace(0, 1, 4000), y=np.random.default_rng(0).normal(size=4000))
    multi.data = dict(xs=[np.arange(4.0)] * 30, ys=list(np.random.default_rng(1).normal(size=(30, 4))))
    msg = inline_patch_message(events)
    assert msg.header.get("num_buffers", 0) == 0 and msg.buffers == []
    msg.apply_to_document(copy)
    got, want = copy.get_model_by_name("src").data, src.data
    np.testing.assert_array_equal(np.asarray(got["y"]), want["y"])
    got = copy.get_model_by_name("multi").data
    assert len(got["ys"]) == 30
    np.testing.assert_array_equal(np.asarray(got["ys"][7]), multi.data["ys"][7])
