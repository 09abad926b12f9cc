"""Results a resident understands: each project's outcome in one plain sentence in the reader's
language, with the amounts and counts in its number format, and a short explainer of the rule.

The sentences are written from what the round stored (votes or weighted support, cost,
selected, the budget and the number of ballots); the rule's own trace stays in
``RoundProject.selection_reason`` for staff and in the CSV and .pb exports.
"""

from __future__ import annotations

from fractions import Fraction

from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _

from buurtbudget.models import RoundProject, VotingRound
from buurtbudget.web.formatting import format_cents

GREEDY = "greedy"
EQUAL_SHARES = "mes"


def rule_family(rule_name: str | None) -> str | None:
    name = rule_name or ""
    if name.startswith("greedy"):
        return GREEDY
    if name.startswith("mes"):
        return EQUAL_SHARES
    return None


def _support(voting_round: VotingRound, project: RoundProject, corrected: bool):
    """What the rule ranked by: the weighted support (stored as exact text) or the votes."""
    if (corrected or voting_round.weighting_config) and project.score is not None:
        return Fraction(project.score)
    return project.votes or 0


def _support_text(voting_round: VotingRound, amount) -> str:
    if isinstance(amount, Fraction) and amount.denominator != 1:
        return _("a weighted support of %(num)s", num=format_decimal(round(float(amount), 1)))
    amount = int(amount)
    if voting_round.ballot_type == "cumulative":
        return ngettext("%(count)s point", "%(count)s points", amount, count=format_decimal(amount))
    return ngettext("%(count)s vote", "%(count)s votes", amount, count=format_decimal(amount))


def explain(voting_round: VotingRound, ballots: int, corrected: bool = False) -> dict[int, str]:
    """One sentence per project (by RoundProject id)."""
    projects = list(voting_round.projects)
    family = GREEDY if corrected else rule_family(voting_round.rule_name)
    ranked = sorted(
        projects,
        key=lambda p: (
            -_support(voting_round, p, corrected),
            not p.selected,
            p.selection_order if p.selection_order is not None else 0,
        ),
    )
    place = {p.id: index for index, p in enumerate(ranked, start=1)}
    out = {}
    for project in projects:
        support = _support(voting_round, project, corrected)
        if corrected:
            sentence = _corrected_sentence(project)
        elif family == GREEDY:
            sentence = _greedy_sentence(voting_round, project, ranked, place, support, corrected)
        elif family == EQUAL_SHARES:
            sentence = _equal_shares_sentence(voting_round, project, ballots)
        elif project.selected:
            sentence = _("Chosen with %(support)s.", support=_support_text(voting_round, support))
        else:
            sentence = _(
                "Not chosen, with %(support)s.", support=_support_text(voting_round, support)
            )
        out[project.id] = sentence
    return out


def _greedy_sentence(voting_round, project, ranked, place, support, corrected) -> str:
    before = [
        p for p in ranked if p.selected and p.id != project.id and place[p.id] < place[project.id]
    ]
    left = voting_round.budget_cents - sum(p.cost_cents for p in before)
    values = {
        "support": _support_text(voting_round, support),
        "place": place[project.id],
        "cost": format_cents(project.cost_cents),
        "left": format_cents(left),
    }
    if project.selected:
        if place[project.id] == 1:
            return _(
                "Chosen. With %(support)s this project came first; its cost of %(cost)s "
                "fitted in the budget of %(left)s.",
                **values,
            )
        return _(
            "Chosen. With %(support)s this project came in place %(place)s; its cost of "
            "%(cost)s fitted in the %(left)s that was still left.",
            **values,
        )
    if project.cost_cents > left:
        return _(
            "Not chosen. With %(support)s this project came in place %(place)s. When it was "
            "its turn, %(left)s was left: less than its cost of %(cost)s.",
            **values,
        )
    return _(
        "Not chosen. With %(support)s this project came in place %(place)s; a rule of this "
        "round (a minimum of votes or a limit per category or neighbourhood) left it out.",
        **values,
    )


def _corrected_sentence(project: RoundProject) -> str:
    """The corrected ranking (services/voting/weighting) decided: its order is not the stored
    support, so no place is named; the page links to the ranking."""
    cost = format_cents(project.cost_cents)
    if project.selected:
        return _(
            "Chosen. In the corrected ranking its turn came while its cost of %(cost)s still "
            "fitted in the budget that was left.",
            cost=cost,
        )
    return _(
        "Not chosen. When it was its turn in the corrected ranking, less was left of the "
        "budget than its cost of %(cost)s.",
        cost=cost,
    )


def _equal_shares_sentence(voting_round: VotingRound, project: RoundProject, ballots) -> str:
    supporters = project.votes or 0
    values = {
        "count": format_decimal(supporters),
        "cost": format_cents(project.cost_cents),
    }
    if project.selected:
        return ngettext(
            "Chosen. The %(count)s voter who chose this project could pay its cost of "
            "%(cost)s from their equal share of the budget.",
            "Chosen. The %(count)s voters who chose this project could together pay its cost "
            "of %(cost)s from their equal shares of the budget.",
            supporters,
            **values,
        )
    if supporters == 0:
        return _("Not chosen: nobody voted for this project.")
    return ngettext(
        "Not chosen. The %(count)s voter who chose this project did not have enough of their "
        "equal share left to pay its cost of %(cost)s.",
        "Not chosen. The %(count)s voters who chose this project did not together have enough "
        "of their equal shares left to pay its cost of %(cost)s: many of them had already "
        "spent their share on projects chosen before it.",
        supporters,
        **values,
    )


def rule_explainer(voting_round: VotingRound, ballots: int, corrected: bool = False) -> str:
    """A few sentences on how the rule of this round chose."""
    family = GREEDY if corrected else rule_family(voting_round.rule_name)
    budget = format_cents(voting_round.budget_cents)
    if family == GREEDY:
        text = _(
            "Most votes first: the project with the most votes gets money first, then the "
            "next, as long as the budget of %(budget)s lasts. A project that no longer fits "
            "is skipped, and a cheaper project further down the list can still get money.",
            budget=budget,
        )
        if corrected:
            text += " " + _(
                "In this round the order is that of the corrected ranking, which weighs the "
                "votes so that every area counts as much as its inhabitants."
            )
        return text
    if family == EQUAL_SHARES:
        text = _(
            "Method of Equal Shares: the budget of %(budget)s is divided into equal shares, "
            "one for every voter. A project gets money when the people who voted for it can "
            "pay for it together from their shares. Whoever already has a chosen project has "
            "less left. So a project with fewer votes can win from a project with more votes "
            "when the voters of the bigger one have already spent their shares on other "
            "projects: in this way smaller groups in the area get something too.",
            budget=budget,
        )
        if ballots and not voting_round.weighting_config:
            text += " " + _(
                "With %(ballots)s ballots, each voter's share was %(share)s.",
                ballots=format_decimal(ballots),
                share=format_cents(voting_round.budget_cents // ballots),
            )
        if "add1" in (voting_round.rule_name or ""):
            text += " " + _(
                "Was money left after that, then the shares were raised step by step "
                "(the Add1 completion) as long as the budget allowed."
            )
        return text
    return _("The projects were chosen by the counting rule of this round.")
