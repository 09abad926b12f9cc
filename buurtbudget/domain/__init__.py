"""The pure domain core: money, budget models, ballots, voting rules, weighting, pabulib IO.

Nothing in this package may import Flask or SQLAlchemy (a test enforces it), so every result
can be reproduced and audited outside the web application.
"""
