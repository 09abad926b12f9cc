"""When a funded initiative runs late (pure Python: no Flask, no SQLAlchemy)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date


def is_late(
    running: bool,
    planned_end_on: date | None,
    milestones: Iterable[tuple[date, date | None]],
    today: date,
) -> bool:
    """A running initiative (selected or in execution) is late when its planned end has
    passed, or when a milestone is past its due date and not done. ``milestones``: (due_on,
    done_on) pairs."""
    if not running:
        return False
    if planned_end_on is not None and planned_end_on < today:
        return True
    return any(done_on is None and due_on < today for due_on, done_on in milestones)
