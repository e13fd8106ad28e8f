"""benchmarks/run.py prints one JSON object on stdout, whatever the benchmarks print."""

from __future__ import annotations

import json
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
