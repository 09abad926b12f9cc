"""Weighting on real data: Warszawa 2026 (61,668 voters with age, sex and district).

Rakes the voters to Warsaw's population margins by age band, sex and district, then runs greedy
(the file's own rule: greedy with the 3,000-vote threshold) and the Method of Equal Shares with
the Add1 completion, unweighted and weighted, and prints how the winners change.

    .venv/bin/python bench/weighting_warszawa.py [--cap 5] [--no-mes] [--file PATH]

The population margins are NOT in the file. They are approximations of published figures
(Statistics Poland / GUS, about 2023; rounded), good enough to show the method, not official:
    Warsaw about 1.86 million inhabitants;
    age: 0-17 17 %, 18-24 7 %, 25-34 16 %, 35-44 17 %, 45-54 13 %, 55-64 11 %, 65+ 19 %;
    sex: 53 % female, 47 % male;
    districts: inhabitants in thousands as in DISTRICTS_THOUSANDS below (sum about 1.80 million,
    registered residents; only the shares matter).
Missing values: 32 voters have no age and 1,792 have district "-"; they keep their own share on
that margin (see buurtbudget.domain.weighting.weights, "Unknown values") and are weighted on the
other margins.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from buurtbudget.domain.pabulib import read_pabulib  # noqa: E402
from buurtbudget.domain.rules.equal_shares import equal_shares  # noqa: E402
from buurtbudget.domain.rules.greedy import greedy  # noqa: E402
from buurtbudget.domain.rules.model import Election, Outcome  # noqa: E402
from buurtbudget.domain.weighting import (  # noqa: E402
    WeightingResult,
    age_band,
    rake,
    turnout,
)

WARSZAWA_2026 = ROOT / "tests" / "data" / "pabulib" / "Poland_Warszawa_2026.pb"

AGE_PERCENT = {
    "0-17": 17,
    "18-24": 7,
    "25-34": 16,
    "35-44": 17,
    "45-54": 13,
    "55-64": 11,
    "65+": 19,
}
SEX_PERCENT = {"F": 53, "M": 47}
DISTRICTS_THOUSANDS = {
    "Mokotów": 217,
    "Praga-Południe": 178,
    "Ursynów": 145,
    "Wola": 150,
    "Białołęka": 150,
    "Bielany": 128,
    "Targówek": 123,
    "Bemowo": 125,
    "Śródmieście": 100,
    "Wawer": 82,
    "Ochota": 80,
    "Ursus": 64,
    "Praga-Północ": 58,
    "Żoliborz": 52,
    "Włochy": 48,
    "Wilanów": 45,
    "Wesoła": 26,
    "Rembertów": 24,
}
UNKNOWN_DISTRICT = "-"


def voter_attributes(election: Election) -> dict[str, list[str | None]]:
    columns = election.ballots.voter_columns
    return {
        "age_band": [age_band(a) for a in columns["age"]],
        "sex": [s if s in SEX_PERCENT else None for s in columns["sex"]],
        "district": [None if d == UNKNOWN_DISTRICT else d for d in columns["neighborhood"]],
    }


def margins() -> dict[str, dict[str, int]]:
    return {"age_band": AGE_PERCENT, "sex": SEX_PERCENT, "district": DISTRICTS_THOUSANDS}


def warsaw_weights(election: Election, cap: float | None = 5.0) -> WeightingResult:
    return rake(voter_attributes(election), margins(), cap=cap)


def _cost(election: Election, ids) -> int:
    costs = {p.id: p.cost for p in election.projects}
    return sum(costs[i] for i in ids)


def compare(election: Election, before: Outcome, after: Outcome) -> dict[str, object]:
    old, new = set(before.selected), set(after.selected)
    return {
        "rule": before.rule,
        "winners_before": len(old),
        "winners_after": len(new),
        "dropped": sorted(old - new),
        "added": sorted(new - old),
        "changed": len(old ^ new),
        "money_to_new_winners": _cost(election, new - old),
        "money_from_dropped": _cost(election, old - new),
        "spent_before": before.total_cost,
        "spent_after": after.total_cost,
    }


def run(
    cap: float | None = 5.0, with_mes: bool = True, out=print, path: Path = WARSZAWA_2026
) -> list[dict[str, object]]:
    election = read_pabulib(path)
    attributes = voter_attributes(election)
    started = time.perf_counter()
    result = rake(attributes, margins(), cap=cap)
    out(f"raking: {time.perf_counter() - started:.2f} s")
    d = result.diagnostics
    out(
        f"voters {d.n:,}; n_eff {d.effective_sample_size:,.0f}; design effect "
        f"{d.design_effect:.2f}; weights {d.min_weight:.2f}..{d.max_weight:.2f} (cap {cap}); "
        f"{d.trimmed} capped; {d.iterations} sweeps; converged {d.converged}; max margin error "
        f"{d.max_margin_error:.1e}"
    )
    voters_per_band: dict[str, int] = {}
    for band in attributes["age_band"]:
        if band is not None:
            voters_per_band[band] = voters_per_band.get(band, 0) + 1
    # Turnout against 1.86 M inhabitants split by the approximate age shares.
    population = {band: round(1_860_000 * pct / 100) for band, pct in AGE_PERCENT.items()}
    report = turnout(voters_per_band, population)
    out(
        "turnout by age band: "
        + ", ".join(f"{c.cell} {float(c.turnout):.1%}" for c in report.cells)
    )
    out(f"representativeness by age (1 - D): {float(report.representativeness):.3f}")
    weights = result.exact_weights()
    rules = [("greedy (file rule, threshold 3,000)", lambda w: greedy(election, w))]
    if with_mes:
        rules.append(
            ("MES + Add1 (cost utility)", lambda w: equal_shares(election, w, completion="add1"))
        )
    rows = []
    for name, rule in rules:
        started = time.perf_counter()
        before, after = rule(None), rule(weights)
        row = compare(election, before, after)
        row["name"] = name
        row["seconds"] = time.perf_counter() - started
        rows.append(row)
    out("")
    out(
        f"{'rule':38} {'winners':>9} {'changed':>8} {'to new (PLN)':>13} "
        f"{'from dropped':>13} {'budget':>11} {'s':>5}"
    )
    for row in rows:
        out(
            f"{row['name']:38} {row['winners_before']:>4}->{row['winners_after']:<4} "
            f"{row['changed']:>8} {row['money_to_new_winners']:>13,} "
            f"{row['money_from_dropped']:>13,} {election.budget:>11,} {row['seconds']:>5.1f}"
        )
        out(f"  dropped: {', '.join(row['dropped']) or '-'}")
        out(f"  added:   {', '.join(row['added']) or '-'}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap", type=float, default=5.0, help="weight cap (multiple of mean)")
    parser.add_argument("--no-mes", action="store_true", help="skip Equal Shares (slower)")
    parser.add_argument(
        "--file", type=Path, default=WARSZAWA_2026, help="another Warszawa 2026 copy (.pb)"
    )
    args = parser.parse_args()
    run(cap=args.cap, with_mes=not args.no_mes, path=args.file)


if __name__ == "__main__":
    main()
