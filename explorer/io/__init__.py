"""Readers for real survey files: SDSS spectra, AllWISE tables, and their crossmatch."""
