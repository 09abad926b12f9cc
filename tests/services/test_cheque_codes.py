"""Cheque codes are stored only as their hash (issue 14, item 6): no stored data holds a code
in clear, redeeming looks the code up by its hash, and a lost letter is reprinted with a new
code that voids the old one."""

from __future__ import annotations

import csv
import io
import re
import zlib
from datetime import date, timedelta

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text

from buurtbudget.app import create_app
from buurtbudget.domain.budget import format_cheque_code, new_cheque_code
from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, Cheque, LedgerEntry
from buurtbudget.services import cheque_letters, cheques, ledger
from buurtbudget.services.errors import Conflict, PermissionDenied, ValidationFailed

THIS_YEAR = date.today().year
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture
def issued_area(app, make):
    area = make.area(households=300, year=THIS_YEAR)
    period = make.budget_period(area, "household_cheques")
    households = [cheques.Household("6711AA", number) for number in range(1, 4)]
    issued = cheques.issue_cheques(None, period, households)
    return {"area": area, "period": period, "issued": issued}


def _stored_cells() -> list[str]:
    """Every cell of every row of every table, as text (the whole database)."""
    cells = []
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                cells.extend(str(value).upper() for value in row if value is not None)
    return cells


def _assert_nowhere_in_clear(codes: list[str]) -> None:
    cells = _stored_cells()
    for code in codes:
        for form in (code, format_cheque_code(code)):
            assert not [cell for cell in cells if form in cell], form


def test_no_column_of_the_cheque_table_holds_a_code(issued_area):
    codes = [i.code for i in issued_area["issued"]]
    assert len(set(codes)) == 3
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM cheque")).all()
    assert len(rows) == 3
    for row in rows:
        for value in row:
            assert not any(code in str(value).upper() for code in codes)
            assert not any(format_cheque_code(code) in str(value).upper() for code in codes)
    stored = {row.code_hash for row in db.session.execute(select(Cheque.code_hash))}
    assert stored == {cheques.cheque_hash(code) for code in codes}
    _assert_nowhere_in_clear(codes)  # nor in the ledger, the audit log or any other table


def test_redeeming_finds_the_cheque_by_the_hash_of_the_typed_code(issued_area, make):
    area, (first, second, _) = issued_area["area"], issued_area["issued"]
    initiative = make.budget_initiative(area, cost_cents=10_000)
    resident = make.resident(area)
    # As typed from paper: lower case, spaces, O for 0 and I/L for 1 all normalise.
    typed = first.printed_code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    cheque = cheques.redeem(resident, typed, initiative)
    assert cheque.id == first.cheque.id and cheque.redeemed_at is not None
    assert ledger.initiative_totals(initiative).pooled == cheque.value_cents
    with pytest.raises(Conflict, match="already been used"):
        cheques.redeem(resident, first.code, initiative)
    with pytest.raises(ValidationFailed, match="not valid"):
        cheques.redeem(resident, cheques.cheque_hash(second.code), initiative)  # not the hash
    with pytest.raises(ValidationFailed, match="not valid"):
        cheques.redeem(resident, new_cheque_code(), initiative)  # well-formed, never issued


def test_a_reprint_gives_a_new_code_and_voids_the_old_one(issued_area, make):
    area, old = issued_area["area"], issued_area["issued"][0]
    admin = make.administrator(area.municipality)
    reprinted = cheques.reprint_cheque(admin, old.cheque.id)
    assert reprinted.cheque.id == old.cheque.id and reprinted.code != old.code
    assert reprinted.cheque.value_cents == old.cheque.value_cents
    assert reprinted.cheque.expires_on == old.cheque.expires_on
    _assert_nowhere_in_clear([old.code, reprinted.code])
    initiative = make.budget_initiative(area, cost_cents=10_000)
    resident = make.resident(area)
    with pytest.raises(ValidationFailed, match="not valid"):
        cheques.redeem(resident, old.code, initiative)
    assert ledger.initiative_totals(initiative).pooled == 0
    assert cheques.redeem(resident, reprinted.code, initiative).id == old.cheque.id
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "cheque.reprinted"))
    assert (entry.actor_id, entry.object_type, entry.object_id) == (
        admin.id,
        "Cheque",
        old.cheque.id,
    )
    # The money did not move: still one cheque's value outstanding less the pooled one.
    with pytest.raises(Conflict, match="already been pooled"):
        cheques.reprint_cheque(admin, old.cheque.id)


