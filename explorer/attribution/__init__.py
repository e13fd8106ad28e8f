"""Attributions of IR predictions to optical spectral features (integrated gradients)."""
