"""JSON encoding of the numpy and path values the CLI and the model files write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def json_default(o):
    """``default=`` hook for :func:`json.dumps`: numpy scalars/arrays and paths."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o)}")


def print_json(obj) -> None:
    """Print ``obj`` as indented JSON (numpy values and paths converted): the CLI's output."""
    print(json.dumps(obj, indent=2, default=json_default))


def command_line() -> str:
    """The command being run, as a user would type it (``python -m explorer ...``), for provenance."""
    import sys

    return " ".join(["python -m explorer", *sys.argv[1:]])