def test_an_expired_cheque_is_not_reprinted_and_keeps_its_code(issued_area, make):
    period, issued = issued_area["period"], issued_area["issued"]
    admin = make.administrator(issued_area["area"].municipality)
    past_date = issued[0].cheque
    past_date.expires_on = date.today() - timedelta(days=1)
    db.session.commit()
    with pytest.raises(Conflict, match="expired"):
        cheques.reprint_cheque(admin, past_date.id)
    later = issued[1].cheque.expires_on + timedelta(days=1)
    cheques.expire_cheques(None, period, today=later)
    with pytest.raises(Conflict, match="expired"):
        cheques.reprint_cheque(admin, issued[1].cheque.id)
    hashes = dict(db.session.execute(select(Cheque.id, Cheque.code_hash)).all())
    assert hashes == {i.cheque.id: cheques.cheque_hash(i.code) for i in issued}
    assert (
        db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "cheque.reprinted"))
        is None
    )


def test_only_administrators_of_the_municipality_reprint(issued_area, make):
    issued = issued_area["issued"][0]
    for outsider in (
        make.coordinator(issued_area["area"]),
        make.resident(issued_area["area"]),
        make.administrator(make.municipality()),
    ):
        with pytest.raises(PermissionDenied):
            cheques.reprint_cheque(outsider, issued.cheque.id)
    db.session.expire_all()
    assert db.session.get(Cheque, issued.cheque.id).code_hash == cheques.cheque_hash(issued.code)


def test_letters_that_cannot_be_made_issue_nothing(app, make):
    area = make.area(households=300, year=THIS_YEAR)
    period = make.budget_period(area, "household_cheques")

    def broken_printer(issued):
        assert len(issued) == 2 and all(len(i.code) == 17 for i in issued)
        raise OSError("disk full")

    households = [cheques.Household("6711AA", n) for n in (1, 2)]
    entries = db.session.scalar(select(func.count(LedgerEntry.id)))
    with pytest.raises(OSError):
        cheques.issue_cheques(None, period, households, write_letters=broken_printer)
    db.session.rollback()
    assert db.session.scalar(select(func.count(Cheque.id))) == 0
    assert db.session.scalar(select(func.count(LedgerEntry.id))) == entries
    written = []
    issued = cheques.issue_cheques(None, period, households, write_letters=written.extend)
    assert written == issued and len(issued) == 2


def test_a_household_issued_while_its_letters_were_made_is_refused(app, make):
    """Another administrator issues the same address while this one's letters are made
    (outside the account lock): this issue is refused, the household keeps one cheque."""
    area = make.area(households=300, year=THIS_YEAR)
    period = make.budget_period(area, "household_cheques")
    households = [cheques.Household("6711AA", n) for n in (1, 2)]

    def meanwhile(issued):
        cheques.issue_cheques(None, period, households[:1])

    with pytest.raises(Conflict, match="at the same time"):
        cheques.issue_cheques(None, period, households, write_letters=meanwhile)
    assert db.session.scalar(select(func.count(Cheque.id))) == 1


def test_the_letters_carry_each_code_and_its_link(issued_area):
    issued, period = issued_area["issued"], issued_area["period"]
    page = "https://buurtbudget.example/budgets/cheques/redeem"
    pdf = cheque_letters.letters_pdf(issued, period, page)
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 3
    text = b"".join(
        zlib.decompress(stream)
        for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
        if stream[:1] == b"x"  # zlib-compressed content streams
    )
    for item in issued:
        assert item.printed_code.encode() in text
    out = io.StringIO()
    assert cheque_letters.write_mail_merge(issued, out, period, page) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue()), delimiter=";"))
    assert [r["chequecode"] for r in rows] == [i.printed_code for i in issued]
    assert [r["url"] for r in rows] == [f"{page}?code={i.code}" for i in issued]
    assert {r["waarde"] for r in rows} == {"€ 7,50"}


# The migration -------------------------------------------------------------------------------

BEFORE = "9b2e4f61c0d7"  # the last revision with cheque.code in clear


