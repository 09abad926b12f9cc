"""Warm the compiled Equal Shares rounds once, at install or start-up, never in a request.

numba compiles ``_mes_kernel`` on its first use after an install (seconds) and caches the machine
code under ``rules/__pycache__``; every new process then loads it (a fraction of a second).
:func:`warm_up` does both for every kind of ballot the app counts (approval and points ballots,
with and without voter weights), on tiny elections, so a later MES run on a real round finds every
specialisation ready. ``flask rules warm-up`` calls it after an install; the production app calls
it in a background thread at start-up (``RULES_WARM_UP_AT_START``), and code that runs inside a
request asks :func:`is_ready` before choosing the compiled rounds (until then the numpy rounds
give the same outcome, slower).
"""

from __future__ import annotations

import threading
import time

from buurtbudget.domain.rules.equal_shares import ADD1, equal_shares
from buurtbudget.domain.rules.model import Election, Project

_ready = threading.Event()
_lock = threading.Lock()


def _elections() -> list[tuple[Election, list[int] | None]]:
    projects = [Project("a", 30), Project("b", 18), Project("c", 25), Project("d", 7)]
    approval = Election.build(
        60, projects, [["a", "b"], ["b", "d"], ["c", "a"], ["a"], ["d", "c"], ["b"]]
    )
    points = Election.build(
        60,
        projects,
        [{"a": 2, "b": 1}, {"b": 3}, {"c": 1, "a": 2}, {"d": 1}, {"c": 2}],
        vote_type="cumulative",
    )
    return [
        (approval, None),
        (approval, [1, 2, 3, 1, 2, 3]),
        (points, None),
        (points, [2, 1, 1, 3, 1]),
    ]


def warm_up() -> float:
    """Load (or compile) the kernel for every kind of ballot; returns the seconds it took."""
    started = time.perf_counter()
    with _lock:
        for election, weights in _elections():
            for utility in ("cost", "cardinality"):
                equal_shares(election, weights, utility=utility, completion=ADD1)
        _ready.set()
    return time.perf_counter() - started


def is_ready() -> bool:
    """True once :func:`warm_up` has run in this process."""
    return _ready.is_set()


def warm_up_in_background() -> threading.Thread:
    thread = threading.Thread(target=warm_up, name="rules-warm-up", daemon=True)
    thread.start()
    return thread


def kernel_signatures() -> dict[str, tuple]:
    """The compiled specialisations of every kernel function (for the tests)."""
    from numba.core.registry import CPUDispatcher

    from buurtbudget.domain.rules import _mes_kernel

    return {
        name: tuple(function.signatures)
        for name, function in vars(_mes_kernel).items()
        if isinstance(function, CPUDispatcher)
    }
