"""The plain CLI (python -m buurtbudget.domain.pbcli) and the import boundary of the domain."""

from __future__ import annotations

import io
import subprocess
import sys

from buurtbudget.domain.pbcli import compute_file, main

from .conftest import shared_file


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_compute_prints_table_and_progress() -> None:
    path = str(shared_file("Netherlands_Assen_2024.pb"))
    code, out, err = run_cli("compute", path, "--rule", "mes_add1")
    assert code == 0
    assert out.splitlines()[0] == "rule: mes_add1"
    assert out.splitlines()[1].split() == [
        "#",
        "project",
        "cost",
        "votes",
        "cumulative",
        "cost",
        "name",
    ]
    assert "1  3         7,200     43            7,200  PopUp Podium" in out
    assert "selected 9 of 14 projects, cost 76,700 of budget 100,000 (left over 23,300)" in out
    assert "same projects as the file's 'selected' column (the official outcome): yes" in out
    assert "reading " in err and "add1 step 0:" in err and "done in" in err


def test_utility_weights_column_and_trace(tmp_path) -> None:
    source = shared_file("Netherlands_Assen_2024.pb").read_text(encoding="utf-8")
    lines = source.splitlines()
    start = lines.index("VOTES")
    lines[start + 1] += ";weight"
    for i in range(start + 2, len(lines)):
        lines[i] += ";2" if i % 2 else ";1"
    path = tmp_path / "weighted.pb"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, _ = run_cli(
        "compute",
        str(path),
        "--rule",
        "mes",
        "--utility",
        "cardinality",
        "--weights-column",
        "weight",
        "--trace",
    )
    assert code == 0
    assert out.startswith("rule: mes\n")
    assert "trace:" in out and ": selected: cost" in out


def test_bad_file_gives_exit_2_and_one_line(tmp_path) -> None:
    path = tmp_path / "bad.pb"
    path.write_text(
        "META\nkey;value\nbudget;10\nvote_type;approval\nPROJECTS\nproject_id;cost\n1;x\n"
    )
    code, out, err = run_cli("compute", str(path), "--rule", "greedy")
    assert code == 2
    assert out == ""
    assert (
        err.splitlines()[-1]
        == "error: bad.pb, line 7: cost of project '1' must be a whole number, got 'x' "
        "(not a plain number)"
    )


def test_unknown_weights_column_gives_exit_2() -> None:
    path = str(shared_file("Netherlands_Assen_2024.pb"))
    code, _, err = run_cli("compute", path, "--rule", "greedy", "--weights-column", "w")
    assert code == 2
    assert err.splitlines()[-1] == "error: VOTES has no column 'w'"


def test_compute_file_returns_the_outcome() -> None:
    out, err = io.StringIO(), io.StringIO()
    outcome = compute_file(
        str(shared_file("Poland_Warszawa_2019_Rembertow.pb")), "greedy", out=out, err=err
    )
    assert len(outcome.selected) == 14


def test_module_runs_as_a_script_and_domain_does_not_import_flask() -> None:
    code = (
        "import sys, buurtbudget.domain.pbcli, buurtbudget.domain.rules, "
        "buurtbudget.domain.pabulib, buurtbudget.domain.ballots; "
        "assert 'flask' not in sys.modules and 'sqlalchemy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "buurtbudget.domain.pbcli",
            "compute",
            "/nonexistent.pb",
            "--rule",
            "greedy",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "cannot read file" in result.stderr