def test_the_migration_hashes_existing_codes_and_drops_the_clear_column(app, empty_database_url):
    migrated = create_app("testing", DATABASE_URL=empty_database_url)
    codes = [new_cheque_code() for _ in range(2)]
    with migrated.app_context():
        upgrade(revision=BEFORE)
        engine = create_engine(empty_database_url)
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO municipality (id, name, slug) VALUES (1, 'Ede', 'ede')")
            )
            connection.execute(
                text(
                    "INSERT INTO budget_period (id, municipality_id, year, half, model_kind,"
                    " basis_count, rate_millicents, amount_cents, opened_at) VALUES"
                    " (1, 1, 2026, 1, 'household_cheques', 0, 0, 0, '2026-01-01 00:00:00+00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO budget_account (id, period_id, kind, lock_version)"
                    " VALUES (1, 1, 'area', 0)"
                )
            )
            for number, code in enumerate(codes, start=1):
                connection.execute(
                    text(
                        "INSERT INTO cheque (account_id, code, postcode, house_number,"
                        " house_addition, value_cents, issued_at, expires_on) VALUES (1, :code,"
                        " '6711AA', :number, '', 750, '2026-01-01 00:00:00+00', '2099-01-01')"
                    ),
                    {"code": code, "number": number},
                )
        upgrade()
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM cheque ORDER BY house_number")).all()
        engine.dispose()
        assert "code" not in rows[0]._mapping
        assert [row.code_hash for row in rows] == [cheques.cheque_hash(c) for c in codes]
        for row in rows:
            assert not any(code in str(value) for value in row for code in codes)
        db.engine.dispose()


# The command line (large batches: the printing house's CSV and PDF letters) ------------------


def test_cli_issues_cheques_with_letters_and_reprints_a_lost_one(app, make, tmp_path):
    area = make.area(households=300, year=THIS_YEAR)
    period = make.budget_period(area, "household_cheques")
    addresses = tmp_path / "adressen.csv"
    addresses.write_text("postcode;huisnummer;toevoeging\n6711AA;1;\n6711 AA;2;b\n", "utf-8")
    out_csv, out_pdf = tmp_path / "drukker.csv", tmp_path / "brieven.pdf"
    runner = app.test_cli_runner()
    args = ["cheques", "issue", str(period.id), str(addresses), "--csv", str(out_csv)]
    args += ["--pdf", str(out_pdf), "--base-url", "https://buurt.example/"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "2 cheques issued" in result.output
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text("utf-8")), delimiter=";"))
    assert [(r["postcode"], r["huisnummer"], r["toevoeging"]) for r in rows] == [
        ("6711 AA", "1", ""),
        ("6711 AA", "2", "B"),
    ]
    codes = [r["chequecode"] for r in rows]
    assert rows[0]["url"].startswith("https://buurt.example/budgets/cheques/redeem?code=")
    assert len(re.findall(rb"/Type /Page\b(?!s)", out_pdf.read_bytes())) == 2
    _assert_nowhere_in_clear([c.replace("-", "") for c in codes])
    # Existing files are never overwritten; a second run issues nothing new.
    refused = runner.invoke(args=args)
    assert refused.exit_code != 0 and "exists" in refused.output
    again = runner.invoke(
        args=["cheques", "issue", str(period.id), str(addresses), "--csv", str(tmp_path / "b.csv")]
    )
    assert again.exit_code == 0 and "0 cheques issued" in again.output
    # A lost letter: a new code in a new PDF; the old code no longer redeems.
    cheque_id = db.session.scalar(select(Cheque.id).where(Cheque.house_number == 1))
    letter = tmp_path / "herdruk.pdf"
    result = runner.invoke(args=["cheques", "reprint", str(cheque_id), "--pdf", str(letter)])
    assert result.exit_code == 0, result.output
    assert letter.read_bytes().startswith(b"%PDF")
    initiative = make.budget_initiative(area, cost_cents=10_000)
    with pytest.raises(ValidationFailed, match="not valid"):
        cheques.redeem(make.resident(area), codes[0], initiative)
    unknown = runner.invoke(args=["cheques", "reprint", "999999", "--pdf", str(tmp_path / "x.pdf")])
    assert unknown.exit_code != 0 and not (tmp_path / "x.pdf").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("6711AA;1\nnonsense\n", "utf-8")
    result = runner.invoke(
        args=["cheques", "issue", str(period.id), str(bad), "--csv", str(out_csv) + "2"]
    )
    assert result.exit_code != 0 and "2 (nonsense)" in result.output
