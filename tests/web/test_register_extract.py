"""Issue 14 item 2 on the screens: staff who manage a round load its register extract
(electorate) in two steps, check then confirm, until voting opens; the checked rows wait in
the instance folder (person keys only hashed), never in the session cookie."""

from __future__ import annotations

import gzip
import io
import json
import os
import time
from datetime import date, timedelta

import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from buurtbudget.extensions import db
from buurtbudget.models import AuditEntry, Elector, Role
from buurtbudget.models._base import utcnow
from buurtbudget.services import address_messages, electorate, register_previews

HEADER = "persoonssleutel;geboortedatum;postcode;huisnummer;huisletter;toevoeging;straat\n"
REFERENCE = (date.today() - timedelta(days=3)).isoformat()


def _text(response) -> str:
    return response.get_data(as_text=True)


def _extract(*rows: str) -> bytes:
    return (HEADER + "".join(row + "\n" for row in rows)).encode()


def _upload(client, voting_round, content: bytes, name: str = "brp.csv", headers=None, **extra):
    # Encoded here, in memory: the test client spools a large body to a temporary file it
    # never closes (a ResourceWarning in a later test).
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(content), name), "reference_date": REFERENCE, **extra}
    )
    return client.post(
        f"/staff/rounds/{voting_round.id}/register",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=headers,
    )


def _token(page: str) -> str:
    return page.split('name="preview" type="hidden" value="')[1].split('"')[0]


def _confirm(client, voting_round, token: str, **extra):
    return client.post(
        f"/staff/rounds/{voting_round.id}/register/confirm", data={"preview": token, **extra}
    )


def _houses(voting_round) -> list[int]:
    return sorted(
        db.session.scalars(
            select(Elector.house_number).where(Elector.round_id == voting_round.id)
        ).all()
    )


def _imports(voting_round) -> list[AuditEntry]:
    return db.session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.action == "round.electorate_imported",
            AuditEntry.object_id == voting_round.id,
        )
        .order_by(AuditEntry.id)
    ).all()


@pytest.fixture(autouse=True)
def _no_previews_left(app):
    """Round and user ids start again in every test: no test sees another's checked files."""
    yield
    for path in register_previews.files():
        path.unlink()


@pytest.fixture
def world(make):
    """A Delft round of Tanthof and Buitenhof (addresses 2625AA and 2624AA), voting in ten
    days, with two electors already; its staff, a resident, and Zaanstad's staff."""
    delft = make.municipality("Delft")
    tanthof = make.area(delft, name="Tanthof", postcode="2625AA")
    buitenhof = make.area(delft, name="Buitenhof", postcode="2624AA")
    binnenstad = make.area(delft, name="Binnenstad", postcode="2611AA")
    voting_round = make.voting_round(
        [tanthof, buitenhof], costs=(100_00,), phase="proposals", electorate=False
    )
    electorate.import_register(
        None,
        voting_round,
        [HEADER, "OLD-1;1970;2625AA;38;;;\n", "OLD-2;1970;2624AA;39;;;\n"],
    )
    zaanstad = make.municipality("Zaanstad")
    poelenburg = make.area(zaanstad, name="Poelenburg")
    return {
        "round": voting_round,
        "tanthof": tanthof,
        "buitenhof": buitenhof,
        "admin": make.administrator(delft),
        "coordinator": make.user(
            None,
            municipality=delft,
            roles=((Role.COORDINATOR, tanthof), (Role.COORDINATOR, buitenhof)),
        ),
        "coordinator_of_one_area": make.coordinator(binnenstad),
        "resident": make.resident(tanthof, elector=False),
        "other_admin": make.administrator(zaanstad),
        "other_coordinator": make.coordinator(poelenburg),
    }


GOOD = _extract(
    "BSN-1;1980-05-17;2625AA;1;;;Kruithuisweg",
    "BSN-2;1981;2625AA;12;a;;Kruithuisweg",
    "BSN-3;1990;2624AA;3;;;Buitenhofdreef",
    "BSN-4;2020;2624AA;4;;;Buitenhofdreef",  # too young
    "BSN-5;1970;2611AA;5;;;Markt",  # lives outside the round's areas
)


