"""Load bench: residents casting ballots through the real app under gunicorn on PostgreSQL.

    .venv/bin/python bench/load.py [--database-url URL] [--voters N] [--concurrency 50 200]

Steps (loopback only, bounded: N requests per scenario, each with a 30 s timeout):

1. (Re)create the PostgreSQL database of ``--database-url`` (default ``bb_reliability_bench``;
   it is DROPPED first) and build the schema with ``flask db upgrade``.
2. Seed one area with five open initiatives, one open approval round per concurrency level
   and N residents who may vote.
3. Start ``gunicorn -w 2`` with the production config and log every resident in (login form,
   then the ballot page for the CSRF token). Logging in is not measured.
4. Per concurrency level: N residents cast their ballot in that level's round (POST of the
   confirm form with the CSRF token, the real cast path), ``concurrency`` at a time.
5. Start ``gunicorn -w 2`` with bench/bare_app.py (one INSERT per request) and send N requests
   per level the same way.
6. Print a table (throughput, p50/p99 latency, ratio to the bare endpoint) and check in the
   database: ballots == accepted requests == voter records, nobody has two voter records,
   no ballot without choices.

Targets (issue "Under load"): at 50 concurrent, >= 70% of the bare endpoint's throughput and
p99 < 100 ms. The exit status is 1 when the database check fails (not when a target is missed:
the table says that).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench import bare_app  # noqa: E402
from bench.voters import (  # noqa: E402
    Gunicorn,
    app_environment,
    ballot_counts,
    request,
    run_concurrently,
    seed_election,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bb_reliability_bench"
TARGET_RATIO = 0.70
TARGET_P99_MS = 100


def recreate_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def measure(send, count: int, concurrency: int) -> dict:
    """Run ``send(i)`` (returning (accepted, seconds)) ``count`` times, ``concurrency`` at once."""
    started = time.perf_counter()
    results = run_concurrently(send, count, concurrency)
    wall = time.perf_counter() - started
    latencies = [seconds for _accepted, seconds in results]
    accepted = sum(1 for ok, _seconds in results if ok)
    return {
        "requests": count,
        "accepted": accepted,
        "throughput": count / wall,
        "p50": percentile(latencies, 0.50) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--voters", type=int, default=1000, help="requests per scenario")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    print(f"database: {make_url(args.database_url).render_as_string(hide_password=True)}")
    recreate_database(args.database_url)
    env = app_environment(args.database_url)
    subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "--app", "buurtbudget", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )

    from buurtbudget.app import create_app
    from buurtbudget.extensions import db

    seeding_app = create_app(
        "production",
        SECRET_KEY="seed-only-for-the-bench",  # noqa: S106
        DATABASE_URL=args.database_url,
        PASSWORD_HASH_METHOD=env["BUURTBUDGET_PASSWORD_HASH_METHOD"],
    )
    with seeding_app.app_context(), seeding_app.test_request_context():
        election = seed_election(args.voters, rounds=len(args.concurrency))
        db.session.remove()

    rows = []
    with Gunicorn("buurtbudget:create_app()", env, workers=args.workers) as server:
        started = time.perf_counter()
        first_round = election.round_ids[0]
        run_concurrently(
            lambda i: election.voters[i].log_in(server.port, first_round), len(election.voters), 50
        )
        print(
            f"logged in {len(election.voters)} residents in "
            f"{time.perf_counter() - started:.1f} s (not measured)"
        )
        for concurrency, round_id in zip(args.concurrency, election.round_ids, strict=True):
            projects = election.project_ids[round_id][:2]

            def cast(i, round_id=round_id, projects=projects):
                result = election.voters[i].cast(server.port, round_id, projects)
                return result.accepted, result.seconds

            rows.append(
                ("cast ballot", concurrency, round_id, measure(cast, args.voters, concurrency))
            )

    bare_app.create_table(args.database_url)
    bare_env = dict(env, BENCH_DATABASE_URL=args.database_url)
    with Gunicorn("bench.bare_app:create_app()", bare_env, workers=args.workers) as server:

        def insert(_i):
            started = time.perf_counter()
            status = request(server.port, "POST", "/insert", body="")[0]
            return status == 204, time.perf_counter() - started

        for concurrency in args.concurrency:
            rows.append(
                ("bare insert", concurrency, None, measure(insert, args.voters, concurrency))
            )

    bare = {
        concurrency: m["throughput"] for name, concurrency, _r, m in rows if name == "bare insert"
    }
    header = (
        "scenario",
        "concurrency",
        "requests",
        "accepted",
        "req/s",
        "p50 ms",
        "p99 ms",
        "ratio vs bare",
    )
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for name, concurrency, _round_id, m in rows:
        ratio = m["throughput"] / bare[concurrency]
        print(
            f"| {name} | {concurrency} | {m['requests']} | {m['accepted']} | "
            f"{m['throughput']:.0f} | {m['p50']:.1f} | {m['p99']:.1f} | {ratio:.0%} |"
        )

    print()
    problems = []
    with seeding_app.app_context():
        for _name, concurrency, round_id, m in rows:
            if round_id is None:
                continue
            counts = ballot_counts(round_id)
            print(
                f"round {round_id} ({concurrency} concurrent): accepted {m['accepted']}, "
                + ", ".join(f"{key} {value}" for key, value in counts.items())
            )
            if not (counts["ballots"] == counts["voter_records"] == m["accepted"]):
                problems.append(f"round {round_id}: ballots/voter records/accepted differ")
            if counts["voters_with_two"] or counts["ballots_without_choices"]:
                problems.append(f"round {round_id}: a voter has two records or a ballot is empty")
        db.session.remove()
        db.engine.dispose()
    at_50 = next((m for name, c, _r, m in rows if name == "cast ballot" and c == 50), None)
    if at_50 is not None:
        ratio = at_50["throughput"] / bare[50]
        print(
            f"targets at 50 concurrent: throughput ratio {ratio:.0%} (target >= "
            f"{TARGET_RATIO:.0%}): {'met' if ratio >= TARGET_RATIO else 'MISSED'}; "
            f"p99 {at_50['p99']:.1f} ms (target < {TARGET_P99_MS} ms): "
            f"{'met' if at_50['p99'] < TARGET_P99_MS else 'MISSED'}"
        )
    print("database check: " + ("OK" if not problems else "FAILED: " + "; ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
