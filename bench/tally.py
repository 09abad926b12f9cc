"""Benchmark: counting city-wide rounds from the database, on SQLite and PostgreSQL (issue 20).

    .venv/bin/python bench/tally.py --file Poland_Warszawa_2026.pb \\
        [--sqlite /tmp/bb_tally.db] [--postgresql postgresql+psycopg://.../bb_tally] \\
        [--synthetic 100000,1000000] [--runs 5] [--skip-mes-synthetic]

For each database, in a fresh process (so that its peak memory is its own), on an emptied
schema (every table dropped: use a database of your own, e.g. ``createdb bb_tally``):

* Warszawa 2026 (61,668 ballots, 83 projects) imported with ``pb import``'s service as a round
  counted with MES+Add1; each ballot then gets an area (its district) and an age band, and
  the areas population figures, so the round can be weighted by raking;
* synthetic rounds of N ballots (default 100,000 and 1,000,000; 60 projects, 20 areas, four
  approvals a ballot), written with the same bulk writer.

and times: the import (writing + counting), the ballot read, a greedy count and an MES+Add1
count (each: read + weights + rule, as closing a round does; the read and the counts: median
of --runs), weighting with raking (the analysis behind the ranking page), and the results
page and the ranking page (median of --runs warm requests). Each step shows wall time, this
process's CPU time and, on PostgreSQL, the CPU time of the database's server processes (its
backends for this database; parallel workers that have exited are not counted): on a machine
shared with others the CPU times are the comparable figures. The last column is the peak
resident memory of the process so far.

The import and the writing of the synthetic ballots run in one process; each round is then
measured in a FRESH process (numba warmed first, as the app does at start-up), so that the
peak memory of counting a round is that of a worker that counts it, not of the one that
parsed the file.

Targets (issue 20): Warszawa on PostgreSQL: read <= 0.5 s, MES+Add1 count <= 1.5 s, peak
<= 300 MB, import <= 5 s; 1,000,000 ballots: read and greedy <= 10x the 100,000 figures and no
step above 30 s; pages < 300 ms warm.

The same script runs on the code before the voting package existed (services/voting_results,
round_ballots) so before/after figures come from one script.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402

from buurtbudget.app import create_app  # noqa: E402
from buurtbudget.domain.rules import Ballots, Election, Project, compute  # noqa: E402
from buurtbudget.extensions import db  # noqa: E402
from buurtbudget.models import (  # noqa: E402
    AGE_BANDS,
    Area,
    AreaPopulation,
    Municipality,
    RoundProject,
    RoundSource,
    VotingRound,
)
from buurtbudget.models._base import utcnow  # noqa: E402

try:  # the voting package (this issue)
    from buurtbudget.services.voting import counting, election, pabulib, weighting

    NEW = True
except ImportError:  # before it: the same steps through the former modules
    from buurtbudget.services import voting_pabulib as pabulib
    from buurtbudget.services import voting_results as counting
    from buurtbudget.services import weighting

    NEW = False

YEAR = 2026
BANDS = [name for name, _low, _high in AGE_BANDS]
SYNTHETIC_PROJECTS = 60
SYNTHETIC_AREAS = 20
APPROVALS = 4


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ServerClock:
    """CPU seconds used so far by the PostgreSQL backends of the bench's database, read from
    /proc (the server runs on this machine); None elsewhere."""

    def __init__(self, url: str) -> None:
        self.connection = None
        if url.startswith("postgresql"):
            import psycopg

            self.connection = psycopg.connect(
                url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
            )

    def seconds(self) -> float | None:
        if self.connection is None:
            return None
        pids = self.connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
        total = 0.0
        for (pid,) in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


class Clock:
    def __init__(self, server: ServerClock | None = None) -> None:
        self.rows: list[tuple] = []
        self.server = server

    def time(self, name: str, step, runs: int = 1):
        """Wall time and this process's CPU time (median of ``runs``): on a shared machine the
        CPU time says more; the database server's CPU is in the wall time only."""
        times, cpu, server, result = [], [], [], None
        for _ in range(runs):
            start_server = self.server.seconds() if self.server else None
            start, start_cpu = time.perf_counter(), time.process_time()
            result = step()
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            if start_server is not None:
                server.append(self.server.seconds() - start_server)
        median, median_cpu = statistics.median(times), statistics.median(cpu)
        median_server = statistics.median(server) if server else None
        self.rows.append((name, median, median_cpu, median_server, peak_mb()))
        on_server = f"{median_server:7.2f} s db" if median_server is not None else " " * 12
        print(
            f"  {name:<46} {median:8.3f} s wall {median_cpu:7.3f} s cpu {on_server}"
            f"  peak {peak_mb():5.0f} MB",
            flush=True,
        )
        return result


