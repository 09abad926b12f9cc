"""Where the machine's CPU goes while residents cast ballots, next to the bare endpoint.

    .venv/bin/python bench/cpu_split.py [--database-url URL] [--voters N] [--workers 2]

Runs the same two scenarios as bench/load.py at 50 concurrent (N casts, then N bare
INSERTs) and reads the CPU time of every process from /proc before and after each, so the
time per request can be split between the gunicorn workers, PostgreSQL and the load client
(this process). Linux only. The database of ``--database-url`` is DROPPED and created again.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import bare_app  # noqa: E402
from bench.voters import (  # noqa: E402
    Gunicorn,
    prepare_election,
    request,
    run_concurrently,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bb_cpu_split_bench"
CONCURRENCY = 50


def cpu_seconds_by_process() -> dict[int, tuple[str, float]]:
    """pid -> (command name, user + system CPU seconds) of every process."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry)] = (name, (int(fields[11]) + int(fields[12])) / ticks)
    return found


def group(name: str, pid: int) -> str:
    if pid == os.getpid():
        return "load client"
    if name.startswith("postgres"):
        return "postgresql"
    if "gunicorn" in name:
        return "gunicorn"
    return "other"


def split(before: dict, after: dict, requests: int) -> dict[str, float]:
    """Milliseconds of CPU per request, per group of processes."""
    spent: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        earlier = before.get(pid, (name, 0.0))[1]
        key = group(name, pid)
        spent[key] = spent.get(key, 0.0) + seconds - earlier
    return {
        key: spent.get(key, 0.0) * 1000 / requests
        for key in ("gunicorn", "postgresql", "load client", "other")
    }


def measure(label: str, send, requests: int) -> None:
    before, started = cpu_seconds_by_process(), time.perf_counter()
    results = run_concurrently(send, requests, CONCURRENCY)
    wall = time.perf_counter() - started
    per_request = split(before, cpu_seconds_by_process(), requests)
    accepted = sum(1 for ok in results if ok)
    shares = ", ".join(f"{key} {ms:.2f}" for key, ms in per_request.items())
    print(
        f"{label}: {requests / wall:.0f} req/s, accepted {accepted}/{requests}; "
        f"CPU ms per request: {shares}; total {sum(per_request.values()):.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--voters", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    env, _seeding_app, election = prepare_election(args.database_url, args.voters)
    round_id = election.round_ids[0]
    projects = election.project_ids[round_id][:2]
    with Gunicorn("buurtbudget:create_app()", env, workers=args.workers) as server:
        run_concurrently(
            lambda i: election.voters[i].log_in(server.port, round_id), args.voters, CONCURRENCY
        )
        measure(
            "cast ballot",
            lambda i: election.voters[i].cast(server.port, round_id, projects).accepted,
            args.voters,
        )
    bare_app.create_table(args.database_url)
    bare_env = dict(env, BENCH_DATABASE_URL=args.database_url)
    with Gunicorn("bench.bare_app:create_app()", bare_env, workers=args.workers) as server:
        measure(
            "bare insert",
            lambda _i: request(server.port, "POST", "/insert", body="")[0] == 204,
            args.voters,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
