"""build-catalog on the real ppxf spectra, the hand-written AllWISE table, and broken inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from explorer.catalog import Catalog
from explorer.errors import CatalogError, WiseTableError
from explorer.io.build import build_catalog, find_spectra

DATA = Path(__file__).parent / "data"
WISE_TBL = DATA / "allwise_ppxf.tbl"
PHOT = DATA / "sdss_photometry_ppxf.csv"


@pytest.fixture
def spec_dir(tmp_path, sdss_ngc3073, sdss_ngc3522) -> Path:
    d = tmp_path / "spectra"
    d.mkdir()
    shutil.copy(sdss_ngc3073, d)
    shutil.copy(sdss_ngc3522, d)
    return d


def test_two_real_spectra_give_a_two_galaxy_catalog(spec_dir, tmp_path):
    out = tmp_path / "cat.h5"
    rep = build_catalog(spec_dir, WISE_TBL, out, workers=2, progress=False)
    assert rep.n_galaxies == 2 and rep.n_matched == 2 and not rep.rejected and not rep.ambiguous
    with Catalog(out) as cat:
        assert sorted(cat.table["id"]) == ["0945-52652-0470", "2488-54149-0001"]
        assert not cat.bad_rows
        assert cat.attrs["optical_photometry"] is False or cat.attrs["optical_photometry"] == 0
        assert "class_label" not in cat.columns and not cat.simulated
        i = cat.index_of("2488-54149-0001")
        assert cat.table["w4_is_ul"][i] and not cat.table["w3_is_ul"][i]  # ph_qual AAAU
        assert cat.table["wise_sep_arcsec"][i] < 1.0
        prov = cat.provenance
        assert prov["match"]["radius_arcsec"] == 3.0 and prov["spectra"]["n_files"] == 2
        assert all(len(h) == 64 for h in cat.table["spec_sha256"])
        assert len(prov["wise_table"]["sha256"]) == 64
        assert prov["counts"]["matched"] == 2


def test_photometry_table_fills_ugriz(spec_dir, tmp_path):
    out = tmp_path / "cat.h5"
    build_catalog(spec_dir, WISE_TBL, out, photometry=PHOT, workers=1, progress=False)
    with Catalog(out) as cat:
        assert bool(cat.attrs["optical_photometry"])
        i = cat.index_of("0945-52652-0470")
        # cModelMag_r 13.72 minus extinction_r 0.03
        assert cat.table["mag_r_total"][i] == pytest.approx(13.69)
        assert cat.table["mag_r_fiber"][i] == pytest.approx(16.77)


def test_rerun_reads_nothing_twice(spec_dir, tmp_path):
    out = tmp_path / "cat.h5"
    first = build_catalog(spec_dir, WISE_TBL, out, workers=1, progress=False)
    again = build_catalog(spec_dir, WISE_TBL, out, workers=1, progress=False)
    assert first.n_read == 2 and first.n_from_cache == 0
    assert again.n_read == 0 and again.n_from_cache == 2
    with Catalog(out) as cat:
        assert cat.n == 2


def test_non_fits_and_truncated_files_are_rejected_and_good_ones_kept(spec_dir, tmp_path, sdss_ngc3073):
    (spec_dir / "notes.fits").write_text("this is not a FITS file\n")
    data = Path(sdss_ngc3073).read_bytes()
    (spec_dir / "spec-cut.fits").write_bytes(data[: len(data) // 3])
    rep = build_catalog(spec_dir, WISE_TBL, tmp_path / "cat.h5", workers=2, progress=False)
    assert rep.n_galaxies == 2
    assert len(rep.rejected) == 2
    text = "\n".join(rep.rejected)
    assert "notes.fits: not a FITS file" in text
    assert "spec-cut.fits" in text and ("truncated" in text or "corrupt" in text)
    assert all("\n" not in r for r in rep.rejected)  # one line each


def test_spectrum_without_wise_match_is_kept_and_reported(spec_dir, tmp_path):
    tbl = tmp_path / "one.tbl"
    lines = WISE_TBL.read_text().splitlines()
    tbl.write_text("\n".join(ln for ln in lines if "J110640" not in ln) + "\n")  # drop NGC 3522's row
    rep = build_catalog(spec_dir, tbl, tmp_path / "cat.h5", workers=1, progress=False)
    assert rep.n_matched == 1 and len(rep.unmatched) == 1
    assert "2488-54149-0001" in rep.unmatched[0] and "no WISE source within 3 arcsec" in rep.unmatched[0]
    with Catalog(tmp_path / "cat.h5") as cat:
        i = cat.index_of("2488-54149-0001")
        assert cat.table["wise_match"][i] == "none" and i in cat.bad_rows  # kept, not trained on
    rep2 = build_catalog(spec_dir, tbl, tmp_path / "cat2.h5", workers=1, progress=False, drop_unmatched=True)
    assert rep2.n_galaxies == 1


def test_two_spectra_matching_one_wise_row_are_ambiguous(spec_dir, tmp_path):
    tbl = tmp_path / "moved.tbl"
    # move NGC 3073's WISE source away and NGC 3522's... keep; then put a third spectrum at NGC 3522
    from astropy.table import Table

    t = Table.read(WISE_TBL, format="ascii.ipac")
    t.write(tbl, format="ascii.ipac")
    # a copy of NGC 3522 under another name: same position (different bytes: one header card changed)
    from astropy.io import fits

    src = next(spec_dir.glob("NGC3522*"))
    with fits.open(src) as h:
        h[0].header["COMMENT"] = "copy for the ambiguity test"
        h[2].data["FIBERID"][0] = 2
        h.writeto(spec_dir / "copy3522.fits")
    rep = build_catalog(spec_dir, tbl, tmp_path / "cat.h5", workers=1, progress=False)
    assert rep.n_galaxies == 3 and len(rep.ambiguous) == 1
    assert "matched by 2 spectra" in rep.ambiguous[0] and "copy3522.fits" in rep.ambiguous[0]
    with Catalog(tmp_path / "cat.h5") as cat:
        assert sorted(cat.table["wise_match"]) == ["ambiguous", "ambiguous", "matched"]


def test_wise_table_missing_w3sigmpro_names_file_and_column(spec_dir, tmp_path):
    from astropy.table import Table

    t = Table.read(WISE_TBL, format="ascii.ipac")
    t.remove_column("w3sigmpro")
    bad = tmp_path / "no_w3sig.tbl"
    t.write(bad, format="ascii.ipac")
    with pytest.raises(WiseTableError) as exc:
        build_catalog(spec_dir, bad, tmp_path / "cat.h5", workers=1, progress=False)
    msg = str(exc.value)
    assert "no_w3sig.tbl" in msg and "w3sigmpro" in msg.lower().replace("W3", "w3")
    assert not (tmp_path / "cat.h5").exists()


def test_unreadable_photometry_table_names_the_file(spec_dir, tmp_path):
    bad = tmp_path / "phot.csv"
    bad.write_bytes(b"\x00\x01\x02garbage,,\n\xff\xfe")
    with pytest.raises(CatalogError, match="phot.csv"):
        build_catalog(spec_dir, WISE_TBL, tmp_path / "cat.h5", photometry=bad, workers=1, progress=False)


def test_find_spectra_list_file_and_glob(spec_dir, tmp_path):
    lst = tmp_path / "files.txt"
    lst.write_text("# my spectra\nspectra/NGC3073_SDSS_DR18.fits\nmissing.fits\n")
    paths, problems = find_spectra([lst, str(spec_dir / "NGC35*.fits"), tmp_path / "nope"])
    names = sorted(p.name for p in paths)
    assert names == ["NGC3073_SDSS_DR18.fits", "NGC3522_SDSS_DR18.fits", "missing.fits"]
    assert problems and "nope" in problems[0][0]


def test_cli_build_catalog_exit_codes(spec_dir, tmp_path, capsys):
    from explorer.cli import main

    rc = main(
        ["build-catalog", str(spec_dir), "--wise", str(WISE_TBL), "--out", str(tmp_path / "c.h5"), "--quiet"]
    )
    assert rc == 0 and "2 matched" in capsys.readouterr().out
    rc = main(
        [
            "build-catalog",
            str(spec_dir),
            "--wise",
            str(tmp_path / "absent.tbl"),
            "--out",
            str(tmp_path / "d.h5"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "absent.tbl" in err and len(err.strip().splitlines()) == 1
    assert np.isfinite(1.0)


def test_join_by_id_column(spec_dir, tmp_path):
    from astropy.table import Table

    t = Table.read(WISE_TBL, format="ascii.ipac")
    t["sdss_id"] = ["0945-52652-0470", "2488-54149-0001", "9999-99999-9999"]
    t["ra"] = t["dec"] = [0.0, 1.0, 2.0]  # positions that match nothing: the id decides
    t.write(tmp_path / "ids.tbl", format="ascii.ipac")
    rep = build_catalog(spec_dir, tmp_path / "ids.tbl", tmp_path / "cat.h5", match="id", wise_id_column="sdss_id",
                        workers=1, progress=False)  # fmt: skip
    assert rep.n_matched == 2
    with Catalog(tmp_path / "cat.h5") as cat:
        assert cat.table["w1_mag_vega"][cat.index_of("2488-54149-0001")] == pytest.approx(10.411)
