"""Where the machine's CPU goes while residents cast ballots, next to the bare endpoint.

    .venv/bin/python bench/cpu_split.py [--database-url URL] [--voters N] [--workers 2]
                                        [--repeats 3]

Runs the two scenarios of bench/load.py at 50 concurrent (N casts, N bare INSERTs) and a
third, N posts of the language form by a visitor: no database, the floor of any form post
in this app. It reads the CPU time of every process from /proc before and after each, so
the CPU per request splits between the gunicorn workers, PostgreSQL and the load client
(this process); CPU ms are per request, req/s is throughput. The three run interleaved
``--repeats`` times (a shared VM drifts) and the medians close the output. Linux only. The
database of ``--database-url`` is DROPPED and created again.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import bare_app  # noqa: E402
from bench.voters import (  # noqa: E402
    _CSRF,
    Gunicorn,
    Voter,
    prepare_election,
    refresh_statistics,
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


def measure(label: str, send, requests: int) -> dict[str, float]:
    before, started = cpu_seconds_by_process(), time.perf_counter()
    results = run_concurrently(send, requests, CONCURRENCY)
    wall = time.perf_counter() - started
    per_request = split(before, cpu_seconds_by_process(), requests)
    per_request["total"] = sum(per_request.values())
    accepted = sum(1 for ok in results if ok)
    shares = ", ".join(f"{key} {ms:.2f}" for key, ms in per_request.items())
    print(
        f"  {label}: {requests / wall:.0f} req/s, accepted {accepted}/{requests}; "
        f"CPU ms per request: {shares}"
    )
    return {"req/s": requests / wall, **per_request}


def language_switch(port: int):
    """The cheapest state-changing request the app serves, as a floor for the cast: a visitor
    (no database) posts the CSRF-checked language form; the session cookie is read, changed
    and signed again and the answer is a redirect, as when casting."""
    visitor = Voter("")
    token = _CSRF.search(visitor.send(port, "GET", "/account/login")[2]).group(1)
    data = urlencode([("csrf_token", token), ("next", "/")])

    def send(_i: int) -> bool:
        return request(port, "POST", "/language/nl", data, visitor.cookie)[0] == 302

    return send


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--voters", type=int, default=2000, help="requests per measurement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    env, _seeding_app, election = prepare_election(args.database_url, args.voters, args.repeats)
    bare_app.create_table(args.database_url)
    bare_env = dict(env, BENCH_DATABASE_URL=args.database_url)
    rows: dict[str, list[dict[str, float]]] = {}
    with (
        Gunicorn("buurtbudget:create_app()", env, workers=args.workers) as app_server,
        Gunicorn("bench.bare_app:create_app()", bare_env, workers=args.workers) as bare_server,
    ):
        first_round = election.round_ids[0]
        run_concurrently(
            lambda i: election.voters[i].log_in(app_server.port, first_round),
            args.voters,
            CONCURRENCY,
        )
        switch = language_switch(app_server.port)
        for repetition, round_id in enumerate(election.round_ids, start=1):
            print(f"repetition {repetition}:")
            projects = election.project_ids[round_id][:2]

            def cast(i, round_id=round_id, projects=projects):
                return election.voters[i].cast(app_server.port, round_id, projects).accepted

            def insert(_i):
                return request(bare_server.port, "POST", "/insert", body="")[0] == 204

            for label, send in (
                ("cast ballot", cast),
                ("language switch", switch),
                ("bare insert", insert),
            ):
                refresh_statistics(args.database_url)
                rows.setdefault(label, []).append(measure(label, send, args.voters))

    print(f"\nmedian of {args.repeats} repetitions, per column:")
    columns = ("req/s", "gunicorn", "postgresql", "load client", "other", "total")
    print("| scenario | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for label, measured in rows.items():
        medians = [statistics.median(m[column] for m in measured) for column in columns]
        throughput, *cpu = medians
        print(f"| {label} | {throughput:.0f} | " + " | ".join(f"{ms:.2f}" for ms in cpu) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
