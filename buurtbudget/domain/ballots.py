"""Ballot types and validation of a single ballot against the rules of a voting round.

Used by the rules engine (a pabulib file carries its ballot rules in META), and meant for the web
ballot page and paper-ballot entry: :func:`validate_ballot` returns every problem with a stable
``code``, an English message ``template`` with named placeholders (ready for gettext) and the
``params`` to fill it, so the web layer can translate and the rendered ``message`` stays
available for logs and the CLI.

Ballot types (``BallotRules.kind``):

* ``approval``: a set of projects, optionally with ``min_length`` / ``max_length`` and, for a
  knapsack ballot ("approval with a cost limit"), ``max_total_cost`` / ``min_total_cost``;
* ``choose-1``: exactly one project (an approval ballot with length 1);
* ``cumulative``: points per project, with ``min_points`` / ``max_points`` per project and
  ``min_total_points`` / ``max_total_points`` for the whole ballot;
* ``ordinal``: a ranking of projects, most preferred first, with ``min_length`` /
  ``max_length`` (read from pabulib files and counted by the rules; rounds do not offer it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

APPROVAL = "approval"
CUMULATIVE = "cumulative"
CHOOSE_ONE = "choose-1"
ORDINAL = "ordinal"
BALLOT_KINDS = (APPROVAL, CUMULATIVE, CHOOSE_ONE, ORDINAL)

# Bounds on numbers read from files: money in whole units (x100 cents stays far inside a 64-bit
# integer, also summed over thousands of projects), counts (lengths, points) inside 32 bits.
MAX_AMOUNT = 10**13
MAX_COUNT = 10**9
_NUMBER = re.compile(r"[+-]?[0-9]{1,20}(?:[.,][0-9]{1,12})?")


# Why a text is not an acceptable number (NumberError.code), in English.
NUMBER_REASONS = {
    "not_plain": "not a plain number",
    "too_large": "larger than %(maximum)s",
    "not_whole": "not a whole number",
}


class NumberError(ValueError):
    """parse_number's refusal: ``code`` of NUMBER_REASONS with ``params``; str() is English."""

    def __init__(self, code: str, **params: object):
        self.code = code
        self.params = params
        super().__init__(NUMBER_REASONS[code] % params)


class MetaValueError(ValueError):
    """A bad number in the pabulib META: ``key``, a ``code`` (meta_not_number, meta_negative,
    meta_not_whole) and ``params``; str() is the English text."""

    def __init__(self, text: str, code: str, **params: object):
        super().__init__(text)
        self.key = str(params["key"])
        self.code = code
        self.params = params


def parse_number(text: str, *, maximum: int, whole: bool = False) -> int | Fraction:
    """A plain decimal number (ASCII digits, ``.`` or ``,`` as decimal mark, no exponent) between
    ``-maximum`` and ``maximum``, exactly: an int when whole, else a Fraction. Raises ValueError
    with a short reason; never spends time on huge inputs (``1e999999999`` is refused as text)."""
    raw = text.strip()
    if not _NUMBER.fullmatch(raw):
        raise NumberError("not_plain")
    value = Fraction(raw.replace(",", "."))
    if abs(value) > maximum:
        raise NumberError("too_large", maximum=f"{maximum:,}")
    if value.denominator == 1:
        return int(value)
    if whole:
        raise NumberError("not_whole")
    return value


@dataclass(frozen=True)
class BallotRules:
    """What a valid ballot looks like in one round. ``None`` means "no limit"."""

    kind: str = APPROVAL
    min_length: int | None = None
    max_length: int | None = None
    min_total_cost: int | Fraction | None = None
    max_total_cost: int | Fraction | None = None
    min_points: int | None = None
    max_points: int | None = None
    min_total_points: int | None = None
    max_total_points: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in BALLOT_KINDS:
            raise ValueError(f"unknown ballot kind {self.kind!r}")
        for low, high in (
            (self.min_length, self.max_length),
            (self.min_total_cost, self.max_total_cost),
            (self.min_points, self.max_points),
            (self.min_total_points, self.max_total_points),
        ):
            if low is not None and high is not None and low > high:
                raise ValueError("a minimum is larger than its maximum")

    @classmethod
    def for_vote_type(cls, vote_type: str) -> BallotRules:
        if vote_type == CHOOSE_ONE:
            return cls(kind=CHOOSE_ONE, min_length=1, max_length=1)
        return cls(kind=vote_type)

    @classmethod
    def from_pabulib_meta(cls, vote_type: str, meta: Mapping[str, str]) -> BallotRules:
        """Read the pabulib META keys (min_length, max_sum_cost, max_points, ...).

        Raises ``ValueError`` with the key name if a value is not a number.
        """

        def number(key: str, allow_fraction: bool = False) -> int | Fraction | None:
            raw = meta.get(key, "").strip()
            if not raw or raw.lower() == "none":
                return None
            maximum = MAX_AMOUNT if allow_fraction else MAX_COUNT
            try:
                value = parse_number(raw, maximum=maximum)
            except NumberError as error:
                raise MetaValueError(
                    f"META {key} must be a number, got {raw[:40]!r} ({error})",
                    "meta_not_number",
                    key=key,
                    value=repr(raw[:40]),
                    reason=error.code,
                    **error.params,
                ) from None
            if value < 0:
                raise MetaValueError(
                    f"META {key} must not be negative, got {raw!r}",
                    "meta_negative",
                    key=key,
                    value=repr(raw),
                )
            if isinstance(value, int) or allow_fraction:
                return value
            raise MetaValueError(
                f"META {key} must be a whole number, got {raw!r}",
                "meta_not_whole",
                key=key,
                value=repr(raw),
            )

        if vote_type == CHOOSE_ONE:
            return cls.for_vote_type(CHOOSE_ONE)
        if vote_type == CUMULATIVE:
            return cls(
                kind=CUMULATIVE,
                min_length=number("min_length"),
                max_length=number("max_length"),
                min_points=number("min_points"),
                max_points=number("max_points"),
                min_total_points=number("min_sum_points"),
                max_total_points=number("max_sum_points"),
            )
        if vote_type == ORDINAL:
            return cls(
                kind=ORDINAL, min_length=number("min_length"), max_length=number("max_length")
            )
        return cls(
            kind=APPROVAL,
            min_length=number("min_length"),
            max_length=number("max_length"),
            min_total_cost=number("min_sum_cost", allow_fraction=True),
            max_total_cost=number("max_sum_cost", allow_fraction=True),
        )


