"""Tests and benches read only the repository: a fresh clone runs them without ``../shared``."""

from __future__ import annotations

import ast
import os
import tempfile
from pathlib import Path

import pytest

from tests import paths
from tests.paths import (
    PABULIB_DIR,
    REPO_ROOT,
    VIOLATIONS,
    OutsideRepositoryRead,
)

# This file names outside paths on purpose, as examples the scan must find.
SOURCES = sorted(
    p
    for folder in ("tests", "bench")
    for p in (REPO_ROOT / folder).rglob("*.py")
    if p.is_file() and p != Path(__file__).resolve()
)
SYSTEM = ("/usr/", "/bin/", "/etc/", "/dev/", "/proc/", "/sys/", "/tmp/", "/var/tmp/", "/opt/")


def _file_anchor(node: ast.AST) -> bool:
    """``Path(__file__)`` or ``Path(__file__).resolve()`` / ``.absolute()``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"resolve", "absolute"}
    ):
        return _file_anchor(node.func.value)
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Path"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "__file__"
    )


def _climbs(node: ast.AST) -> int | None:
    """How many folders up from the source file ``node`` points (None: not such a path)."""
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        if _file_anchor(node.value):
            return 1
        inner = _climbs(node.value)
        return None if inner is None else inner + 1
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "parents"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, int)
    ):
        base = node.value.value
        inner = 0 if _file_anchor(base) else _climbs(base)
        return None if inner is None else inner + node.slice.value + 1
    return None


PATH_CALLS = {"Path", "PurePath", "open", "join", "read_pabulib", "listdir", "scandir", "glob"}


def _path_operands(tree: ast.AST) -> set[int]:
    """ids of the string constants used as paths: ``x / "..."``, ``Path("...")``, ``open(...)``."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            ids |= {id(node.left), id(node.right)}
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in PATH_CALLS:
                ids |= {id(arg) for arg in node.args}
    return ids


def escaping_paths(path: Path, source: str) -> list[str]:
    """The places in ``source`` (the file at ``path``) that name a path outside the repository."""
    found = []
    tree = ast.parse(source, filename=str(path))
    as_paths = _path_operands(tree)
    for node in ast.walk(tree):
        up = _climbs(node)
        if up is not None:
            target = path.resolve().parents[up - 1] if up <= len(path.parents) else Path("/")
            if target != REPO_ROOT and REPO_ROOT not in target.parents:
                found.append(f"{path.name}:{node.lineno}: {up} folders up is {target}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if "\n" in text or len(text) > 300:
                continue
            climbs = text == ".." or text.startswith("../") or "/../" in text
            if climbs and id(node) in as_paths:
                found.append(f"{path.name}:{node.lineno}: {text!r} climbs out with '..'")
            elif (
                text.startswith("/")
                and text.rstrip("/").count("/") >= 2
                and not (text + "/").startswith(SYSTEM)
                and (id(node) in as_paths or os.path.exists(text))
                and not text.startswith(str(REPO_ROOT) + "/")
            ):
                found.append(f"{path.name}:{node.lineno}: {text!r} is outside the repository")
    return found


def test_no_test_or_bench_names_a_path_outside_the_repository():
    offenders = [hit for p in SOURCES for hit in escaping_paths(p, p.read_text())]
    assert offenders == []


@pytest.mark.parametrize(
    "source",
    [
        'X = Path(__file__).resolve().parents[3] / "shared" / "pabulib"',
        'X = Path(__file__).parent.parent.parent.parent / "shared"',
        'X = Path(__file__).resolve().parent.parents[2] / "shared"',
        'X = ROOT / "../shared/pabulib/Assen.pb"',
        'X = open("../shared/pabulib/Assen.pb")',
        'X = ROOT / ".." / "shared"',
        'X = Path("/work/shared/pabulib/Netherlands_Assen_2024.pb")',
    ],
)
def test_the_scan_finds_paths_that_leave_the_root(source):
    here = REPO_ROOT / "tests" / "domain" / "test_example.py"
    assert escaping_paths(here, source) != []


def test_the_scan_accepts_paths_inside_the_root():
    here = REPO_ROOT / "tests" / "domain" / "test_example.py"
    source = 'X = Path(__file__).resolve().parents[2] / "tests" / "data"\nY = "/rounds/2/ballot"'
    assert escaping_paths(here, source) == []


def test_siblings_of_a_checkout_in_the_temporary_folder_are_refused(monkeypatch):
    """A clone in /tmp/x/main (as CI may make it) must not read /tmp/x/shared, while the
    tests' own temporary files stay allowed."""
    temporary = Path(tempfile.gettempdir())
    monkeypatch.setattr(paths, "REPO_ROOT", temporary / "ci-clone" / "main")
    assert paths.outside_repository(temporary / "ci-clone" / "shared" / "pabulib" / "x.pb")
    assert paths.outside_repository(temporary / "ci-clone" / "shared" / "README.md")
    assert not paths.outside_repository(temporary / "ci-clone" / "main" / "tests" / "x.pb")
    assert not paths.outside_repository(temporary / "pytest-of-root" / "pytest-1" / "x.pb")


def test_reading_beside_the_checkout_is_refused_while_tests_run():
    if paths._temporary_folder_holds_checkout():
        pytest.skip("the checkout sits directly in the temporary folder")
    sibling = REPO_ROOT.parent / "shared" / "pabulib" / "Netherlands_Assen_2024.pb"
    seen = len(VIOLATIONS)
    with pytest.raises(OutsideRepositoryRead, match="outside the repository"):
        sibling.read_bytes()
    with pytest.raises(OutsideRepositoryRead):
        os.listdir(REPO_ROOT.parent)
    assert len(VIOLATIONS) == seen + 2
    del VIOLATIONS[seen:]  # expected here; any other test that reads there fails


def test_the_repository_holds_the_pabulib_files_the_tests_use():
    names = {p.name for p in PABULIB_DIR.glob("*.pb")}
    assert {
        "Poland_Gdynia_2020_Chylonia__large.pb",
        "Poland_Wroclaw_2018_Rejon_nr_2_250.pb",
        "Poland_Krakow_2018_Bienczyce.pb",
        "Netherlands_Amsterdam_604.pb",
        "Poland_Warszawa_2026.pb",
    } <= names
    readme = (PABULIB_DIR / "README.md").read_text()
    assert "pabulib" in readme and "2026-04-11" in readme
