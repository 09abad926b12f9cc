"""Benchmark: a register extract of N lines loaded through the round's staff page (issue 14
item 2), on SQLite and PostgreSQL.

    .venv/bin/python bench/register_upload.py [--lines 100000] [--no-sqlite] \\
        [--postgresql postgresql+psycopg://postgres@127.0.0.1:5432/bb_register]

For each database, on an emptied schema (every table dropped: use a database of your own):
a municipality with two areas and 60,000 addresses, a round of both areas before voting opens,
its administrator logged in through the login form. A generated extract of N lines (every
person at an address of the file, one in five in the other area, some too young) is then
posted as a multipart upload to /staff/rounds/ID/register (the check: reading, hashing, the
address look-up, writing the checked rows to the instance folder) and confirmed at
/staff/rounds/ID/register/confirm (replacing the electorate), each timed as one request, the
way a browser sends them (CSRF off, as in the tests). It prints the file's size, both times
(wall clock, and the CPU time of this process: the web worker's share on a busy machine) and
the peak memory of the process.
"""

from __future__ import annotations

import argparse
import io
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402
from werkzeug.datastructures import FileStorage  # noqa: E402
from werkzeug.test import encode_multipart  # noqa: E402

from buurtbudget.app import create_app  # noqa: E402
from buurtbudget.extensions import db  # noqa: E402
from buurtbudget.models import Address, Elector  # noqa: E402
from buurtbudget.models._base import utcnow  # noqa: E402
from buurtbudget.services.voting import rounds  # noqa: E402

POSTCODES_PER_AREA = 300
NUMBERS = 100  # house numbers 1..100 per postcode: 30,000 addresses per area
LETTERS = "ABCDEFGHJKLMNPRSTVWXZ"


def postcodes(first: int) -> list[str]:
    """``POSTCODES_PER_AREA`` postcodes from ``first`` (four digits) on."""
    found = []
    for digits in range(first, first + 10):
        for a in LETTERS:
            for b in LETTERS:
                found.append(f"{digits}{a}{b}")
    return found[:POSTCODES_PER_AREA]


def extract(lines: int, inside: list[str], outside: list[str], seed: int = 14) -> bytes:
    """A register extract of ``lines`` people: four in five at addresses of the round's
    first area, the rest of the other; one in ten too young."""
    rng = random.Random(seed)
    out = io.StringIO()
    out.write("persoonssleutel;geboortedatum;postcode;huisnummer;huisletter;toevoeging;straat;")
    out.write("woonplaats\n")
    year = date.today().year
    for n in range(lines):
        postcode = rng.choice(inside if n % 5 else outside)
        number = rng.randint(1, NUMBERS)
        born = year - 10 if n % 10 == 1 else rng.randint(year - 95, year - 17)
        out.write(
            f"BSN{n:09d};{born}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d};{postcode};"
            f"{number};;;Aart van der Leeuwlaan;Delft\n"
        )
    return out.getvalue().encode()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(url: str, lines: int) -> None:
    from tests.factories import TEST_PASSWORD, Factories

    app = create_app("testing", DATABASE_URL=url)
    with app.app_context():
        db.drop_all()
        db.create_all()
        make = Factories()
        municipality = make.municipality("Delft")
        first, second = make.area(municipality, "Tanthof"), make.area(municipality, "Buitenhof")
        inside, outside = postcodes(2625), postcodes(2624)
        for area, codes in ((first, inside), (second, outside)):
            db.session.execute(
                insert(Address),
                [
                    {
                        "postcode": code,
                        "house_number": number,
                        "house_letter": "",
                        "house_suffix": "",
                        "municipality_id": municipality.id,
                        "area_id": area.id,
                    }
                    for code in codes
                    for number in range(1, NUMBERS + 1)
                ],
            )
        db.session.commit()
        admin = make.administrator(municipality)
        now = utcnow()
        voting_round = rounds.create_round(
            None,
            municipality,
            rounds.RoundSetup(
                title="Bench",
                areas=[first],
                proposals_until=now + timedelta(days=8),
                review_until=now + timedelta(days=9),
                voting_opens_at=now + timedelta(days=10),
                voting_closes_at=now + timedelta(days=20),
                budget_cents=1_000_000,
            ),
        )
        content = extract(lines, inside, outside)
        client = app.test_client()
        login = client.post(
            "/account/login", data={"email": admin.email, "password": TEST_PASSWORD}
        )
        assert login.status_code == 302
        boundary, body = encode_multipart(
            {
                "file": FileStorage(io.BytesIO(content), "brp.csv"),
                "reference_date": date.today().isoformat(),
            }
        )
        start, cpu = time.perf_counter(), time.process_time()
        checked = client.post(
            f"/staff/rounds/{voting_round.id}/register",
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        check_s, check_cpu = time.perf_counter() - start, time.process_time() - cpu
        page = checked.get_data(as_text=True)
        assert checked.status_code == 200, page[:2000]
        token = page.split('name="preview" type="hidden" value="')[1].split('"')[0]
        start, cpu = time.perf_counter(), time.process_time()
        done = client.post(
            f"/staff/rounds/{voting_round.id}/register/confirm", data={"preview": token}
        )
        confirm_s, confirm_cpu = time.perf_counter() - start, time.process_time() - cpu
        assert done.status_code == 302, done.get_data(as_text=True)[:2000]
        electors = db.session.scalar(
            select(func.count()).select_from(Elector).where(Elector.round_id == voting_round.id)
        )
        engine = url.split(":", 1)[0]
        print(
            f"{engine:<18} {lines:,} lines, {len(content) / 1e6:.1f} MB:"
            f" check {check_s:.2f} s (CPU {check_cpu:.2f} s),"
            f" confirm {confirm_s:.2f} s (CPU {confirm_cpu:.2f} s),"
            f" {electors:,} electors, peak {peak_mb():.0f} MB",
            flush=True,
        )
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--postgresql", help="e.g. postgresql+psycopg://postgres@127.0.0.1/bb_x")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/bench.db", args.lines)
    if args.postgresql:
        run(args.postgresql, args.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
