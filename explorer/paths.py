"""Where the project's artifacts live (the repo's ``data/`` and ``models/`` folders)."""

from __future__ import annotations

import os
from pathlib import Path

#: Repository root (``explorer/`` is the importable package inside it).
REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("IROX_DATA_DIR", REPO_ROOT / "data"))
MODELS_DIR = Path(os.environ.get("IROX_MODELS_DIR", REPO_ROOT / "models"))
#: The embedded default catalog: 2,000 simulated galaxies (see data/README.md).
DEMO_CATALOG = DATA_DIR / "demo_catalog.h5"
