"""The command line: real files in, JSON out; bad input gives exit status 2 and a clear message."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from astropy.io import fits

from explorer.paths import DEMO_CATALOG, REPO_ROOT


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
    # z = 0.004 is below the training range of models/default: the figure says so in its caption
    assert "z=0.004018" in summary["out_of_domain"] and "outside training range" in summary["out_of_domain"]
    assert "outside the model" in svg and "training domain" in svg


# --- defaults that a fresh clone has; the serve verb; `make run` -----------------------------------
def _subparsers():
    from explorer.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def test_every_default_catalog_exists_in_a_fresh_clone():
    """No verb defaults to a file that only a training run makes (runs/sim50k.h5 used to be one)."""
    checked = []
    for verb, sp in _subparsers().items():
        for action in sp._actions:
            if action.dest == "catalog" and action.default is not None:
                assert Path(action.default) == DEMO_CATALOG and DEMO_CATALOG.is_file(), (verb, action.default)
                checked.append(verb)
    assert {"info", "evaluate", "ceiling", "attribute", "report", "serve"} <= set(checked)


def test_serve_dry_run_uses_the_browser_tests_voila_options(tmp_path):
    from explorer.app.browser import JUPYTER_DATA_DIR, VOILA_OPTIONS

    out = run_cli("serve", "--dry-run", "--port", "9123", "--models", "default")
    assert out.returncode == 0, out.stderr
    url, command = out.stdout.strip().splitlines()
    assert "http://localhost:9123" in url
    words = shlex.split(command)
    env = dict(w.split("=", 1) for w in words[:3])
    cmd = words[3:]
    assert env["JUPYTER_PATH"].split(os.pathsep)[0] == str(JUPYTER_DATA_DIR)
    assert env["IROX_CATALOG"] == str(DEMO_CATALOG.resolve()) and env["IROX_MODELS"] == "default"
    assert cmd[1:5] == ["-m", "explorer.app.serving", "app.ipynb", "--port=9123"]  # Voila with limits
    assert tuple(cmd[5:]) == VOILA_OPTIONS
    # a catalog that is not there stops it before Voila starts
    bad = run_cli("serve", "--dry-run", "--catalog", tmp_path / "nope.h5")
    assert bad.returncode == 2 and "nope.h5" in bad.stderr and "does not exist" in bad.stderr


def test_make_run_installs_then_serves_and_make_test_does_not_serve():
    make = shutil.which("make")
    if make is None:
        pytest.skip("GNU make is not installed (the README's commands need it)")

    def dry(target):
        out = subprocess.run([make, "-n", "-s", "-C", str(REPO_ROOT), target], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()

    run = dry("run")
    serve = [i for i, line in enumerate(run) if "-m explorer serve" in line]
    assert len(serve) == 1 and run[serve[0]].split()[-2:] == ["serve", "--port=8866"], run
    assert all("pip install" not in line for line in run[serve[0] :])  # installing comes first
    assert any("-m explorer serve" in line for line in dry("app"))  # `make app` is an alias
    assert not any("serve" in line or "voila" in line for line in dry("test"))
    # `make run CATALOG=... MODELS=...` hands both to serve
    out = subprocess.run(
        [make, "-n", "-s", "-C", str(REPO_ROOT), "run", "CATALOG=my.h5", "MODELS=mine"],
        capture_output=True,
        text=True,
    )
    line = next(x for x in out.stdout.splitlines() if "-m explorer serve" in x)
    assert line.split()[-3:] == ["--port=8866", "--catalog=my.h5", "--models=mine"], line
