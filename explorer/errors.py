"""Exceptions with messages that name the file or object and the problem."""


class ExplorerError(Exception):
    """Base class for every error this package raises on bad input."""


class SpectrumFileError(ExplorerError):
    """An SDSS spectrum file cannot be used (not FITS, truncated, wrong HDUs, no good pixels...)."""


class WiseTableError(ExplorerError):
    """A WISE table cannot be used (missing bands, bad errors, duplicate IDs...)."""


class CatalogError(ExplorerError):
    """A catalog file is missing, of the wrong format, or inconsistent."""


class CrossmatchError(ExplorerError):
    """Inputs to a crossmatch are inconsistent."""


class ModelError(ExplorerError):
    """A model file is missing, corrupt, mismatched with its manifest, or cannot be used."""


class AttributionError(ExplorerError):
    """An attribution cannot be computed (unknown target, non-finite input or output, bad baselines...)."""
