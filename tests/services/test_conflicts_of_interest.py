"""Issue 15.7: nobody reviews, selects, funds or approves payouts for an initiative they
initiated or are a member of (its working group), whatever role they hold."""

from __future__ import annotations

from datetime import date

import pytest

from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.extensions import db
from buurtbudget.models import Attachment, PayoutStatus, Role
from buurtbudget.services import council, initiatives, ledger, payouts
from buurtbudget.services.errors import PermissionDenied

THIS_YEAR = date.today().year

pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def world(make):
    area = make.area(inhabitants=1_000, year=THIS_YEAR)
    # A coordinator who lives in the area they coordinate, and is a resident there too.
    insider = make.user(area, roles=((Role.COORDINATOR, area),))
    member = make.user(area, roles=((Role.COORDINATOR, area),))
    group = make.working_group(area, members=(member,))
    return {
        "area": area,
        "insider": insider,
        "member": member,
        "group": group,
        "colleague": make.coordinator(area),
    }


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


def test_coordinator_cannot_review_accept_or_select_their_own_initiative(world, make):
    own = make.initiative(world["area"], initiator=world["insider"], status="submitted")
    with pytest.raises(PermissionDenied, match="started or are a member of"):
        initiatives.change_status(world["insider"], own, Status.IN_REVIEW)
    assert own.status is Status.SUBMITTED
    initiatives.change_status(world["colleague"], own, Status.IN_REVIEW)
    with pytest.raises(PermissionDenied):
        initiatives.change_status(world["insider"], own, Status.OPEN, checked_cost_cents=100_00)
    initiatives.change_status(world["colleague"], own, Status.OPEN, checked_cost_cents=100_00)
    with pytest.raises(PermissionDenied):
        initiatives.change_status(
            world["insider"], own, Status.SELECTED, funding_route=FundingRoute.PROGRAMME
        )
    assert own.status is Status.OPEN


def test_working_group_member_cannot_review_the_groups_initiative(world, make):
    initiator = make.resident(world["area"])
    world["group"].memberships.append(type(world["group"].memberships[0])(user=initiator))
    db.session.commit()
    theirs = make.initiative(
        world["area"], initiator=initiator, status="in_review", working_group=world["group"]
    )
    with pytest.raises(PermissionDenied):
        initiatives.change_status(world["member"], theirs, Status.OPEN, checked_cost_cents=100_00)
    assert theirs.status is Status.IN_REVIEW
    # The initiator's own steps remain: a coordinator who initiated still withdraws as such.
    assert initiatives.deciding_actors(world["member"], theirs) == set()


def test_coordinator_cannot_grant_money_to_their_own_initiative(world, make):
    make.budget_period(world["area"])
    own = make.budget_initiative(world["area"], initiator=world["insider"], cost_cents=500_00)
    with pytest.raises(PermissionDenied):
        ledger.grant(world["insider"], own)
    assert ledger.initiative_totals(own).granted == 0
    ledger.grant(world["colleague"], own)
    assert ledger.initiative_totals(own).granted == 500_00


def test_working_group_member_cannot_approve_or_reject_a_payout(world, make):
    make.budget_period(world["area"])
    initiator = make.resident(world["area"])
    initiative = make.budget_initiative(
        world["area"], initiator=initiator, cost_cents=500_00, working_group=world["group"]
    )
    ledger.grant(None, initiative)
    initiative.status = Status.SELECTED
    db.session.commit()
    request = payouts.request_payout(initiator, initiative, 100_00, "Verf", [_receipt(initiative)])
    assert not payouts.can_decide(world["member"], request)
    with pytest.raises(PermissionDenied):
        payouts.approve(world["member"], request)
    with pytest.raises(PermissionDenied):
        payouts.reject(world["member"], request, "Niet nodig")
    assert request.status is PayoutStatus.PENDING
    payouts.approve(world["colleague"], request)
    assert request.status is PayoutStatus.PAID


def test_council_member_cannot_grant_their_own_initiative(app, make):
    area = make.area(inhabitants=1_000, year=THIS_YEAR)
    make.budget_period(area, "council_budget")
    member = make.council_member(area)
    other = make.council_member(area)
    own = make.budget_initiative(area, initiator=member, cost_cents=300_00)
    third = make.council_member(area)
    meeting = council.record_meeting(
        member, area, date.today(), 12, "Buurthuis", present=[member, other, third]
    )
    with pytest.raises(PermissionDenied):
        council.record_decision(
            member, meeting, "Eigen plan", 300_00, spend_kind="social", initiative=own
        )
    assert ledger.initiative_totals(own).granted == 0
    council.record_decision(
        other, meeting, "Plan van de buurt", 300_00, spend_kind="social", initiative=own
    )
    assert ledger.initiative_totals(own).granted == 300_00


def test_the_detail_page_offers_no_review_buttons_to_the_initiating_coordinator(
    world, make, client_for
):
    own = make.initiative(world["area"], initiator=world["insider"], status="submitted")
    page = client_for(world["insider"]).get(f"/initiatives/{own.id}").get_data(as_text=True)
    assert "Start review" not in page
    response = client_for(world["insider"]).post(
        f"/initiatives/{own.id}/status", data={"new_status": "in_review"}
    )
    assert response.status_code == 403
    db.session.refresh(own)
    assert own.status is Status.SUBMITTED
    colleague_page = client_for(world["colleague"]).get(f"/initiatives/{own.id}")
    assert "Start review" in colleague_page.get_data(as_text=True)
