"""benchmarks/run.py prints one JSON object on stdout, whatever the benchmarks print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_stdout_is_json_only():
    out = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--json", "--only", "catalog_read_one_galaxy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    d = json.loads(out.stdout)  # fails on any stray line
    r = d["catalog_read_one_galaxy"]
    assert "error" not in r, r
    assert r["median_ms"] > 0 and r["n_reads"] > 0
    assert d["machine"]["cpu_count"] >= 1


def test_build_catalog_benchmark_runs_on_a_few_copies():
    """The build-catalog throughput benchmark (part of benchmarks/run.py) on 4 copies."""
    out = subprocess.run(
        [sys.executable, "benchmarks/build_catalog.py", "--n", "4"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    r = json.loads(out.stdout)
    for w in ("workers_1", "workers_2"):
        assert r["runs"][w]["spectra_per_s"] > 0 and r["runs"][w]["n_galaxies"] == r["n_spectra"] == 4
    sys.path.insert(0, str(ROOT))
    from benchmarks.run import BENCHMARKS

    assert "build_catalog" in BENCHMARKS
