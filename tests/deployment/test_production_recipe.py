"""The README's production recipe, as written: `flask db upgrade` and gunicorn with the
production config against PostgreSQL and the machine's Redis (issue 19: both stopped with
"'redis' prerequisite not available"). A resident logs in and casts a ballot over HTTP; the
security headers and cookie flags are those production promises.

Runs when the suite runs on PostgreSQL (as `.ci/run` does), in a scratch database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bench.voters import Gunicorn, app_environment, ballot_counts, request, seed_election
from buurtbudget.app import create_app
from buurtbudget.extensions import db

ROOT = Path(__file__).resolve().parents[2]
REDIS = ("127.0.0.1", 6379)
SECRET = "recipe-" + "s" * 48
# The Redis server may be shared: this run's throttling keys start with a prefix of its own.
KEY_PREFIX = f"buurtbudget-recipe-{uuid.uuid4().hex}"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _limiter_keys() -> int:
    import redis

    client = redis.Redis(*REDIS)
    try:
        return sum(1 for _ in client.scan_iter(match=f"{KEY_PREFIX}*", count=1000))
    finally:
        client.close()


@pytest.fixture
def production_database(empty_database_url: str) -> str:
    if not empty_database_url.startswith("postgresql"):
        pytest.skip("the production recipe runs on PostgreSQL (BUURTBUDGET_TEST_DATABASE_URL)")
    if not _redis_answers():
        if os.environ.get("CI"):
            pytest.fail("Redis is not answering on 127.0.0.1:6379: .ci/run starts redis-server")
        pytest.skip("Redis is not answering on 127.0.0.1:6379")
    return empty_database_url


def test_the_production_recipe_serves_a_ballot(production_database, tmp_path):
    env = app_environment(
        production_database,
        BUURTBUDGET_SECRET_KEY=SECRET,
        BUURTBUDGET_RATELIMIT_STORAGE_URI=f"redis://{REDIS[0]}:{REDIS[1]}",
        BUURTBUDGET_RATELIMIT_KEY_PREFIX=KEY_PREFIX,
        BUURTBUDGET_INSTANCE_PATH=str(tmp_path),
    )
    flask = [sys.executable, "-m", "flask", "--app", "buurtbudget"]
    upgrade = subprocess.run(
        [*flask, "db", "upgrade"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert upgrade.returncode == 0, upgrade.stderr[-2000:]

    app = create_app("production", DATABASE_URL=production_database, SECRET_KEY=SECRET)
    with app.app_context(), app.test_request_context():
        election = seed_election(2, prefix="recept")
        db.session.remove()
    round_id = election.round_ids[0]
    voter = election.voters[0]
    keys_before = _limiter_keys()

    with Gunicorn("buurtbudget:create_app()", env) as server:
        status, headers, _page = request(server.port, "GET", "/account/login")
        assert status == 200
        assert headers["strict-transport-security"].startswith("max-age=")
        assert "default-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        session_cookie = headers["set-cookie"]
        for flag in ("Secure", "HttpOnly", "SameSite=Lax"):
            assert flag in session_cookie, session_cookie

        voter.log_in(server.port, round_id)
        cast = voter.cast(server.port, round_id, election.project_ids[round_id][:1])
        assert cast.accepted, cast

    # Login throttling counted in Redis, shared by both workers (the throttle's keys).
    assert _limiter_keys() > keys_before
    with app.app_context():
        counts = ballot_counts(round_id)
        db.session.remove()
        db.engine.dispose()
    assert counts["ballots"] == 1, counts
