"""Physically grounded simulated SDSS x WISE catalog (needs the optional ``simulate`` extra)."""
