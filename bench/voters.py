"""Shared by bench/load.py and tests/faults: the app under gunicorn, a seeded voting round and
residents who log in and cast their ballot over real HTTP on loopback.

The client is the standard library's http.client (one connection per request, as gunicorn's
sync workers close the connection after each response), so the bench needs no extra package.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
VOTER_PASSWORD = "stemmen in de wijk"  # noqa: S105 - bench and test data only
# Login is outside the measured path; a cheap hash keeps seeding and logging in fast.
CHEAP_HASH = "pbkdf2:sha256:1000"
# A busy shared machine can take a minute to import the app in every worker.
STARTUP_SECONDS = 120
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


# gunicorn ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_environment(database_url: str, **extra: str) -> dict[str, str]:
    """Environment for the production app on ``database_url``, rate limiting on as in
    production but with a login limit every voter (all from 127.0.0.1) stays under, and a
    cheap password hash (login is not measured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUURTBUDGET_")}
    env.update(
        BUURTBUDGET_ENV="production",
        BUURTBUDGET_SECRET_KEY="bench-" + "k" * 40,
        BUURTBUDGET_DATABASE_URL=database_url,
        BUURTBUDGET_LOGIN_RATE_LIMIT="1000000 per minute",
        BUURTBUDGET_PASSWORD_HASH_METHOD=CHEAP_HASH,
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


class Gunicorn:
    """``gunicorn -w WORKERS -b 127.0.0.1:PORT APP`` as a subprocess, stopped on exit."""

    def __init__(self, app_spec: str, env: dict[str, str], workers: int = 2, timeout: int = 30):
        self.port = free_port()
        self.app_spec = app_spec
        self.env = env
        self.workers = workers
        self.timeout = timeout
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [
                str(gunicorn),
                "-w",
                str(self.workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--timeout",
                str(self.timeout),
                "--backlog",
                "2048",
                "--log-level",
                "warning",
                self.app_spec,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.process.stderr.read().decode()}")
            if len(self.worker_pids()) == self.workers:
                try:
                    status = request(self.port, "GET", "/")[0]
                except OSError:
                    status = None
                if status is not None:
                    return self
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"gunicorn did not start within {STARTUP_SECONDS} s")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def __exit__(self, *exc_info) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()


# HTTP ------------------------------------------------------------------------------------------


def request(
    port: int,
    method: str,
    path: str,
    body: str | None = None,
    cookie: str | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], str]:
    """One request on a fresh connection: status, headers (lower-case names) and text."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"User-Agent": "buurtbudget-bench", "Accept-Language": "en"}
    if cookie:
        headers["Cookie"] = cookie
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text
    finally:
        connection.close()


@dataclass
class Voter:
    email: str
    cookie: str = ""
    csrf_token: str = ""

    def send(self, port: int, method: str, path: str, data: Iterable | None = None, **kw):
        body = urlencode(list(data)) if data is not None else None
        status, headers, text = request(port, method, path, body, self.cookie or None, **kw)
        session = re.search(r"session=([^;]*)", headers.get("set-cookie", ""))
        if session:
            self.cookie = f"session={session.group(1)}"
        return status, headers, text

    def log_in(self, port: int, round_id: int) -> None:
        """Log in through the form and fetch the ballot page for its CSRF token."""
        status, _headers, page = self.send(port, "GET", "/account/login")
        token = _CSRF.search(page).group(1)
        data = [("email", self.email), ("password", VOTER_PASSWORD), ("csrf_token", token)]
        status, _headers, _page = self.send(port, "POST", "/account/login", data)
        if status != 302:
            raise RuntimeError(f"login of {self.email} failed with {status}")
        status, _headers, page = self.send(port, "GET", f"/rounds/{round_id}/ballot")
        if status != 200:
            raise RuntimeError(f"ballot page for {self.email} answered {status}")
        self.csrf_token = _CSRF.search(page).group(1)

    def cast(self, port: int, round_id: int, project_ids: Iterable[int], **kw) -> Cast:
        """POST the confirm form, as the review page does; accepted = sent to the receipt."""
        data = [("csrf_token", self.csrf_token)] + [("project", p) for p in project_ids]
        started = time.perf_counter()
        try:
            status, headers, _text = self.send(
                port, "POST", f"/rounds/{round_id}/ballot/confirm", data, **kw
            )
        except OSError as error:
            return Cast(self.email, None, False, time.perf_counter() - started, repr(error))
        elapsed = time.perf_counter() - started
        accepted = status == 302 and headers.get("location", "").endswith(
            f"/rounds/{round_id}/receipt"
        )
        return Cast(self.email, status, accepted, elapsed)


@dataclass(frozen=True)
class Cast:
    email: str
    status: int | None
    accepted: bool
    seconds: float
    error: str = ""


def run_concurrently(work: Callable[[int], object], count: int, concurrency: int) -> list:
    """Call ``work(i)`` for i in range(count) from ``concurrency`` threads; results in order."""
    results: list = [None] * count
    next_index = iter(range(count))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            results[index] = work(index)

    threads = [threading.Thread(target=worker) for _ in range(min(concurrency, count))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# CPU accounting ----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc), None once it ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_backends(database_url: str) -> set[int]:
    """The PostgreSQL server processes connected to the database of ``database_url`` now (not
    the one asking). Their CPU is the bench's; the server's other backends may be anyone's."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    engine = create_engine(database_url, poolclass=NullPool)
    with engine.connect() as connection:
        pids = connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": make_url(database_url).database},
        ).scalars()
        found = set(pids)
    engine.dispose()
    return found


