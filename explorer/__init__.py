"""IR–Optical Explorer: what a galaxy's optical spectrum tells us about its infrared.

The package is layered in one direction (see README): ``constants`` and ``errors`` at the
bottom; readers (``explorer.io``) and the simulator (``explorer.simulate``) produce a
``explorer.catalog`` file; models consume catalogs; the app only shows what models return.
"""

__version__ = "0.1.0"
