"""Voting: rounds, who may vote, voting codes, casting, the one-statement ballot box, reading a
round's ballots, weighting, counting and pabulib files.

Each module imports only the modules below it in this list (tests/test_architecture.py checks
it, and that no import cycle exists anywhere in services/):

1. ``rounds``       setting up rounds, who manages them, labels, write retries, round locks
2. ``eligibility``  who may vote: the one definition every path uses
3. ``codes``        voting codes
4. ``casting``      the complete use cases of casting, changing and entering a paper ballot
5. ``ballot_box``   the hot path: a resident's first ballot in one statement
6. ``shaking``      the ballot box emptied and mixed (random order, new ids) before the count
7. ``election``     a round's ballots read once into the rules engine's arrays (the Election)
8. ``weighting``    voter weights, the corrected ranking, turnout against population
9. ``counting``     the only orchestrator: reads the ballots once, weighs once, counts,
                    stores, closes (after a shake) and publishes
10. ``comparison``  the rules side by side on a round's own ballots (read through ``counting``)
11. ``pabulib``     rounds as pabulib ``.pb`` files (import counts through ``counting``)

This package module itself imports nothing: import the module you need, e.g.
``from buurtbudget.services.voting import casting``.
"""
