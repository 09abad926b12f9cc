"""The compiled Equal Shares rounds are compiled or loaded at warm-up, never later (issue 18.5):
after warm_up() no real count adds a compiled specialisation."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.paths import PABULIB_DIR, REPO_ROOT

SCRIPT = """
import json, sys
from buurtbudget.domain.pabulib import read_pabulib
from buurtbudget.domain.rules import compute
from buurtbudget.domain.rules.comparison import compare_rules
from buurtbudget.domain.rules.warmup import is_ready, kernel_signatures, warm_up

before_ready = is_ready()
warm_up()
warmed = kernel_signatures()
for name in sys.argv[1:]:
    election = read_pabulib(name)
    weights = [1 + i % 3 for i in range(election.num_voters)]
    compare_rules(election)
    for rule in ("mes", "mes_add1", "mes_cardinality"):
        compute(rule, election, weights)
print(json.dumps({
    "before": before_ready,
    "after": is_ready(),
    "same": {k: [str(s) for s in v] for k, v in warmed.items()}
        == {k: [str(s) for s in v] for k, v in kernel_signatures().items()},
    "kernels": sum(len(v) for v in warmed.values()),
}))
"""


def test_no_count_after_warm_up_compiles_anything():
    files = [
        PABULIB_DIR / "Netherlands_Assen_2024.pb",
        PABULIB_DIR / "France_Toulouse_2019.pb",
        PABULIB_DIR / "Poland_Gdynia_2020_Chylonia__large.pb",
    ]
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, *map(str, files)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=600,
        check=True,
    )
    report = json.loads(result.stdout.splitlines()[-1])
    assert report == {"before": False, "after": True, "same": True, "kernels": report["kernels"]}
    assert report["kernels"] >= 1  # mes_rounds; the helpers it calls are compiled into it


def test_the_production_app_warms_up_in_the_background(monkeypatch, tmp_path):
    from buurtbudget.app import create_app
    from buurtbudget.domain.rules import warmup

    started = []
    monkeypatch.setattr(warmup, "warm_up_in_background", lambda: started.append(True))
    db_url = f"sqlite:///{tmp_path / 'x.db'}"
    create_app("testing", DATABASE_URL=db_url)
    assert started == []
    create_app("testing", DATABASE_URL=db_url, RULES_WARM_UP_AT_START=True)
    assert started == [True]


def test_flask_rules_warm_up_command(app):
    result = app.test_cli_runner().invoke(args=["rules", "warm-up"])
    assert result.exit_code == 0 and "compiled rules ready in" in result.output
    from buurtbudget.domain.rules.warmup import is_ready

    assert is_ready()
