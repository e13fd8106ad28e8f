"""Run the simulator: n galaxies -> one catalog file (explorer.catalog format), in parallel.

Every galaxy's random numbers come from ``SeedSequence([seed, index])``, so a run is identical for
any number of workers, and galaxy ``i`` is the same galaxy in runs of any size with the same seed
(only the train/valid/test split depends on n).
"""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path

import numpy as np

from ..catalog import write_catalog
from ..constants import N_PIX
from . import population as pop
from .irspec import IR_COMPONENTS, IR_WAVE_UM

SPLIT_FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}
_SPLIT_STREAM = 0x5EED5  # extra SeedSequence key for the split permutation

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# worker-process state (one bagpipes model per process)
_SIM = None
_POOL = None


def _init_worker(pool: pop.RealPool) -> None:
    global _SIM, _POOL
    from .engine import GalaxySimulator

    _POOL = pool
    if _SIM is None:  # one bagpipes model per process, reused by later runs in this process
        _SIM = GalaxySimulator()


def _run_chunk(args: tuple[int, int, int]):
    """Simulate galaxies [start, stop) of a run with ``seed``."""
    import time

    seed, start, stop = args
    cpu0 = time.process_time()
    rows = []
    flux = np.empty((stop - start, N_PIX), np.float32)
    weight = np.empty((stop - start, N_PIX), np.float32)
    ir = np.empty((stop - start, len(IR_COMPONENTS), IR_WAVE_UM.size), np.float32)
    for k, i in enumerate(range(start, stop)):
        p = pop.draw_galaxy(pop.galaxy_rng(seed, i), _POOL)
        p["catalog_seed"] = seed  # the WISE zero points are common to the whole catalog
        row, flux[k], weight[k], ir[k] = _SIM.simulate(p)
        rows.append(row)
    return start, rows, flux, weight, ir, time.process_time() - cpu0


