"""`flask seed-demo` and `flask roles`: realistic, idempotent, audited."""

from __future__ import annotations

from sqlalchemy import func, select

from buurtbudget.extensions import db
from buurtbudget.models import Area, AuditEntry, Municipality, Role, RoleAssignment, User


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_demo_builds_a_realistic_municipality_and_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    counts = (_count(Municipality), _count(Area), _count(User), _count(RoleAssignment))
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert (_count(Municipality), _count(Area), _count(User), _count(RoleAssignment)) == counts

    delft = db.session.scalar(select(Municipality).where(Municipality.slug == "delft"))
    assert len(delft.areas) == 7
    for area in delft.areas:
        figures = area.population_for(2026)
        assert 9_000 <= figures.inhabitants <= 15_000
        assert sum(figures.age_band_counts().values()) == figures.inhabitants
        coordinators = list(
            db.session.scalars(
                select(RoleAssignment).where(
                    RoleAssignment.area_id == area.id, RoleAssignment.role == Role.COORDINATOR
                )
            )
        )
        assert len(coordinators) >= 1
    residents = db.session.scalar(
        select(func.count()).select_from(User).where(User.home_area_id.is_not(None))
    )
    assert residents >= 7 * 10


def test_demo_resident_can_log_in_with_documented_password(app, client):
    from buurtbudget.demo.people import DEMO_PASSWORD

    app.test_cli_runner().invoke(args=["seed-demo"])
    response = client.post(
        "/account/login",
        data={"email": "bewoner1-1.delft@demo.buurtbudget.nl", "password": DEMO_PASSWORD},
    )
    assert response.status_code == 302
    # Every demo account has confirmed its e-mail address, so the demo residents can vote.
    from sqlalchemy import func, select

    from buurtbudget.extensions import db
    from buurtbudget.models import User

    unconfirmed = select(func.count()).where(User.email_confirmed_at.is_(None))
    assert db.session.scalar(select(func.count()).select_from(User)) > 0
    assert db.session.scalar(unconfirmed) == 0


def test_roles_grant_via_cli_is_audited(app, make):
    area = make.area(name="Tanthof")
    user = make.user(area)
    result = app.test_cli_runner().invoke(
        args=[
            "roles",
            "grant",
            user.email,
            "coordinator",
            "--municipality",
            area.municipality.slug,
            "--area",
            "Tanthof",
        ]
    )
    assert result.exit_code == 0, result.output
    assert user.has_role(Role.COORDINATOR, area)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "role.granted"))
    assert entry.details["user_id"] == user.id and entry.details["area_id"] == area.id


def test_roles_grant_needs_area_for_area_roles(app, make):
    area = make.area()
    user = make.user(area)
    result = app.test_cli_runner().invoke(
        args=[
            "roles",
            "grant",
            user.email,
            "council_member",
            "--municipality",
            area.municipality.slug,
        ]
    )
    assert result.exit_code == 1
    assert "Kies voor deze rol een wijk" in result.output  # the CLI speaks Dutch by default
    assert not user.roles


def test_audit_entries_cannot_be_changed_or_deleted(app, make):
    import pytest

    from buurtbudget.models.audit import AuditLogIsAppendOnly
    from buurtbudget.services import audit

    entry = audit.record(None, "test.action", None)
    db.session.commit()
    entry.action = "changed"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
    db.session.delete(entry)
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()