@dataclass(frozen=True)
class BallotError:
    """One problem with a ballot. ``message`` is ``template % params`` (English)."""

    code: str
    template: str
    params: Mapping[str, object] = field(default_factory=dict, hash=False)

    @property
    def message(self) -> str:
        return self.template % dict(self.params)

    def __str__(self) -> str:
        return self.message


def _error(code: str, template: str, **params: object) -> BallotError:
    return BallotError(code, template, params)


def validate_ballot(
    ballot: Iterable[str] | Mapping[str, int],
    rules: BallotRules,
    project_costs: Mapping[str, int],
) -> list[BallotError]:
    """Check one ballot; returns all problems found (an empty list means valid).

    ``ballot`` is an iterable of project ids (approval, choose-1) or ``{project_id: points}``
    (cumulative). ``project_costs`` maps every project on the ballot paper to its cost.
    """
    errors: list[BallotError] = []
    if rules.kind == CUMULATIVE:
        if not isinstance(ballot, Mapping):
            return [_error("points_required", "Give points to the projects you support.")]
        points_by_project = dict(ballot)
        chosen = list(points_by_project)
    else:
        if isinstance(ballot, Mapping):
            return [_error("points_not_allowed", "This ballot does not use points.")]
        chosen = list(ballot)
        points_by_project = {}
        seen: set[str] = set()
        for project_id in chosen:
            if project_id in seen:
                errors.append(
                    _error(
                        "duplicate_project",
                        "Project %(project)s is chosen more than once.",
                        project=project_id,
                    )
                )
            seen.add(project_id)

    unknown = [project_id for project_id in chosen if project_id not in project_costs]
    for pid in unknown:
        errors.append(
            _error("unknown_project", "Project %(project)s is not on this ballot.", project=pid)
        )

    if rules.kind == CUMULATIVE:
        errors.extend(_check_points(points_by_project, rules))
        # A project given 0 points is not chosen.
        chosen = [pid for pid, points in points_by_project.items() if points != 0]

    count = len(set(chosen))
    if rules.kind == CHOOSE_ONE and count != 1:
        errors.append(_error("choose_exactly_one", "Choose exactly one project."))
    else:
        if rules.min_length is not None and count < rules.min_length:
            errors.append(
                _error(
                    "too_few_projects",
                    "Choose at least %(min)d projects (you chose %(count)d).",
                    min=rules.min_length,
                    count=count,
                )
            )
        if rules.max_length is not None and count > rules.max_length:
            errors.append(
                _error(
                    "too_many_projects",
                    "Choose at most %(max)d projects (you chose %(count)d).",
                    max=rules.max_length,
                    count=count,
                )
            )

    if rules.min_total_cost is not None or rules.max_total_cost is not None:
        total = sum(project_costs.get(pid, 0) for pid in set(chosen))
        if rules.max_total_cost is not None and total > rules.max_total_cost:
            errors.append(
                _error(
                    "total_cost_too_high",
                    "The chosen projects cost %(total)s together; the limit is %(max)s.",
                    total=total,
                    max=rules.max_total_cost,
                )
            )
        if rules.min_total_cost is not None and total < rules.min_total_cost:
            errors.append(
                _error(
                    "total_cost_too_low",
                    "The chosen projects cost %(total)s together; choose at least %(min)s.",
                    total=total,
                    min=rules.min_total_cost,
                )
            )
    return errors


def _check_points(points_by_project: Mapping[str, object], rules: BallotRules) -> list[BallotError]:
    errors: list[BallotError] = []
    total = 0
    for project_id, points in points_by_project.items():
        if isinstance(points, bool) or not isinstance(points, int):
            errors.append(
                _error(
                    "points_not_whole",
                    "Points for project %(project)s must be a whole number.",
                    project=project_id,
                )
            )
            continue
        total += points
        if points < 0:
            errors.append(
                _error(
                    "points_negative",
                    "Points for project %(project)s must not be negative.",
                    project=project_id,
                )
            )
        elif rules.max_points is not None and points > rules.max_points:
            errors.append(
                _error(
                    "too_many_points_for_project",
                    "Give at most %(max)d points to project %(project)s (you gave %(points)d).",
                    project=project_id,
                    max=rules.max_points,
                    points=points,
                )
            )
        elif rules.min_points is not None and 0 < points < rules.min_points:
            errors.append(
                _error(
                    "too_few_points_for_project",
                    "Give at least %(min)d points to project %(project)s, or none.",
                    project=project_id,
                    min=rules.min_points,
                )
            )
    if rules.max_total_points is not None and total > rules.max_total_points:
        errors.append(
            _error(
                "too_many_points",
                "Give at most %(max)d points in total (you gave %(total)d).",
                max=rules.max_total_points,
                total=total,
            )
        )
    if rules.min_total_points is not None and total < rules.min_total_points:
        errors.append(
            _error(
                "too_few_points",
                "Give at least %(min)d points in total (you gave %(total)d).",
                min=rules.min_total_points,
                total=total,
            )
        )
    return errors