def test_a_good_file_is_checked_then_replaces_the_electorate_and_is_audited(app, client_for, world):
    voting_round, coordinator = world["round"], world["coordinator"]
    browser = client_for(coordinator)
    page = _text(browser.get(f"/staff/rounds/{voting_round.id}/register"))
    assert "Current electorate" in page and "current-electorate" in page
    assert "Check the file" in page

    checked = _upload(browser, voting_round, GOOD)
    page = _text(checked)
    assert checked.status_code == 200, page
    assert "Check before replacing" in page
    table = page.split('id="new-electorate"')[1].split("</table>")[0]
    # Tanthof: 1 now, 2 in the file; Buitenhof: 1 now, 1 in the file (the child is left out).
    assert '>Buitenhof</td><td class="num">1</td><td class="num">1</td>' in table
    assert '>Tanthof</td><td class="num">1</td><td class="num">2</td>' in table
    assert "1 people living outside the round" in page and "1 below the minimum age" in page
    assert "replace the electorate by 3 electors" in page
    assert _houses(voting_round) == [38, 39]  # nothing changed before the confirmation
    # The checked rows wait in the instance folder, the person keys only hashed.
    [meta, rows] = list(register_previews.files(voting_round))
    assert meta.name.endswith(".json") and rows.name.endswith(".rows.gz")
    assert f"user{coordinator.id}" in rows.name
    assert oct(os.stat(rows).st_mode & 0o777) == "0o600"
    stored = gzip.decompress(rows.read_bytes()).decode()
    assert "BSN" not in stored and electorate.person_hash(voting_round.municipality_id, "BSN-1")
    assert electorate.person_hash(voting_round.municipality_id, "BSN-1") in stored

    done = _confirm(browser, voting_round, _token(page))
    assert done.status_code == 302 and done.headers["Location"].endswith("/register")
    assert _houses(voting_round) == [1, 3, 12]
    assert list(register_previews.files(voting_round)) == []  # deleted once confirmed
    page = _text(browser.get(f"/staff/rounds/{voting_round.id}/register"))
    assert "The electorate has been replaced: 3 electors." in page
    current = page.split('id="current-electorate"')[1].split("</table>")[0]
    assert '>Tanthof</td><td class="num">2</td>' in current
    assert '>Total</th><td class="num">3</td>' in current
    assert coordinator.display_name in page and "reference date" in page

    [cli, screen] = _imports(voting_round)
    assert cli.actor_id is None and cli.details["via"] == "command line"
    assert screen.actor_id == coordinator.id
    assert screen.details["electors"] == 3 and screen.details["replaced"] == 2
    assert screen.details["reference_date"] == REFERENCE and screen.details["via"] == "screen"
    assert screen.details["too_young"] == 1 and screen.details["outside_areas"] == 1
    # A token works once.
    again = _confirm(browser, voting_round, _token(_text(checked)))
    assert again.status_code == 302
    assert len(_imports(voting_round)) == 2


def test_a_bad_file_shows_its_line_numbers_and_imports_nothing(app, client_for, world):
    voting_round = world["round"]
    browser = client_for(world["admin"])
    bad = _extract(
        "BSN-1;1980;2625AA;1;;;",
        "BSN-2;17 mei 1980;2625AA;2;;;",
        "BSN-3;1980;2625AA;41;;;",  # not in the address file
        "BSN-1;1980;2625AA;3;;;",  # the same person twice
        "BSN-4;1980;2625AA;4;;",  # a column short
        "BSN-5;1980;9999;5;;;",
    )
    response = _upload(browser, voting_round, bad)
    page = _text(response)
    assert response.status_code == 400
    assert "5 lines of the file were refused. Nothing has been imported" in page
    refused = page.split('id="refused-lines"')[1].split("</table>")[0]
    for line, reason in [
        (3, "&#39;17 mei 1980&#39; is not a birth date"),
        (4, "address 2625AA 41 is not in the address file"),
        (5, "this person key already appeared on line 2"),
        (6, "expected 7 columns, found 6"),
        (7, "&#39;9999&#39; is not a valid Dutch postcode"),
    ]:
        assert f'<td class="num">{line}</td><td>{reason}' in refused
    assert "register/confirm" not in page  # no confirmation for a refused file
    assert _houses(voting_round) == [38, 39]
    assert list(register_previews.files(voting_round)) == []
    assert len(_imports(voting_round)) == 1


