"""Batch prediction over a catalog: one row per galaxy, written as FITS, CSV, Parquet or ECSV.

Backs ``python -m explorer predict CATALOG --models NAME --out FILE``. Rows are processed in
chunks (``chunk`` galaxies: read spectra, encode, predict, score the domain, write), so the
spectra and posteriors of only one chunk are in memory. CSV and Parquet outputs are streamed
chunk by chunk; FITS and ECSV collect the output table (about 0.4 kB per galaxy) and write it
at the end.

The per-galaxy functions are those the app and ``evaluate`` use:
:meth:`ModelBundle.catalog_latents`, :meth:`ModelBundle.predict`,
:meth:`ModelBundle.predict_properties`, :meth:`IRPosterior.quantiles` and
:meth:`IRPosterior.detected_mean_mag`; out-of-domain flags come from
:func:`explorer.ml.domain.score_domain`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..constants import WISE_BANDS
from ..errors import ModelError

__all__ = [
    "predict_catalog",
    "predict_rows",
    "to_table",
    "output_meta",
    "open_inputs",
    "TableWriter",
    "OUTPUT_FORMATS",
    "COLUMN_UNITS",
]

OUTPUT_FORMATS = {".fits": "fits", ".csv": "csv", ".parquet": "parquet", ".ecsv": "ecsv"}
SDSS_BANDS = "ugriz"

#: output column -> (unit, description); W-band columns are expanded per band
COLUMN_UNITS: dict[str, tuple[str, str]] = {
    "id": ("", "galaxy identifier from the catalog"),
    "ra_deg": ("deg", "right ascension"),
    "dec_deg": ("deg", "declination"),
    "z": ("", "spectroscopic redshift"),
    **{
        f"{w.lower()}_{k}": ("mag", f"{w} (Vega) {d}")
        for w in WISE_BANDS
        for k, d in (
            ("mean_mag", "posterior mean of the true magnitude"),
            ("sigma_mag", "posterior standard deviation"),
            ("p16_mag", "posterior 16th percentile"),
            ("p50_mag", "posterior median"),
            ("p84_mag", "posterior 84th percentile"),
            ("detected_mean_mag", "expected catalog magnitude if detected (IRPosterior.detected_mean_mag)"),
        )
    },
    "p_agn": ("", "probability of an AGN (property heads)"),
    "qpah_percent": ("%", "PAH mass fraction q_PAH (median)"),
    "qpah_frac_sigma": ("", "fractional uncertainty of q_PAH (sigma of ln q_PAH)"),
    "log_lbol_agn_erg_s": ("dex(erg/s)", "log10 AGN bolometric luminosity if an AGN"),
    "log_lbol_agn_sigma_dex": ("dex", "its uncertainty"),
    "log_sfr_msun_yr": ("dex(Msun/yr)", "log10 star-formation rate"),
    "log_sfr_sigma_dex": ("dex", "its uncertainty"),
    "ood": ("", "outside the training domain (any check)"),
    "ood_z": ("", "redshift outside the training range"),
    "ood_latent": ("", "latents beyond the Mahalanobis threshold"),
    "ood_norm": ("", "normalization outside the training range"),
    "ood_mag": ("", "ugriz magnitude outside the training range"),
    "latent_mahalanobis_d2": ("", "squared Mahalanobis distance of the latents to the training set"),
    "ood_reason": ("", "why the galaxy is out of domain (empty if not)"),
    "catalog_flag": ("", "catalog validation problem of the row (empty if none)"),
}


def _format_of(out: Path) -> str:
    fmt = OUTPUT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ModelError(f"{out}: output format must be one of {sorted(OUTPUT_FORMATS)} (from the suffix)")
    return fmt


def predict_rows(cat, bundle, ref, idx, n_detected_samples: int, seeds=None):
    """Predictions for rows ``idx`` of ``cat`` as a dict of columns.

    ``seeds`` (default ``idx``) seed each galaxy's Monte Carlo draws: a caller that hands in a
    slice of a catalog (``explorer.survey``) passes the rows' numbers in the whole catalog, so the
    numbers do not depend on how the catalog was cut.
    """
    from .domain import score_domain

    t = cat.table
    lat = bundle.catalog_latents(cat, idx)
    z = np.asarray(t["z"], float)[idx]
    norm = np.asarray(t["spec_norm"], float)[idx]

    def mags(kind):
        return np.stack(
            [np.asarray(t[f"mag_{b}_{kind}"], float)[idx] if f"mag_{b}_{kind}" in t else np.full(len(idx), np.nan)
             for b in SDSS_BANDS], axis=1)  # fmt: skip

    kw = dict(latents=lat, z=z, spec_norm=norm, mag_total=mags("total"), mag_fiber=mags("fiber"))
    post = bundle.predict(**kw)
    q = post.quantiles([0.16, 0.5, 0.84])
    # Monte Carlo draws seeded by the galaxy's row, so the numbers do not depend on the chunking
    seeds = idx if seeds is None else seeds
    det = np.concatenate(
        [post[k : k + 1].detected_mean_mag(n_samples=n_detected_samples, rng=int(i)) for k, i in enumerate(seeds)]
    ) if len(idx) else np.zeros((0, len(WISE_BANDS)))  # fmt: skip
    cols: dict = {"id": np.asarray(t["id"]).astype(str)[idx]}
    for c in ("ra_deg", "dec_deg"):
        cols[c] = np.asarray(t[c], float)[idx] if c in t else np.full(len(idx), np.nan)
    cols["z"] = z
    mean, sig = post.mean_mag, post.sigma_mag
    for k, w in enumerate(WISE_BANDS):
        b = w.lower()
        cols[f"{b}_mean_mag"] = mean[:, k]
        cols[f"{b}_sigma_mag"] = sig[:, k]
        cols[f"{b}_p16_mag"] = q[:, 0, k]
        cols[f"{b}_p50_mag"] = q[:, 1, k]
        cols[f"{b}_p84_mag"] = q[:, 2, k]
        cols[f"{b}_detected_mean_mag"] = det[:, k]
    if bundle.properties is not None:
        pp = bundle.predict_properties(**kw)
        cols.update(
            p_agn=pp.p_agn,
            qpah_percent=pp.qpah,
            qpah_frac_sigma=pp.qpah_frac_sigma,
            log_lbol_agn_erg_s=pp.log_lbol_agn,
            log_lbol_agn_sigma_dex=pp.log_lbol_agn_sigma,
            log_sfr_msun_yr=pp.log_sfr,
            log_sfr_sigma_dex=pp.log_sfr_sigma,
        )
    cols.update(score_domain(ref, z, norm, lat, kw["mag_total"]).columns())
    bad = cat.bad_rows
    cols["catalog_flag"] = np.array([bad.get(int(i), "") for i in idx], dtype=str)
    return cols


def to_table(cols: dict, meta: dict | None = None):
    from astropy.table import Table

    tab = Table(cols, meta=meta or {})
    for name in tab.colnames:
        unit, desc = COLUMN_UNITS.get(name, ("", ""))
        if unit and not unit.startswith("dex("):
            tab[name].unit = unit
        tab[name].description = desc + (f" [{unit}]" if unit.startswith("dex(") else "")
    return tab


def predict_catalog(
    catalog,
    models,
    out,
    *,
    chunk: int = 2048,
    train_catalog=None,
    n_detected_samples: int = 512,
    progress: bool = True,
    command: str = "",
) -> dict:
    """Predict every galaxy of a catalog and write one row per galaxy.

    Parameters
    ----------
    catalog : path or Catalog
        Spectral catalog (spectra encoded with the model's encoder) or latent catalog.
    models : str, path or ModelBundle
    out : path
        ``.fits``, ``.csv``, ``.parquet`` or ``.ecsv`` (format from the suffix).
    chunk : int
        Galaxies per chunk.
    train_catalog : path, optional
        To compute the out-of-domain reference when the model directory has no ``domain.json``.
    n_detected_samples : int
        Monte Carlo draws of :meth:`IRPosterior.detected_mean_mag`.

    Returns
    -------
    dict: path, n rows, n out of domain (and up to 20 "id: reason" lines), format, seconds.
    """
    import time

    from tqdm.auto import tqdm

    from .domain import domain_reference

    t0 = time.perf_counter()
    out = Path(out)
    fmt = _format_of(out)
    if chunk < 1:
        raise ModelError(f"chunk must be >= 1, got {chunk}")
    cat, bundle = open_inputs(catalog, models)
    ref = domain_reference(bundle, train_catalog)
    meta = output_meta(cat, bundle, ref, command)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    n = cat.n
    writer = TableWriter(fmt, tmp, meta)
    n_ood = 0
    ood_examples: list[str] = []
    try:
        for s in tqdm(range(0, n, chunk), desc="predict", disable=not progress):
            idx = np.arange(s, min(n, s + chunk))
            cols = predict_rows(cat, bundle, ref, idx, n_detected_samples)
            n_ood += int(np.count_nonzero(cols["ood"]))
            for k in np.flatnonzero(cols["ood"])[: max(0, 20 - len(ood_examples))]:
                ood_examples.append(f"{cols['id'][k]}: {cols['ood_reason'][k]}")
            writer.add(to_table(cols), first=s == 0)
        writer.close()
        tmp.replace(out)
    finally:
        if tmp.exists():
            tmp.unlink()
    if fmt == "csv":  # CSV has no room for metadata: a sidecar
        side = out.with_name(out.name + ".meta.json")
        side.write_text(
            json.dumps(
                {"meta": meta, "units": {c: u for c, (u, _) in COLUMN_UNITS.items()}}, indent=1, default=str
            )
        )
    return {
        "path": str(out),
        "format": fmt,
        "n_rows": int(n),
        "n_out_of_domain": n_ood,
        "out_of_domain_examples": ood_examples,
        "seconds": time.perf_counter() - t0,
    }


def open_inputs(catalog, models):
    """(Catalog, ModelBundle), checked: the bundle has a predictor whose inputs the catalog has."""
    from ..catalog import Catalog
    from .registry import ModelBundle, load_models

    cat = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
    bundle = models if isinstance(models, ModelBundle) else load_models(models)
    if bundle.predictor is None:
        raise ModelError(f"{bundle.path}: no predictor.pt in this model directory")
    kind = bundle.predictor.feature_kind
    if kind in ("spectrum", "spectrum_ap") and not cat.attrs.get("optical_photometry", True):
        raise ModelError(
            f"{cat.path} has no ugriz photometry (optical_photometry = False) but {bundle.path}'s predictor "
            f"uses it ({kind!r} inputs): use a model trained with --inputs paper"
        )
    return cat, bundle


def output_meta(cat, bundle, ref, command: str) -> dict:
    """Metadata of the output table: catalog, model, domain reference, command."""
    man = bundle.manifest
    return {
        "irox_output": "predictions",
        "catalog": {"path": str(cat.path), "n_galaxies": int(cat.n), "simulated": bool(cat.simulated)},
        "models": str(bundle.path),
        "model_name": man.get("name", ""),
        "predictor_sha256": man.get("files", {}).get("predictor.pt", {}).get("sha256", ""),
        "predictor_inputs": bundle.predictor.feature_kind,
        "training_command": man.get("training_command", ""),
        "training_catalog": (man.get("catalog") or {}).get("path", ""),
        "domain_reference": ref.source,
        "command": command,
        "wise_magnitudes": "Vega; posterior of the TRUE magnitude (not a measurement)",
        "properties": "from the property heads (trained on simulation truth)"
        if bundle.properties
        else "none",
    }


class TableWriter:
    """Writes the output table to ``tmp`` chunk by chunk: CSV and Parquet streamed, FITS and ECSV
    collected and written by :meth:`close`."""

    def __init__(self, fmt: str, tmp: Path, meta: dict):
        self.fmt, self.tmp, self.meta = fmt, tmp, meta
        self.tables: list = []
        self.parquet = None

    def add(self, tab, *, first: bool) -> None:
        if self.fmt == "csv":
            with open(self.tmp, "w" if first else "a") as fh:
                tab.write(fh, format="ascii.csv" if first else "ascii.no_header", delimiter=",")
        elif self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            at = pa.table({c: np.asarray(tab[c]) for c in tab.colnames})
            if self.parquet is None:
                md = {
                    "irox_meta": json.dumps(self.meta, default=str),
                    "irox_units": json.dumps({c: COLUMN_UNITS.get(c, ("", ""))[0] for c in tab.colnames}),
                }
                self.parquet = pq.ParquetWriter(self.tmp, at.schema.with_metadata(md))
            self.parquet.write_table(at)
        else:
            self.tables.append(tab)

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        if self.fmt in ("fits", "ecsv"):
            from astropy.table import vstack

            full = vstack(self.tables) if self.tables else to_table({})
            meta = self.meta
            full.meta.update(
                {k: (json.dumps(v, default=str) if isinstance(v, dict) else v) for k, v in meta.items()}
                if self.fmt == "fits"
                else meta
            )
            full.write(self.tmp, format="fits" if self.fmt == "fits" else "ascii.ecsv", overwrite=True)
