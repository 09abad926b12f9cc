"""Writing audit entries. Called by services inside their transaction, before the commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, User


def record(
    actor: User | None,
    action: str,
    obj: Any = None,
    *,
    municipality_id: int | None = None,
    **details: Any,
) -> AuditEntry:
    """Add an audit entry for ``action`` on ``obj`` to the current session (not committed)."""
    entry = AuditEntry(
        actor_id=actor.id if actor is not None and getattr(actor, "id", None) else None,
        action=action,
        object_type=type(obj).__name__ if obj is not None else "",
        object_id=getattr(obj, "id", None),
        municipality_id=municipality_id,
        details={k: v for k, v in details.items() if v is not None},
    )
    db.session.add(entry)
    return entry


def latest(action: str, object_type: str, object_id: int | None) -> AuditEntry | None:
    """The newest entry of ``action`` on the object, or None."""
    return db.session.scalar(
        select(AuditEntry)
        .where(
            AuditEntry.action == action,
            AuditEntry.object_type == object_type,
            AuditEntry.object_id == object_id,
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
