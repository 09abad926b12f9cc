"""Benchmark: every dashboard page at realistic volume, on SQLite and PostgreSQL.

    .venv/bin/python bench/dashboards.py [--sqlite PATH] [--postgresql URL] [--runs N]

Builds a database with one municipality of 20 areas (population figures and age bands for
five years), 1,000 residents, 10,000 initiatives with themes, a budget period per area and
year with its ledger (allocations, grants, payouts, releases), council meetings, area reports,
100 voting rounds with 10 projects each and 100,000 ballots (with two choices each). Rows go in
with SQLAlchemy core bulk inserts, not the ORM one by one. Then it times every dashboard page
through the Flask test client, warm, and prints the median of N runs per page and database.

Target: every page < 300 ms on both databases. The PostgreSQL database must exist and is
emptied (all tables dropped) first; use your own, e.g.
``createdb -h 127.0.0.1 -U postgres bb_monitoring_bench``.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from buurtbudget.app import create_app  # noqa: E402
from buurtbudget.extensions import db  # noqa: E402
from buurtbudget.models import (  # noqa: E402
    AGE_BANDS,
    Area,
    AreaPopulation,
    AreaReport,
    Ballot,
    BudgetAccount,
    BudgetModelConfig,
    BudgetPeriod,
    CouncilMeeting,
    Initiative,
    LedgerEntry,
    Municipality,
    RoleAssignment,
    RoundProject,
    Theme,
    User,
    VotingRound,
)
from buurtbudget.models.initiative import initiative_theme  # noqa: E402
from buurtbudget.models.voting import voting_round_area  # noqa: E402

AREAS = 20
YEARS = tuple(range(2022, 2027))
RESIDENTS_PER_AREA = 50
INITIATIVES = 10_000
BALLOTS = 100_000
PROJECTS_PER_ROUND = 10
TARGET_MS = 300
PASSWORD = "bench-password"  # noqa: S105 - a throwaway account in a throwaway database
STATUS_WEIGHTS = {
    "submitted": 5,
    "in_review": 5,
    "rejected": 10,
    "open": 20,
    "selected": 10,
    "in_execution": 15,
    "completed": 30,
    "cancelled": 5,
}
BAND_NAMES = [name for name, _low, _high in AGE_BANDS]


def at(year: int, day_of_year: int) -> datetime:
    return datetime(year, 1, 1, 12, tzinfo=UTC) + timedelta(days=day_of_year)


def bulk(model_or_table, rows: list[dict], chunk: int = 5_000) -> None:
    table = getattr(model_or_table, "__table__", model_or_table)
    for start in range(0, len(rows), chunk):
        db.session.execute(insert(table), rows[start : start + chunk])


def build(rng: random.Random) -> dict:
    """Fill the (empty) database; returns ids the timed pages need."""
    db.drop_all()
    db.create_all()
    municipality_id = db.session.execute(
        insert(Municipality).values(name="Benchstad", slug="benchstad").returning(Municipality.id)
    ).scalar_one()
    bulk(
        BudgetModelConfig,
        [
            {
                "municipality_id": municipality_id,
                "kind": "council_budget",
                "basis": "per_inhabitant",
                "rate_millicents": 500_000,
                "periods_per_year": 1,
                "bottleneck_fund_cents": 0,
                "citywide_pot_cents": 0,
                "min_meetings_per_year": 4,
                "social_target_percent": 50,
                "cheque_value_cents": 0,
                "cheque_valid_days": 365,
                "unpooled_value_policy": "area_pot",
                "updated_at": at(2022, 0),
            }
        ],
    )
    bulk(
        Area, [{"municipality_id": municipality_id, "name": f"Wijk {n:02d}"} for n in range(AREAS)]
    )
    area_ids = list(db.session.scalars(select(Area.id).order_by(Area.id)))
    inhabitants = {a: rng.randint(3_000, 13_500) for a in area_ids}
    populations = []
    for area_id in area_ids:
        for year in YEARS:
            total = inhabitants[area_id] + (year - YEARS[0]) * 40
            shares = [0.17, 0.12, 0.27, 0.27]
            bands = [int(total * s) for s in shares]
            bands.append(total - sum(bands))
            populations.append(
                {
                    "area_id": area_id,
                    "year": year,
                    "inhabitants": total,
                    "households": total // 2,
                    **dict(zip(BAND_NAMES, bands, strict=True)),
                }
            )
    bulk(AreaPopulation, populations)
    bulk(
        Theme,
        [
            {
                "municipality_id": municipality_id,
                "name": f"Thema {n}",
                "description": "",
                "is_active": True,
            }
            for n in range(10)
        ],
    )
    theme_ids = list(db.session.scalars(select(Theme.id)))

    password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    users = []
    for area_id in area_ids:
        for n in range(RESIDENTS_PER_AREA):
            users.append(
                {
                    "email": f"bewoner{n}.{area_id}@bench.example",
                    "display_name": f"Bewoner {n}",
                    "password_hash": password_hash,
                    "session_token": secrets.token_urlsafe(24),
                    "municipality_id": municipality_id,
                    "home_area_id": area_id,
                    "birth_year": rng.randint(1940, 2008),
                    "is_active_account": True,
                    "created_at": at(2021, 0),
                }
            )
    bulk(User, users)
    user_ids = dict(db.session.execute(select(User.email, User.id)).all())
    residents = {
        a: [user_ids[f"bewoner{n}.{a}@bench.example"] for n in range(RESIDENTS_PER_AREA)]
        for a in area_ids
    }
    council_member = residents[area_ids[0]][0]
    bulk(
        RoleAssignment,
        [
            {
                "user_id": council_member,
                "role": "council_member",
                "municipality_id": municipality_id,
                "area_id": area_ids[0],
                "granted_at": at(2022, 0),
            }
        ],
    )

    # Budget periods and their pots: EUR 5 per inhabitant, a year each.
    periods = [
        {
            "municipality_id": municipality_id,
            "area_id": area_id,
            "year": year,
            "half": 0,
            "model_kind": "council_budget",
            "basis": "per_inhabitant",
            "basis_count": inhabitants[area_id],
            "population_year": year,
            "rate_millicents": 500_000,
            "amount_cents": inhabitants[area_id] * 500,
            "opened_at": at(year, 0),
        }
        for area_id in area_ids
        for year in YEARS
    ]
    bulk(BudgetPeriod, periods)
    period_ids = {
        (a, y): i
        for i, a, y in db.session.execute(
            select(BudgetPeriod.id, BudgetPeriod.area_id, BudgetPeriod.year)
        )
    }
    bulk(
        BudgetAccount,
        [{"period_id": i, "kind": "area", "lock_version": 0} for i in period_ids.values()],
    )
    account_of = {
        key: db.session.scalar(select(BudgetAccount.id).where(BudgetAccount.period_id == i))
        for key, i in period_ids.items()
    }
    ledger = [
        {
            "account_id": account_of[(a, y)],
            "kind": "allocation",
            "amount_cents": inhabitants[a] * 500,
            "at": at(y, 0),
            "memo": "",
            "initiative_id": None,
            "spend_kind": None,
        }
        for a in area_ids
        for y in YEARS
    ]

    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    initiatives = []
    for n in range(INITIATIVES):
        area_id = rng.choice(area_ids)
        year = rng.choice(YEARS)
        created = at(year, rng.randint(0, 300))
        cost = rng.randint(5, 200) * 10_000
        initiatives.append(
            {
                "area_id": area_id,
                "title": f"Initiatief {n}",
                "description": "Een plan voor de buurt.",
                "requested_amount_cents": cost,
                "checked_cost_cents": cost,
                "volunteer_hours": 0,
                "co_funding_cents": 0,
                "in_kind": "",
                "contribution_note": "",
                "initiator_user_id": rng.choice(residents[area_id]),
                "status": rng.choices(statuses, weights)[0],
                "created_at": created,
                "updated_at": created,
                "status_changed_at": created + timedelta(days=rng.randint(1, 60)),
            }
        )
    bulk(Initiative, initiatives)
    rows = db.session.execute(
        select(
            Initiative.id,
            Initiative.area_id,
            Initiative.status,
            Initiative.created_at,
            Initiative.checked_cost_cents,
        )
    ).all()
    bulk(
        initiative_theme,
        [
            {"initiative_id": i, "theme_id": t}
            for i, *_ in rows
            for t in rng.sample(theme_ids, rng.randint(1, 2))
        ],
    )
    for initiative_id, area_id, status, created, cost in rows:
        if str(status) not in ("selected", "in_execution", "completed"):
            continue
        account = account_of[(area_id, created.year)]
        kind = rng.choice(["physical", "social"])
        common = {
            "account_id": account,
            "initiative_id": initiative_id,
            "memo": "",
            "spend_kind": None,
        }
        ledger.append(
            {
                **common,
                "kind": "commitment",
                "amount_cents": cost,
                "spend_kind": kind,
                "at": created,
            }
        )
        if str(status) == "in_execution":
            ledger.append({**common, "kind": "payout", "amount_cents": cost // 2, "at": created})
        elif str(status) == "completed":
            paid = cost - rng.choice([0, 0, 10_000])
            ledger.append({**common, "kind": "payout", "amount_cents": paid, "at": created})
            if paid < cost:
                ledger.append(
                    {**common, "kind": "release", "amount_cents": cost - paid, "at": created}
                )
    bulk(LedgerEntry, ledger)

    bulk(
        CouncilMeeting,
        [
            {
                "area_id": a,
                "held_on": date(y, 1 + 3 * m, 15),
                "attendees_count": rng.randint(5, 40),
                "location": "Buurthuis",
                "minutes": "",
                "recorded_at": at(y, 0),
            }
            for a in area_ids
            for y in YEARS
            for m in range(rng.choice([3, 4, 4]))
        ],
    )
    bulk(
        AreaReport,
        [
            {
                "period_id": period_ids[(a, y)],
                "summary": "Verantwoording van het jaar.",
                "published_at": datetime(y + 1, 3, rng.choice([1, 20]), tzinfo=UTC)
                if rng.random() < 0.8
                else None,
                "updated_at": at(y, 300),
            }
            for a in area_ids
            for y in YEARS[:-1]
        ],
    )

    # Voting: a round per area and year, ten projects each, 100,000 ballots with two choices.
    rounds = []
    for a in area_ids:
        for y in YEARS:
            done = y < YEARS[-1]
            rounds.append(
                {
                    "municipality_id": municipality_id,
                    "title": f"Stemronde {y} wijk {a}",
                    "description": "",
                    "source": "platform",
                    "proposals_until": at(y, 60),
                    "review_until": at(y, 90),
                    "voting_opens_at": at(y, 120),
                    "voting_closes_at": at(y, 134),
                    "ballot_type": "approval",
                    "rule_name": "greedy",
                    "min_age": 16,
                    "uses_voting_codes": False,
                    "allow_ballot_change": False,
                    "budget_cents": inhabitants[a] * 500,
                    "created_at": at(y, 30),
                    "closed_at": at(y, 135) if done else None,
                    "results_published_at": at(y, 136) if done else None,
                }
            )
    bulk(VotingRound, rounds)
    round_rows = db.session.execute(select(VotingRound.id, VotingRound.title)).all()
    round_area = {}
    for round_id, title in round_rows:
        area_id = int(title.rsplit(" ", 1)[1])
        round_area[round_id] = area_id
    bulk(voting_round_area, [{"round_id": r, "area_id": a} for r, a in round_area.items()])
    by_area: dict[int, list[int]] = {}
    for initiative_id, area_id, *_ in rows:
        by_area.setdefault(area_id, []).append(initiative_id)
    projects = []
    for round_id, area_id in round_area.items():
        for position, initiative_id in enumerate(rng.sample(by_area[area_id], PROJECTS_PER_ROUND)):
            projects.append(
                {
                    "round_id": round_id,
                    "initiative_id": initiative_id,
                    "area_id": area_id,
                    "external_id": str(initiative_id),
                    "name": f"Project {initiative_id}",
                    "description": "",
                    "cost_cents": 100_000,
                    "category": "",
                    "neighbourhood": "",
                    "position": position,
                }
            )
    bulk(RoundProject, projects)
    project_ids: dict[int, list[int]] = {}
    for project_id, round_id in db.session.execute(select(RoundProject.id, RoundProject.round_id)):
        project_ids.setdefault(round_id, []).append(project_id)
    round_list = list(round_area)
    ballots = []
    for _ in range(BALLOTS):
        round_id = rng.choice(round_list)
        ballot_id = secrets.token_hex(16)
        ballots.append(
            {
                "id": ballot_id,
                "round_id": round_id,
                "channel": "online",
                "area_id": round_area[round_id],
                "age_band": rng.choice(BAND_NAMES[1:]),
                "cast_on": date(2022, 5, 1),
                "project_ids": sorted(rng.sample(project_ids[round_id], 2)),
            }
        )
    bulk(Ballot, ballots)
    db.session.commit()
    return {
        "municipality_id": municipality_id,
        "area_id": area_ids[0],
        "council_member_email": f"bewoner0.{area_ids[0]}@bench.example",
        "period_id": period_ids[(area_ids[0], YEARS[-2])],
        "round_id": round_list[0],
    }


def pages(ids: dict) -> list[tuple[str, str, bool]]:
    """(name, url, needs the council member's login)."""
    m, a, year = ids["municipality_id"], ids["area_id"], YEARS[-1]
    return [
        ("area dashboard (public)", f"/monitoring/areas/{a}?year={year}", False),
        ("area dashboard (council)", f"/monitoring/areas/{a}/council?year={year}", True),
        ("municipality overview", f"/monitoring/municipalities/{m}?year={year}", False),
        ("projects, page 1", f"/monitoring/municipalities/{m}/projects?year={year}", False),
        (
            "projects, page 40",
            f"/monitoring/municipalities/{m}/projects?year={year}&page=40",
            False,
        ),
        ("summary HTML", f"/monitoring/municipalities/{m}/summary?year={year}", False),
        ("summary CSV", f"/monitoring/municipalities/{m}/summary.csv?year={year}", False),
        ("summary PDF", f"/monitoring/municipalities/{m}/summary.pdf?year={year}", False),
        ("wijkverslag PDF", f"/monitoring/periods/{ids['period_id']}/report.pdf", True),
        ("API initiatives (100)", "/api/v1/initiatives?per_page=100&page=20", False),
        ("API budgets (100)", "/api/v1/budgets?per_page=100", False),
        ("API rounds (100)", "/api/v1/rounds?per_page=100", False),
        ("API round with results", f"/api/v1/rounds/{ids['round_id']}", False),
    ]


def time_pages(url: str, runs: int, rng: random.Random) -> dict[str, float]:
    app = create_app("testing", DATABASE_URL=url)
    with app.app_context():
        started = time.perf_counter()
        ids = build(rng)
        print(f"  built in {time.perf_counter() - started:.1f} s", flush=True)
        public = app.test_client()
        council = app.test_client()
        login = council.post(
            "/account/login", data={"email": ids["council_member_email"], "password": PASSWORD}
        )
        assert login.status_code == 302, "the council member could not log in"
        medians = {}
        for name, path, needs_login in pages(ids):
            client = council if needs_login else public
            times = []
            for run in range(runs + 2):
                started = time.perf_counter()
                response = client.get(path)
                body = response.get_data()
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200 and body, f"{path}: {response.status_code}"
                if run >= 2:  # two warm-up requests
                    times.append(elapsed)
                db.session.remove()
            medians[name] = statistics.median(times)
        db.session.remove()
        db.engine.dispose()
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", default="/tmp/bb_monitoring_bench.db")
    parser.add_argument(
        "--postgresql", help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bb_x"
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    databases = {"SQLite": f"sqlite:///{args.sqlite}"}
    if args.postgresql:
        databases["PostgreSQL"] = args.postgresql
    results = {}
    for label, url in databases.items():
        print(
            f"{label}: building {INITIATIVES:,} initiatives and {BALLOTS:,} ballots ...", flush=True
        )
        results[label] = time_pages(url, args.runs, random.Random(2026))
    names = list(next(iter(results.values())))
    width = max(len(n) for n in names)
    header = f"{'page':<{width}}" + "".join(f"  {label:>12}" for label in results)
    print(f"\nmedian of {args.runs} warm requests, ms (target < {TARGET_MS} ms)")
    print(header)
    print("-" * len(header))
    slow = []
    for name in names:
        cells = ""
        for label in results:
            ms = results[label][name]
            cells += f"  {ms:>12.1f}"
            if ms >= TARGET_MS:
                slow.append(f"{name} on {label}")
        print(f"{name:<{width}}{cells}")
    print("all pages under target" if not slow else "SLOWER THAN TARGET: " + ", ".join(slow))
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
