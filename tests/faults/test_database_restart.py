"""PostgreSQL restarted while residents vote and a coordinator grants money: requests during the
outage get a quick, clean 503 page (no hang, no traceback), requests afterwards succeed again
(the pool's pre-ping replaces the dead connections), and nothing is half-written: every voter
record has its ballot, every ledger entry its audit entry.

Only on PostgreSQL, on CI (or with CI=1), and only where this process may restart the server
(root, or the postgres user, with Debian's pg_ctlcluster, as on CI). The cluster restarted is
the one serving the suite's database port; work happens in a scratch database; the suite's own
engine is disposed afterwards, so the tests after this one get fresh connections.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bench.voters import VOTER_PASSWORD, ballot_counts, run_concurrently, seed_election
from buurtbudget.domain.budget import EntryKind
from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, Initiative, LedgerEntry
from buurtbudget.services import ledger
from tests.factories import Factories

# Restarts PostgreSQL or kills gunicorn workers: never beside other tests (make test runs it
# after the parallel part).
pytestmark = pytest.mark.serial

VOTERS = 150
GRANTS = 40
THREADS = 6
RESTART_AFTER_CASTS = 20
RUN_LIMIT_SECONDS = 40
SLOW_REQUEST_SECONDS = 10


def _cluster_serving(port: int) -> tuple[str, str] | None:
    """(version, name) of the local Debian cluster listening on ``port``."""
    if not shutil.which("pg_lsclusters") or not shutil.which("pg_ctlcluster"):
        return None
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False
    )
    for line in listing.stdout.splitlines():
        version, name, cluster_port, *_rest = line.split()
        if int(cluster_port) == port:
            return version, name
    return None


def _wait_until_ready(host: str, port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready = subprocess.run(["pg_isready", "-q", "-h", host, "-p", str(port)], check=False)
        if ready.returncode == 0:
            return
        time.sleep(0.2)
    raise AssertionError("PostgreSQL did not come back")


@pytest.fixture
def cluster(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("restarts PostgreSQL: runs in the PostgreSQL pass only")
    if not os.environ.get("CI"):
        # On a developer machine the server is shared: a restart would break others' work.
        pytest.skip(
            "restarts the PostgreSQL server: runs on CI, or locally with CI=1 against "
            "a cluster of your own (pg_createcluster 15 mine -p 5433)"
        )
    url = make_url(database_url)
    host, port = url.host or "127.0.0.1", url.port or 5432
    found = _cluster_serving(port)
    if found is None:
        pytest.skip(f"no local pg_ctlcluster cluster on port {port} to restart")
    return (*found, host, port)


def test_restart_during_votes_and_grants(cluster, scratch_app, _session_app):
    version, name, host, port = cluster
    make = Factories()
    with scratch_app.test_request_context():
        election = seed_election(VOTERS)
        area = make.area(inhabitants=100_000)
        make.budget_period(area)
        initiative_ids = [make.budget_initiative(area, cost_cents=1_000).id for _ in range(GRANTS)]
        db.session.remove()
    round_id = election.round_ids[0]
    projects = election.project_ids[round_id][:2]

    # Requests run in threads without an app context: each gets its own, as under a real
    # server (in this thread they would share the fixture's session and its connection).
    clients = [scratch_app.test_client() for _ in election.voters]

    def log_in(index: int) -> int:
        data = {"email": election.voters[index].email, "password": VOTER_PASSWORD}
        return clients[index].post("/account/login", data=data).status_code

    assert set(run_concurrently(log_in, VOTERS, THREADS)) == {302}

    restarted = threading.Event()
    casts_started = threading.Semaphore(0)
    statuses: Counter = Counter()
    slowest = [0.0]
    lock = threading.Lock()

    def timed(call):
        started = time.monotonic()
        try:
            outcome = call()
        except Exception as error:  # noqa: BLE001 - any escaping exception fails the test
            outcome = f"{type(error).__name__}: {error}"
        with lock:
            slowest[0] = max(slowest[0], time.monotonic() - started)
            statuses[outcome] += 1
        return outcome

    def cast(index: int):
        casts_started.release()
        return timed(
            lambda: (
                clients[index]
                .post(f"/rounds/{round_id}/ballot/confirm", data={"project": projects})
                .status_code
            )
        )

    def keep_reading(_index: int):
        # Once every resident tried, keep the app busy until the restart is over.
        deadline = time.monotonic() + RUN_LIMIT_SECONDS
        while not restarted.is_set() and time.monotonic() < deadline:
            timed(lambda: clients[0].get(f"/rounds/{round_id}").status_code)

    def grant(index: int) -> bool:
        with scratch_app.app_context():
            try:
                ledger.grant(None, db.session.get(Initiative, initiative_ids[index]))
                return True
            except DBAPIError:
                db.session.rollback()
                return False
            finally:
                db.session.remove()

    def restart() -> None:
        for _ in range(RESTART_AFTER_CASTS):
            casts_started.acquire(timeout=RUN_LIMIT_SECONDS)
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "restart"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        _wait_until_ready(host, port)
        restarted.set()

    granted: list[bool] = []

    def grant_all() -> None:
        for index in range(GRANTS):
            granted.append(grant(index))
            time.sleep(0.05)  # spread over the run, across the restart

    restarter = threading.Thread(target=restart)
    granter = threading.Thread(target=grant_all)
    try:
        restarter.start()
        granter.start()
        first = run_concurrently(cast, VOTERS, THREADS)
        run_concurrently(keep_reading, THREADS, THREADS)
    finally:
        restarter.join(timeout=90)
        granter.join(timeout=90)
        _wait_until_ready(host, port)
        # The suite's own pool holds connections to the restarted server: start afresh.
        with _session_app.app_context():
            db.engine.dispose()
    assert restarted.is_set()

    # During the outage: a clean 503 (never a 500, an exception or a hang).
    assert set(statuses) <= {200, 302, 503}, statuses
    assert statuses[503] > 0, "the restart was not noticed by any request"
    assert slowest[0] < SLOW_REQUEST_SECONDS

    # Afterwards every request succeeds again: those who got a 503 vote now (or had voted:
    # the commit can land just before the connection drops; then they are told so).
    failed = [index for index, status in enumerate(first) if status != 302]
    assert set(run_concurrently(lambda i: cast(failed[i]), len(failed), THREADS)) <= {302}
    with scratch_app.app_context():
        for index, ok in enumerate(granted):
            if not ok and not ledger.initiative_totals(initiative_ids[index]).granted:
                assert grant(index)
        counts = ballot_counts(round_id)
        assert counts["ballots"] == counts["voter_records"] == VOTERS
        assert counts["voters_with_two"] == counts["ballots_without_choices"] == 0
        commitments = db.session.execute(
            select(LedgerEntry.initiative_id, func.count())
            .where(LedgerEntry.kind == EntryKind.COMMITMENT)
            .group_by(LedgerEntry.initiative_id)
        ).all()
        assert sorted(commitments) == [(i, 1) for i in sorted(initiative_ids)]
        ledger_ids = set(db.session.scalars(select(LedgerEntry.id)))
        audited = db.session.scalars(
            select(AuditEntry.object_id).where(AuditEntry.object_type == "LedgerEntry")
        ).all()
        assert sorted(audited) == sorted(ledger_ids)
