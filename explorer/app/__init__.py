"""The Voila dashboard: one :class:`ExplorerState` that panels observe (see ``app.ipynb``)."""

from .state import ExplorerState

__all__ = ["ExplorerState"]