def band_of(age: int) -> str | None:
    for name, low, high in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return name
    return None


def read(voting_round):
    return election.read_ballots(voting_round) if NEW else counting.round_ballots(voting_round)


def count(voting_round, rule: str) -> None:
    voting_round.rule_name = rule
    counting.compute_outcome(voting_round)


def raking_settings():
    settings = weighting.WeightingSettings(enabled=True, method="raking")
    return weighting.stored_settings(
        weighting.config_from_settings(settings), weighting.FUNDING_RULE
    )


def analyse(voting_round):
    return weighting.analyse(voting_round)


def populate(voting_round, areas: list[Area], area_of: list[int], band_of_voter: list) -> None:
    """Population figures per area and age band: ten inhabitants per voter of the cell, a
    little skewed so that the weights are not all one."""
    counts: dict[tuple[int, str], int] = {}
    for area_id, band in zip(area_of, band_of_voter, strict=True):
        if band is not None:
            counts[(area_id, band)] = counts.get((area_id, band), 0) + 1
    for number, area in enumerate(areas):
        per_band = {band: counts.get((area.id, band), 0) * (8 + number % 5) + 50 for band in BANDS}
        db.session.add(
            AreaPopulation(
                area=area,
                year=YEAR,
                inhabitants=sum(per_band.values()),
                households=sum(per_band.values()) // 2,
                **per_band,
            )
        )
    db.session.commit()


def set_voters(voting_round, voter_ids, area_of, band_of_voter) -> None:
    rows = [
        {"r": voting_round.id, "e": voter, "a": area, "b": band}
        for voter, area, band in zip(voter_ids, area_of, band_of_voter, strict=True)
    ]
    statement = text(
        "UPDATE ballot SET area_id = :a, age_band = :b WHERE round_id = :r AND external_id = :e"
    )
    for start in range(0, len(rows), 20_000):
        db.session.execute(statement, rows[start : start + 20_000])
    db.session.commit()


def pages(client, voting_round, clock: Clock, runs: int, label: str) -> None:
    for name, url in (
        ("results page", f"/rounds/{voting_round.id}/results"),
        ("ranking page", f"/rounds/{voting_round.id}/ranking"),
    ):
        response = client.get(url)  # the first request warms
        assert response.status_code == 200, (url, response.status_code)
        clock.time(f"{label}: {name} (warm, median)", lambda u=url: client.get(u), runs)


def warszawa(path: Path, clock: Clock) -> tuple[int, str]:
    from buurtbudget.domain.pabulib import read_pabulib

    content = path.read_bytes()
    on_file = read_pabulib(path)
    districts = sorted(set(on_file.ballots.voter_columns["neighborhood"]))
    municipality = Municipality(name="Warszawa", slug="warszawa")
    areas = [Area(municipality=municipality, name=name) for name in districts]
    db.session.add_all([municipality, *areas])
    db.session.commit()
    label = "Warszawa 2026"
    voting_round = clock.time(
        f"{label}: import (write + MES+Add1 count)",
        lambda: pabulib.import_round(
            None, municipality, content, areas=areas, rule_name="mes_add1"
        ),
    )
    round_id = voting_round.id
    area_ids = {area.name: area.id for area in areas}
    area_of = [area_ids[d] for d in on_file.ballots.voter_columns["neighborhood"]]
    bands = [
        band_of(int(age)) if age.isdigit() else None for age in on_file.ballots.voter_columns["age"]
    ]
    set_voters(voting_round, on_file.ballots.voter_ids, area_of, bands)
    populate(voting_round, areas, area_of, bands)
    return round_id, label


