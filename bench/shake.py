"""Benchmark: shaking the ballot box of a city-wide round (services/voting/shaking.py).

    .venv/bin/python bench/shake.py --file tests/data/pabulib/Poland_Warszawa_2026.pb \\
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/bb_shake] [--runs 3]

On an emptied schema (every table dropped: use a database of your own; default a SQLite file
in the temporary folder), Warszawa 2026 (61,668 ballots, 83 projects) is imported and its
ballots are then made to look cast on the platform (channel online, no pabulib voter id, a
date and a receipt hash each), so that the shake takes them all. Times the mixing (in one
transaction: new order and ids, delete, insert), the VACUUM after it, and a shake with
``close_round``'s count for comparison; checks the votes per project stay the same.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from buurtbudget.app import create_app  # noqa: E402
from buurtbudget.extensions import db  # noqa: E402
from buurtbudget.models import Municipality  # noqa: E402
from buurtbudget.services.voting import counting, election, pabulib, shaking  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", required=True)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a SQLite file)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = args.database or f"sqlite:///{tempfile.gettempdir()}/bb_shake.db"
    app = create_app("testing", DATABASE_URL=url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        municipality = Municipality(name="Warszawa", slug="warszawa")
        db.session.add(municipality)
        db.session.commit()
        content = Path(args.file).read_bytes()
        voting_round = pabulib.import_round(None, municipality, content)
        db.session.execute(
            text(
                "UPDATE ballot SET channel = 'online', external_id = NULL,"
                " cast_on = '2026-05-01', receipt_hash = id || id WHERE round_id = :r"
            ),
            {"r": voting_round.id},
        )
        db.session.commit()
        count = counting.ballot_count(voting_round)
        choices = len(election.read_ballots(voting_round).ballots.projects)
        votes = counting.support(counting.tally(voting_round))[0]
        print(f"{url.split('://')[0]}: {count:,} ballots, {choices:,} choices")
        mix, vacuum = [], []
        for _run in range(args.runs):
            start = time.perf_counter()
            db.session.refresh(voting_round, with_for_update=True)
            shaking.mix_ballots(None, voting_round)
            db.session.commit()
            middle = time.perf_counter()
            shaking.reclaim()
            end = time.perf_counter()
            mix.append(middle - start)
            vacuum.append(end - middle)
        assert counting.support(counting.tally(voting_round))[0] == votes
        assert counting.ballot_count(voting_round) == count
        print(f"mix (one transaction): median {statistics.median(mix):.2f} s, runs {_s(mix)}")
        print(f"vacuum after it:       median {statistics.median(vacuum):.2f} s, runs {_s(vacuum)}")
        start = time.perf_counter()
        counting.tally(voting_round)
        took = time.perf_counter() - start
        print(f"for comparison, reading the ballots for a count: {took:.2f} s")


def _s(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
