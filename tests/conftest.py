"""Shared fixtures: the real SDSS DR18 spectra shipped with ppxf (used in place, never copied), and
one tiny catalog (``tiny_table``, ``write_tiny_catalog``, ``tiny_catalog``) for the tests that
need a catalog file. Models trained on a toy catalog use
``make_toy_catalog`` (explorer.testing.toy) instead: it has learnable structure, this one does not."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import pytest

from explorer.catalog import write_catalog
from explorer.constants import N_PIX, WAVE_OBS_VAC_AA
from explorer.io.wise import wise_columns


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
    """A 600-galaxy toy catalog with a planted spectrum -> WISE relation (explorer.testing.toy)."""
    from explorer.testing.toy import make_toy_catalog

    return make_toy_catalog(tmp_path_factory.mktemp("toy") / "toy.h5", n=600, seed=0)


# --- one tiny catalog for every test that needs a catalog file ---------------------------------
def _tiny_table(
    n: int = 5,
    seed: int = 1,
    *,
    mags=None,
    sigma=None,
    is_ul=None,
    flux=None,
    weight=None,
    **columns,
) -> tuple[dict, np.ndarray, np.ndarray]:
    """A made-up but self-consistent catalog of ``n`` galaxies: ``(table, flux, weight)``.

    Default: SDSS-like ids, positions, z from 0.03 to 0.2, splits train/train/valid/test/test
    (then train), classes, W1-W4 magnitudes around 13.2/13.1/10.5/8.0 with galaxy 1 a W4 upper
    limit, and spectra with a 4000 A break (masked blue edge). WISE columns come from
    :func:`explorer.io.wise.wise_columns` (as the AllWISE reader makes them).

    Parameters
    ----------
    mags, sigma, is_ul : arrays (n, 4), optional
        WISE Vega magnitudes, errors and upper-limit flags instead of the default ones.
    flux, weight : arrays (n, 3921), optional
        Spectra instead of the default ones.
    **columns
        Table columns to replace or add (``z=...``, ``class_label=...``, truth columns, ...).
    """
    rng = np.random.default_rng(seed)
    t: dict[str, np.ndarray] = {
        "id": np.array([f"{300 + i:04d}-51666-{10 + i:04d}" for i in range(n)]),
        "ra_deg": rng.uniform(120, 240, n),
        "dec_deg": rng.uniform(-5, 60, n),
        "z": np.linspace(0.03, 0.2, n),
        "z_err": np.full(n, 2e-5),
        "spec_norm": rng.uniform(5, 50, n),
        "split": np.array(["train", "train", "valid", "test", "test"][:n] + ["train"] * max(0, n - 5)),
        "class_label": np.array(
            ["star-forming", "quenched", "agn", "quenched", "star-forming"][:n] + ["quenched"] * max(0, n - 5)
        ),
    }
    default_mags = np.array([13.2, 13.1, 10.5, 8.0]) + rng.normal(0, 0.5, (n, 4))
    mags = default_mags if mags is None else np.asarray(mags, dtype=float)
    if sigma is None:
        sigma = np.array([0.03, 0.04, 0.1, 0.3]) * np.ones((n, 4))
    if is_ul is None:
        is_ul = np.zeros((n, 4), bool)
        is_ul[1 % n, 3] = n > 1  # a quenched galaxy undetected in W4
    is_ul = np.asarray(is_ul, dtype=bool)
    t |= wise_columns(mags, sigma, is_ul)
    t["ph_qual"] = np.array(["".join("U" if u else "A" for u in row) for row in is_ul])
    t |= {k: np.asarray(v) for k, v in columns.items()}
    # spectra: a tilted continuum with a 4000 A break, unit median-ish, plus noise
    wave = WAVE_OBS_VAC_AA[None, :] / (1 + np.asarray(t["z"], dtype=float)[:, None])
    noise = rng.normal(0, 0.02, (n, N_PIX))
    if flux is None:
        flux = (np.where(wave > 4000, 1.0, 0.6) * (wave / 5500.0) ** 0.5 + noise).astype(np.float32)
    if weight is None:
        weight = np.full((n, N_PIX), 2500.0, dtype=np.float32)
        weight[:, :40] = 0.0  # a masked blue edge
    return t, np.asarray(flux), np.asarray(weight)


def _write_tiny_catalog(
    path, *, simulated: bool = False, provenance: dict | None = None, **table_kwargs
) -> Path:
    """Write :func:`_tiny_table` (``table_kwargs``: its arguments) to ``path``; returns the path."""
    table, flux, weight = _tiny_table(**table_kwargs)
    return write_catalog(path, table, flux, weight, simulated=simulated, provenance=provenance)


@pytest.fixture(scope="session")
def tiny_table():
    """``tiny_table(n=5, seed=1, *, mags, sigma, is_ul, flux, weight, **columns) -> (table, flux,
    weight)``: the arrays of the shared tiny catalog (see :func:`_tiny_table`)."""
    return _tiny_table


@pytest.fixture(scope="session")
def write_tiny_catalog():
    """``write_tiny_catalog(path, *, simulated=False, provenance=None, **tiny_table_args) -> Path``."""
    return _write_tiny_catalog


@pytest.fixture()
def tiny_catalog(tmp_path) -> Path:
    """The default tiny catalog (5 observed galaxies, one W4 upper limit) as a file."""
    return _write_tiny_catalog(tmp_path / "tiny.h5")
