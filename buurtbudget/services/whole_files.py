"""Files that appear whole or not at all: written as ``<name>.partial`` and renamed once
complete, so that no reader (a download, ``flask jobs clean``) ever sees half a file; a write
that fails (a full disk, an error while making the content) leaves no ``.partial`` behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def written_whole(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s content to; ``path`` appears when the block ends."""
    partial = path.with_name(f"{path.name}.partial")
    try:
        with partial.open("wb") as out:
            yield out
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
