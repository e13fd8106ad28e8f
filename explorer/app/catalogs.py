"""Which catalogs the page offers, whether the models fit a catalog, and the out-of-domain note.

Catalog menu (:func:`available_catalogs`): the demo catalog, every ``*.h5`` catalog in the user
folder (``IROX_USER_CATALOGS``, default ``<repo>/data/user/``; ``data/*.h5`` other than the demo
are not committed, see .gitignore) and the catalog opened at start (``IROX_CATALOG``).

Models and catalog (:func:`models_for_catalog`): a latent catalog (no spectra, official latents)
needs a predictor whose latent count is the catalog's; a paper-inputs predictor (latents + z +
normalisation) is the right one, another predictor fills the missing ugriz magnitudes with its
training mean and the status line says so.

Out of domain (:func:`domain_note`): the galaxy on show scored against the model's training
domain (:mod:`explorer.ml.domain`); one row, so cheap enough for every view.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..paths import DEMO_CATALOG, REPO_ROOT


def user_catalog_dir() -> Path:
    """The folder of the user's catalogs: ``IROX_USER_CATALOGS``, else ``<repo>/data/user``."""
    env = os.environ.get("IROX_USER_CATALOGS", "").strip()
    return Path(env) if env else REPO_ROOT / "data" / "user"


def available_catalogs(current: str | Path | None = None) -> list[tuple[str, str]]:
    """(label, path) of the catalogs the menu offers: the demo, the user folder's ``*.h5``, ``current``.

    Duplicates (same resolved path) are listed once; the demo comes first when it exists.
    """
    out: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(label: str, path: Path) -> None:
        key = str(Path(path).resolve())
        if key not in seen:
            seen.add(key)
            out.append((label, str(path)))

    if current is not None:
        add(f"{Path(current).name} (opened at start)", Path(current))
    if DEMO_CATALOG.is_file():
        add(f"{DEMO_CATALOG.name} (demo, simulated)", DEMO_CATALOG)
    folder = user_catalog_dir()
    if folder.is_dir():
        for p in sorted(folder.glob("*.h5")):
            add(f"{p.name} (data/user)" if folder == REPO_ROOT / "data" / "user" else p.name, p)
    return out


def _predictor_latents(predictor) -> int | None:
    """Number of latents a predictor takes (None if it cannot be told)."""
    from ..ml.data import feature_names

    try:
        n_feat = int(np.asarray(predictor.x_scaler.mean).size)
        return n_feat - len(feature_names(predictor.feature_kind, 0))
    except Exception:  # noqa: BLE001 - an unusual predictor: no check, the prediction will tell
        return None


def models_for_catalog(catalog, models) -> tuple[object | None, str]:
    """(models to use on ``catalog`` or None, HTML note for the status line, "" when all is well)."""
    if models is None or catalog.has_spectra:
        return models, ""
    lat = catalog.latents
    n_cat = None if lat is None else lat.shape[1]
    pred = models.predictor
    if pred is None:
        return None, (
            "<b>This latent catalog needs a predictor</b>: the model has none, so no prediction is shown."
        )
    n_pred = _predictor_latents(pred)
    if n_cat is not None and n_pred is not None and n_pred != n_cat:
        return None, (
            f"<b>These models cannot predict from this catalog</b>: its galaxies have {n_cat} latents, "
            f"the predictor takes {n_pred}. Choose a paper-inputs model trained on such latents "
            "(<code>train-predictor --inputs paper</code>)."
        )
    if pred.feature_kind != "paper":
        return models, (
            f"<b>Not a paper-inputs model</b>: the predictor uses <code>{html.escape(pred.feature_kind)}</code> "
            "inputs (ugriz magnitudes), which a latent catalog does not have; they are replaced by the "
            "training mean. Choose a model trained with <code>train-predictor --inputs paper</code>."
        )
    return models, ""


@dataclass(frozen=True)
class DomainNote:
    """Out-of-domain verdict on the galaxy on show.

    Attributes
    ----------
    status : {"in", "out", "none", "error"}
        Inside / outside the training domain, no reference for the model, or scoring failed.
    text : str
        Plain text: the reasons when out of domain, else a short note.
    """

    status: str
    text: str

    @property
    def ood(self) -> bool:
        return self.status == "out"

    def html(self) -> str:
        """The note as the page shows it: a warning box when out of domain, quiet grey otherwise."""
        text = html.escape(self.text)
        if self.ood:
            return (
                "<div class='irox-ood' style='border:2px solid #D55E00;background:#fff4ec;padding:4px 8px;"
                f"margin:4px 0'>⚠ <b>Out of the model's training domain</b>: {text}. "
                "Treat this prediction with caution.</div>"
            )
        return f"<div class='irox-domain' style='color:#777;margin:4px 0'>{text}</div>"


def load_domain_ref(models):
    """(DomainReference or None, note): the model's ``domain.json``, never an exception."""
    if models is None:
        return None, ""
    from ..errors import ModelError
    from ..ml.domain import load_domain

    try:
        ref = load_domain(models.path)
    except ModelError as exc:
        return None, f"domain reference unreadable: {exc}"
    return ref, ("" if ref is not None else "no domain reference for this model")


def domain_note(ref, note: str, row: dict, latents) -> DomainNote | None:
    """Score one galaxy (its row and current latents) against ``ref``; None without models."""
    if ref is None:
        return DomainNote("none", note) if note else None
    if latents is None:
        return None
    from ..ml.domain import score_row

    try:
        s = score_row(ref, row, latents)
    except Exception as exc:  # noqa: BLE001 - a note on the page, never a broken view
        return DomainNote("error", f"out-of-domain check failed: {exc}")
    if bool(s.ood[0]):
        return DomainNote("out", str(s.reason[0]))
    return DomainNote(
        "in", f"inside the model's training domain (Mahalanobis d²={float(s.mahalanobis_d2[0]):.3g})"
    )