class CpuMeter:
    """CPU time per request of the processes a measurement runs on, and only those: on a
    shared machine other people's processes (their tests, their PostgreSQL backends, their
    gunicorns) take CPU too, so counting by process name would count theirs. Groups:
    ``servers`` (name -> Gunicorn: its master and workers), ``postgresql`` (the backends
    connected to the bench's database), ``load client`` (this process). On a machine that
    only runs the bench, throughput is bounded by the sum: the ratio of two scenarios' totals
    predicts the ratio of their throughputs, however busy the machine is while measuring."""

    def __init__(self, database_url: str, servers: dict[str, Gunicorn]) -> None:
        self.database_url = database_url
        self.servers = servers

    def _processes(self) -> dict[str, set[int]]:
        groups = {
            name: {server.process.pid, *server.worker_pids()}
            for name, server in self.servers.items()
        }
        groups["postgresql"] = database_backends(self.database_url)
        groups["load client"] = {os.getpid()}
        return groups

    def measure(self, work: Callable[[], object], requests: int) -> tuple[object, dict[str, float]]:
        """Run ``work()``; its result and the CPU milliseconds per request of each group
        (a process that started meanwhile counts whole, one that ended is missed), and
        ``total``."""
        before_groups = self._processes()
        before = {pid: cpu_seconds(pid) for pids in before_groups.values() for pid in pids}
        result = work()
        after_groups = self._processes()
        spent: dict[str, float] = {}
        for name in after_groups:
            seconds = 0.0
            for pid in before_groups.get(name, set()) | after_groups[name]:
                now = cpu_seconds(pid)
                if now is not None:
                    seconds += now - (before.get(pid) or 0.0)
            spent[name] = seconds * 1000 / requests
        spent["total"] = sum(spent.values())
        return result, spent


# Seeding ---------------------------------------------------------------------------------------


@dataclass
class Election:
    round_ids: list[int]
    project_ids: dict[int, list[int]]
    voters: list[Voter] = field(default_factory=list)


def seed_election(voter_count: int, rounds: int = 1, prefix: str = "kiezer") -> Election:
    """In the current app context: a municipality with one area, five open initiatives,
    ``rounds`` open approval rounds (at most 3 projects) and ``voter_count`` residents who may
    vote in them."""
    from werkzeug.security import generate_password_hash

    from buurtbudget.domain.initiative_lifecycle import Status
    from buurtbudget.extensions import db
    from buurtbudget.models import Area, AreaPopulation, Initiative, Municipality, User
    from buurtbudget.models._base import utcnow
    from buurtbudget.services.voting import rounds as voting_rounds

    municipality = Municipality(name="Gemeente Bench", slug=f"bench-{prefix}")
    area = Area(municipality=municipality, name="Tanthof-Oost")
    db.session.add_all(
        [
            municipality,
            area,
            AreaPopulation(area=area, year=2026, inhabitants=9000, households=4000),
        ]
    )
    initiator = User(
        email=f"{prefix}-initiatiefnemer@example.org",
        display_name="Initiatiefnemer",
        password_hash=generate_password_hash(VOTER_PASSWORD, method=CHEAP_HASH),
        municipality=municipality,
        home_area=area,
        birth_year=1970,
    )
    titles = ("Speeltuin", "Buurtmoestuin", "Bankjes", "Boomspiegels", "Straatfeest")
    for index, title in enumerate(titles):
        db.session.add(
            Initiative(
                area=area,
                title=title,
                description="Een goed idee voor de wijk.",
                requested_amount_cents=(index + 1) * 100_000,
                checked_cost_cents=(index + 1) * 100_000,
                initiator=initiator,
                status=Status.OPEN,
            )
        )
    password_hash = generate_password_hash(VOTER_PASSWORD, method=CHEAP_HASH)
    confirmed_at = utcnow()
    emails = [f"{prefix}{n}@example.org" for n in range(voter_count)]
    db.session.add_all(
        User(
            email=email,
            display_name=f"Bewoner {n}",
            password_hash=password_hash,
            municipality=municipality,
            home_area=area,
            birth_year=1980,
            email_confirmed_at=confirmed_at,  # a voter has confirmed their e-mail address
        )
        for n, email in enumerate(emails)
    )
    db.session.commit()
    now = utcnow()
    election = Election(round_ids=[], project_ids={}, voters=[Voter(email) for email in emails])
    for number in range(rounds):
        setup = voting_rounds.RoundSetup(
            title=f"Stemronde {number + 1}",
            areas=[area],
            proposals_until=now - timedelta(days=3),
            review_until=now - timedelta(days=2),
            voting_opens_at=now - timedelta(days=1),
            voting_closes_at=now + timedelta(days=14),
            budget_cents=1_000_000,
            max_projects=3,
        )
        voting_round = voting_rounds.create_round(None, municipality, setup)
        _bind_electors(voting_round, emails)
        election.round_ids.append(voting_round.id)
        election.project_ids[voting_round.id] = [p.id for p in voting_round.projects]
    return election


