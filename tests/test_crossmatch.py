"""Crossmatch by identifier and by position, with known geometry (offsets of 1" and 10" at r = 3")."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.errors import CrossmatchError
from explorer.io.crossmatch import crossmatch_by_id, crossmatch_by_position

ARCSEC = 1.0 / 3600.0


def test_position_known_offsets():
    ra1 = np.array([150.0, 150.2, 200.0, 359.99995, 30.0])
    dec1 = np.array([30.0, 30.0, -45.0, 0.0, 60.0])
    ra2 = np.array(
        [
            150.0,  # 0: 1" north of spectrum 0
            150.2,  # 1: 10" north of spectrum 1 -> too far
            200.0 + 1.0 * ARCSEC / np.cos(np.radians(-45.0)),  # 2: 1" east of spectrum 2
            0.00005,  # 3: across RA = 0 from spectrum 3: 0.36"
            80.0,  # 4: nobody's
        ]
    )
    dec2 = np.array([30.0 + ARCSEC, 30.0 + 10 * ARCSEC, -45.0, 0.0, -10.0])
    m = crossmatch_by_position(ra1, dec1, ra2, dec2, radius_arcsec=3.0)
    np.testing.assert_array_equal(m.idx1, [0, 2, 3])
    np.testing.assert_array_equal(m.idx2, [0, 2, 3])
    np.testing.assert_allclose(m.sep_arcsec, [1.0, 1.0, 0.36], atol=1e-3)
    np.testing.assert_array_equal(m.unmatched1, [1, 4])
    np.testing.assert_array_equal(m.unmatched2, [1, 4])
    assert m.nearest_sep_arcsec[1] == pytest.approx(10.0, abs=1e-3)
    assert m.partner_of(2) == 2 and m.partner_of(1) is None
    assert not m.ambiguous1 and not m.ambiguous2
    text = m.report()
    assert "3 matched, 2 spectra unmatched, 2 wise unmatched" in text
    assert "1: 10" in text  # unmatched spectrum 1 with its 10" nearest neighbour

    # the same geometry matches once the radius covers 10"
    m12 = crossmatch_by_position(ra1, dec1, ra2, dec2, radius_arcsec=12.0)
    np.testing.assert_array_equal(m12.idx1, [0, 1, 2, 3])


def test_position_ambiguous_cases():
    # spectra 0 and 1 are 1" apart (repeat spectra); one WISE source between them.
    # spectrum 2 has two WISE sources within 3" (a blend): paired with the nearest (1" < 2").
    ra1 = [10.0, 10.0, 20.0]
    dec1 = [0.0, ARCSEC, 5.0]
    ra2 = [10.0, 20.0, 20.0]
    dec2 = [0.5 * ARCSEC, 5.0 + 2 * ARCSEC, 5.0 - ARCSEC]
    m = crossmatch_by_position(ra1, dec1, ra2, dec2)
    np.testing.assert_array_equal(m.idx1, [0, 1, 2])
    np.testing.assert_array_equal(m.idx2, [0, 0, 2])
    assert m.ambiguous2 == {0: [0, 1]}
    assert m.ambiguous1 == {2: [1, 2]}
    np.testing.assert_array_equal(m.unmatched2, [1])
    text = m.report()
    assert "1 wise entries claimed by several spectra" in text
    assert "0 <- [0, 1]" in text and "2 -> [1, 2]" in text


def test_position_errors_name_the_input():
    with pytest.raises(CrossmatchError, match=r"ra1 \(spectra\) has 2 values but dec1 \(spectra\) has 1"):
        crossmatch_by_position([1.0, 2.0], [3.0], [1.0], [3.0])
    with pytest.raises(CrossmatchError, match=r"ra2 \(wise\) has 1 non-finite value\(s\) at indices \[1\]"):
        crossmatch_by_position([1.0], [3.0], [1.0, np.nan], [3.0, 4.0])
    with pytest.raises(CrossmatchError, match=r"dec2 \(wise\) outside \[-90, 90\]"):
        crossmatch_by_position([1.0], [3.0], [1.0], [91.0])
    with pytest.raises(CrossmatchError, match="radius must be positive"):
        crossmatch_by_position([1.0], [3.0], [1.0], [3.0], radius_arcsec=0)


def test_position_empty_side():
    m = crossmatch_by_position([1.0, 2.0], [0.0, 0.0], [], [])
    assert m.n_matched == 0
    np.testing.assert_array_equal(m.unmatched1, [0, 1])


def test_by_id():
    spec = ["0945-52652-0470", "2488-54149-0001", "0300-51666-0010", "2488-54149-0001", ""]
    wise = ["2488-54149-0001", "0945-52652-0470", "0999-51000-0001", "0300-51666-0010 ", "0300-51666-0010"]
    m = crossmatch_by_id(spec, wise)
    np.testing.assert_array_equal(m.idx1, [0, 1, 2, 3])
    np.testing.assert_array_equal(m.idx2, [1, 0, 3, 0])
    assert np.all(np.isnan(m.sep_arcsec))
    np.testing.assert_array_equal(m.unmatched1, [4])  # empty ids never match
    np.testing.assert_array_equal(m.unmatched2, [2])
    assert m.ambiguous2 == {0: [1, 3]}  # two spectra with the same id
    assert m.ambiguous1 == {2: [3, 4]}  # duplicate id in the WISE table (after stripping)
    text = m.report()
    assert "by identifier: 4 matched, 1 spectra unmatched, 1 wise unmatched" in text
