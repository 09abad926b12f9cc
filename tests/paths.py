"""Where the tests find their data: inside the repository, never beside it.

A fresh clone must run the same tests as a developer's machine, so tests and benches read only
files of the repository (tests/data/, with the real pabulib elections in tests/data/pabulib).
Two guards keep it so:

- ``tests/test_paths.py`` scans the sources of tests/ and bench/ for paths that leave the
  repository root (``parents[N]`` past the root, ``..`` segments, existing absolute paths);
- :func:`install_guard` (called by the root conftest) refuses, while the tests run, every use of
  a sibling of the checkout (such as ``../shared``) and of any ``.pb`` file outside the repository
  and the temporary folder, and records it so the test fails even where the error is caught.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "tests" / "data"
PABULIB_DIR = DATA_DIR / "pabulib"

VIOLATIONS: list[str] = []
_WATCHED_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "glob.glob", "os.chdir"})
_installed = False


class OutsideRepositoryRead(RuntimeError):
    """A test or bench read a file outside the repository."""


def pabulib_file(name: str) -> Path:
    """A real pabulib election copied into tests/data/pabulib (see its README)."""
    path = PABULIB_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: copy it into tests/data/pabulib")
    return path


def _inside(path: str, folder: str | tuple[str, ...]) -> bool:
    folders = (folder,) if isinstance(folder, str) else folder
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def outside_repository(path: str | os.PathLike | bytes | int | None) -> bool:
    """True for a path a test must not read: a sibling of the checkout (``../x``), or a pabulib
    file anywhere but the repository and the temporary folder."""
    if path is None or isinstance(path, int):
        return False
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    absolute = os.path.abspath(os.fspath(path))
    if _inside(absolute, str(REPO_ROOT)):
        return False
    parent = str(REPO_ROOT.parent)
    if _inside(absolute, _temporary_folders()) and (
        _temporary_folder_holds_checkout() or not _inside(absolute, parent)
    ):
        # The temporary folder is allowed, but not the checkout's siblings in it (a clone in
        # /tmp/x/main must not read /tmp/x/shared).
        return False
    if _inside(absolute, parent):
        return True
    return absolute.endswith(".pb")


def _temporary_folders() -> tuple[str, ...]:
    return (tempfile.gettempdir(), os.path.realpath(tempfile.gettempdir()))


def _temporary_folder_holds_checkout() -> bool:
    """True when the checkout's parent is the temporary folder itself (or above it): then its
    siblings cannot be told from the tests' temporary files, and only .pb files are guarded."""
    return any(_inside(folder, str(REPO_ROOT.parent)) for folder in _temporary_folders())


def _audit(event: str, args: tuple) -> None:
    if event not in _WATCHED_EVENTS or not args:
        return
    target = args[0]
    if outside_repository(target):
        message = f"read outside the repository {REPO_ROOT}: {target!r} (copy it into tests/data)"
        VIOLATIONS.append(message)
        raise OutsideRepositoryRead(message)


def install_guard() -> None:
    """Refuse reads outside the repository for the rest of this process (audit hooks cannot be
    removed, so this is installed once, by the root conftest)."""
    global _installed
    if not _installed:
        sys.addaudithook(_audit)
        _installed = True
