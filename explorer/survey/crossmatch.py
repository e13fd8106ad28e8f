"""``python -m explorer crossmatch-wise OURS ALLWISE --out DIR``: join a HATS catalog of ours with an
AllWISE HATS catalog through ``lsdb`` (nearest neighbour within a radius, pixel by pixel)."""

from __future__ import annotations

import json
from pathlib import Path

from .cluster import open_client
from .sources import hats_catalog_dir, hats_properties

#: half the 6.1 arcsec W1 beam, as build-catalog's position match (explorer.io.build)
DEFAULT_RADIUS_ARCSEC = 3.05


def crossmatch_wise(
    ours,
    allwise,
    out,
    *,
    radius_arcsec: float = DEFAULT_RADIUS_ARCSEC,
    n_neighbors: int = 1,
    suffix: str = "_allwise",
    workers: int | None = None,
    scheduler: str | None = None,
    command: str = "",
) -> dict:
    """Crossmatch two HATS catalogs and write the matches as a HATS catalog at ``out``.

    Columns of ``allwise`` that ours also has get ``suffix``; ``_dist_arcsec`` is the separation.
    Our catalog's units and provenance are carried into the output's ``hats.properties``.
    """
    import lsdb

    out = Path(out)
    left = lsdb.open_catalog(ours)
    right = lsdb.open_catalog(allwise)
    x = left.crossmatch(
        right, radius_arcsec=radius_arcsec, n_neighbors=n_neighbors, suffixes=("", suffix),
        suffix_method="overlapping_columns", log_changes=False,
    )  # fmt: skip
    props = hats_properties(ours)
    prov = {
        "ours": str(ours), "allwise": str(allwise), "radius_arcsec": radius_arcsec,
        "n_neighbors": n_neighbors, "command": command, "ours_provenance": props.get("irox_provenance", {}),
    }  # fmt: skip
    addl = {"irox_provenance": json.dumps(prov, default=str)}
    if "irox_units" in props:
        addl["irox_units"] = json.dumps(props["irox_units"])
    with open_client(workers, scheduler):
        x.write_catalog(
            out, addl_hats_properties=addl, overwrite=True, progress_bar=False, error_if_empty=False
        )
    n = _hats_nrows(out)
    return {"path": str(out), "n_matches": n, "radius_arcsec": radius_arcsec, "ours": str(ours),
            "allwise": str(allwise)}  # fmt: skip


def _hats_nrows(path) -> int:
    f = hats_catalog_dir(path) / "hats.properties"
    for line in f.read_text().splitlines() if f.is_file() else []:
        if line.startswith("hats_nrows="):
            return int(line.split("=", 1)[1])
    return 0
