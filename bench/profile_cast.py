"""Profile the cast path in-process: N residents cast a ballot through the Flask test client.

    .venv/bin/python bench/profile_cast.py [--database-url URL] [--voters N] [--profile]

The production config on PostgreSQL (the database of ``--database-url`` is emptied and its
schema created), CSRF on, login throttling on (with a limit the bench never reaches). Residents
log in first (not measured); then every POST /rounds/<id>/ballot/confirm is timed and its SQL
statements counted (SQLAlchemy ``before_cursor_execute``; not counted: the app pool's
pre-ping and the driver's BEGIN/COMMIT, one round trip each; counted too: the ballot box's
statement, which it runs on the driver itself, autocommitted, on a connection not pinged).
``--profile`` adds a cProfile of the casts (the 25 most expensive functions by cumulative
time).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from bench.voters import _CSRF, CHEAP_HASH, VOTER_PASSWORD, seed_election  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bb_castfast"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--voters", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--dump", metavar="PATH", help="with --profile: also save the stats")
    parser.add_argument("--show-sql", action="store_true", help="print the SQL of one cast")
    args = parser.parse_args()

    from buurtbudget.app import create_app
    from buurtbudget.extensions import db

    app = create_app(
        "production",
        SECRET_KEY="profile-" + "k" * 40,
        DATABASE_URL=args.database_url,
        PASSWORD_HASH_METHOD=CHEAP_HASH,
        LOGIN_RATE_LIMIT="1000000 per minute",
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
        with app.test_request_context():
            election = seed_election(args.voters)
        db.session.remove()
        round_id = election.round_ids[0]
        projects = election.project_ids[round_id][:2]

    clients = []
    for voter in election.voters:
        client = app.test_client()
        # Flask-WTF checks the Referer of HTTPS posts; the production config means HTTPS.
        client.environ_base["HTTP_REFERER"] = "https://localhost/"
        page = client.get("https://localhost/account/login").text
        token = _CSRF.search(page).group(1)
        data = {"email": voter.email, "password": VOTER_PASSWORD, "csrf_token": token}
        assert client.post("https://localhost/account/login", data=data).status_code == 302
        page = client.get(f"https://localhost/rounds/{round_id}/ballot").text
        clients.append((client, _CSRF.search(page).group(1)))

    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        statements.append(statement)

    # The ballot box runs its statement on the driver itself, unseen by SQLAlchemy's events.
    from buurtbudget.services.voting import ballot_box

    on_driver = ballot_box._cast_postgresql

    def counted(setup, statement, params):
        statements.append(statement.text)
        return on_driver(setup, statement, params)

    ballot_box._cast_postgresql = counted

    counts, seconds, cpu_seconds = [], [], []
    profiler = cProfile.Profile() if args.profile else None
    for index, (client, token) in enumerate(clients):
        data = {"csrf_token": token, "project": [str(p) for p in projects]}
        statements.clear()
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        response = client.post(f"https://localhost/rounds/{round_id}/ballot/confirm", data=data)
        if profiler:
            profiler.disable()
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
        assert response.status_code == 302, response.status_code
        assert response.location.endswith(f"/rounds/{round_id}/receipt"), response.location
        counts.append(len(statements))
        if args.show_sql and index == len(clients) // 2:
            for statement in statements:
                print("  ", " ".join(statement.split())[:160])

    skip = len(seconds) // 10  # the first tenth: cold caches
    warm, warm_cpu = seconds[skip:], cpu_seconds[skip:]
    print(f"casts: {len(seconds)}")
    print(f"SQL statements per cast: {dict(Counter(counts))}")
    print(
        f"time per cast: mean {statistics.mean(warm) * 1000:.2f} ms, "
        f"median {statistics.median(warm) * 1000:.2f} ms, of which this process's CPU "
        f"{statistics.mean(warm_cpu) * 1000:.2f} ms (the rest: waiting for PostgreSQL; "
        "without the first tenth)"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        if args.dump:
            profiler.dump_stats(args.dump)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