def test_many_refused_lines_are_listed_up_to_a_limit_with_a_count(app, client_for, world):
    voting_round = world["round"]
    shown = electorate.REFUSALS_SHOWN
    bad = _extract(*(f"K{n};1980;2625AA;{1000 + n};;;" for n in range(shown + 30)))
    page = _text(_upload(client_for(world["admin"]), voting_round, bad))
    assert f"{shown + 30} lines of the file were refused" in page
    assert f"The first {shown} are shown; 30 more lines were refused." in page
    assert page.split('id="refused-lines"')[1].count("<tr>") == shown + 1  # with the header


def test_bytes_that_are_not_utf8_and_a_missing_column_are_refused_with_a_line(
    app, client_for, world
):
    voting_round = world["round"]
    browser = client_for(world["admin"])
    latin1 = _extract("BSN-1;1980;2625AA;1;;;Kruithuisweg", "BSN-2;1980;2625AA;2;;;Caf\xe9")
    latin1 = latin1.replace("Café".encode(), "Café".encode("latin-1"))
    page = _text(_upload(browser, voting_round, latin1))
    assert '<td class="num">3</td><td>this line is not UTF-8 text' in page
    page = _text(_upload(browser, voting_round, b"persoonssleutel;postcode\nK1;2625AA\n"))
    assert "missing column(s): geboortedatum, huisnummer" in page
    assert _houses(voting_round) == [38, 39]


def test_staff_of_another_municipality_and_residents_cannot_see_or_post(app, client_for, world):
    voting_round = world["round"]
    url = f"/staff/rounds/{voting_round.id}/register"
    checked = _upload(client_for(world["admin"]), voting_round, GOOD)
    token = _token(_text(checked))
    for who in ("other_admin", "other_coordinator", "coordinator_of_one_area", "resident"):
        browser = client_for(world[who])
        assert browser.get(url).status_code == 403, who
        assert _upload(browser, voting_round, GOOD).status_code == 403, who
        assert _confirm(browser, voting_round, token).status_code == 403, who
    assert client_for(None).get(url).status_code == 302  # log in first
    assert _houses(voting_round) == [38, 39]
    assert len(_imports(voting_round)) == 1
    # The round's page links to the screen for its staff only.
    detail = f"/rounds/{voting_round.id}"
    assert url in _text(client_for(world["coordinator"]).get(detail))
    assert url not in _text(client_for(world["resident"]).get(detail))
    assert client_for(world["admin"]).get("/staff/rounds/987654/register").status_code == 404


def test_a_check_is_confirmed_only_by_who_made_it_and_before_it_expires(app, client_for, world):
    voting_round = world["round"]
    admin = client_for(world["admin"])
    token = _token(_text(_upload(admin, voting_round, GOOD)))
    # Another staff member of the round cannot confirm someone else's check.
    colleague = client_for(world["coordinator"])
    refused = _confirm(colleague, voting_round, token)
    assert refused.status_code == 302
    assert "expired or was already used" in _text(colleague.get(refused.headers["Location"]))
    assert _houses(voting_round) == [38, 39]
    for path in register_previews.files(voting_round):  # half an hour later
        old = time.time() - app.config["REGISTER_PREVIEW_MINUTES"] * 60 - 5
        os.utime(path, (old, old))
    assert _confirm(admin, voting_round, token).status_code == 302
    assert _houses(voting_round) == [38, 39]
    assert list(register_previews.files(voting_round)) == []  # the expired check is gone
    assert _confirm(admin, voting_round, "../../etc/passwd").status_code == 302


def test_a_check_can_be_discarded(app, client_for, world):
    voting_round = world["round"]
    admin = client_for(world["admin"])
    token = _token(_text(_upload(admin, voting_round, GOOD)))
    assert _confirm(admin, voting_round, token, discard="1").status_code == 302
    assert list(register_previews.files(voting_round)) == []
    assert _houses(voting_round) == [38, 39]


