"""The life cycle of an initiative as a pure state machine.

    draft -> submitted -> in_review -> open -> selected -> in_execution -> completed
                              |          \\         \\            \\
                              v           +---------+-------------+--> cancelled
                           rejected

Decisions (from ../shared/DOMAIN.md):

* "Feasibility review" is two steps: the coordinator *starts* the review (``in_review``), which
  ends the initiator's right to edit, then *accepts* it with a checked cost (-> ``open``),
  *rejects* it with a reason (-> ``rejected``, final) or *returns* it to the initiator with a
  reason (-> ``draft``) for changes.
* "Selected / funded" is one status, ``selected``, with the :class:`FundingRoute` recorded: a
  voting round (``vote``) or pooled household cheques (``cheques``), both made by the system,
  or an area council decision (``council``) or the coordinator's area programme
  (``programme``), made by the coordinator. The budget ledger records the money itself.
* ``rejected``, ``completed`` and ``cancelled`` are final. Cancelling always needs a reason.
* Who may act is expressed with :class:`Actor`: the initiator (the resident who proposed it),
  the coordinator (of the initiative's area; administrators of the municipality count as
  coordinators) and the system (a closed voting round, the cheque pool, the ledger).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal


class Status(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    REJECTED = "rejected"
    OPEN = "open"
    SELECTED = "selected"
    IN_EXECUTION = "in_execution"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Actor(enum.StrEnum):
    INITIATOR = "initiator"
    COORDINATOR = "coordinator"
    SYSTEM = "system"


class FundingRoute(enum.StrEnum):
    """How a ``selected`` initiative got its money."""

    VOTE = "vote"  # the result of a voting round
    CHEQUES = "cheques"  # pooled household cheques reached its cost (Ede)
    COUNCIL = "council"  # decided by the area council in a public meeting (Zaanstad)
    PROGRAMME = "programme"  # chosen by the coordinator for the area programme (Delft)


FINAL_STATUSES = frozenset({Status.REJECTED, Status.COMPLETED, Status.CANCELLED})
# The initiator edits text, amount and themes until the coordinator starts the review.
EDITABLE_STATUSES = frozenset({Status.DRAFT, Status.SUBMITTED})
# Drafts are private to the initiator and staff; everything else is public.
PRIVATE_STATUSES = frozenset({Status.DRAFT})
# Residents discuss an initiative once it is open, and while it is carried out.
COMMENTABLE_STATUSES = frozenset({Status.OPEN, Status.SELECTED, Status.IN_EXECUTION})
# Statuses a coordinator still has to act on in the review queue.
REVIEW_QUEUE_STATUSES = frozenset({Status.SUBMITTED, Status.IN_REVIEW})
# The order of the normal path, used to show progress and to build demo histories.
HAPPY_PATH = (
    Status.DRAFT,
    Status.SUBMITTED,
    Status.IN_REVIEW,
    Status.OPEN,
    Status.SELECTED,
    Status.IN_EXECUTION,
    Status.COMPLETED,
)

REASON_MAX_LENGTH = 1000

Action = Literal[
    "submit", "withdraw", "start_review", "accept", "reject", "return", "select", "start",
    "complete", "cancel",
]  # fmt: skip


@dataclass(frozen=True)
class Transition:
    source: Status
    target: Status
    action: Action
    actors: frozenset[Actor]
    needs_reason: bool = False
    needs_checked_cost: bool = False
    needs_funding_route: bool = False


_I, _C, _S = Actor.INITIATOR, Actor.COORDINATOR, Actor.SYSTEM


def _t(source: Status, target: Status, action: Action, *actors: Actor, **needs: bool):
    return Transition(source, target, action, frozenset(actors), **needs)


TRANSITIONS: tuple[Transition, ...] = (
    _t(Status.DRAFT, Status.SUBMITTED, "submit", _I),
    _t(Status.SUBMITTED, Status.DRAFT, "withdraw", _I),
    _t(Status.SUBMITTED, Status.IN_REVIEW, "start_review", _C),
    _t(Status.IN_REVIEW, Status.OPEN, "accept", _C, needs_checked_cost=True),
    _t(Status.IN_REVIEW, Status.REJECTED, "reject", _C, needs_reason=True),
    _t(Status.IN_REVIEW, Status.DRAFT, "return", _C, needs_reason=True),
    _t(Status.OPEN, Status.SELECTED, "select", _C, _S, needs_funding_route=True),
    _t(Status.SELECTED, Status.IN_EXECUTION, "start", _I, _C, _S),
    _t(Status.IN_EXECUTION, Status.COMPLETED, "complete", _C, _S),
    _t(Status.DRAFT, Status.CANCELLED, "cancel", _I, needs_reason=True),
    _t(Status.SUBMITTED, Status.CANCELLED, "cancel", _I, _C, needs_reason=True),
    _t(Status.IN_REVIEW, Status.CANCELLED, "cancel", _I, _C, needs_reason=True),
    _t(Status.OPEN, Status.CANCELLED, "cancel", _I, _C, needs_reason=True),
    _t(Status.SELECTED, Status.CANCELLED, "cancel", _I, _C, needs_reason=True),
    _t(Status.IN_EXECUTION, Status.CANCELLED, "cancel", _C, needs_reason=True),
)

_BY_EDGE = {(t.source, t.target): t for t in TRANSITIONS}


class TransitionError(ValueError):
    """Why a status change is refused; ``code`` is stable, for translation and tests."""

    code = "not_allowed"

    def __init__(self, source: Status, target: Status):
        super().__init__(f"{self.code}: {source} -> {target}")
        self.source = source
        self.target = target


class NoSuchTransition(TransitionError):
    code = "no_such_transition"


class WrongActor(TransitionError):
    code = "wrong_actor"


class ReasonRequired(TransitionError):
    code = "reason_required"


class ReasonTooLong(TransitionError):
    code = "reason_too_long"


class CheckedCostRequired(TransitionError):
    code = "checked_cost_required"


class FundingRouteRequired(TransitionError):
    code = "funding_route_required"


def transition_for(source: Status, target: Status) -> Transition | None:
    return _BY_EDGE.get((Status(source), Status(target)))


def available_transitions(
    source: Status, actors: set[Actor] | frozenset[Actor]
) -> list[Transition]:
    """The transitions from ``source`` that someone acting as any of ``actors`` may make."""
    return [t for t in TRANSITIONS if t.source == source and t.actors & set(actors)]


def check_transition(
    source: Status,
    target: Status,
    actors: set[Actor] | frozenset[Actor],
    *,
    reason: str | None = None,
    checked_cost_cents: int | None = None,
    funding_route: FundingRoute | None = None,
) -> Transition:
    """Return the transition ``source -> target`` if ``actors`` may make it with these details,
    else raise the matching :class:`TransitionError`."""
    transition = transition_for(source, target)
    if transition is None:
        raise NoSuchTransition(source, target)
    if not transition.actors & set(actors):
        raise WrongActor(source, target)
    reason = (reason or "").strip()
    if transition.needs_reason and not reason:
        raise ReasonRequired(source, target)
    if len(reason) > REASON_MAX_LENGTH:
        raise ReasonTooLong(source, target)
    if transition.needs_checked_cost and (checked_cost_cents is None or checked_cost_cents < 0):
        raise CheckedCostRequired(source, target)
    if transition.needs_funding_route and funding_route is None:
        raise FundingRouteRequired(source, target)
    return transition


def path_to(target: Status) -> list[Status]:
    """The statuses an initiative passes through from draft to ``target`` (inclusive): the happy
    path, with a final rejection or cancellation at the latest plausible point."""
    target = Status(target)
    if target in HAPPY_PATH:
        return list(HAPPY_PATH[: HAPPY_PATH.index(target) + 1])
    if target is Status.REJECTED:
        return [Status.DRAFT, Status.SUBMITTED, Status.IN_REVIEW, Status.REJECTED]
    return [Status.DRAFT, Status.SUBMITTED, Status.IN_REVIEW, Status.OPEN, Status.CANCELLED]
