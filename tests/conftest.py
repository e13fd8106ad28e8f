"""Shared fixtures: the real SDSS DR18 spectra shipped with ppxf (used in place, never copied)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest


def _ppxf_spectrum(name: str) -> Path:
    # ppxf is a test dependency (pyproject 'test' extra): its absence is a failure, not a skip,
    # because these real files are the only real-data check of the readers.
    path = Path(str(importlib.resources.files("ppxf") / "spectra" / name))
    if not path.exists():
        raise FileNotFoundError(f"ppxf is installed but does not ship {name} (looked at {path})")
    return path


@pytest.fixture(scope="session")
def sdss_ngc3073() -> Path:
    """Real SDSS DR18 spectrum of NGC 3073 (plate 945, MJD 52652, fiber 470): star-forming dwarf S0."""
    return _ppxf_spectrum("NGC3073_SDSS_DR18.fits")


@pytest.fixture(scope="session")
def sdss_ngc3522() -> Path:
    """Real SDSS DR18 spectrum of NGC 3522 (plate 2488, MJD 54149, fiber 1): early-type galaxy."""
    return _ppxf_spectrum("NGC3522_SDSS_DR18.fits")


@pytest.fixture(scope="session")
def toy_catalog_path(tmp_path_factory) -> Path:
    """A 600-galaxy toy catalog with a planted spectrum -> WISE relation (explorer.ml.toy)."""
    from explorer.ml.toy import make_toy_catalog

    return make_toy_catalog(tmp_path_factory.mktemp("toy") / "toy.h5", n=600, seed=0)
