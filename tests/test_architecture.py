"""The shape of the code: the domain core stays pure (importing it must not import Flask or
SQLAlchemy); services/ has no import cycle anywhere; services/voting/ is in layers that import
only downwards (see the docstring of buurtbudget/services/voting/__init__.py).

Every import counts, also one inside a function: a cycle hidden in a function is still a cycle
(counting and weighting used to call each other that way, and read the ballots twice).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parent.parent / "buurtbudget" / "domain"
FORBIDDEN = ("flask", "flask_", "sqlalchemy", "werkzeug", "wtforms", "alembic")


def test_domain_sources_import_no_framework():
    offenders = []
    for path in DOMAIN.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert offenders == []


def test_importing_every_domain_module_loads_no_framework():
    modules = sorted(
        "buurtbudget.domain." + ".".join(p.relative_to(DOMAIN).with_suffix("").parts)
        for p in DOMAIN.rglob("*.py")
        if p.name != "__init__.py" and "__main__" not in p.name
    )
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', 'werkzeug')]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


# services/ ---------------------------------------------------------------------------------------

SERVICES = Path(__file__).resolve().parents[1] / "buurtbudget" / "services"
PACKAGE = "buurtbudget.services"

# services/voting/, lowest first: a module may import only modules listed before it.
VOTING_LAYERS = (
    "rounds",
    "eligibility",
    "codes",
    "casting",
    "ballot_box",
    "shaking",
    "election",
    "weighting",
    "counting",
    "comparison",
    "pabulib",
)


def module_name(path: Path, root: Path = SERVICES, package: str = PACKAGE) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def imported_modules(source: str, name: str, known: set[str], is_package: bool) -> set[str]:
    """The modules of ``known`` that the module ``name`` imports, anywhere in its code."""
    found = set()
    own_package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = own_package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            # "a.b.c" imports a.b.c, and the packages a.b and a on the way.
            while target:
                if target in known and target != name:
                    found.add(target)
                    break
                target = target.rpartition(".")[0]
    return found


def import_graph(root: Path = SERVICES, package: str = PACKAGE) -> dict[str, set[str]]:
    paths = sorted(root.rglob("*.py"))
    names = {path: module_name(path, root, package) for path in paths}
    known = set(names.values())
    graph = {}
    for path, name in names.items():
        is_package = path.name == "__init__.py"
        imports = imported_modules(path.read_text(), name, known, is_package)
        # Importing a module runs its package's __init__; that is not an edge of the design.
        graph[name] = {m for m in imports if not name.startswith(m + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def upward_imports(graph: dict[str, set[str]], package: str, layers: tuple[str, ...]) -> list:
    """(importer, imported) pairs inside ``package`` that break the order of ``layers``, plus
    (module, None) for a module of the package that is not placed in a layer."""
    problems = []
    rank = {f"{package}.{name}": position for position, name in enumerate(layers)}
    for importer, imported in sorted(graph.items()):
        if not importer.startswith(package + "."):
            continue
        if importer not in rank:
            problems.append((importer, None))
            continue
        for target in sorted(imported):
            if target == package or (target in rank and rank[target] >= rank[importer]):
                problems.append((importer, target))
    for target in sorted(graph.get(package, ())):
        if target.startswith(package + "."):
            problems.append((package, target))
    return problems


def test_services_have_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle in services/: " + " -> ".join(cycle)


def test_voting_modules_import_only_downwards():
    graph = import_graph()
    problems = upward_imports(graph, f"{PACKAGE}.voting", VOTING_LAYERS)
    assert problems == [], (
        "services/voting/: each module may import only the modules below it in VOTING_LAYERS "
        f"(and every module must be placed there): {problems}"
    )


def test_every_voting_layer_exists():
    present = {path.stem for path in (SERVICES / "voting").glob("*.py")} - {"__init__"}
    assert present == set(VOTING_LAYERS)


def test_counting_is_the_only_module_that_uses_both_election_and_weighting():
    """Only counting puts the read ballots and the weights together (pabulib imports the
    counting, and a ballot read reaches weighting only through counting's call)."""
    graph = import_graph()
    voting = f"{PACKAGE}.voting"
    both = {
        name
        for name, imports in graph.items()
        if {f"{voting}.election", f"{voting}.weighting"} <= imports
        and name != f"{voting}.weighting"
    }
    assert both <= {f"{voting}.counting", f"{voting}.pabulib"}


# The checks themselves find what they look for ---------------------------------------------


@pytest.fixture
def fake_services(tmp_path):
    root = tmp_path / "services"
    (root / "voting").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "voting" / "__init__.py").write_text('"""layers"""\n')
    return root


def test_a_cycle_through_a_function_level_import_is_found(fake_services):
    (fake_services / "a.py").write_text("from buurtbudget.services import b\n")
    (fake_services / "b.py").write_text(
        "def f():\n    from buurtbudget.services.voting import c\n    return c\n"
    )
    (fake_services / "voting" / "c.py").write_text("from .. import a\n")
    graph = import_graph(fake_services)
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]
    assert set(cycle) == {PACKAGE + ".a", PACKAGE + ".b", PACKAGE + ".voting.c"}


def test_no_cycle_is_reported_for_a_tree(fake_services):
    (fake_services / "a.py").write_text("import buurtbudget.services.b\n")
    (fake_services / "b.py").write_text("from buurtbudget.services.errors import X\n")
    assert find_cycle(import_graph(fake_services)) is None


def test_an_upward_import_and_an_unplaced_module_are_found(fake_services):
    voting = fake_services / "voting"
    (voting / "low.py").write_text("def f():\n    from buurtbudget.services.voting import high\n")
    (voting / "high.py").write_text("from buurtbudget.services.voting.low import f\n")
    (voting / "stray.py").write_text("")
    graph = import_graph(fake_services)
    problems = upward_imports(graph, f"{PACKAGE}.voting", ("low", "high"))
    assert (f"{PACKAGE}.voting.low", f"{PACKAGE}.voting.high") in problems
    assert (f"{PACKAGE}.voting.stray", None) in problems
    assert (f"{PACKAGE}.voting.high", f"{PACKAGE}.voting.low") not in problems
