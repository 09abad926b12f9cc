"""A realistic demo: three municipalities (one per budget model), their areas, population
figures, postcodes, staff and residents. Every function here is idempotent (keyed on codes and
e-mail addresses), so ``flask seed-demo`` can run any number of times.

Feature modules add their own demo data by appending a step to :data:`STEPS`.
"""

from __future__ import annotations

from collections.abc import Callable

from buurtbudget.demo import budgets, initiatives, people, places, voting, weighting

Progress = Callable[[str], None]

# (label, function) run in order by seed_demo; later features append their steps.
STEPS: list[tuple[str, Callable[[Progress], None]]] = [
    ("areas and population figures", places.seed_places),
    ("staff and residents", people.seed_people),
    ("area budgets (Delft, Zaanstad and Ede models)", budgets.seed_budgets),
    ("themes, area agendas, initiatives and working groups", initiatives.seed_initiatives),
    ("voting rounds (Delft: one closed with results, one open)", voting.seed_voting),
    (
        "weighting (Delft: a closed round of three areas, corrected for turnout)",
        weighting.seed_weighting,
    ),
]


def seed_demo(progress: Progress = print) -> None:
    for number, (label, step) in enumerate(STEPS, start=1):
        progress(f"[{number}/{len(STEPS)}] {label}")
        step(progress)
    progress("demo ready")