def _bind_electors(voting_round, emails: list[str]) -> None:
    """Every voter an elector of the round, bound to their account (as if each had entered
    the stempas code of their letter): accounts vote only as electors."""
    import hashlib

    from sqlalchemy import insert, select

    from buurtbudget.extensions import db
    from buurtbudget.models import Elector, User

    users = db.session.execute(select(User.id, User.email).where(User.email.in_(emails))).all()
    db.session.execute(
        insert(Elector),
        [
            {
                "round_id": voting_round.id,
                "person_hash": hashlib.sha256(f"bench:{email}".encode()).hexdigest(),
                "birth_year": 1980,
                "area_id": voting_round.areas[0].id,
                "postcode": "2625AA",
                "house_number": n + 1,
                "user_id": user_id,
            }
            for n, (user_id, email) in enumerate(users)
        ],
    )
    db.session.commit()


def recreate_database(url: str) -> None:
    """DROP the PostgreSQL database of ``url`` and create it empty."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def prepare_election(database_url: str, voter_count: int, rounds: int = 1):
    """For the benches: (re)create the PostgreSQL database (DROPPED first), build its schema
    with ``flask db upgrade`` and seed :func:`seed_election`. Returns the environment for
    gunicorn (:func:`app_environment`), the seeding app (for checks afterwards) and the
    election."""
    from buurtbudget.app import create_app
    from buurtbudget.extensions import db

    recreate_database(database_url)
    env = app_environment(database_url)
    subprocess.run(
        [str(Path(sys.executable).with_name("flask")), "--app", "buurtbudget", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    seeding_app = create_app(
        "production",
        SECRET_KEY="seed-only-for-the-bench",  # noqa: S106
        DATABASE_URL=database_url,
        PASSWORD_HASH_METHOD=env["BUURTBUDGET_PASSWORD_HASH_METHOD"],
    )
    with seeding_app.app_context(), seeding_app.test_request_context():
        election = seed_election(voter_count, rounds=rounds)
        db.session.remove()
    refresh_statistics(database_url)
    return env, seeding_app, election


def refresh_statistics(database_url: str) -> None:
    """ANALYZE, as autovacuum does every minute on a live database (the default; some
    machines, like the one the bench was written on, run PostgreSQL with autovacuum off).
    The benches call it after seeding and before every measurement. Without fresh statistics
    the planner finds a resident by area instead of by the unique session token, and each
    backend keeps planning the foreign-key checks of a ballot's choices as scans of the
    ballot table as it was when empty: each cast then reads every ballot cast before it."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def ballot_counts(round_id: int) -> dict[str, int]:
    """In the current app context: the round's ballots, voter records, voters with more than
    one record, voter records without a ballot count, ballots without choices."""
    from sqlalchemy import func, select

    from buurtbudget.extensions import db
    from buurtbudget.models import Ballot, VoterRecord

    def count(statement) -> int:
        return db.session.scalar(statement) or 0

    doubled = (
        select(VoterRecord.user_id)
        .where(VoterRecord.round_id == round_id)
        .group_by(VoterRecord.user_id)
        .having(func.count() > 1)
        .subquery()
    )
    return {
        "ballots": count(select(func.count()).where(Ballot.round_id == round_id)),
        "voter_records": count(select(func.count()).where(VoterRecord.round_id == round_id)),
        "voters_with_two": count(select(func.count()).select_from(doubled)),
        "ballots_without_choices": count(
            select(func.count())
            .select_from(Ballot)
            .where(Ballot.round_id == round_id, Ballot.project_ids == [])
        ),
    }
