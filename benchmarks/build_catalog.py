"""build-catalog throughput (spectra/s) with 1 and 2 reader processes, in one run.

Makes ``--n`` copies of ppxf's two real SDSS spectra with changed plate/fiber ids and plug
positions in a temporary folder, writes a matching AllWISE-layout table, and builds the catalog
twice without cache (workers 1, then 2). Prints one JSON object.

    PYTHONPATH=. python benchmarks/build_catalog.py --n 300 [--out bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def make_copies(folder: Path, n: int) -> tuple[list, list]:
    import importlib.resources

    from astropy.io import fits

    from explorer.io.sdss import PPXF_SDSS_FILES

    srcs = [Path(str(importlib.resources.files("ppxf") / "spectra" / name)) for name in PPXF_SDSS_FILES]
    ras, decs = [], []
    for k in range(n):
        with fits.open(srcs[k % len(srcs)]) as h:
            so = h["SPECOBJ"].data
            so["FIBERID"][0] = 1 + k % 1000
            so["PLATE"][0] = 3000 + k // 1000
            ra, dec = 10.0 + 0.01 * k, -5.0 + 0.003 * (k % 97)
            so["PLUG_RA"][0], so["PLUG_DEC"][0] = ra, dec
            h.writeto(folder / f"spec-{3000 + k // 1000:04d}-{k:05d}.fits")
        ras.append(ra)
        decs.append(dec)
    return ras, decs


def main(argv=None) -> dict:
    from astropy.table import Table

    from explorer.io.build import build_catalog

    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = tmp / "spectra"
        spec.mkdir()
        t0 = time.perf_counter()
        ras, decs = make_copies(spec, a.n)
        make_s = time.perf_counter() - t0
        t = Table({"ra": ras, "dec": decs})
        for k in range(1, 5):
            t[f"w{k}mpro"] = [12.0 + k] * a.n
            t[f"w{k}sigmpro"] = [0.05] * a.n
        t["ph_qual"] = ["AAAA"] * a.n
        t.write(tmp / "wise.tbl", format="ascii.ipac")
        result = {"n_spectra": a.n, "make_copies_s": make_s, "cpu_count": os.cpu_count(), "runs": {}}
        for workers in (1, 2):
            t0 = time.perf_counter()
            rep = build_catalog(spec, tmp / "wise.tbl", tmp / f"cat{workers}.h5", workers=workers,
                                cache_dir=False, progress=False)  # fmt: skip
            dt = time.perf_counter() - t0
            result["runs"][f"workers_{workers}"] = {
                "seconds": dt, "spectra_per_s": a.n / dt, "n_galaxies": rep.n_galaxies, "matched": rep.n_matched,
            }  # fmt: skip
    text = json.dumps(result, indent=2)
    print(text)
    if a.out:
        a.out.write_text(text)
    return result


if __name__ == "__main__":
    main()
