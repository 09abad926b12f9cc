"""Benchmark: ``pb import`` of one file on one database, with the write and the count apart.

    .venv/bin/python bench/import_pb.py tests/data/pabulib/Poland_Warszawa_2026.pb \\
        postgresql+psycopg://postgres@127.0.0.1/bb_x [--runs 3]

Each run empties the schema (use a database of your own) and imports the file with MES+Add1;
prints wall, this process's CPU and the database backends' CPU (see bench/tally.py) for the
whole import and for its ballot writing alone.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tally import ServerClock, warm_numba  # noqa: E402
from buurtbudget.app import create_app  # noqa: E402
from buurtbudget.extensions import db  # noqa: E402
from buurtbudget.models import Municipality  # noqa: E402
from buurtbudget.services.voting import pabulib  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("url")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    content = Path(args.file).read_bytes()
    app = create_app("testing", DATABASE_URL=args.url)
    server = ServerClock(args.url)
    warm_numba()
    write = pabulib.write_ballots
    timings = {}

    def timed_write(*a, **k):
        s, c, d = time.perf_counter(), time.process_time(), server.seconds()
        result = write(*a, **k)
        d2 = server.seconds()
        timings["write"] = (
            time.perf_counter() - s,
            time.process_time() - c,
            None if d is None else d2 - d,
        )
        return result

    pabulib.write_ballots = timed_write
    for run in range(args.runs):
        with app.app_context():
            db.drop_all()
            db.create_all()
            municipality = Municipality(name="Warszawa", slug="warszawa")
            db.session.add(municipality)
            db.session.commit()
            s, c, d = time.perf_counter(), time.process_time(), server.seconds()
            pabulib.import_round(None, municipality, content, rule_name="mes_add1")
            d2 = server.seconds()
            total = (
                time.perf_counter() - s,
                time.process_time() - c,
                None if d is None else d2 - d,
            )
            for name, (wall, cpu, dbcpu) in (("import", total), ("  write", timings["write"])):
                on_db = f"{dbcpu:6.2f} s db" if dbcpu is not None else ""
                print(
                    f"run {run} {name:<8} {wall:6.2f} s wall {cpu:6.2f} s cpu {on_db}", flush=True
                )
            db.session.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
