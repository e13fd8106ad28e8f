"""Shared look of the dashboard: the colour palette, class names and small HTML helpers.

No widget and no figure: panels, the talk figures (:mod:`explorer.app.figures`) and the tests
import these so that every view uses the same colours and number formats.
"""

from __future__ import annotations

import numpy as np

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"]
#: colour of each group of spectral line markers
LINE_GROUP_COLOURS = {"absorption": OKABE_ITO[5], "emission": OKABE_ITO[6], "balmer": OKABE_ITO[3]}
#: the catalog's galaxy classes (``class_label``), in the order legends list them
CLASS_NAMES = ("star-forming", "quenched", "agn")
#: colour of each galaxy class in the latent scatter
CLASS_COLOURS = {"star-forming": OKABE_ITO[5], "quenched": OKABE_ITO[6], "agn": OKABE_ITO[1]}
#: colour of a point whose colouring value is missing
NAN_COLOUR = "#C8C8C8"


def fmt_value(v, fmt: str = "{:.2f}", empty: str = "–") -> str:
    """``fmt.format(v)`` for a finite number, ``empty`` for NaN, None or anything not a number."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return empty
    return fmt.format(v) if np.isfinite(v) else empty
