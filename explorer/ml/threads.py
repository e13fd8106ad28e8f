"""Run torch code with a given number of threads, restoring the caller's setting afterwards."""

from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n_threads: int):
    """Temporarily ``torch.set_num_threads(n_threads)`` (the project machine has 2 cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
