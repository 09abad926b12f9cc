"""Compute pabutools' outcomes on the pabulib files in tests/data/pabulib once, for the tests.

pabutools needs minutes for some of these (MES+Add1 on Warsaw 2026 takes > 240 s), far too long
for every test run, so its answers are stored in ``tests/domain/data/pabutools_reference.json``
together with the pabutools version and the date, and the tests compare against that file.
Small files are also compared live in the tests.

    .venv/bin/python bench/make_pabutools_reference.py [--only FILE_SUBSTRING] [--skip-slow]

Weighted runs use the weights ``1 + (voter index mod 3)`` (see ``reference_weights``), passed
to pabutools as ballot multiplicities (an ``ApprovalMultiProfile``), i.e. a voter of weight w
counts as w voters. Results are written after every job, so an interrupted run keeps its work.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import sys
import time
from collections import Counter
from pathlib import Path

from pabutools.election import (
    ApprovalMultiProfile,
    Cardinality_Sat,
    Cost_Sat,
    parse_pabulib,
)
from pabutools.rules import greedy_utilitarian_welfare, method_of_equal_shares

ROOT = Path(__file__).resolve().parents[1]
PABULIB_DIR = ROOT / "tests" / "data" / "pabulib"
OUTPUT = ROOT / "tests" / "domain" / "data" / "pabutools_reference.json"
SATS = {"cost": Cost_Sat, "cardinality": Cardinality_Sat}


def reference_weights(num_voters: int) -> list[int]:
    """Deterministic test weights 1, 2, 3, 1, 2, 3, ... (also used by the tests)."""
    return [1 + i % 3 for i in range(num_voters)]


def weighted_profile(profile):
    weights = reference_weights(len(profile))
    counts: Counter = Counter()
    for ballot, weight in zip(profile, weights, strict=True):
        counts[ballot.frozen()] += weight
    multi = ApprovalMultiProfile(instance=profile.instance)
    for ballot, weight in counts.items():
        multi[ballot] = weight
    return multi


def run_job(instance, profile, rule: str, utility: str):
    sat = SATS[utility]
    if rule == "greedy":
        result = greedy_utilitarian_welfare(instance, profile, sat_class=sat)
    elif rule == "mes":
        result = method_of_equal_shares(instance, profile, sat_class=sat)
    elif rule == "mes_add1":
        result = method_of_equal_shares(instance, profile, sat_class=sat, voter_budget_increment=1)
    else:
        raise ValueError(rule)
    return [p.name for p in result]


JOBS = [
    # (file, rule, utility, weighted)
    *[
        (name, rule, utility, weighted)
        for name in (
            "Netherlands_Amsterdam_179.pb",
            "Netherlands_Assen_2024.pb",
            "Poland_Warszawa_2019_Rembertow.pb",
            "Poland_Wieliczka_2023_Green_Budget.pb",
            "Netherlands_Amsterdam_252.pb",
            "Netherlands_Amsterdam_309.pb",
        )
        for rule in ("greedy", "mes", "mes_add1")
        for utility in ("cost", "cardinality")
        for weighted in (False, True)
    ],
    *[
        ("Poland_Warszawa_2026.pb", rule, "cost", weighted)
        for rule in ("greedy", "mes", "mes_add1")
        for weighted in (False, True)
    ],
]


def job_key(name: str, rule: str, utility: str, weighted: bool) -> str:
    return f"{name}|{rule}|{utility}|{'weighted' if weighted else 'unweighted'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="only files whose name contains this")
    parser.add_argument("--skip-slow", action="store_true", help="skip Warsaw 2026 MES+Add1")
    args = parser.parse_args(argv)
    data = json.loads(OUTPUT.read_text()) if OUTPUT.exists() else {"results": {}}
    data["pabutools_version"] = importlib.metadata.version("pabutools")
    parsed = {}
    for name, rule, utility, weighted in JOBS:
        if args.only and args.only not in name:
            continue
        if args.skip_slow and name == "Poland_Warszawa_2026.pb" and rule == "mes_add1":
            continue
        key = job_key(name, rule, utility, weighted)
        if key in data["results"]:
            continue
        if name not in parsed:
            parsed[name] = parse_pabulib(str(PABULIB_DIR / name))
        instance, profile = parsed[name]
        used = weighted_profile(profile) if weighted else profile
        started = time.perf_counter()
        selected = run_job(instance, used, rule, utility)
        seconds = time.perf_counter() - started
        data["results"][key] = {"selected": selected, "seconds": round(seconds, 2)}
        data["generated"] = datetime.date.today().isoformat()
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        OUTPUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print(f"{key}: {len(selected)} projects in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
