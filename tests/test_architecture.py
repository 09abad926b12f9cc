"""The domain core stays pure: importing it must not import Flask or SQLAlchemy."""

import ast
import subprocess
import sys
from pathlib import Path

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
