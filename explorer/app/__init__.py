"""The Voila dashboard (``app.ipynb`` calls :func:`explorer.app.build.build_app`).

One :class:`~explorer.app.state.ExplorerState` holds the :class:`~explorer.app.state.View` on
show (galaxy, latents, prediction, models, sample), computed once per change and published in
one ``view`` trait. Each panel lives in its own module (``picker_panel``, ``scatter_panel``,
``spectrum_panel``, ``sed_panel``, ``midir_panel``, ``latent_panel``, ``attribution_panel``,
``upload_panel``, ``model_panel``), observes the state and never imports another panel; they share
``bokeh_view`` (Bokeh figures as batched widgets), ``style`` (palette, HTML helpers),
``compute`` (the numbers behind the panels), ``figures``, ``midir_figure`` and ``export`` (talk figures).
``browser`` holds the Voila options of ``make run``.
"""

from .state import ExplorerState, View

__all__ = ["ExplorerState", "View"]
