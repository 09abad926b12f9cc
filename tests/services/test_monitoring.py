"""The dashboards' figures, aggregated in SQL, against the ledger, the initiatives and the
ballots they come from."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from buurtbudget.domain.budget import AccountKind, EntryKind, SpendKind
from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import AreaReport, Ballot, Channel
from buurtbudget.models._base import utcnow
from buurtbudget.services import budget_reports, council, ledger, monitoring
from buurtbudget.services.errors import NotFound, PermissionDenied, ValidationFailed

THIS_YEAR = date.today().year
BANDS = {"age_0_14": 2_000, "age_15_24": 1_000, "age_25_44": 3_000, "age_45_64": 2_000}


pytestmark = pytest.mark.usefixtures("english")


def pay(initiative, amount_cents: int, period) -> None:
    """A payout booked straight in the ledger (the payout workflow is tested elsewhere)."""
    account = period.account(AccountKind.AREA)
    ledger.lock_account(account.id)
    ledger.post(None, account, EntryKind.PAYOUT, amount_cents, initiative=initiative)
    db.session.commit()


def ballots(voting_round, area, per_band: dict[str | None, int]) -> None:
    for band, count in per_band.items():
        for _ in range(count):
            db.session.add(
                Ballot(
                    round_id=voting_round.id,
                    channel=Channel.ONLINE,
                    area_id=area.id,
                    age_band=band,
                    cast_on=date.today(),
                )
            )
    db.session.commit()


@pytest.fixture
def zaanstad(make):
    """An area council with a liveability budget (EUR 5 x 8,000 = EUR 40,000)."""
    municipality = make.municipality("Zaanstad")
    area = make.area(
        municipality, name="Poelenburg", inhabitants=8_000, year=THIS_YEAR, age_65_plus=0, **BANDS
    )
    other = make.area(municipality, name="Peldersveld", inhabitants=4_000, year=THIS_YEAR - 1)
    period = make.budget_period(area, "council_budget", year=THIS_YEAR)
    make.budget_period(other, year=THIS_YEAR)
    member, *quorum = make.council(area)
    green, culture = make.theme(municipality, "Groen"), make.theme(municipality, "Cultuur")
    meeting = council.record_meeting(member, area, date.today(), 20, present=[member, *quorum])
    garden = make.budget_initiative(
        area, cost_cents=3_001_00, title="Buurttuin", themes=[green, culture]
    )
    council.record_decision(
        member, meeting, "Buurttuin", 3_001_00, spend_kind=SpendKind.PHYSICAL, initiative=garden
    )
    cafe = make.budget_initiative(area, cost_cents=1_000_00, title="Taalcafé")
    council.record_decision(
        member, meeting, "Taalcafé", 1_000_00, spend_kind=SpendKind.SOCIAL, initiative=cafe
    )
    pay(garden, 2_000_00, period)
    council.record_decision(member, meeting, "Bankjes", 500_00, spend_kind="physical")
    return {
        "municipality": municipality,
        "area": area,
        "other": other,
        "period": period,
        "member": member,
        "garden": garden,
        "cafe": cafe,
    }


def test_area_money_equals_the_ledger_and_the_area_report(zaanstad):
    area, period = zaanstad["area"], zaanstad["period"]
    d = monitoring.area_dashboard(None, area, str(THIS_YEAR))
    balance = ledger.account_balance(period.account(AccountKind.AREA))
    assert d.total == balance
    assert (d.total.budget, d.total.paid) == (40_000_00, 2_000_00 + 500_00)
    assert d.total.committed == 3_001_00 + 1_000_00 - 2_000_00
    assert d.total.available == 40_000_00 - 4_501_00
    finances = budget_reports.area_finances(period)
    assert [(t.name, t.granted, t.paid) for t in d.themes] == [
        (t.name, t.granted, t.paid) for t in finances.themes
    ]
    # The two-theme garden splits in equal cents, the odd cent to the first theme (Cultuur).
    assert [(t.name, t.granted) for t in d.themes] == [
        ("Cultuur", 1_500_50),
        ("Groen", 1_500_50),
        ("No theme", 1_000_00 + 500_00),
    ]
    assert d.by_kind == finances.by_kind == {"physical": 3_501_00, "social": 1_000_00}
    assert d.social_share == 22 and d.social_target == 50
    assert d.untagged_cents == 0
    assert d.spent_per_inhabitant == round(d.total.spent / 8_000)
    assert [(y.year, y.balance) for y in d.trend] == [(THIS_YEAR, balance)]


def test_initiatives_by_status_leave_drafts_out(zaanstad, make):
    area = zaanstad["area"]
    make.initiative(area, status="draft")
    make.initiative(area, status="open")
    d = monitoring.area_dashboard(None, area, None)
    assert dict(d.statuses) == {Status.SELECTED: 2, Status.OPEN: 1}


def test_turnout_and_representativeness_of_the_areas_rounds(zaanstad, make):
    area = zaanstad["area"]
    voting_round = make.voting_round(area, costs=(100_00,))
    # 80 ballots; voters split over the bands exactly like the inhabitants: score 1.
    ballots(voting_round, area, {"age_0_14": 20, "age_15_24": 10, "age_25_44": 30})
    ballots(voting_round, area, {"age_45_64": 20})
    upcoming = make.voting_round(area, phase="proposals")
    d = monitoring.area_dashboard(None, area, None)
    assert [r.round_id for r in d.rounds] == [voting_round.id]  # not the one still upcoming
    assert upcoming.id not in [r.round_id for r in d.rounds]
    row = d.rounds[0]
    assert (row.ballots, row.inhabitants) == (80, 8_000)
    assert row.turnout == Fraction(1, 100) == d.turnout
    assert row.representativeness == 1
    # Only young voters: far from the population.
    ballots(voting_round, area, {"age_15_24": 80})
    row = monitoring.area_dashboard(None, area, None).rounds[0]
    assert row.ballots == 160
    # Voter shares 1/8, 9/16, 3/16, 1/8 against 1/4, 1/8, 3/8, 1/4: D = 7/16.
    assert row.representativeness == Fraction(9, 16)


def test_the_council_version_needs_the_areas_council_or_staff(zaanstad, make):
    area = zaanstad["area"]
    with pytest.raises(PermissionDenied):
        monitoring.area_dashboard(make.council_member(zaanstad["other"]), area, None, council=True)
    with pytest.raises(PermissionDenied):
        monitoring.area_dashboard(make.resident(area), area, None, council=True)
    d = monitoring.area_dashboard(zaanstad["member"], area, None, council=True)
    assert [(o.title, o.money.outstanding) for o in d.outstanding] == [
        ("Buurttuin", 1_001_00),
        ("Taalcafé", 1_000_00),
    ]
    assert d.meeting_check.held == 1
    assert [p.id for p, _report in d.reports] == [zaanstad["period"].id]


@pytest.mark.parametrize("year", ["abc", "1999", "2101", "-5", "20 26"])
def test_a_bad_year_is_refused(zaanstad, year):
    with pytest.raises(ValidationFailed, match="not a valid year"):
        monitoring.area_dashboard(None, zaanstad["area"], year)
    with pytest.raises(NotFound):
        monitoring.get_area(987654)


def test_municipality_overview_side_by_side_with_signals(zaanstad, make):
    area, other = zaanstad["area"], zaanstad["other"]
    voting_round = make.voting_round([area, other], costs=(100_00,))
    ballots(voting_round, area, {"age_25_44": 400})  # 5 %
    ballots(voting_round, other, {"age_25_44": 20})  # 0.5 %: below half the median (2.75 %)
    db.session.add(AreaReport(period=make.budget_period(other, year=THIS_YEAR - 1)))
    db.session.commit()
    december = date(THIS_YEAR, 12, 31)
    overview = monitoring.municipality_overview(zaanstad["municipality"], None, today=december)
    rows = {r.area.name: r for r in overview.rows}
    poelenburg, peldersveld = rows["Poelenburg"], rows["Peldersveld"]
    assert poelenburg.balance == ledger.account_balance(
        zaanstad["period"].account(AccountKind.AREA)
    )
    assert (poelenburg.ballots, poelenburg.rounds, poelenburg.turnout) == (400, 1, Fraction(1, 20))
    assert peldersveld.turnout == Fraction(20, 4_000)
    assert overview.median_turnout == (Fraction(1, 20) + Fraction(1, 200)) / 2
    assert poelenburg.spent_per_inhabitant == round(poelenburg.balance.spent / 8_000)
    assert overview.total.budget == 40_000_00 + peldersveld.balance.budget
    assert overview.turnout == Fraction(420, 12_000)
    # Poelenburg: one meeting of the four a year; most money unspent after September.
    assert poelenburg.signals == [monitoring.SIGNAL_UNSPENT, monitoring.SIGNAL_FEW_MEETINGS]
    # Peldersveld: low turnout, nothing spent, last year's report never published, and no
    # meeting at all (the municipality's model asks four a year of every area).
    assert peldersveld.signals == [
        monitoring.SIGNAL_LOW_TURNOUT,
        monitoring.SIGNAL_UNSPENT,
        monitoring.SIGNAL_LATE_REPORT,
        monitoring.SIGNAL_FEW_MEETINGS,
    ]
    assert [r.area.name for r in overview.lagging] == ["Peldersveld", "Poelenburg"]
    # In February nothing is late yet but last year's report (deadline 1 April) is still due.
    february = date(THIS_YEAR, 2, 1)
    early = monitoring.municipality_overview(zaanstad["municipality"], None, today=february)
    assert {r.area.name: r.signals for r in early.rows} == {
        "Peldersveld": [monitoring.SIGNAL_LOW_TURNOUT],
        "Poelenburg": [],
    }


def test_projects_ran_in_the_year(zaanstad, make):
    municipality = zaanstad["municipality"]
    make.initiative(zaanstad["area"], status="draft", title="Geheim plan")
    make.initiative(zaanstad["other"], status="open", title="Speeltuin")
    titles = [
        i.title for i in db.session.scalars(monitoring.projects_query(municipality, THIS_YEAR))
    ]
    assert sorted(titles) == ["Buurttuin", "Speeltuin", "Taalcafé"]
    only_other = monitoring.projects_query(municipality, THIS_YEAR, zaanstad["other"].id)
    assert [i.title for i in db.session.scalars(only_other)] == ["Speeltuin"]
    assert list(db.session.scalars(monitoring.projects_query(municipality, THIS_YEAR - 1))) == []
    money = monitoring.money_of_initiatives([zaanstad["garden"].id])
    assert money[zaanstad["garden"].id] == ledger.initiative_totals(zaanstad["garden"])
    assert utcnow().year == THIS_YEAR
