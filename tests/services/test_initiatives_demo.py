"""The initiatives demo: dozens of initiatives in every status in every municipality,
working groups (one ended), moderation examples; a second run adds nothing."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from buurtbudget.demo import initiatives, people, places
from buurtbudget.domain.initiative_lifecycle import Status, path_to
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    AreaAgenda,
    Comment,
    CommentReport,
    Initiative,
    InitiativeStatusChange,
    Municipality,
    WorkingGroup,
)
from buurtbudget.services import working_groups


def _counts() -> tuple[int, ...]:
    models = (Initiative, InitiativeStatusChange, WorkingGroup, Comment, AreaAgenda)
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in models)


def test_demo_initiatives_cover_every_status_and_are_idempotent(app):
    places.seed_places(lambda _: None)
    people.seed_people(lambda _: None)
    initiatives.seed_initiatives(lambda _: None)
    first = _counts()
    initiatives.seed_initiatives(lambda _: None)
    assert _counts() == first
    assert first[0] >= 36

    statuses = defaultdict(set)
    for name, status in db.session.execute(
        select(Municipality.name, Initiative.status)
        .join(Area, Area.municipality_id == Municipality.id)
        .join(Initiative, Initiative.area_id == Area.id)
    ):
        statuses[name].add(status)
    assert set(statuses) == {"Delft", "Zaanstad", "Ede"}
    for name, seen in statuses.items():
        assert seen == set(Status), name

    for initiative in db.session.scalars(select(Initiative)):
        assert [c.to_status for c in initiative.history] == path_to(initiative.status)
        if initiative.status in (Status.REJECTED, Status.CANCELLED):
            assert initiative.status_reason
        if initiative.working_group is not None:
            assert initiative.working_group.has_member(initiative.initiator)
            assert initiative.working_group.area_id == initiative.area_id

    groups = db.session.scalars(select(WorkingGroup)).all()
    assert len(groups) >= 5
    assert sum(g.has_ended_by(working_groups.today()) for g in groups) == 1
    assert all(g.memberships and g.messages for g in groups)
    hidden = db.session.scalars(select(Comment).where(Comment.hidden_at.is_not(None))).all()
    assert len(hidden) == 1 and hidden[0].hidden_reason
    report = db.session.scalar(select(CommentReport))
    assert report.resolved_at is None and not report.comment.is_hidden
    for agenda in db.session.scalars(select(AreaAgenda)):
        assert 3 <= len(agenda.themes) <= app.config["AREA_AGENDA_MAX_THEMES"]
