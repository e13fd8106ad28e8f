"""Cache of attribution results keyed by (galaxy id, target, settings hash, model id).

In memory: a least-recently-used dict of :class:`~explorer.attribution.engine.AttributionResult`.
On disk (optional): one ``.npz`` file per key in ``directory`` (arrays + a JSON metadata
string), written atomically; read back on a memory miss. The settings hash covers everything
that changes the numbers (quadrature, step limits, tolerances, the baselines' content: see
:data:`explorer.attribution.engine.RESULT_SETTINGS`); the model id must change whenever the
model's weights change.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..catalog import GalaxySpectrum
from ..errors import AttributionError
from .engine import AttributionResult, prepare, run_prepared

Key = tuple[str, str, str, str]


def cache_key(galaxy_id: str, target: str, settings_hash: str, model_id: str) -> Key:
    """The cache key of one result."""
    return (str(galaxy_id), str(target), str(settings_hash), str(model_id))


def save_result(path: str | Path, result: AttributionResult, model_id: str | None = None) -> Path:
    """Write one result to ``path`` (.npz), atomically."""
    path = Path(path)
    meta = result.to_dict()
    meta["model_id"] = model_id
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.savez(
            fh,
            attribution=result.attribution,
            good=result.good,
            f_baselines=result.f_baselines,
            sum_per_baseline=result.sum_per_baseline,
            meta=np.array(json.dumps(meta)),
        )
    os.replace(tmp, path)
    return path


def load_result(path: str | Path) -> AttributionResult:
    """Read a result written by :func:`save_result`.

    Raises
    ------
    AttributionError
        The file is missing, not an npz, or lacks an entry.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            arrays = {k: npz[k] for k in ("attribution", "good", "f_baselines", "sum_per_baseline")}
    except (OSError, ValueError, KeyError) as exc:
        raise AttributionError(f"attribution cache file {path} is unreadable: {exc}") from None
    return AttributionResult(
        galaxy_id=meta["galaxy_id"],
        target=meta["target"],
        z=float(meta["z"]),
        attribution=arrays["attribution"],
        good=arrays["good"].astype(bool),
        f_x=float(meta["f_x"]),
        f_baselines=arrays["f_baselines"],
        sum_per_baseline=arrays["sum_per_baseline"],
        n_steps=int(meta["n_steps"]),
        converged=bool(meta["converged"]),
        settings=meta["settings"],
        history=[
            {k: (v if k in ("n_steps", "n_paths") else float(v)) for k, v in h.items()}
            for h in meta["history"]
        ],
        elapsed_s=float(meta["elapsed_s"]),
        n_steps_per_baseline=None
        if meta.get("n_steps_per_baseline") is None
        else np.asarray(meta["n_steps_per_baseline"], dtype=np.int64),
    )


class AttributionCache:
    """LRU cache of attribution results, optionally backed by a directory of .npz files.

    Parameters
    ----------
    maxsize : int
        Results kept in memory (one result is ~70 kB).
    directory : path, optional
        Where to store results on disk; created if needed.
    """

    def __init__(self, maxsize: int = 256, directory: str | Path | None = None):
        self.maxsize = int(maxsize)
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self._mem: OrderedDict[Key, AttributionResult] = OrderedDict()
        self.hits = 0
        self.disk_hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._mem)

    def _path(self, key: Key) -> Path | None:
        if self.directory is None:
            return None
        digest = hashlib.sha1("\x1f".join(key).encode()).hexdigest()[:24]
        return self.directory / f"attr-{digest}.npz"

    def get(self, key: Key) -> AttributionResult | None:
        """The cached result for ``key`` (memory first, then disk), or None."""
        if key in self._mem:
            self._mem.move_to_end(key)
            self.hits += 1
            return self._mem[key]
        path = self._path(key)
        if path is not None and path.exists():
            res = load_result(path)
            self._remember(key, res)
            self.disk_hits += 1
            return res
        self.misses += 1
        return None

    def put(self, key: Key, result: AttributionResult) -> None:
        """Store ``result`` under ``key`` in memory (and on disk when a directory is set)."""
        self._remember(key, result)
        path = self._path(key)
        if path is not None:
            save_result(path, result, model_id=key[3])

    def _remember(self, key: Key, result: AttributionResult) -> None:
        self._mem[key] = result
        self._mem.move_to_end(key)
        while len(self._mem) > self.maxsize:
            self._mem.popitem(last=False)

    def clear(self, disk: bool = False) -> None:
        """Forget the in-memory results (and delete the .npz files if ``disk``)."""
        self._mem.clear()
        if disk and self.directory is not None:
            for p in self.directory.glob("attr-*.npz"):
                p.unlink()


def cached_attribute_targets(
    cache: AttributionCache | None,
    target_fn,
    spectrum: GalaxySpectrum,
    targets: Sequence[str],
    *,
    model_id: str | None = None,
    **kwargs,
) -> dict[str, AttributionResult]:
    """:func:`~explorer.attribution.engine.attribute_targets` through a cache.

    Only targets missing from the cache are computed (together, sharing forward passes).

    Parameters
    ----------
    cache : AttributionCache or None (no caching)
    model_id : str, optional
        Default ``target_fn.model_id``; required when caching.
    **kwargs
        Engine settings (baselines, n_baselines, rng, n_steps, max_steps, tol, ...).
    """
    prep = prepare(target_fn, spectrum, **kwargs)
    if cache is None:
        return run_prepared(target_fn, prep, targets)
    model_id = model_id if model_id is not None else getattr(target_fn, "model_id", None)
    if not model_id:
        raise AttributionError(
            f"cannot cache attributions of galaxy {spectrum.id}: no model_id (pass model_id= or set target_fn.model_id)"
        )
    sh = prep.settings["settings_hash"]
    out: dict[str, AttributionResult] = {}
    missing = []
    for t in targets:
        hit = cache.get(cache_key(prep.galaxy_id, t, sh, model_id))
        if hit is None:
            missing.append(t)
        else:
            out[t] = hit
    if missing:
        for t, res in run_prepared(target_fn, prep, missing).items():
            cache.put(cache_key(prep.galaxy_id, t, sh, model_id), res)
            out[t] = res
    return {t: out[t] for t in targets}
