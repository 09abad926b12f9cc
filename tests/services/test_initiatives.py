"""Initiatives through their whole life cycle: who may do what, what is recorded, who hears."""

from __future__ import annotations

import logging

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status
from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, Initiative, InitiativeStatusChange, Notification
from buurtbudget.services import initiatives, notifications
from buurtbudget.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from buurtbudget.services.initiatives import InitiativeData, change_status
from tests.initiative_world import build_world
from tests.mail_helpers import queued


@pytest.fixture
def world(make):
    return build_world(make)


def _data(world, **overrides) -> InitiativeData:
    values = {
        "area_id": world.area.id,
        "title": "Moestuin bij het buurthuis",
        "description": "Samen groente kweken met de buurt.",
        "requested_amount_cents": 1_250_00,
        "theme_ids": [world.green.id],
        "volunteer_hours": 40,
        "co_funding_cents": 100_00,
        "in_kind": "Gereedschap",
        "contribution_note": "De school helpt mee.",
    }
    values.update(overrides)
    return InitiativeData(**values)


def test_proposing_creates_a_private_draft_with_history_and_audit(world):
    initiative = initiatives.propose(world.initiator, _data(world))
    assert initiative.status is Status.DRAFT
    assert initiative.area_id == world.area.id
    assert [t.name for t in initiative.themes] == ["Groen"]
    assert (initiative.volunteer_hours, initiative.co_funding_cents) == (40, 100_00)
    assert initiative.checked_cost_cents is None
    [first] = initiative.history
    assert (first.from_status, first.to_status, first.actor_id) == (
        None,
        Status.DRAFT,
        world.initiator.id,
    )
    assert db.session.scalar(select(AuditEntry.action)) == "initiative.created"
    assert initiatives.can_view(world.initiator, initiative)
    assert initiatives.can_view(world.coordinator, initiative)
    assert initiatives.can_view(world.admin, initiative)
    for role in ("resident", "council_member", "coordinator_other_area", "anonymous"):
        assert not initiatives.can_view(world.people[role], initiative), role


BAD_INPUT = [
    ({"title": "   "}, "title"),
    ({"title": "x" * 121}, "title"),
    ({"description": "x" * 5001}, "description"),
    ({"requested_amount_cents": -1}, "requested_amount"),
    ({"requested_amount_cents": 100_000_001}, "requested_amount"),
    ({"co_funding_cents": -5}, "co_funding"),
    ({"volunteer_hours": -1}, "volunteer_hours"),
    ({"in_kind": "x" * 501}, "in_kind"),
    ({"theme_ids": []}, "theme_ids"),
]


def test_proposing_refuses_bad_input_per_field(world):
    # One world for all cases: the per-test table cleanup dominates the run time.
    wrong = []
    for overrides, field in BAD_INPUT:
        with pytest.raises(ValidationFailed) as caught:
            initiatives.propose(world.initiator, _data(world, **overrides))
        if caught.value.field != field:
            wrong.append((overrides, caught.value.field))
    assert wrong == []
    assert db.session.scalar(select(func.count()).select_from(Initiative)) == 0


def test_proposing_only_for_own_area_with_own_municipality_themes(world):
    with pytest.raises(ValidationFailed) as caught:
        initiatives.propose(world.initiator, _data(world, area_id=world.other_area.id))
    assert caught.value.field == "area_id"
    with pytest.raises(ValidationFailed) as caught:
        initiatives.propose(world.initiator, _data(world, area_id=987654))
    assert caught.value.field == "area_id"
    with pytest.raises(ValidationFailed) as caught:
        initiatives.propose(world.initiator, _data(world, theme_ids=[world.foreign_theme.id]))
    assert caught.value.field == "theme_ids"
    world.play.is_active = False
    db.session.commit()
    with pytest.raises(ValidationFailed):
        initiatives.propose(world.initiator, _data(world, theme_ids=[world.play.id]))


def test_working_group_must_be_of_the_area_active_and_have_the_initiator(world, make):
    own = make.working_group(world.area, world.green, members=(world.initiator,))
    not_member = make.working_group(world.area, world.green)
    elsewhere = make.working_group(
        world.other_area, world.green, members=(world.initiator,), name="Elders"
    )
    from datetime import date

    ended = make.working_group(
        world.area,
        world.green,
        members=(world.initiator,),
        starts_on=date(2020, 1, 1),
        ends_on=date(2020, 6, 1),
    )
    for group in (not_member, elsewhere, ended):
        with pytest.raises(ValidationFailed) as caught:
            initiatives.propose(world.initiator, _data(world, working_group_id=group.id))
        assert caught.value.field == "working_group_id"
    initiative = initiatives.propose(world.initiator, _data(world, working_group_id=own.id))
    assert initiative.working_group == own
    assert own.initiatives == [initiative]