def test_after_voting_opens_the_electorate_is_frozen_and_replacing_is_refused(
    app, client_for, world
):
    voting_round = world["round"]
    admin = client_for(world["admin"])
    token = _token(_text(_upload(admin, voting_round, GOOD)))  # checked before the opening
    now = utcnow()
    voting_round.proposals_until = now - timedelta(days=3)
    voting_round.review_until = now - timedelta(days=2)
    voting_round.voting_opens_at = now - timedelta(minutes=1)
    db.session.commit()
    page = _text(admin.get(f"/staff/rounds/{voting_round.id}/register"))
    assert "the electorate of this round is frozen" in page
    assert "Check the file" not in page and 'type="file"' not in page
    upload = _upload(admin, voting_round, GOOD)
    assert upload.status_code == 409 and "frozen" in _text(upload)
    confirm = _confirm(admin, voting_round, token)
    assert confirm.status_code == 409 and "frozen" in _text(confirm)
    assert _houses(voting_round) == [38, 39]
    assert len(_imports(voting_round)) == 1


def test_a_check_is_refused_when_the_round_changed_after_it(app, client_for, world):
    voting_round = world["round"]
    admin = client_for(world["admin"])
    token = _token(_text(_upload(admin, voting_round, GOOD)))
    voting_round.min_age = 50
    db.session.commit()
    response = _confirm(admin, voting_round, token)
    assert response.status_code == 409 and "Upload the register extract again" in _text(response)
    assert _houses(voting_round) == [38, 39]


def test_the_checked_rows_never_sit_in_the_session_cookie(app, client_for, world):
    voting_round = world["round"]
    admin = client_for(world["admin"])
    _upload(admin, voting_round, GOOD)
    cookie = admin.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    seen = json.dumps(serializer.loads(cookie.value))
    assert "BSN" not in seen and "Kruithuisweg" not in seen
    assert electorate.person_hash(voting_round.municipality_id, "BSN-1") not in seen
    assert len(seen) < 1000


def test_a_file_over_the_limit_and_a_future_reference_date_are_refused(app, client_for, world):
    voting_round = world["round"]
    admin = client_for(world["admin"])
    app.config["REGISTER_EXTRACT_MAX_BYTES"] = 1024 * 1024
    try:
        big = GOOD + b"\n" * (1024 * 1024)
        response = _upload(admin, voting_round, big)
        assert response.status_code == 400 and "The file is larger than 1 MB" in _text(response)
    finally:
        app.config["REGISTER_EXTRACT_MAX_BYTES"] = 32 * 1024 * 1024
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    response = _upload(admin, voting_round, GOOD, reference_date=tomorrow)
    assert response.status_code == 400 and "cannot be in the future" in _text(response)
    assert list(register_previews.files(voting_round)) == []


def test_an_extract_over_the_general_upload_limit_is_accepted_up_to_its_own(app, client_for, world):
    """MAX_CONTENT_LENGTH (10 MB) is for every other upload; the register extract has its
    own limit, or a city's extract would be cut off with a 413."""
    voting_round = world["round"]
    filler = b"\n" * (app.config["MAX_CONTENT_LENGTH"] + 1024)
    response = _upload(client_for(world["admin"]), voting_round, GOOD + filler)
    assert response.status_code == 200, _text(response)[:500]
    assert "replace the electorate by 3 electors" in _text(response)


def test_the_page_in_dutch(app, client_for, world):
    voting_round = world["round"]
    admin = client_for(world["admin"])
    headers = {"Accept-Language": "nl"}
    page = _text(admin.get(f"/staff/rounds/{voting_round.id}/register", headers=headers))
    assert "Huidige kiezers" in page and "Controleer het bestand" in page
    assert "Peildatum" in page
    checked = _upload(admin, voting_round, GOOD, headers=headers)
    assert "Bevestig: vervang de kiezers door 3 kiezers" in _text(checked)


