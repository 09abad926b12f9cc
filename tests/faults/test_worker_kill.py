"""A gunicorn worker killed (SIGKILL) while residents are casting ballots loses nothing that
was confirmed, and leaves nothing half-written: every resident who got the receipt redirect
has a voter record and the ballot count equals the voter record count.

Runs on the suite's database server (SQLite file or PostgreSQL) in a scratch database, over
HTTP on loopback, in a few seconds."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from sqlalchemy import select

from bench.voters import Gunicorn, app_environment, ballot_counts, run_concurrently, seed_election
from buurtbudget.extensions import db
from buurtbudget.models import User, VoterRecord

# Restarts PostgreSQL or kills gunicorn workers: never beside other tests (make test runs it
# after the parallel part).
pytestmark = pytest.mark.serial

VOTERS = 80
CONCURRENCY = 8
# Both original workers are killed, one after the other, while casts are in flight.
KILL_AFTER_CASTS = (15, 30)


def test_killed_workers_lose_no_confirmed_ballot(scratch_app, empty_database_url):
    with scratch_app.test_request_context():
        election = seed_election(VOTERS)
        db.session.remove()
    round_id = election.round_ids[0]
    projects = election.project_ids[round_id][:2]
    done = threading.Event()
    casts_started = threading.Semaphore(0)
    killed: list[int] = []

    with Gunicorn("buurtbudget:create_app()", app_environment(empty_database_url)) as server:
        run_concurrently(lambda i: election.voters[i].log_in(server.port, round_id), VOTERS, 8)

        def killer() -> None:
            originals = server.worker_pids()
            for victim, casts in zip(originals, KILL_AFTER_CASTS, strict=True):
                for _ in range(casts):
                    casts_started.acquire(timeout=10)
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            done.set()

        def cast(index: int):
            casts_started.release()
            return election.voters[index].cast(server.port, round_id, projects, timeout=10)

        threading.Thread(target=killer, daemon=True).start()
        started = time.monotonic()
        results = run_concurrently(cast, VOTERS, CONCURRENCY)
        assert done.wait(timeout=10), "the workers were not killed during the run"
        elapsed = time.monotonic() - started
        # The master replaces the killed worker; a resident whose request died may vote again.
        deadline = time.monotonic() + 20
        while len(server.worker_pids()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        replacements = server.worker_pids()
        assert len(killed) == 2 and len(replacements) == 2 and not set(killed) & set(replacements)
        by_email = {voter.email: voter for voter in election.voters}
        retried = [
            by_email[r.email].cast(server.port, round_id, projects, timeout=10)
            for r in results
            if not r.accepted
        ]

    assert elapsed < 60
    confirmed = {r.email for r in results + retried if r.accepted}
    outcomes = {r.status for r in results}
    # Success, or the connection dropped (None); never a server error or a hang.
    assert outcomes <= {302, None}, outcomes
    with scratch_app.app_context():
        voted = set(
            db.session.scalars(
                select(User.email)
                .join(VoterRecord, VoterRecord.user_id == User.id)
                .where(VoterRecord.round_id == round_id)
            )
        )
        counts = ballot_counts(round_id)
    assert confirmed <= voted, "a confirmed ballot was lost"
    assert counts["ballots"] == counts["voter_records"] == len(voted)
    assert counts["voters_with_two"] == counts["ballots_without_choices"] == 0
    # Everyone whose first attempt died could vote afterwards, or had in fact voted (the
    # commit happened, the response was lost): then the retry says "already voted".
    assert len(voted) == VOTERS
