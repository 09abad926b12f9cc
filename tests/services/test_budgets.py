"""Budget periods, grants, payouts, cheques, council decisions and the figures of the reports,
all checked against the ledger."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from buurtbudget.domain.budget import (
    AccountKind,
    EntryKind,
    SpendKind,
    format_cheque_code,
    model_defaults,
)
from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.extensions import db
from buurtbudget.models import (
    Attachment,
    AuditEntry,
    BudgetModelConfig,
    Cheque,
    LedgerEntry,
    PayoutStatus,
)
from buurtbudget.models.budget import LedgerIsAppendOnly
from buurtbudget.services import (
    budget_reports,
    budgets,
    cheques,
    council,
    direct_spending,
    ledger,
    payouts,
)
from buurtbudget.services.errors import Conflict, PermissionDenied, ValidationFailed

THIS_YEAR = date.today().year
PDF = b"%PDF-1.4\n% receipt\n"


pytestmark = pytest.mark.usefixtures("english")


def _balance(period, kind=AccountKind.AREA):
    return ledger.account_balance(period.account(kind))


def _receipt(initiative):
    attachment = Attachment(
        initiative=initiative,
        stored_name=f"r{initiative.id}-{len(initiative.attachments)}.pdf",
        original_name="bon.pdf",
        content_type="application/pdf",
        size_bytes=10,
    )
    db.session.add(attachment)
    db.session.commit()
    return attachment


# Periods and the calculation -----------------------------------------------------------------


def test_opening_a_period_books_the_calculated_budget_and_the_bottleneck_fund(app, make):
    area = make.area(inhabitants=13_150, households=8_420, year=THIS_YEAR)
    period = make.budget_period(area, "area_programme")
    assert (period.basis_count, period.rate_millicents) == (13_150, 1_000_000)
    assert period.amount_cents == 131_500_00
    assert _balance(period).budget == 131_500_00
    assert _balance(period, AccountKind.BOTTLENECK).available == 5_000_00
    allocations = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == EntryKind.ALLOCATION)
    ).all()
    assert sorted(e.amount_cents for e in allocations) == [5_000_00, 131_500_00]
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"budget_period.opened", "ledger.allocation"} <= actions
    with pytest.raises(Conflict):
        budgets.open_period(None, area, THIS_YEAR)


def test_households_basis_half_years_and_a_fractional_rate(app, make):
    area = make.area(inhabitants=11_200, households=6_101, year=THIS_YEAR)
    period = make.budget_period(area, "household_cheques", half=2)
    assert period.half == 2 and period.amount_cents == 6_101 * 750
    other = make.area(inhabitants=3, households=1, year=THIS_YEAR)
    settings = model_defaults("area_programme").with_changes(rate_millicents=12_500)
    budgets.configure_model(None, other.municipality, settings)
    assert budgets.open_period(None, other, THIS_YEAR).amount_cents == 38  # 37.5 cents half up


def test_only_administrators_configure_and_open(app, make):
    area = make.area(year=THIS_YEAR - 1)  # the latest figures up to a year count
    coordinator = make.coordinator(area)
    with pytest.raises(PermissionDenied):
        budgets.configure_model(coordinator, area.municipality, model_defaults("area_programme"))
    make.budget_period(area, year=THIS_YEAR - 1)
    with pytest.raises(PermissionDenied):
        budgets.open_period(coordinator, area, THIS_YEAR)
    admin = make.administrator(area.municipality)
    assert budgets.open_period(admin, area, THIS_YEAR).year == THIS_YEAR


def test_an_area_can_have_its_own_model(app, make):
    municipality = make.municipality()
    ede_like = make.area(municipality, year=THIS_YEAR)
    plain = make.area(municipality, year=THIS_YEAR)
    budgets.configure_model(None, municipality, model_defaults("area_programme"))
    budgets.configure_model(None, municipality, model_defaults("household_cheques"), ede_like)
    assert budgets.config_for(plain).kind.value == "area_programme"
    assert budgets.config_for(ede_like).kind.value == "household_cheques"
    assert db.session.query(BudgetModelConfig).count() == 2


def test_citywide_pot(app, make):
    area = make.area(year=THIS_YEAR)
    settings = model_defaults("area_programme").with_changes(citywide_pot_cents=250_000_00)
    budgets.configure_model(None, area.municipality, settings)
    period = budgets.open_citywide_period(None, area.municipality, THIS_YEAR)
    assert _balance(period, AccountKind.CITYWIDE).available == 250_000_00


def test_ledger_entries_cannot_be_changed(app, make):
    period = make.budget_period(make.area(year=THIS_YEAR))
    entry = db.session.scalars(select(LedgerEntry)).first()
    entry.amount_cents = 1
    with pytest.raises(LedgerIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    assert _balance(period).budget == period.amount_cents


# Grants and direct spending ------------------------------------------------------------------


def test_grant_commits_money_and_never_beyond_available(app, make):
    area = make.area(inhabitants=100, year=THIS_YEAR)  # EUR 1,000
    period = make.budget_period(area)
    coordinator = make.coordinator(area)
    first = make.budget_initiative(area, cost_cents=600_00)
    second = make.budget_initiative(area, cost_cents=500_00)
    ledger.grant(coordinator, first)
    assert ledger.initiative_totals(first).granted == 600_00
    assert _balance(period).available == 400_00
    with pytest.raises(Conflict, match="not enough money"):
        ledger.grant(None, second)
    assert ledger.initiative_totals(second).granted == 0
    with pytest.raises(PermissionDenied):
        ledger.grant(make.coordinator(make.area(year=THIS_YEAR)), second, 100_00)


def test_council_model_refuses_grants_without_a_decision(app, make):
    area = make.area(year=THIS_YEAR)
    make.budget_period(area, "council_budget")
    with pytest.raises(Conflict, match="area council decides"):
        ledger.grant(make.coordinator(area), make.budget_initiative(area))


def test_bottleneck_spending_and_release(app, make):
    area = make.area(inhabitants=1_000, year=THIS_YEAR)
    period = make.budget_period(area)
    coordinator = make.coordinator(area)
    fund = period.account(AccountKind.BOTTLENECK)
    ledger.spend_directly(coordinator, fund, 750_00, "Losliggende stoeptegels Markt")
    assert ledger.account_balance(fund).paid == 750_00
    with pytest.raises(Conflict):
        ledger.spend_directly(coordinator, fund, 4_000_00, "Te veel")
    with pytest.raises(ValidationFailed):
        ledger.spend_directly(coordinator, fund, 10_00, "  ")
    with pytest.raises(PermissionDenied):
        ledger.spend_directly(make.council_member(area), fund, 10_00, "Niet van mij")
    initiative = make.budget_initiative(area, cost_cents=3_000_00)
    ledger.grant(coordinator, initiative)
    assert ledger.release_remaining(coordinator, initiative, "geannuleerd") == 3_000_00
    assert ledger.initiative_totals(initiative).granted == 0
    assert _balance(period).available == period.amount_cents


def test_urgent_spending_from_the_threshold_needs_a_receipt_and_a_second_approver(
    app, make, tmp_path, monkeypatch
):
    # The attack: "urgent spending" of EUR 2,500 booked as paid by one person, no receipt.
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path))
    area = make.area(inhabitants=1_000, year=THIS_YEAR)
    fund = make.budget_period(area).account(AccountKind.BOTTLENECK)  # EUR 5,000
    coordinator, second = make.coordinator(area), make.coordinator(area)
    with pytest.raises(Conflict, match="second coordinator"):
        ledger.spend_directly(coordinator, fund, 2_500_00, "Verlichting brandgang")
    with pytest.raises(ValidationFailed, match="add a receipt"):
        direct_spending.spend(coordinator, fund, 2_500_00, "Verlichting brandgang")
    with pytest.raises(ValidationFailed, match="PDF"):
        direct_spending.spend(
            coordinator, fund, 2_500_00, "x", receipt=(io.BytesIO(b"<html>"), "bon.html")
        )
    item = direct_spending.spend(
        coordinator, fund, 2_500_00, "Verlichting brandgang", receipt=(io.BytesIO(PDF), "b.pdf")
    )
    assert item.status is PayoutStatus.AWAITING_SECOND
    assert ledger.account_balance(fund).paid == 0
    assert (tmp_path / item.receipt_stored_name).read_bytes() == PDF
    with pytest.raises(Conflict, match="another coordinator"):
        direct_spending.approve(coordinator, item)
    with pytest.raises(PermissionDenied):
        direct_spending.approve(make.coordinator(make.area(year=THIS_YEAR)), item)
    direct_spending.approve(second, item)
    assert ledger.account_balance(fund).paid == 2_500_00
    with pytest.raises(Conflict, match="already been decided"):
        direct_spending.approve(make.coordinator(area), item)
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"direct_spending.requested", "direct_spending.approved"} <= actions


def test_urgent_spending_cannot_be_split_below_the_threshold(app, make, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path))
    area = make.area(inhabitants=1_000, year=THIS_YEAR)
    fund = make.budget_period(area).account(AccountKind.BOTTLENECK)
    coordinator, second = make.coordinator(area), make.coordinator(area)
    first = direct_spending.spend(coordinator, fund, 999_99, "Deel 1")
    assert first.kind is EntryKind.PAYOUT  # booked at once: EUR 999.99 in total
    with pytest.raises(Conflict, match="second coordinator"):
        ledger.spend_directly(coordinator, fund, 1, "Deel 2")
    waiting = direct_spending.spend(
        coordinator, fund, 1, "Deel 2", receipt=(io.BytesIO(PDF), "b.pdf")
    )
    assert waiting.status is PayoutStatus.AWAITING_SECOND
    with pytest.raises(ValidationFailed, match="reason"):
        direct_spending.reject(second, waiting, " ")
    direct_spending.reject(second, waiting, "Dubbel geboekt")
    assert waiting.status is PayoutStatus.REJECTED
    assert ledger.account_balance(fund).paid == 999_99


# Payouts -------------------------------------------------------------------------------------


@pytest.fixture
def granted(app, make):
    area = make.area(inhabitants=1_000, year=THIS_YEAR)  # EUR 10,000
    period = make.budget_period(area)
    initiative = make.budget_initiative(area, cost_cents=3_000_00)
    ledger.grant(None, initiative)
    initiative.status = Status.SELECTED
    db.session.commit()
    return {
        "area": area,
        "period": period,
        "initiative": initiative,
        "initiator": initiative.initiator,
        "coordinator": make.coordinator(area),
        "second": make.coordinator(area),
    }


def test_payout_below_threshold_needs_one_approval(granted):
    initiative = granted["initiative"]
    request = payouts.request_payout(
        granted["initiator"], initiative, 400_00, "Plantenbakken", [_receipt(initiative)]
    )
    payouts.approve(granted["coordinator"], request)
    assert request.status is PayoutStatus.PAID
    assert ledger.initiative_totals(initiative).paid == 400_00
    assert initiative.status is Status.IN_EXECUTION
    assert _balance(granted["period"]).paid == 400_00


def test_payout_above_threshold_needs_a_second_different_coordinator(granted):
    initiative = granted["initiative"]
    request = payouts.request_payout(
        granted["initiator"], initiative, 1_000_01, "Springkussen", [_receipt(initiative)]
    )
    payouts.approve(granted["coordinator"], request)
    assert request.status is PayoutStatus.AWAITING_SECOND
    assert ledger.initiative_totals(initiative).paid == 0
    with pytest.raises(Conflict, match="another coordinator"):
        payouts.approve(granted["coordinator"], request)
    payouts.approve(granted["second"], request)
    assert request.status is PayoutStatus.PAID
    assert ledger.initiative_totals(initiative).paid == 1_000_01
    with pytest.raises(Conflict, match="already been decided"):
        payouts.approve(granted["second"], request)


def test_a_payout_of_exactly_the_threshold_needs_a_second_approver(granted):
    # The attack: three requests of exactly EUR 1,000.00, each paid by one coordinator.
    initiative = granted["initiative"]
    for number in range(3):
        request = payouts.request_payout(
            granted["initiator"], initiative, 1_000_00, f"Deel {number}", [_receipt(initiative)]
        )
        payouts.approve(granted["coordinator"], request)
        assert request.status is PayoutStatus.AWAITING_SECOND
        assert ledger.initiative_totals(initiative).paid == number * 1_000_00
        payouts.approve(granted["second"], request)
        assert request.status is PayoutStatus.PAID


def test_the_threshold_counts_what_the_initiative_was_paid_in_total(granted):
    initiative = granted["initiative"]
    first = payouts.request_payout(
        granted["initiator"], initiative, 600_00, "Verf", [_receipt(initiative)]
    )
    payouts.approve(granted["coordinator"], first)
    assert first.status is PayoutStatus.PAID  # EUR 600 in total: one approver
    second = payouts.request_payout(
        granted["initiator"], initiative, 400_00, "Kwasten", [_receipt(initiative)]
    )
    payouts.approve(granted["coordinator"], second)
    assert second.status is PayoutStatus.AWAITING_SECOND  # EUR 1,000 in total
    payouts.approve(granted["second"], second)
    # Money paid back does not reopen one-person payouts.
    ledger.record_return(granted["coordinator"], initiative, 900_00, "Over")
    third = payouts.request_payout(
        granted["initiator"], initiative, 10_00, "Lijm", [_receipt(initiative)]
    )
    payouts.approve(granted["coordinator"], third)
    assert third.status is PayoutStatus.AWAITING_SECOND


def test_the_payout_threshold_is_configurable(granted, app, monkeypatch):
    monkeypatch.setitem(app.config, "PAYOUT_SECOND_APPROVAL_CENTS", 250_00)
    initiative = granted["initiative"]
    request = payouts.request_payout(
        granted["initiator"], initiative, 250_00, "Zaalhuur", [_receipt(initiative)]
    )
    payouts.approve(granted["coordinator"], request)
    assert request.status is PayoutStatus.AWAITING_SECOND


def test_payout_rules(granted, make):
    initiative, initiator = granted["initiative"], granted["initiator"]
    receipt = _receipt(initiative)
    with pytest.raises(PermissionDenied):
        payouts.request_payout(granted["coordinator"], initiative, 100, "x", [receipt])
    with pytest.raises(ValidationFailed, match="receipt"):
        payouts.request_payout(initiator, initiative, 100, "x", [])
    with pytest.raises(Conflict, match="more than was granted"):
        payouts.request_payout(initiator, initiative, 3_000_01, "x", [receipt])
    first = payouts.request_payout(initiator, initiative, 2_000_00, "Deel 1", [receipt])
    with pytest.raises(Conflict, match="requested"):
        payouts.request_payout(initiator, initiative, 1_000_01, "Deel 2", [receipt])
    with pytest.raises(ValidationFailed, match="reason"):
        payouts.reject(granted["coordinator"], first, " ")
    with pytest.raises(PermissionDenied):
        payouts.approve(make.coordinator(make.area(year=THIS_YEAR)), first)
    payouts.reject(granted["coordinator"], first, "Bonnen onleesbaar")
    assert first.status is PayoutStatus.REJECTED and first.rejection_reason
    assert ledger.initiative_totals(initiative).paid == 0
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"payout.requested", "payout.rejected"} <= actions


def test_returned_money_goes_back_to_the_pot(granted):
    initiative = granted["initiative"]
    request = payouts.request_payout(
        granted["initiator"], initiative, 500_00, "Materiaal", [_receipt(initiative)]
    )
    payouts.approve(granted["coordinator"], request)
    before = _balance(granted["period"]).available
    ledger.record_return(granted["coordinator"], initiative, 120_00, "Niet gebruikt")
    assert _balance(granted["period"]).available == before + 120_00
    totals = ledger.initiative_totals(initiative)
    assert (totals.granted, totals.paid) == (3_000_00 - 120_00, 380_00)
    with pytest.raises(Conflict):
        ledger.record_return(granted["coordinator"], initiative, 380_01, "Te veel")


# Cheques -------------------------------------------------------------------------------------


@pytest.fixture
def cheque_area(app, make):
    area = make.area(inhabitants=2_000, households=900, year=THIS_YEAR)
    period = make.budget_period(area, "household_cheques")
    households = [cheques.Household("6711AA", number) for number in range(1, 6)]
    issued = cheques.issue_cheques(None, period, households)
    return {"area": area, "period": period, "cheques": issued}


def test_issuing_cheques_reserves_their_value_once_per_household(cheque_area):
    period = cheque_area["period"]
    assert len(cheque_area["cheques"]) == 5
    assert len({c.code for c in cheque_area["cheques"]}) == 5
    balance = _balance(period)
    assert balance.cheques_outstanding == 5 * 750
    assert balance.available == 900 * 750 - 5 * 750
    again = cheques.issue_cheques(None, period, [cheques.Household("6711 aa", 1)])
    assert again == []
    with pytest.raises(ValidationFailed):
        cheques.issue_cheques(None, period, [cheques.Household("nope", 1)])


def test_pooled_cheques_fund_an_initiative_at_its_cost(cheque_area, make):
    area = cheque_area["area"]
    initiative = make.budget_initiative(area, cost_cents=2_000)  # EUR 20: three cheques
    resident = make.resident(area)
    codes = [format_cheque_code(c.code) for c in cheque_area["cheques"]]
    cheques.redeem(resident, codes[0].lower(), initiative)
    cheques.redeem(resident, codes[1], initiative)
    assert initiative.status is Status.OPEN
    assert ledger.initiative_totals(initiative).pooled == 1_500
    cheques.redeem(resident, codes[2], initiative)
    assert initiative.status is Status.SELECTED
    assert initiative.history[-1].to_status is Status.SELECTED
    totals = ledger.initiative_totals(initiative)
    assert (totals.pooled, totals.granted) == (2_250, 2_000)  # EUR 2.50 back to the pot
    assert _balance(cheque_area["period"]).cheques_outstanding == 2 * 750
    with pytest.raises(Conflict, match="does not collect"):
        cheques.redeem(resident, codes[3], initiative)
    other = make.budget_initiative(area, cost_cents=5_000)
    with pytest.raises(Conflict, match="already been used"):
        cheques.redeem(resident, codes[0], other)
    with pytest.raises(ValidationFailed, match="not valid"):
        cheques.redeem(resident, "0000-0000-0000-0000-0", other)
    foreign = make.budget_initiative(make.area(year=THIS_YEAR))
    with pytest.raises(ValidationFailed, match="another area"):
        cheques.redeem(resident, codes[3], foreign)


@pytest.mark.parametrize("policy", ["area_pot", "municipality"])
def test_expiry_returns_unused_and_unpooled_value_by_policy(app, make, policy):
    area = make.area(households=100, year=THIS_YEAR)
    period = make.budget_period(area, "household_cheques", unpooled_value_policy=policy)
    issued = cheques.issue_cheques(None, period, [cheques.Household("6711AA", n) for n in (1, 2)])
    initiative = make.budget_initiative(area, cost_cents=10_000)
    cheques.redeem(make.resident(area), issued[0].code, initiative)
    later = issued[0].cheque.expires_on + timedelta(days=1)
    assert cheques.expire_cheques(None, period, today=later) == 1_500
    balance = _balance(period)
    assert balance.cheques_outstanding == 0 and balance.committed == 0
    expected_budget = 100 * 750 - (1_500 if policy == "municipality" else 0)
    assert balance.budget == expected_budget and balance.available == expected_budget
    assert db.session.get(Cheque, issued[1].cheque.id).expired_at is not None
    with pytest.raises(Conflict):  # an expired cheque is used up
        cheques.redeem(make.resident(area), issued[1].code, initiative)


def test_a_cheque_past_its_date_cannot_be_redeemed(cheque_area, make):
    issued = cheque_area["cheques"][0]
    issued.cheque.expires_on = date.today() - timedelta(days=1)
    db.session.commit()
    initiative = make.budget_initiative(cheque_area["area"], cost_cents=5_000)
    with pytest.raises(Conflict, match="expired"):
        cheques.redeem(make.resident(cheque_area["area"]), issued.code, initiative)
    assert ledger.initiative_totals(initiative).pooled == 0


# Council (Zaanstad) --------------------------------------------------------------------------


def test_council_decisions_spend_money_tagged_physical_or_social(app, make):
    area = make.area(inhabitants=8_000, year=THIS_YEAR)  # EUR 40,000
    period = make.budget_period(area, "council_budget")
    present = make.council(area)
    member = present[0]
    meeting = council.record_meeting(
        member, area, date.today(), 23, "Buurthuis De Kolk", present=present
    )
    initiative = make.budget_initiative(area, cost_cents=6_000_00)
    council.record_decision(
        member, meeting, "Taalcafé", 6_000_00, spend_kind=SpendKind.SOCIAL, initiative=initiative
    )
    assert initiative.status is Status.SELECTED
    assert initiative.history[-1].to_status is Status.SELECTED
    council.record_decision(member, meeting, "Nieuwe bankjes", 14_000_00, spend_kind="physical")
    council.record_decision(member, meeting, "Vergaderschema vastgesteld")
    with pytest.raises(ValidationFailed, match="physical or social"):
        council.record_decision(member, meeting, "Iets", 100)
    with pytest.raises(PermissionDenied):
        council.record_meeting(make.council_member(make.area()), area, date.today(), 3)
    with pytest.raises(ValidationFailed):
        council.record_meeting(member, area, date.today() + timedelta(days=1), 3)
    finances = budget_reports.area_finances(period)
    assert finances.by_kind == {"physical": 14_000_00, "social": 6_000_00}
    assert finances.social_share == 30 and finances.social_target == 50
    assert finances.total.paid == 14_000_00 and finances.total.committed == 6_000_00
    assert finances.total.available == 40_000_00 - 20_000_00
    assert finances.meeting_check.held == 1 and finances.meeting_check.too_few
    assert [d.entry.memo for d in finances.direct][0].endswith("Nieuwe bankjes")
    assert FundingRoute.COUNCIL.value == initiative.funding_route.value


def test_no_money_leaves_a_council_budget_without_a_council_decision(app, make):
    # The attack (Zaanstad): a coordinator paid EUR 350 out of the council's budget directly.
    area = make.area(inhabitants=8_000, year=THIS_YEAR)
    period = make.budget_period(area, "council_budget")
    pot = period.account(AccountKind.AREA)
    coordinator, admin = make.coordinator(area), make.administrator(area.municipality)
    for actor in (coordinator, admin):
        with pytest.raises(Conflict, match="only by a decision recorded in a council meeting"):
            ledger.spend_directly(actor, pot, 350_00, "Bloembakken")
    initiative = make.budget_initiative(area, cost_cents=2_000_00)
    # A voting round's grant (actor None) is no council decision either.
    with pytest.raises(Conflict, match="council meeting"):
        ledger.grant(None, initiative)
    # Nor is a decision of the council that spends nothing, nor one of another amount.
    present = make.council(area)
    member = present[0]
    meeting = council.record_meeting(member, area, date.today(), 12, present=present)
    agenda = council.record_decision(member, meeting, "Vergaderschema vastgesteld")
    small = council.record_decision(member, meeting, "Bankje", 100_00, spend_kind="physical")
    for decision in (agenda, small):
        with pytest.raises(Conflict, match="council meeting"):
            ledger.grant(coordinator, initiative, decision_id=decision.id)
    db.session.rollback()
    balance = ledger.account_balance(pot)
    assert (balance.committed, balance.paid) == (0, 100_00)  # only the council's bench
    assert ledger.initiative_totals(initiative).granted == 0
    # The council's own decision spends, as it should.
    council.record_decision(
        member, meeting, "Buurtfeest", 2_000_00, spend_kind="social", initiative=initiative
    )
    assert ledger.initiative_totals(initiative).granted == 2_000_00


def test_a_council_decision_needs_a_quorum_of_members_present_by_name(app, make):
    # The attack: a meeting with 0 attendees recorded by one member granted EUR 9,600.
    area = make.area(inhabitants=8_000, year=THIS_YEAR)
    period = make.budget_period(area, "council_budget")
    member, second, third = make.council(area)
    initiative = make.budget_initiative(area, cost_cents=9_600_00)
    empty = council.record_meeting(member, area, date.today(), 0)
    two = council.record_meeting(member, area, date.today(), 9, present=[member, second])
    for meeting in (empty, two):
        with pytest.raises(Conflict, match="at least 3 council members must be present"):
            council.record_decision(
                member, meeting, "Subsidie", 9_600_00, spend_kind="social", initiative=initiative
            )
        with pytest.raises(Conflict, match="present"):
            council.record_decision(member, meeting, "Notulen vastgesteld")
    assert ledger.account_balance(period.account(AccountKind.AREA)).committed == 0
    # Only the area's council members count, each once, and not more than the attendees.
    outsider = make.council_member(make.area())
    with pytest.raises(ValidationFailed, match="Only council members of this area"):
        council.record_meeting(member, area, date.today(), 9, present=[member, second, outsider])
    with pytest.raises(ValidationFailed, match="Only council members of this area"):
        council.record_meeting(
            member, area, date.today(), 9, present=[member, second, make.resident(area)]
        )
    with pytest.raises(ValidationFailed, match="attendees"):
        council.record_meeting(member, area, date.today(), 2, present=[member, second, third])
    doubled = council.record_meeting(
        member, area, date.today(), 9, present=[member, second, second]
    )
    assert len(doubled.present_members) == 2
    full = council.record_meeting(member, area, date.today(), 9, present=[member, second, third])
    council.record_decision(
        member, full, "Subsidie", 9_600_00, spend_kind="social", initiative=initiative
    )
    assert ledger.initiative_totals(initiative).granted == 9_600_00
    recorded = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "council.meeting_recorded")
    ).all()[-1]
    assert recorded.details["present_member_ids"] == sorted([member.id, second.id, third.id])


def test_the_quorum_is_configurable_per_municipality(app, make):
    area = make.area(inhabitants=8_000, year=THIS_YEAR)
    make.budget_period(area, "council_budget")
    config = budgets.config_for(area)
    config.council_quorum = 4
    db.session.commit()
    present = make.council(area, 4)
    three = council.record_meeting(present[0], area, date.today(), 9, present=present[:3])
    with pytest.raises(Conflict, match="at least 4"):
        council.record_decision(present[0], three, "Notulen vastgesteld")
    four = council.record_meeting(present[0], area, date.today(), 9, present=present)
    council.record_decision(present[0], four, "Notulen vastgesteld")
    with pytest.raises(ValueError):
        model_defaults("council_budget").with_changes(council_quorum=1)


def test_four_meetings_a_year_silence_the_warning(app, make):
    area = make.area(year=THIS_YEAR)
    make.budget_period(area, "council_budget")
    member = make.council_member(area)
    start = date(THIS_YEAR, 1, 15)
    for number in range(4):
        council.record_meeting(member, area, start + timedelta(days=30 * number), 10)
    check = council.meeting_check(area, THIS_YEAR)
    assert (check.held, check.too_few) == (4, False)
    assert council.meeting_check(area, THIS_YEAR - 1).too_few


# Reports -------------------------------------------------------------------------------------


def test_area_report_figures_add_up_to_the_ledger(app, make):
    from buurtbudget.models import Theme

    area = make.area(inhabitants=1_000, year=THIS_YEAR)
    period = make.budget_period(area)
    coordinator = make.coordinator(area)
    green = Theme(municipality=area.municipality, name="Groen")
    play = Theme(municipality=area.municipality, name="Spelen")
    db.session.add_all([green, play])
    db.session.commit()
    both = make.budget_initiative(area, cost_cents=1_001, title="Speeltuin met bomen")
    both.themes = [green, play]
    only_green = make.budget_initiative(area, cost_cents=2_000_00, title="Geveltuinen")
    only_green.themes = [green]
    db.session.commit()
    ledger.grant(coordinator, both)
    ledger.grant(coordinator, only_green)
    ledger.spend_directly(
        coordinator, period.account(AccountKind.BOTTLENECK), 300_00, "Spoedreparatie hek"
    )
    budgets.set_programme_line(coordinator, period, 5_000_00, theme=green)
    with pytest.raises(ValidationFailed, match="exceed"):
        budgets.set_programme_line(coordinator, period, 6_000_00, theme=play)

    finances = budget_reports.area_finances(period)
    themes = {t.name: t.granted for t in finances.themes}
    assert themes == {"Groen": 501 + 2_000_00, "Spelen": 500, "No theme": 300_00}
    assert sum(themes.values()) == finances.granted_total
    entries = db.session.scalars(budget_reports.ledger_query(period)).all()
    paid = sum(e.amount_cents for e in entries if e.kind is EntryKind.PAYOUT)
    assert finances.total.paid == paid == 300_00
    assert finances.total.budget == 10_000_00 + 5_000_00
    assert finances.total.available == 15_000_00 - 1_001 - 2_000_00 - 300_00

    rows = io.StringIO(budget_reports.report_csv(finances)).read().splitlines()
    assert rows[0] == "section;item;detail;granted;paid"
    assert "initiative;Speeltuin met bomen;Groen, Spelen;10,01;0,00" in rows
    assert "direct spending;Spoedreparatie hek;;300,00;300,00" in rows
    assert (
        f"total;unspent;;{finances.total.available // 100},{finances.total.available % 100:02d};"
        in rows
    )

    report = budgets.save_report(coordinator, period, "Een goed jaar.", publish=True)
    assert report.published_at is not None
    with pytest.raises(PermissionDenied):
        budgets.save_report(make.council_member(area), period, "x", publish=False)


def test_the_initiative_page_money_comes_from_the_ledger(granted):
    from buurtbudget.services.initiatives import initiative_money

    initiative = granted["initiative"]
    request = payouts.request_payout(
        granted["initiator"], initiative, 250_00, "Zaden", [_receipt(initiative)]
    )
    payouts.approve(granted["coordinator"], request)
    money = initiative_money(initiative)
    assert (money["granted"], money["paid"]) == (3_000_00, 250_00)
