"""Generated blocks in Markdown files: the text between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->`` is replaced by a command's output, so that every number in README.md,
data/README.md and docs/ comes from the command named beside it, and a rerun updates it."""

from __future__ import annotations

import re
from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_block(path, name: str, text: str, heading: str | None = None) -> Path:
    """Put ``text`` between the ``name`` markers of the Markdown file ``path``.

    Where the file has no such markers the block is appended, under ``heading`` if given.
    """
    path = Path(path)
    start, end = markers(name)
    old = path.read_text() if path.exists() else ""
    block = f"{start}\n{text.rstrip(chr(10))}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(old):
        new = pattern.sub(lambda _: block, old, count=1)
    else:
        new = (
            old.rstrip("\n") + ("\n\n" if old else "") + (f"{heading}\n\n" if heading else "") + block + "\n"
        )
    path.write_text(new)
    return path