def test_the_cli_and_the_screen_read_the_same_way(app, world):
    """One reading of an extract: the command line stops at the first line the screen lists."""
    voting_round = world["round"]
    from buurtbudget.domain.addresses import AddressFileError

    lines = [HEADER, "K1;1980;2625AA;1;;;\n", "K2;1980;2625AA;41;;;\n", "K3;x;2625AA;2;;;\n"]
    with pytest.raises(AddressFileError) as raised:
        electorate.import_register(None, voting_round, lines)
    kept: list[dict] = []
    preview = electorate.preview_register(world["admin"], voting_round, lines, kept.append)
    # The same reason: the screen shows the domain's code translated (here the default, Dutch).
    assert raised.value.code == "unknown_address"
    assert preview.refusals[0] == (raised.value.line, address_messages.reason(raised.value))
    assert preview.refused == 2 and len(kept) == 1
    assert db.session.scalar(select(func.count()).select_from(Elector)) == 2


def test_two_confirmations_at_once_replace_the_electorate_once(app, client_for, world):
    """A double click: both requests found the check, only the first gets its rows."""
    from buurtbudget.services.errors import Conflict

    voting_round, admin = world["round"], world["admin"]
    token = _token(_text(_upload(client_for(admin), voting_round, GOOD)))
    first = register_previews.load(voting_round, admin, token)
    second = register_previews.load(voting_round, admin, token)
    assert register_previews.confirm(admin, voting_round, first) == 3
    with pytest.raises(Conflict, match="already used"):
        register_previews.confirm(admin, voting_round, second)
    assert _houses(voting_round) == [1, 3, 12]
    assert len(_imports(voting_round)) == 2
    assert list(register_previews.files(voting_round)) == []


def test_the_dutch_page_gives_the_reasons_for_refused_lines_in_dutch(app, client_for, world):
    """The reasons come from the domain as a code and parameters, translated on the page."""
    voting_round = world["round"]
    browser = client_for(world["admin"])
    bad = _extract(
        "BSN-1;1980;2625AA;1;;;",
        "BSN-2;17 mei 1980;2625AA;2;;;",
        "BSN-3;1980;2625AA;41;;;",  # not in the address file
        "BSN-1;1980;2625AA;3;;;",  # the same person twice
        "BSN-4;1980;2625AA;4;;;;",  # a column too many
        "BSN-5;1980;9999;5;;;",
        "BSN-6;1980;2625AA;x;;;",
        ";1980;2625AA;6;;;",
        "BSN-7;1980;<b>x</b>;7;;;",  # shown as text, never as HTML
    )
    dutch = {"Accept-Language": "nl"}
    page = _text(_upload(browser, voting_round, bad, headers=dutch))
    refused = page.split('id="refused-lines"')[1].split("</table>")[0]
    for line, reason in [
        (3, "&#39;17 mei 1980&#39; is geen geboortedatum (1984-05-17) of geboortejaar"),
        (4, "adres 2625AA 41 staat niet in het adressenbestand"),
        (5, "deze persoonssleutel stond al op regel 2"),
        (6, "8 kolommen gevonden, 7 verwacht"),
        (7, "&#39;9999&#39; is geen geldige Nederlandse postcode"),
        (8, "&#39;x&#39; is geen geldig huisnummer"),
        (9, "de persoonssleutel moet 1 tot 64 tekens lang zijn"),
        (10, "&#39;&lt;b&gt;x&lt;/b&gt;&#39; is geen geldige Nederlandse postcode"),
    ]:
        assert f'<td class="num">{line}</td><td>{reason}</td>' in refused
    latin1 = _extract("BSN-1;1980;2625AA;1;;;Caf\xe9").replace("Café".encode(), b"Caf\xe9")
    page = _text(_upload(browser, voting_round, latin1, headers=dutch))
    assert '<td class="num">2</td><td>deze regel is geen UTF-8-tekst' in page
    page = _text(
        _upload(browser, voting_round, b"persoonssleutel;postcode\nK1;2625AA\n", headers=dutch)
    )
    assert "ontbrekende kolom(men): geboortedatum, huisnummer" in page
    page = _text(_upload(browser, voting_round, HEADER.encode(), headers=dutch))
    assert "het bestand heeft een kopregel maar geen gegevensregels" in page
    # The same file on the English page: the English text of the domain.
    page = _text(_upload(browser, voting_round, bad, headers={"Accept-Language": "en"}))
    assert '<td class="num">6</td><td>expected 7 columns, found 8</td>' in page
