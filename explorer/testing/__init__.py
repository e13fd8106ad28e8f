"""Test doubles: tiny catalogs and models for tests and benchmarks (never imported at run time)."""
