"""Where the CPU goes while residents cast ballots, next to the bare endpoint.

    .venv/bin/python bench/cpu_split.py [--database-url URL] [--voters N] [--workers 2]
                                        [--repeats 3]

Runs the two scenarios of bench/load.py at 50 concurrent (N casts, N bare INSERTs) and a
third, N posts of the language form by a visitor: no database, the floor of any form post
in this app. It reads the CPU time of the bench's own processes from /proc before and after
each (bench/voters.CpuMeter: the two gunicorns, the PostgreSQL backends of the bench's
database, the load client; not other people's processes on a shared machine), so the CPU per
request splits between the app's workers, the bare app's workers, PostgreSQL and the load
client; CPU ms are per request, req/s is throughput. On a machine that runs only the bench,
throughput is bounded by the total: "bare/cast" is the cast's expected share of the bare
endpoint's throughput there. The three run interleaved ``--repeats`` times (the order
rotating, as a shared VM drifts) and the medians close the output. Linux only. The
database of ``--database-url`` is DROPPED and created again.
"""

from __future__ import annotations

import argparse
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
    CpuMeter,
    Gunicorn,
    Voter,
    prepare_election,
    refresh_statistics,
    request,
    run_concurrently,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bb_cpu_split_bench"
CONCURRENCY = 50
GROUPS = ("app", "bare app", "postgresql", "load client", "total")


def measure(meter: CpuMeter, label: str, send, requests: int) -> dict[str, float]:
    started = time.perf_counter()
    results, per_request = meter.measure(
        lambda: run_concurrently(send, requests, CONCURRENCY), requests
    )
    wall = time.perf_counter() - started
    accepted = sum(1 for ok in results if ok)
    shares = ", ".join(f"{key} {per_request[key]:.2f}" for key in GROUPS)
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
        meter = CpuMeter(args.database_url, {"app": app_server, "bare app": bare_server})
        first_round = election.round_ids[0]
        run_concurrently(
            lambda i: election.voters[i].log_in(app_server.port, first_round),
            args.voters,
            CONCURRENCY,
        )
        switch = language_switch(app_server.port)

        def insert(_i):
            return request(bare_server.port, "POST", "/insert", body="")[0] == 204

        for repetition, round_id in enumerate(election.round_ids):
            print(f"repetition {repetition + 1}:")
            projects = election.project_ids[round_id][:2]

            def cast(i, round_id=round_id, projects=projects):
                return election.voters[i].cast(app_server.port, round_id, projects).accepted

            scenarios = [
                ("cast ballot", cast),
                ("language switch", switch),
                ("bare insert", insert),
            ]
            shift = repetition % len(scenarios)  # each scenario first, in turn
            for label, send in scenarios[shift:] + scenarios[:shift]:
                refresh_statistics(args.database_url)
                rows.setdefault(label, []).append(measure(meter, label, send, args.voters))

    print(f"\nmedian of {args.repeats} repetitions, per column (CPU ms per request):")
    columns = ("req/s", *GROUPS)
    print("| scenario | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for label in ("cast ballot", "language switch", "bare insert"):
        measured = rows[label]
        throughput, *cpu = (statistics.median(m[column] for m in measured) for column in columns)
        print(f"| {label} | {throughput:.0f} | " + " | ".join(f"{ms:.2f}" for ms in cpu) + " |")
    ratios = [
        bare["total"] / cast["total"]
        for cast, bare in zip(rows["cast ballot"], rows["bare insert"], strict=True)
    ]
    print(
        "bare/cast, CPU per request of the bench's processes (the cast's expected share of "
        "the bare endpoint's throughput on a machine running only the bench): "
        + ", ".join(f"{ratio:.0%}" for ratio in ratios)
        + f"; median {statistics.median(ratios):.0%}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