def test_the_whole_life_cycle_is_recorded_and_announced(world, caplog):
    caplog.set_level(logging.INFO, logger="buurtbudget.mail")
    initiative = initiatives.propose(world.initiator, _data(world))

    change_status(world.initiator, initiative, Status.SUBMITTED)
    assert initiative.submitted_at is not None
    note = db.session.scalar(
        select(Notification).where(Notification.user_id == world.coordinator.id)
    )
    assert note.kind == notifications.SUBMITTED_FOR_REVIEW
    assert f"e-mail to {world.coordinator.email}" in caplog.text

    change_status(world.coordinator, initiative, Status.IN_REVIEW)
    with pytest.raises(ValidationFailed) as caught:
        change_status(world.coordinator, initiative, Status.OPEN)
    assert caught.value.field == "checked_cost"
    change_status(world.coordinator, initiative, "open", checked_cost_cents=1_100_00)
    assert initiative.checked_cost_cents == 1_100_00
    assert initiatives.initiative_money(initiative) == {
        "requested": 1_250_00,
        "checked": 1_100_00,
        "co_funding": 100_00,
        "granted": 0,
        "paid": 0,
    }
    with pytest.raises(ValidationFailed):  # coordinators select by programme or council only
        change_status(world.coordinator, initiative, "selected", funding_route="vote")
    change_status(None, initiative, Status.SELECTED, funding_route=FundingRoute.VOTE)
    assert initiative.funding_route is FundingRoute.VOTE
    change_status(world.initiator, initiative, Status.IN_EXECUTION)
    change_status(world.admin, initiative, Status.COMPLETED)

    history = [(c.from_status, c.to_status, c.actor_id) for c in initiative.history]
    assert history == [
        (None, Status.DRAFT, world.initiator.id),
        (Status.DRAFT, Status.SUBMITTED, world.initiator.id),
        (Status.SUBMITTED, Status.IN_REVIEW, world.coordinator.id),
        (Status.IN_REVIEW, Status.OPEN, world.coordinator.id),
        (Status.OPEN, Status.SELECTED, None),
        (Status.SELECTED, Status.IN_EXECUTION, world.initiator.id),
        (Status.IN_EXECUTION, Status.COMPLETED, world.admin.id),
    ]
    audited = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "initiative.status_changed")
    ).all()
    assert [a.details["to_status"] for a in audited] == [
        "submitted",
        "in_review",
        "open",
        "selected",
        "in_execution",
        "completed",
    ]
    assert audited[2].details["checked_cost_cents"] == 1_100_00
    # The initiator hears of every change made by someone else, not of their own.
    told = db.session.scalars(
        select(Notification).where(Notification.user_id == world.initiator.id)
    ).all()
    assert [n.params["status"] for n in told] == ["in_review", "open", "selected", "completed"]
    assert notifications.unread_count(world.initiator) == 4
    assert notifications.mark_all_read(world.initiator) == 4
    assert notifications.unread_count(world.initiator) == 0


def test_rejection_needs_a_reason_and_shows_it(world, make, caplog):
    caplog.set_level(logging.INFO, logger="buurtbudget.mail")
    initiative = make.initiative(world.area, world.initiator, status="in_review")
    with pytest.raises(ValidationFailed) as caught:
        change_status(world.coordinator, initiative, Status.REJECTED, "  ")
    assert caught.value.field == "reason"
    db.session.rollback()
    change_status(world.coordinator, initiative, Status.REJECTED, "Valt buiten het budget.")
    assert initiative.status is Status.REJECTED
    assert initiative.status_reason == "Valt buiten het budget."
    [message] = queued(world.initiator.email)
    assert "Valt buiten het budget." in message.body  # the reason reaches the initiator
    with pytest.raises(Conflict):
        change_status(world.coordinator, initiative, Status.OPEN, checked_cost_cents=1)


WRONG_ROLES = [
    ("resident", "draft", "submitted", NotFound),  # a draft is invisible to others
    ("coordinator", "draft", "submitted", PermissionDenied),  # staff see it, cannot submit
    ("resident", "submitted", "in_review", PermissionDenied),
    ("council_member", "submitted", "in_review", PermissionDenied),
    ("coordinator_other_area", "submitted", "in_review", PermissionDenied),
    ("admin_other_municipality", "submitted", "in_review", PermissionDenied),
    ("initiator", "submitted", "in_review", PermissionDenied),
    ("initiator", "in_review", "open", PermissionDenied),
    ("initiator", "in_execution", "cancelled", PermissionDenied),
    ("coordinator", "open", "draft", Conflict),
    ("initiator", "open", "submitted", Conflict),
]


def test_status_changes_need_the_right_role(world, make):
    wrong = []
    for role, status, target, error in WRONG_ROLES:
        initiative = make.initiative(world.area, world.initiator, status=status)
        with pytest.raises(error):
            change_status(
                world.people[role],
                initiative,
                target,
                "reden",
                checked_cost_cents=1,
                funding_route="programme",
            )
        db.session.rollback()
        if db.session.get(Initiative, initiative.id).status != status:
            wrong.append((role, status, target))
    assert wrong == []


