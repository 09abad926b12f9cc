"""Load bench: residents casting ballots through the real app under gunicorn on PostgreSQL,
against a bare Flask endpoint doing one INSERT, measured in the same run.

    .venv/bin/python bench/load.py [--database-url URL] [--voters N] [--concurrency 50 200]
                                   [--repeats 3] [--workers 2]

Steps (loopback only, bounded: N requests per measurement, each with a 30 s timeout):

1. (Re)create the PostgreSQL database of ``--database-url`` (default ``bb_reliability_bench``;
   it is DROPPED first) and build the schema with ``flask db upgrade``.
2. Seed one area with five open initiatives, N residents who may vote and one open approval
   round per concurrency level and repetition.
3. Start ``gunicorn -w 2`` (sync workers) with the production config (rate limiting on), and
   beside it ``gunicorn -w 2`` with bench/bare_app.py (one INSERT per request). Log every
   resident in (login form, then the ballot page for the CSRF token); not measured.
4. ``--repeats`` times, for each concurrency level (each measurement after an ANALYZE, as
   autovacuum keeps statistics fresh on a live database; see voters.refresh_statistics):
   N residents cast their ballot in a fresh round (POST of the confirm form with the CSRF
   token, the real cast path), ``concurrency`` at a time, and N requests to the bare
   endpoint the same way; the cast goes first in odd repetitions, the bare endpoint in even
   ones. Interleaving the two lets a machine whose speed drifts (a shared VM) slow both
   alike. Each measurement also reads the CPU time of the bench's own processes (the two
   gunicorns, the database's PostgreSQL backends, this client; bench/voters.CpuMeter).
5. Print every measurement, then per scenario the repetition with the median throughput;
   per repetition the ratio of the cast's throughput to the bare endpoint's (the pair
   measured back to back) and their median, THE figure to quote, and beside it the ratio of
   their CPU per request, which predicts the throughput ratio on a machine running only the
   bench and moves little when other processes share the machine. Check in the database:
   ballots == accepted requests == voter records per round, nobody has two voter records,
   no ballot without choices.

Targets (issue "Under load"): at 50 concurrent, >= 70% of the bare endpoint's throughput and
p99 < 100 ms (the median of the per-repetition ratios is compared). The exit status is 1
when the database check fails (not when a target is missed: the output says that).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.engine import make_url  # noqa: E402

from bench import bare_app  # noqa: E402
from bench.voters import (  # noqa: E402
    CpuMeter,
    Gunicorn,
    ballot_counts,
    prepare_election,
    refresh_statistics,
    request,
    run_concurrently,
)
from buurtbudget.extensions import db  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bb_reliability_bench"
TARGET_RATIO = 0.70
# Issue 14 ("Speed stays"): the verified electorate may not push casting below this share.
FLOOR_RATIO = 0.57
TARGET_P99_MS = 100


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def measure(meter: CpuMeter, send, count: int, concurrency: int) -> dict:
    """Run ``send(i)`` (returning (accepted, seconds)) ``count`` times, ``concurrency`` at once."""
    started = time.perf_counter()
    results, cpu = meter.measure(lambda: run_concurrently(send, count, concurrency), count)
    wall = time.perf_counter() - started
    latencies = [seconds for _accepted, seconds in results]
    accepted = sum(1 for ok, _seconds in results if ok)
    return {
        "requests": count,
        "accepted": accepted,
        "throughput": count / wall,
        "p50": percentile(latencies, 0.50) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "cpu ms": cpu["total"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--voters", type=int, default=1000, help="requests per measurement")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    print(f"database: {make_url(args.database_url).render_as_string(hide_password=True)}")
    plan = [(rep, c) for rep in range(args.repeats) for c in args.concurrency]
    env, seeding_app, election = prepare_election(args.database_url, args.voters, len(plan))
    bare_app.create_table(args.database_url)
    bare_env = dict(env, BENCH_DATABASE_URL=args.database_url)

    rows = []  # (scenario, concurrency, repetition, round id or None, measurement)
    with (
        Gunicorn("buurtbudget:create_app()", env, workers=args.workers) as app_server,
        Gunicorn("bench.bare_app:create_app()", bare_env, workers=args.workers) as bare_server,
    ):
        meter = CpuMeter(args.database_url, {"app": app_server, "bare app": bare_server})
        started = time.perf_counter()
        first_round = election.round_ids[0]
        run_concurrently(
            lambda i: election.voters[i].log_in(app_server.port, first_round),
            len(election.voters),
            50,
        )
        print(
            f"logged in {len(election.voters)} residents in "
            f"{time.perf_counter() - started:.1f} s (not measured)"
        )

        def insert(_i):
            started = time.perf_counter()
            status = request(bare_server.port, "POST", "/insert", body="")[0]
            return status == 204, time.perf_counter() - started

        for (rep, concurrency), round_id in zip(plan, election.round_ids, strict=True):
            projects = election.project_ids[round_id][:2]

            def cast(i, round_id=round_id, projects=projects):
                result = election.voters[i].cast(app_server.port, round_id, projects)
                return result.accepted, result.seconds

            pair = [("cast ballot", cast, round_id), ("bare insert", insert, None)]
            for name, send, rid in pair if rep % 2 == 0 else reversed(pair):
                refresh_statistics(args.database_url)
                m = measure(meter, send, args.voters, concurrency)
                rows.append((name, concurrency, rep, rid, m))
                print(
                    f"  repetition {rep + 1}, {name}, {concurrency} concurrent: "
                    f"{m['throughput']:.0f} req/s, p50 {m['p50']:.1f} ms, p99 {m['p99']:.1f} ms, "
                    f"accepted {m['accepted']}/{m['requests']}, "
                    f"CPU {m['cpu ms']:.2f} ms per request"
                )

    def ratios(concurrency: int, column: str) -> list[float]:
        """Per repetition: cast / bare for throughput, bare / cast for CPU per request."""
        found = []
        for rep in range(args.repeats):
            by_name = {n: m for n, c, r, _rid, m in rows if c == concurrency and r == rep}
            cast, bare = by_name["cast ballot"], by_name["bare insert"]
            found.append(
                cast[column] / bare[column]
                if column == "throughput"
                else bare[column] / cast[column]
            )
        return found

    def median_run(name: str, concurrency: int) -> dict:
        runs = sorted(
            (m for n, c, _rep, _rid, m in rows if n == name and c == concurrency),
            key=lambda m: m["throughput"],
        )
        return runs[len(runs) // 2]

    header = ("scenario", "concurrency", "requests", "accepted", "req/s", "p50 ms", "p99 ms")
    print()
    print(f"median of {args.repeats} repetitions (by throughput):")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for name in ("cast ballot", "bare insert"):
        for concurrency in args.concurrency:
            m = median_run(name, concurrency)
            print(
                f"| {name} | {concurrency} | {m['requests']} | {m['accepted']} | "
                f"{m['throughput']:.0f} | {m['p50']:.1f} | {m['p99']:.1f} |"
            )
    print()
    print("cast vs bare, per repetition (each pair measured back to back), and the median:")
    for concurrency in args.concurrency:
        for label, column in (("throughput", "throughput"), ("CPU per request", "cpu ms")):
            found = ratios(concurrency, column)
            print(
                f"  {concurrency} concurrent, {label}: "
                + ", ".join(f"{ratio:.0%}" for ratio in found)
                + f"; median {statistics.median(found):.0%}"
            )

    print()
    problems = []
    with seeding_app.app_context():
        for _name, concurrency, rep, round_id, m in rows:
            if round_id is None:
                continue
            counts = ballot_counts(round_id)
            print(
                f"round {round_id} (repetition {rep + 1}, {concurrency} concurrent): "
                f"accepted {m['accepted']}, "
                + ", ".join(f"{key} {value}" for key, value in counts.items())
            )
            if not (counts["ballots"] == counts["voter_records"] == m["accepted"]):
                problems.append(f"round {round_id}: ballots/voter records/accepted differ")
            if counts["voters_with_two"] or counts["ballots_without_choices"]:
                problems.append(f"round {round_id}: a voter has two records or a ballot is empty")
        db.session.remove()
        db.engine.dispose()
    if 50 in args.concurrency:
        at_50 = median_run("cast ballot", 50)
        ratio = statistics.median(ratios(50, "throughput"))
        print(
            f"targets at 50 concurrent: throughput ratio {ratio:.0%} (target >= "
            f"{TARGET_RATIO:.0%}): {'met' if ratio >= TARGET_RATIO else 'MISSED'}, issue 14's "
            f"floor {FLOOR_RATIO:.0%}: {'met' if ratio >= FLOOR_RATIO else 'MISSED'}; "
            f"p99 {at_50['p99']:.1f} ms (target < {TARGET_P99_MS} ms): "
            f"{'met' if at_50['p99'] < TARGET_P99_MS else 'MISSED'}"
        )
    print("database check: " + ("OK" if not problems else "FAILED: " + "; ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
