"""HDF5 catalog format: write/read round trip, lazy single-galaxy and batch reads, row validation,
and clear errors for files that are not catalogs."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest

from explorer.catalog import FORMAT_NAME, Catalog, validate_table, write_catalog
from explorer.constants import N_PIX
from explorer.errors import CatalogError

N = 5


@pytest.fixture
def catalog_file(tmp_path, tiny_table):
    """The shared tiny catalog (tests/conftest.py): 5 galaxies, galaxy 1 a W4 upper limit."""
    t, flux, weight = tiny_table()
    path = write_catalog(
        tmp_path / "sub" / "tiny.h5", t, flux, weight, simulated=False, provenance={"seed": 1}
    )
    return path, t, flux, weight


def test_round_trip(catalog_file):
    path, t, flux, weight = catalog_file
    assert path.exists() and not path.with_suffix(".h5.partial").exists()
    with Catalog(path) as cat:
        assert len(cat) == N and not cat.simulated
        assert cat.provenance == {"seed": 1}
        assert "observed" in repr(cat)
        tab = cat.table
        for name, col in t.items():
            got = tab[name]
            if np.asarray(col).dtype.kind == "U":
                assert got.dtype.kind == "U", name
                np.testing.assert_array_equal(got, col)
            else:
                np.testing.assert_array_equal(got, col, err_msg=name)  # NaN == NaN here
        np.testing.assert_array_equal(tab["n_good_pix"], np.full(N, N_PIX - 40))
        assert cat.bad_rows == {}
        assert cat.good.all()
        np.testing.assert_array_equal(cat.split_indices("test"), [3, 4])
    with h5py.File(path) as f:
        assert f["table/w1_flux_mjy"].attrs["unit"] == "mJy"
        assert f.attrs["medium"] == "vacuum"


def test_one_galaxy_equals_written_row(catalog_file):
    path, t, flux, weight = catalog_file
    with Catalog(path) as cat:
        i = 3
        spec = cat.spectrum(i)
        assert spec.id == t["id"][i]
        assert spec.z == t["z"][i] and spec.norm == t["spec_norm"][i]
        np.testing.assert_array_equal(spec.flux, flux[i])
        np.testing.assert_array_equal(spec.weight, weight[i])
        assert spec.n_good_pix == N_PIX - 40
        row = cat.row(i)
        assert row["id"] == t["id"][i] and row["class_label"] == "quenched"
        assert row["w2_flux_mjy"] == pytest.approx(t["w2_flux_mjy"][i])
        assert cat.index_of(t["id"][2]) == 2
        with pytest.raises(CatalogError, match=re.escape(str(path)) + ".*no galaxy with id 'nope'"):
            cat.index_of("nope")
        with pytest.raises(CatalogError, match=re.escape(str(path)) + r".*galaxy index 5 out of range"):
            cat.spectrum(5)
        with pytest.raises(CatalogError, match="no column 'w5_mag_vega'"):
            cat.column("w5_mag_vega")


def test_batch_read_keeps_requested_order(catalog_file):
    path, t, flux, weight = catalog_file
    with Catalog(path) as cat:
        idx = [3, 0, 3, 1]
        f, w = cat.spectra(idx)
        assert f.shape == w.shape == (4, N_PIX) and f.dtype == np.float32
        np.testing.assert_array_equal(f, flux[idx])
        np.testing.assert_array_equal(w, weight[idx])
        f0, _ = cat.spectra([])
        assert f0.shape == (0, N_PIX)
        with pytest.raises(CatalogError, match="out of range"):
            cat.spectra([1, 7])


def test_float16_storage_precision(tmp_path, tiny_table):
    t, flux, weight = tiny_table()
    path = write_catalog(tmp_path / "half.h5", t, flux, weight, simulated=True, spectra_dtype="float16")
    with Catalog(path) as cat:
        assert cat.simulated
        np.testing.assert_allclose(cat.spectrum(0).flux, flux[0], rtol=1e-3, atol=1e-3)


def test_bad_rows_flagged_good_rows_readable(tmp_path, tiny_table):
    t, flux, weight = tiny_table(n=8, seed=2)
    t["id"][6] = t["id"][5]  # duplicate id
    t["z"][2] = 0.7  # outside [0, 0.5]
    t["w3_sigma_mag"][3] = np.nan  # NaN error for a detection (W3 not an upper limit)
    weight[4] = 0.0  # no usable pixel
    path = write_catalog(tmp_path / "bad.h5", t, flux, weight, simulated=False)
    with Catalog(path) as cat:
        bad = cat.bad_rows
        assert sorted(bad) == [2, 3, 4, 5, 6]
        assert "z=0.7 outside" in bad[2]
        assert "W3 error is NaN for a detection" in bad[3]
        assert "no unmasked spectrum pixels" in bad[4]
        assert "duplicate id" in bad[5] and "duplicate id" in bad[6]
        # the W4 upper limit of row 1 (NaN sigma) is not a problem
        assert t["w4_is_ul"][1] and 1 not in bad
        np.testing.assert_array_equal(np.flatnonzero(cat.good), [0, 1, 7])
        assert set(cat.split_indices("train")) <= {0, 1, 7}
        np.testing.assert_array_equal(cat.spectrum(7).flux, flux[7])
        np.testing.assert_array_equal(cat.spectra([0, 1])[0], flux[[0, 1]])
    # the same rules as a function on a plain table
    assert validate_table({**t, "n_good_pix": np.count_nonzero(weight > 0, axis=1)}) == bad


def test_negative_error_and_missing_mag_flagged(tiny_table):
    t, _, weight = tiny_table()
    t["w1_sigma_mag"][0] = -0.1
    t["w2_mag_vega"][4] = np.nan
    bad = validate_table(t)
    assert bad[0] == "W1 error is negative" and bad[4] == "W2 magnitude missing"


def test_not_hdf5_and_truncated(tmp_path, catalog_file):
    path, *_ = catalog_file
    text = tmp_path / "notes.h5"
    text.write_text("this is not HDF5\n")
    with pytest.raises(CatalogError, match=re.escape(str(text)) + ".*not a readable HDF5 file"):
        Catalog(text)
    cut = tmp_path / "cut.h5"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CatalogError, match=re.escape(str(cut)) + ".*not a readable HDF5 file.*truncated"):
        Catalog(cut)
    with pytest.raises(CatalogError, match="missing.h5 does not exist"):
        Catalog(tmp_path / "missing.h5")


def test_wrong_format_hdf5(tmp_path, catalog_file):
    path, *_ = catalog_file
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(CatalogError, match=re.escape(str(other)) + f".*is not an {FORMAT_NAME} file"):
        Catalog(other)

    def copy_and(edit, name):
        dst = tmp_path / name
        dst.write_bytes(path.read_bytes())
        with h5py.File(dst, "a") as f:
            edit(f)
        return dst

    v2 = copy_and(lambda f: f.attrs.__setitem__("format_version", 2), "v2.h5")
    with pytest.raises(CatalogError, match=re.escape(str(v2)) + ".*format_version 2"):
        Catalog(v2)
    noflux = copy_and(lambda f: f.__delitem__("spectra/flux"), "noflux.h5")
    with pytest.raises(CatalogError, match=re.escape(str(noflux)) + ".*'spectra/flux' missing"):
        Catalog(noflux)
    noz = copy_and(lambda f: f.__delitem__("table/z"), "noz.h5")
    with pytest.raises(
        CatalogError, match=re.escape(str(noz)) + r".*required columns missing from /table: \['z'\]"
    ):
        Catalog(noz)

    def short_column(f):
        del f["table/z"]
        f["table/z"] = np.array([0.1, 0.2])

    shortz = copy_and(short_column, "shortz.h5")
    with pytest.raises(CatalogError, match=re.escape(str(shortz)) + ".*column 'z' has 2 rows, expected 5"):
        Catalog(shortz)

    def other_grid(f):
        del f["spectra/weight"]
        f["spectra/weight"] = np.ones((N, 100), np.float32)

    grid = copy_and(other_grid, "grid.h5")
    with pytest.raises(CatalogError, match=re.escape(str(grid)) + r".*spectra/weight has shape \(5, 100\)"):
        Catalog(grid)


def test_write_errors(tmp_path, tiny_table):
    t, flux, weight = tiny_table()
    p = tmp_path / "x.h5"
    no_z = {k: v for k, v in t.items() if k != "z"}
    with pytest.raises(CatalogError, match=r"cannot write .*x.h5: required columns missing: \['z'\]"):
        write_catalog(p, no_z, flux, weight, simulated=False)
    with pytest.raises(CatalogError, match=r"flux \(5, 10\)"):
        write_catalog(p, t, flux[:, :10], weight, simulated=False)
    with pytest.raises(CatalogError, match="column 'z_err' has 3 rows, expected 5"):
        write_catalog(p, {**t, "z_err": np.zeros(3)}, flux, weight, simulated=False)
    assert not p.exists()