def measure_round(round_id: int, label: str, clock: Clock, runs: int, client, mes=True) -> None:
    db.session.expire_all()
    voting_round = db.session.get(VotingRound, round_id)
    voting_round.weighting_config = None
    db.session.commit()
    clock.time(f"{label}: read the ballots", lambda: read(voting_round), runs)
    clock.time(f"{label}: count, greedy", lambda: count(voting_round, "greedy"), runs)
    if mes:
        clock.time(f"{label}: count, MES+Add1", lambda: count(voting_round, "mes_add1"), runs)
    db.session.rollback()
    voting_round = db.session.get(VotingRound, round_id)
    voting_round.weighting_config = raking_settings()
    voting_round.rule_name = "greedy"
    db.session.commit()
    clock.time(f"{label}: weighting with raking", lambda: analyse(voting_round))
    counting.store_results(voting_round)  # the results the results page shows
    db.session.commit()
    pages(client, voting_round, clock, runs, label)


def synthetic(size: int, clock: Clock) -> tuple[int, str]:
    rng = np.random.default_rng(size)
    municipality = Municipality(name=f"Synthetisch {size}", slug=f"synthetisch-{size}")
    areas = [Area(municipality=municipality, name=f"Wijk {n + 1}") for n in range(SYNTHETIC_AREAS)]
    db.session.add_all([municipality, *areas])
    db.session.flush()
    popularity = rng.dirichlet(np.ones(SYNTHETIC_PROJECTS) * 2)
    costs = rng.integers(20, 400, SYNTHETIC_PROJECTS) * 10_000
    voting_round = VotingRound(
        municipality_id=municipality.id,
        title=f"Synthetische ronde {size:,}",
        source=RoundSource.PABULIB,
        ballot_type="approval",
        rule_name="greedy",
        min_age=0,
        budget_cents=int(costs.sum() // 3) * 100,
        rule_meta={},
        locked_at=utcnow(),
        closed_at=utcnow(),
        results_published_at=utcnow(),
    )
    voting_round.areas = areas
    db.session.add(voting_round)
    db.session.flush()
    rows = [
        {
            "round_id": voting_round.id,
            "external_id": f"p{n}",
            "name": f"Project {n}",
            "description": "",
            "cost_cents": int(costs[n]) * 100,
            "category": "",
            "neighbourhood": "",
            "position": n,
            "area_id": areas[n % SYNTHETIC_AREAS].id,
        }
        for n in range(SYNTHETIC_PROJECTS)
    ]
    db.session.execute(insert(RoundProject), rows)
    db.session.commit()
    project_ids = list(
        db.session.scalars(
            select(RoundProject.id)
            .where(RoundProject.round_id == voting_round.id)
            .order_by(RoundProject.position)
        )
    )
    # Four distinct projects per ballot, drawn by popularity (Gumbel top-k), in blocks.
    entries = np.empty(size * APPROVALS, dtype=np.int32)
    for start in range(0, size, 100_000):
        stop = min(size, start + 100_000)
        uniform = rng.random((stop - start, SYNTHETIC_PROJECTS))
        keys = np.log(popularity) - np.log(-np.log(uniform))
        top = np.argpartition(-keys, APPROVALS, axis=1)[:, :APPROVALS]
        entries[start * APPROVALS : stop * APPROVALS] = np.sort(top, axis=1).ravel()
    ballots = Ballots(np.arange(0, size * APPROVALS + 1, APPROVALS, dtype=np.int64), entries)
    area_of = [areas[int(a)].id for a in rng.integers(0, SYNTHETIC_AREAS, size)]
    band_of_voter = [BANDS[1 + int(b)] for b in rng.integers(0, len(BANDS) - 1, size)]
    label = f"synthetic {size:,}"

    def write():
        if NEW:
            pabulib.write_ballots(
                voting_round, ballots, project_ids, area_ids=area_of, age_bands=band_of_voter
            )
        else:
            bulk_insert_before(voting_round, ballots, project_ids, area_of, band_of_voter)
        db.session.commit()

    clock.time(f"{label}: write the ballots", write)
    ballots = entries = None  # free them before measuring
    populate(voting_round, areas, area_of, band_of_voter)
    return voting_round.id, label


def bulk_insert_before(voting_round, ballots, project_ids, area_of, band_of_voter) -> None:
    """What the import did before (SQLAlchemy executemany of dicts), for the old code."""
    from buurtbudget.models import Ballot, BallotChoice, Channel
    from buurtbudget.models.voting import new_ballot_id

    ballot_rows, choice_rows = [], []
    offsets = ballots.offsets.tolist()
    entries = ballots.projects.tolist()
    for voter in range(len(ballots)):
        ballot_id = new_ballot_id()
        ballot_rows.append(
            {
                "id": ballot_id,
                "round_id": voting_round.id,
                "channel": Channel.IMPORTED,
                "external_id": f"v{voter}",
                "area_id": area_of[voter],
                "age_band": band_of_voter[voter],
            }
        )
        for entry in range(offsets[voter], offsets[voter + 1]):
            choice_rows.append(
                {"ballot_id": ballot_id, "project_id": project_ids[entries[entry]], "points": 1}
            )
    db.session.execute(insert(Ballot), ballot_rows)
    db.session.execute(insert(BallotChoice), choice_rows)


def warm_numba() -> None:
    """What the app does at start-up (RULES_WARM_UP_AT_START): load every compiled MES
    specialisation, so that no count below pays for loading or compiling one."""
    if NEW:
        from buurtbudget.domain.rules.warmup import warm_up

        warm_up()
        return
    projects = tuple(Project(id=str(n), cost=10) for n in range(3))
    small = Election(budget=20, projects=projects, ballots=Ballots.from_lists([[0, 1], [2]]))
    compute("mes_add1", small)


def one_database(url: str, args) -> list[tuple[int, str, bool]]:
    """Build the rounds (import and writing timed here); returns what to measure."""
    app = create_app("testing", DATABASE_URL=url)
    clock = Clock(ServerClock(url))
    rounds = []
    with app.app_context():
        db.drop_all()
        db.create_all()
        if args.file:
            rounds.append((*warszawa(Path(args.file), clock), True))
        for size in args.synthetic:
            rounds.append((*synthetic(size, clock), not args.skip_mes_synthetic))
        if url.startswith("postgresql"):
            db.session.execute(text("ANALYZE"))
            db.session.commit()
    return rounds


def measure(url: str, round_id: int, label: str, mes: bool, runs: int) -> None:
    """Count and show one round in this (fresh) process."""
    app = create_app("testing", DATABASE_URL=url)
    clock = Clock(ServerClock(url))
    with app.app_context():
        warm_numba()
        measure_round(round_id, label, clock, runs, app.test_client(), mes=mes)


def run(command: list[str]) -> str | None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    print(result.stdout, end="", flush=True)
    if result.returncode != 0:
        print(result.stderr[-3000:])
        return None
    return result.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", help="Poland_Warszawa_2026.pb")
    parser.add_argument("--sqlite", default="/tmp/bb_tally_bench.db")
    parser.add_argument("--postgresql", help="e.g. postgresql+psycopg://postgres@127.0.0.1/bb_x")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--synthetic",
        default="100000,1000000",
        type=lambda text: [int(n) for n in text.split(",") if n],
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-mes-synthetic", action="store_true")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_database(args.one, args)), file=sys.stderr)
        return 0
    if args.measure:
        url, round_id, label, mes = json.loads(args.measure)
        measure(url, round_id, label, mes, args.runs)
        return 0
    databases = {} if args.no_sqlite else {"SQLite": f"sqlite:///{args.sqlite}"}
    if args.postgresql:
        databases["PostgreSQL"] = args.postgresql
    print(f"code: {'voting package (after)' if NEW else 'before the voting package'}")
    for label, url in databases.items():
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        print(f"\n{label}", flush=True)
        command = [sys.executable, __file__, "--one", url, "--runs", str(args.runs)]
        command += ["--synthetic", ",".join(str(n) for n in args.synthetic)]
        if args.file:
            command += ["--file", args.file]
        if args.skip_mes_synthetic:
            command.append("--skip-mes-synthetic")
        built = run(command)
        if built is None:
            return 1
        for round_id, label, mes in json.loads(built.strip().splitlines()[-1]):
            measured = [sys.executable, __file__, "--runs", str(args.runs)]
            if run([*measured, "--measure", json.dumps([url, round_id, label, mes])]) is None:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
