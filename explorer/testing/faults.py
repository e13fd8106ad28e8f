"""Fault injection for the survey tests: a task hook that kills its own worker process once."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def kill_worker_once(part, *, number: int, marker: str, parts_dir: str) -> None:
    """SIGKILL this process the first time partition ``number`` reaches the hook (the ``marker``
    file records that it happened, so the re-run of the task on a fresh worker goes through).

    First leaves a half-written temporary partition file, as a worker killed while writing would.
    """
    if part.number != number or Path(marker).exists():
        return
    Path(marker).write_text(str(os.getpid()))
    Path(parts_dir).mkdir(parents=True, exist_ok=True)
    (Path(parts_dir) / f"{part.file_stem}.parquet.tmp-{os.getpid()}-deadbeef").write_bytes(b"PAR1 half")
    os.kill(os.getpid(), signal.SIGKILL)
