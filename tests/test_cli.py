"""The command line: real files in, JSON out; bad input gives exit status 2 and a clear message."""

from __future__ import annotations

import json
import subprocess
import sys

from astropy.io import fits


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "explorer", *map(str, args)], capture_output=True, text=True)


def test_read_spectrum_json_on_real_sdss_files(sdss_ngc3073, sdss_ngc3522):
    for path in (sdss_ngc3073, sdss_ngc3522):
        out = run_cli("read-spectrum", path, "--json")
        assert out.returncode == 0, out.stderr
        summary = json.loads(out.stdout)
        specobj = fits.getdata(path, "SPECOBJ")
        assert summary["z"] == float(specobj["Z"][0])
        # the SDSS pipeline's own class, whatever it is (it calls NGC 3073 an A0 "STAR")
        assert summary["class"] == str(specobj["CLASS"][0]).strip()
        assert summary["n_good_pix"] >= 3000
        assert summary["norm"] > 0
        assert summary["id"].count("-") == 2


def test_read_spectrum_bad_file_exit_2(tmp_path):
    bad = tmp_path / "notes.fits"
    bad.write_text("this is not a FITS file\n")
    out = run_cli("read-spectrum", bad)
    assert out.returncode == 2
    assert "notes.fits" in out.stderr and "not a FITS file" in out.stderr


def test_info_missing_catalog_exit_2(tmp_path):
    out = run_cli("info", tmp_path / "nope.h5", "--json")
    assert out.returncode == 2
    assert "nope.h5" in out.stderr and "does not exist" in out.stderr


def test_info_on_non_catalog_hdf5(tmp_path):
    import h5py

    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = [1, 2, 3]
    out = run_cli("info", path)
    assert out.returncode == 2
    assert "other.h5" in out.stderr and "irox-catalog" in out.stderr


def test_attribute_real_spectrum_writes_three_formats(sdss_ngc3522, tmp_path):
    out = run_cli(
        "attribute",
        "--spectrum",
        sdss_ngc3522,
        "--target",
        "W3",
        "--models",
        "default",
        "--out",
        tmp_path / "ngc3522_w3.pdf",
        "--formats",
        "png,svg,pdf",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["galaxy_id"] == "2488-54149-0001"
    for ext in ("png", "svg", "pdf"):
        assert (tmp_path / f"ngc3522_w3.{ext}").stat().st_size > 10_000
    svg = (tmp_path / "ngc3522_w3.svg").read_text()
    top = summary["top_lines"][0]["label"]
    assert "<text" in svg and top.split()[0] in svg  # labels stay text, not paths
    assert summary["completeness_gap"] <= 0.05 or summary["converged"] is False
