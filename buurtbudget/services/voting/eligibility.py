"""Who may vote in a round: ONE definition, used by every path.

An account votes only as an elector of the round: bound, by the stempas code, to a row of the
municipality's register extract (services/electorate.py); area and age are the register's,
frozen once voting opens, never the account's self-declared address. Each rule of
:data:`RULES` is an SQL condition on the voter's account (``User``) joined to its elector
(``Elector``, :func:`elector_join`; NULL columns when the account has none) for the round's
:class:`Electorate`, with the message a refused resident sees. The same conditions

* decide the complete path (:func:`eligibility_problem`, used by casting.cast_ballot and by the
  web pages' guard): one SELECT evaluates every rule for the account, and the first rule that
  fails gives the message;
* are the WHERE of the one-statement ballot box (:func:`voter_conditions`, ballot_box._voter);
* count the eligible accounts of an area, turnout's denominator (:func:`eligible_residents_count`).

So adding a rule to :data:`RULES` changes all three at once; tests/services/test_eligibility.py
shows the fast and the complete path refusing the same voter under a rule added there.

Conditions are plain SQL expressions with no expanding parameters (area ids are written inline,
as whole numbers), so the ballot box can compile them once per round to fixed SQL text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, case, func, literal, literal_column, null, select

from buurtbudget.extensions import db
from buurtbudget.models import AGE_BANDS, Area, Elector, User, VotingRound
from buurtbudget.services import account_email


@dataclass(frozen=True)
class Electorate:
    """What decides, for one round, who may vote: fixed once voting opens by the round's
    dates (voting.rounds.update_round refuses to change it after that)."""

    round_id: int
    area_ids: frozenset[int]
    area_names: tuple[str, ...]
    year: int
    min_age: int

    @classmethod
    def of(cls, voting_round: VotingRound) -> Electorate:
        return cls(
            round_id=voting_round.id,
            area_ids=frozenset(voting_round.area_ids),
            area_names=tuple(area.name for area in voting_round.areas),
            year=voting_round.year,
            min_age=voting_round.min_age,
        )


@dataclass(frozen=True)
class Rule:
    """One condition a voter must meet. ``condition`` gives the SQL condition on ``User`` for
    an electorate, or None when the rule does not apply to it (e.g. no minimum age);
    ``message`` the translated refusal. ``on_account``: a condition on the account, which an
    elector without an account (who votes with the stempas code or on paper) does not need to
    meet; the register's own rules (on ``Elector``) hold for every elector."""

    name: str
    condition: Callable[[Electorate], ColumnElement[bool] | None]
    message: Callable[[Electorate], str]
    on_account: bool = True


def elector_join(electorate: Electorate) -> ColumnElement[bool]:
    """How an account meets its elector of the round (one at most: unique per round)."""
    return (Elector.user_id == User.id) & (
        Elector.round_id == literal_column(str(int(electorate.round_id)))
    )


def _active(electorate: Electorate) -> ColumnElement[bool]:
    return User.is_active_account.is_(True)


def _is_elector(electorate: Electorate) -> ColumnElement[bool]:
    return Elector.id.is_not(None)


def _lives_in_area(electorate: Electorate) -> ColumnElement[bool]:
    # Inline numbers, not an expanding parameter, so the SQL text is fixed per round.
    area_ids = [literal_column(str(int(area_id))) for area_id in sorted(electorate.area_ids)]
    return Elector.area_id.in_(area_ids)


def _email_confirmed(electorate: Electorate) -> ColumnElement[bool]:
    return User.email_confirmed_at.is_not(None)


def _old_enough(electorate: Electorate) -> ColumnElement[bool] | None:
    if electorate.min_age <= 0:
        return None
    return Elector.birth_year <= electorate.year - electorate.min_age


RULES: list[Rule] = [
    Rule("active_account", _active, lambda e: _("Log in to vote.")),
    Rule(
        "elector",
        _is_elector,
        lambda e: _(
            "Only electors of %(areas)s can vote in this round: link the stempas you received"
            " by post to your account first.",
            areas=", ".join(e.area_names),
        ),
        on_account=False,
    ),
    Rule(
        "area",
        _lives_in_area,
        lambda e: _(
            "Only residents of %(areas)s can vote in this round.", areas=", ".join(e.area_names)
        ),
        on_account=False,
    ),
    Rule(
        "min_age",
        _old_enough,
        lambda e: _("You can vote from the year you turn %(age)d.", age=e.min_age),
        on_account=False,
    ),
    # Issue 14 item 4: a throw-away address proves nothing (services/account_email.py).
    Rule("email_confirmed", _email_confirmed, lambda e: str(account_email.NOT_CONFIRMED)),
]
"""The rules, in the order their messages are given. The only definition of who may vote."""


def _applying(electorate: Electorate) -> list[tuple[Rule, ColumnElement[bool]]]:
    applying = []
    for rule in RULES:
        condition = rule.condition(electorate)
        if condition is not None:
            applying.append((rule, condition))
    return applying


def voter_conditions(electorate: Electorate) -> list[ColumnElement[bool]]:
    """The SQL conditions on ``User`` joined to ``Elector`` (:func:`elector_join`) that an
    account meets when it may vote."""
    return [condition for _rule, condition in _applying(electorate)]


def eligibility_problem(user: User | None, voting_round: VotingRound) -> str | None:
    """Why ``user`` may not vote in the round (translated), or None when they may. The
    database evaluates :data:`RULES` for the account, so this decides as the ballot box does."""
    if user is None or not user.is_authenticated:
        return _("Log in to vote.")
    electorate = Electorate.of(voting_round)
    applying = _applying(electorate)
    if not applying:
        return None
    row = db.session.execute(
        select(*(case((condition, 1), else_=0) for _rule, condition in applying))
        .select_from(User)
        .outerjoin(Elector, elector_join(electorate))
        .where(User.id == user.id)
    ).first()
    if row is None:
        return _("Log in to vote.")
    for (rule, _condition), met in zip(applying, row, strict=True):
        if not met:
            return rule.message(electorate)
    return None


def eligible_residents_count(voting_round: VotingRound, area: Area) -> int:
    """The round's electors in ``area`` who may vote (turnout's denominator), with an account
    or without one: the rules on the account hold for those who have one."""
    electorate = Electorate.of(voting_round)
    conditions = [
        (User.id.is_(None) | condition) if rule.on_account else condition
        for rule, condition in _applying(electorate)
    ]
    return (
        db.session.scalar(
            select(func.count(Elector.id))
            .select_from(Elector)
            .outerjoin(User, User.id == Elector.user_id)
            .where(Elector.round_id == voting_round.id, Elector.area_id == area.id, *conditions)
        )
        or 0
    )


# Age bands -------------------------------------------------------------------------------------


def age_band_for(birth_year: int | None, year: int) -> str | None:
    """The CBS age band of someone born in ``birth_year``, in ``year`` (age reached that year)."""
    if birth_year is None:
        return None
    age = year - birth_year
    for name, low, high in AGE_BANDS:
        if age >= low and (high is None or age <= high):
            return name
    return None


def age_band_sql(birth_year: ColumnElement[int], year: int) -> ColumnElement[str]:
    """:func:`age_band_for` as an SQL expression, built from the same AGE_BANDS."""
    age = year - birth_year
    return case(
        *(
            (age >= low if high is None else age.between(low, high), literal(name))
            for name, low, high in AGE_BANDS
        ),
        else_=null(),
    )
