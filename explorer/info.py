"""Summaries of a catalog file (``python -m explorer info``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .catalog import Catalog
from .constants import SDSS_BANDS, WISE_BANDS

CLASSES = ("star-forming", "quenched", "agn")


def catalog_info(path: str | Path) -> dict:
    """Describe a catalog: size, redshift range, bands, class fractions, detections, bad rows.

    Parameters
    ----------
    path : path-like
        A catalog written by :func:`explorer.catalog.write_catalog`.

    Returns
    -------
    dict
        JSON-serializable summary. Class fractions are over all galaxies with a class label
        (simulation truth for simulated catalogs; empty for observed ones).
    """
    with Catalog(path) as cat:
        t = cat.table
        z = np.asarray(t["z"], dtype=float)
        labels = np.asarray(t.get("class_label", np.full(cat.n, "")), dtype=str)
        labelled = labels != ""
        n_lab = int(labelled.sum())
        fractions = {c: (float(np.mean(labels[labelled] == c)) if n_lab else None) for c in CLASSES}
        splits = {s: int(np.sum(t["split"] == s)) for s in np.unique(t["split"])}
        detected = {
            w: float(np.mean(~np.asarray(t[f"{w.lower()}_is_ul"], dtype=bool))) if cat.n else None
            for w in WISE_BANDS
        }
        optical = [b for b in SDSS_BANDS if f"mag_{b}_total" in t]
        bad = cat.bad_rows
        return {
            "path": str(cat.path),
            "simulated": cat.simulated,
            "n_galaxies": cat.n,
            "n_good": int(cat.n - len(bad)),
            "n_bad_rows": len(bad),
            "bad_rows_examples": {t["id"][i]: r for i, r in list(bad.items())[:5]},
            "z_range": [float(np.nanmin(z)), float(np.nanmax(z))] if cat.n else None,
            "z_median": float(np.nanmedian(z)) if cat.n else None,
            "bands": {"optical": list(optical), "wise": list(WISE_BANDS)},
            "wise_detected_fraction": detected,
            "class_fractions": fractions,
            "splits": splits,
            "spectrum_pixels": int(cat._h5["spectra/flux"].shape[1]) if cat.has_spectra else 0,
            "content": cat.content,  # "latents": a latent catalog (no spectra)
            "provenance": _provenance_summary(cat.provenance),
        }


def _provenance_summary(prov: dict) -> dict:
    keys = ("command", "seed", "n", "created", "selection")
    out = {k: prov[k] for k in keys if k in prov}
    if "parent_provenance" in prov:
        out["parent"] = {k: prov["parent_provenance"][k] for k in keys if k in prov["parent_provenance"]}
    return out


def format_info(info: dict) -> str:
    """Human-readable rendering of :func:`catalog_info`."""
    kind = "simulated" if info["simulated"] else "observed"
    lines = [
        f"{info['path']}: {info['n_galaxies']} {kind} galaxies ({info['n_bad_rows']} flagged rows)",
    ]
    if info["z_range"]:
        lines.append(
            f"  redshift      {info['z_range'][0]:.3f} - {info['z_range'][1]:.3f} (median {info['z_median']:.3f})"
        )
    lines.append(
        f"  optical bands {' '.join(info['bands']['optical'])}; WISE {' '.join(info['bands']['wise'])}"
    )
    det = info["wise_detected_fraction"]
    lines.append(
        "  WISE detected " + ", ".join(f"{b} {100 * v:.0f}%" for b, v in det.items() if v is not None)
    )
    fr = info["class_fractions"]
    if any(v is not None for v in fr.values()):
        lines.append("  classes       " + ", ".join(f"{c} {100 * v:.1f}%" for c, v in fr.items()))
    lines.append("  splits        " + ", ".join(f"{k} {v}" for k, v in info["splits"].items()))
    prov = info["provenance"]
    made_by = prov.get("parent", prov)
    if "command" in made_by:
        lines.append(
            f"  made by       {made_by['command']}" + (" (then make-demo)" if "parent" in prov else "")
        )
    for gid, reason in info["bad_rows_examples"].items():
        lines.append(f"  flagged       {gid}: {reason}")
    return "\n".join(lines)
