"""The Dask client, and what each worker process keeps: the loaded models and its peak memory.

:func:`open_client` starts a ``LocalCluster`` (``workers`` processes, one thread each: torch and
the BLAS libraries get one thread per process, so N workers use N cores) or connects to an
existing scheduler. Without either it yields ``None`` and the tasks run one after another in this
process (the same task function: used for small inputs and as the reference in the tests).

:func:`cached_models` is the per-process model cache: a worker loads a model directory once,
keyed by the sha256 of its ``manifest.json``; :func:`explorer.ml.registry.load_models` verifies
every file against the manifest, and a manifest that changed since the client read it is an
error (the workers would otherwise predict with other models than the report names).
"""

from __future__ import annotations

import os
import resource
from contextlib import contextmanager
from pathlib import Path

from ..errors import ModelError

#: environment of local workers: one thread per process for every numerical library
ONE_THREAD_ENV = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}

_MODELS: dict = {}
_LOADS = {"n": 0}


@contextmanager
def open_client(workers: int | None = None, scheduler: str | None = None, *, memory_limit: str = "auto"):
    """A ``distributed.Client`` for ``scheduler`` or a new local cluster of ``workers`` processes
    (1 thread each); ``None`` when neither is given (tasks run in this process)."""
    if scheduler is None and not workers:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
        try:
            client.run(set_one_thread)
            yield client
        finally:
            client.close()
        return
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    old = {k: os.environ.get(k) for k in ONE_THREAD_ENV}
    os.environ.update(ONE_THREAD_ENV)  # inherited by the worker processes
    try:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
            dashboard_address=None,
        )  # fmt: skip
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    client = Client(cluster)
    try:
        client.run(set_one_thread)
        yield client
    finally:
        client.close()
        cluster.close()


def set_one_thread() -> int:
    """torch on one thread in this process (run on every worker)."""
    import torch

    torch.set_num_threads(1)
    return torch.get_num_threads()


def manifest_sha256(model_dir) -> str:
    from ..ml.registry import MANIFEST, resolve_model_dir, sha256_file

    return sha256_file(Path(resolve_model_dir(model_dir)) / MANIFEST)


def cached_bundle(model_dir, sha256: str):
    """The ModelBundle of ``model_dir``, loaded once per process and manifest checksum."""
    if sha256 in _MODELS:
        return _MODELS[sha256]
    from ..ml.registry import load_models

    now = manifest_sha256(model_dir)
    if now != sha256:
        raise ModelError(
            f"{model_dir}: manifest.json changed since the run started (sha256 {now[:12]}..., "
            f"expected {sha256[:12]}...): the workers would not use the models the report names"
        )
    _MODELS[sha256] = load_models(model_dir)  # verifies every file's sha256
    _LOADS["n"] += 1
    return _MODELS[sha256]


def cached_models(model_dir, sha256: str, train_catalog=None):
    """(ModelBundle, DomainReference) of ``model_dir``, loaded once per process and checksum."""
    key = ("domain", sha256)
    if key not in _MODELS:
        from ..ml.domain import domain_reference

        bundle = cached_bundle(model_dir, sha256)
        _MODELS[key] = (bundle, domain_reference(bundle, train_catalog, save=False))
    return _MODELS[key]


def worker_facts() -> dict:
    """Who ran a task: worker address (or "in-process"), pid, peak resident memory (MB), how
    many times this process loaded models."""
    try:
        from distributed import get_worker

        address = get_worker().address
    except (ImportError, ValueError):
        address = "in-process"
    # Linux reports ru_maxrss in kilobytes
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "worker": address,
        "pid": os.getpid(),
        "peak_rss_mb": round(peak_mb, 1),
        "model_loads": _LOADS["n"],
    }