def assign_splits(n: int, seed: int) -> np.ndarray:
    """train/valid/test labels (80/10/10, exact counts) from a seeded permutation."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _SPLIT_STREAM]))
    order = rng.permutation(n)
    n_train = int(round(SPLIT_FRACTIONS["train"] * n))
    n_valid = int(round(SPLIT_FRACTIONS["valid"] * n))
    labels = np.empty(n, dtype=object)
    labels[order[:n_train]] = "train"
    labels[order[n_train : n_train + n_valid]] = "valid"
    labels[order[n_train + n_valid :]] = "test"
    return labels.astype(str)


def package_versions() -> dict:
    """Versions of the packages that shape the simulation."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("bagpipes", "numpy", "scipy", "astropy", "speclite", "kcorrect", "ir-optical-explorer"):
        try:
            out["explorer" if name == "ir-optical-explorer" else name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _simulate_tasks(
    tasks: list[tuple[int, int, int]], n: int, pool: pop.RealPool, workers: int, progress: bool
):
    """Run the chunks ``tasks`` in this process (``workers <= 1``) or in a pool of processes.

    Returns
    -------
    rows : list of n dicts, flux, weight : (n, 3921) float32, ir : (n, 3, 256) float32 rest-frame IR
    spectra, cpu_s : float (CPU seconds of all workers)
    """
    from tqdm.auto import tqdm

    rows: list[dict | None] = [None] * n
    flux = np.empty((n, N_PIX), np.float32)
    weight = np.empty((n, N_PIX), np.float32)
    ir = np.empty((n, len(IR_COMPONENTS), IR_WAVE_UM.size), np.float32)
    cpu_s = [0.0]
    bar = tqdm(total=n, desc="simulating galaxies", unit="gal", disable=not progress)

    def collect(result):
        start, rws, f, w, irs, cpu = result
        cpu_s[0] += cpu
        ir[start : start + len(rws)] = irs
        rows[start : start + len(rws)] = rws
        flux[start : start + len(rws)] = f
        weight[start : start + len(rws)] = w
        bar.update(len(rws))

    if workers <= 1:
        _init_worker(pool)
        for t in tasks:
            collect(_run_chunk(t))
    else:
        _run_in_processes(tasks, pool, workers, collect)
    bar.close()
    return rows, flux, weight, ir, cpu_s[0]


def _run_in_processes(tasks, pool: pop.RealPool, workers: int, collect) -> None:
    """``collect`` the result of every task, run by ``workers`` spawned processes."""
    import multiprocessing as mp
    import os

    ctx = mp.get_context("spawn")  # safe with torch/threads in the parent
    # one BLAS/OpenMP thread per worker (the children read these at import)
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    os.environ.update({v: "1" for v in _THREAD_VARS})
    try:
        with ctx.Pool(workers, initializer=_init_worker, initargs=(pool,)) as mpool:
            for result in mpool.imap_unordered(_run_chunk, tasks):
                collect(result)
    finally:
        for v, val in saved.items():
            if val is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = val


def simulate_catalog(
    n: int,
    seed: int,
    out: Path,
    *,
    workers: int = 2,
    report_dir: Path | None = None,
    progress: bool = True,
    spectra_dtype: str = "float32",
    chunk_size: int | None = None,
    command: str | None = None,
) -> Path:
    """Simulate ``n`` galaxies and write them as a catalog.

    Parameters
    ----------
    n : int
        Number of galaxies.
    seed : int
        Master seed; galaxy i uses ``SeedSequence([seed, i])``.
    out : Path
        Output catalog (``.h5``).
    workers : int
        Worker processes (each builds its own bagpipes model once). 1 runs in this process.
    report_dir : Path, optional
        If given, the diagnostic PNGs of :func:`explorer.simulate.report.make_report` go there.
    progress : bool
        Show a tqdm progress bar.
    spectra_dtype : {"float32", "float16"}
        Storage type of the spectra.
    chunk_size : int, optional
        Galaxies per task sent to a worker (default: up to 50, at least 4 tasks per worker).
    command : str, optional
        Command line recorded in the provenance (default: ``sys.argv``).

    Returns
    -------
    Path
        The written catalog.
    """
    import time

    n = int(n)
    if n < 1:
        raise ValueError(f"simulate_catalog: n must be >= 1, got {n}")
    out = Path(out)
    started = _dt.datetime.now(_dt.UTC)
    t0 = time.perf_counter()
    pool = pop.load_real_pool()
    if chunk_size is None:
        chunk_size = int(np.clip(np.ceil(n / (4 * max(workers, 1))), 1, 50))
    tasks = [(int(seed), s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]
    rows, flux, weight, ir, cpu_s = _simulate_tasks(tasks, n, pool, workers, progress)
    t_sim = time.perf_counter()

    table: dict[str, np.ndarray] = {"id": np.array([f"SIM-{i:07d}" for i in range(n)])}
    for key in rows[0]:
        table[key] = np.array([r[key] for r in rows])
    table["split"] = assign_splits(n, seed)
    provenance = _provenance(command, seed, n, started, t_sim - t0, workers, cpu_s)
    rows.clear()  # free the per-row dicts before writing
    if np.dtype(spectra_dtype) == np.float16:
        from .demo import FLOAT16_WEIGHT_MAX

        np.clip(weight, 0.0, FLOAT16_WEIGHT_MAX, out=weight)
    ir_rest = {"wave_um": IR_WAVE_UM, **{c: ir[:, k] for k, c in enumerate(IR_COMPONENTS)}}
    path = write_catalog(
        out,
        table,
        flux,
        weight,
        simulated=True,
        provenance=provenance,
        spectra_dtype=spectra_dtype,
        ir_rest=ir_rest,
    )
    if progress:
        print(
            f"simulate_catalog: {n} galaxies in {t_sim - t0:.0f} s (+{time.perf_counter() - t_sim:.0f} s writing),"
            f" {provenance['cpu_ms_per_galaxy']} ms CPU per galaxy -> {path}"
        )
    if report_dir is not None:
        from .report import make_report

        make_report(path, report_dir)
    return path


def _provenance(command, seed: int, n: int, started, wall_s: float, workers: int, cpu_s: float) -> dict:
    """The provenance record of a simulated catalog."""
    return {
        "generator": "explorer.simulate.run.simulate_catalog",
        "command": command if command is not None else " ".join(sys.argv),
        "seed": int(seed),
        "n": n,
        "versions": package_versions(),
        "created": started.isoformat(timespec="seconds"),
        "wall_s_setup_and_simulate": round(wall_s, 1),
        "workers": int(workers),
        "cpu_ms_per_galaxy": round(1e3 * cpu_s / n, 2),
        "real_galaxy_source": "kcorrect/data/test/gst_tests_small.fits (SDSS): SEDs (g-r, K corrections) at the luminosity drawn from the Blanton et al. (2003) LF",
        "hidden_scatter": dict(pop.HIDDEN_SCATTER),
        "simulation_version": 2,
        "line_flux_unit": "1e-17 erg/s/cm2 (fiber, observed, attenuated, narrow lines)",
        "agn_convention": "truth_agn_type 0 = no AGN; then every other truth AGN column is NaN",
    }
