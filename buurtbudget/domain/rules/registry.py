"""Rules by name. A voting round stores the name of its rule, so results can be recomputed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from buurtbudget.domain.rules._common import CARDINALITY, COST
from buurtbudget.domain.rules.equal_shares import ADD1, equal_shares
from buurtbudget.domain.rules.greedy import greedy
from buurtbudget.domain.rules.model import Election, Outcome

Weights = Sequence[object] | np.ndarray | None
Rule = Callable[..., Outcome]


def _greedy(utility: str, name: str, no_skip: bool = False) -> Rule:
    def rule(election: Election, weights: Weights = None, **options: Any) -> Outcome:
        options.setdefault("utility", utility)
        if no_skip:
            options["no_skip"] = True
        return greedy(election, weights, rule_name=name, **options)

    rule.__name__ = name
    rule.__doc__ = f"Greedy by votes ({utility} utilities); see rules.greedy."
    return rule


def _mes(utility: str, completion: str | None, name: str) -> Rule:
    def rule(election: Election, weights: Weights = None, **options: Any) -> Outcome:
        options.setdefault("utility", utility)
        return equal_shares(election, weights, completion=completion, rule_name=name, **options)

    rule.__name__ = name
    rule.__doc__ = (
        f"Method of Equal Shares ({utility} utilities"
        f"{', Add1 completion' if completion else ''}); see rules.equal_shares."
    )
    return rule


RULES: dict[str, Rule] = {
    "greedy": _greedy(COST, "greedy"),
    "greedy_cardinality": _greedy(CARDINALITY, "greedy_cardinality"),
    "greedy_no_skip": _greedy(COST, "greedy_no_skip", no_skip=True),
    "mes": _mes(COST, None, "mes"),
    "mes_cardinality": _mes(CARDINALITY, None, "mes_cardinality"),
    "mes_add1": _mes(COST, ADD1, "mes_add1"),
    "mes_add1_cardinality": _mes(CARDINALITY, ADD1, "mes_add1_cardinality"),
}


# The ``rule`` values of pabulib META -> our rule names. ``greedy-threshold`` is greedy with
# META's min_project_score_threshold (rules.greedy reads it); so is greedy-no-skip.
META_RULES = {
    "greedy": "greedy",
    "greedy-threshold": "greedy",
    "greedy-no-skip": "greedy_no_skip",
    "equalshares": "mes",
    "equalshares/add1": "mes_add1",
    "mes": "mes",
    "mes_add1": "mes_add1",
}


def rule_for_meta(meta_rule: str | None) -> str | None:
    """Our rule for a file's META ``rule`` (pabulib's names, or ours as exported rounds carry
    them), or None when the engine does not know it."""
    name = (meta_rule or "").strip().lower()
    return META_RULES.get(name) or (name if name in RULES else None)


def compute(rule_name: str, election: Election, weights: Weights = None, **options: Any) -> Outcome:
    """Run the rule registered as ``rule_name``; ``options`` go to the rule function."""
    try:
        rule = RULES[rule_name]
    except KeyError:
        raise ValueError(
            f"unknown rule {rule_name!r}; known rules: {', '.join(sorted(RULES))}"
        ) from None
    return rule(election, weights, **options)