def test_the_system_only_selects_starts_and_completes(world, make):
    for status, target in (
        ("draft", "submitted"),
        ("submitted", "in_review"),
        ("open", "cancelled"),
    ):
        initiative = make.initiative(world.area, world.initiator, status=status)
        with pytest.raises(PermissionDenied):
            change_status(None, initiative, target, "reden")
    initiative = make.initiative(world.area, world.initiator, status="open")
    with pytest.raises(ValidationFailed):
        change_status(None, initiative, "selected")  # needs the funding route
    change_status(None, initiative, "selected", funding_route="cheques")
    assert initiative.history[-1].actor_id is None


def test_returning_to_the_initiator_reopens_editing(world, make):
    initiative = make.initiative(world.area, world.initiator, status="in_review")
    assert not initiatives.can_edit(world.initiator, initiative)
    with pytest.raises(Conflict):
        initiatives.update(world.initiator, initiative, _data(world))
    change_status(world.coordinator, initiative, "draft", "Graag een begroting toevoegen.")
    assert initiatives.can_edit(world.initiator, initiative)
    initiatives.update(world.initiator, initiative, _data(world, title="Moestuin met begroting"))
    assert initiative.title == "Moestuin met begroting"
    assert initiative.area_id == world.area.id
    with pytest.raises(PermissionDenied):
        initiatives.update(world.resident, initiative, _data(world))


def test_apply_status_change_leaves_the_commit_to_the_caller(world, make, caplog):
    caplog.set_level(logging.INFO, logger="buurtbudget.mail")
    first = make.initiative(world.area, world.initiator, status="open")
    second = make.initiative(world.area, world.initiator, status="open")
    sent = []
    for initiative in (first, second):
        sent += initiatives.apply_status_change(None, initiative, "selected", funding_route="vote")
    db.session.rollback()
    assert {first.status, second.status} == {Status.OPEN}
    assert db.session.scalar(select(func.count()).select_from(InitiativeStatusChange)) == 8
    sent = []
    for initiative in (first, second):
        sent += initiatives.apply_status_change(None, initiative, "selected", funding_route="vote")
    assert caplog.text.count("e-mail to") == 0
    db.session.commit()
    notifications.deliver(sent)
    assert caplog.text.count("e-mail to") == 2
    assert {first.status, second.status} == {Status.SELECTED}


def test_browse_query_filters_and_searches_without_drafts(world, make):
    make.initiative(world.area, status="draft", title="Geheime moestuin")
    garden = make.initiative(
        world.area, status="open", title="Moestuin", themes=[world.green], description="Groen"
    )
    playground = make.initiative(
        world.other_area, status="rejected", title="Speeltuin", themes=[world.play]
    )
    percent = make.initiative(world.area, status="submitted", title="100% groen dak")

    def titles(**filters):
        return sorted(i.title for i in db.session.scalars(initiatives.browse_query(**filters)))

    assert titles() == ["100% groen dak", "Moestuin", "Speeltuin"]
    assert titles(area_id=world.area.id) == ["100% groen dak", "Moestuin"]
    assert titles(theme_id=world.play.id) == ["Speeltuin"]
    assert titles(status=Status.REJECTED) == ["Speeltuin"]
    assert titles(text="MOESTUIN") == ["Moestuin"]  # case-insensitive, never drafts
    assert titles(text="groen") == ["100% groen dak", "Moestuin"]  # title or description
    assert titles(text="100%") == ["100% groen dak"]  # % is literal, not a wildcard
    assert titles(text="0%g") == []
    assert titles(municipality_id=world.other_municipality.id) == []
    assert {garden.id, playground.id, percent.id} <= {
        i.id for i in db.session.scalars(initiatives.browse_query())
    }


def test_review_queue_holds_the_managed_areas_submitted_work(world, make):
    mine = make.initiative(world.area, status="submitted", title="A")
    reviewing = make.initiative(world.area, status="in_review", title="B")
    make.initiative(world.area, status="open", title="C")
    make.initiative(world.other_area, status="submitted", title="D")

    def queue(user):
        return [i.title for i in db.session.scalars(initiatives.review_queue_query(user))]

    assert queue(world.coordinator) == [mine.title, reviewing.title]
    assert queue(world.coordinator_other_area) == ["D"]
    assert sorted(queue(world.admin)) == ["A", "B", "D"]
    assert queue(world.admin_other_municipality) == []
    assert queue(world.resident) == []


def test_notifications_are_shown_in_the_readers_language(world, make):
    initiative = make.initiative(world.area, world.initiator, status="submitted", title="Bankjes")
    change_status(world.coordinator, initiative, "in_review")
    note = db.session.scalar(select(Notification).where(Notification.user_id == world.initiator.id))
    with force_locale("en"):
        assert notifications.render(note) == (
            "Your initiative “Bankjes” now has the status: In review."
        )
    with force_locale("nl"):
        assert "Bankjes" in notifications.render(note)
        assert "In behandeling" in notifications.render(note)
