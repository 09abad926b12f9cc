"""Account self-service through the screens: confirming the e-mail address, a forgotten
password, changing the e-mail address, downloading one's data and deleting the account."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from buurtbudget.extensions import db
from buurtbudget.models import (
    AccountToken,
    AuditEntry,
    Ballot,
    Comment,
    Initiative,
    LedgerEntry,
    User,
    VoterRecord,
    WorkingGroupMember,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services import account_email
from buurtbudget.services.voting import casting
from tests.factories import TEST_PASSWORD
from tests.mail_helpers import link_in, queued
from tests.voting_world import tanthof_round

NEW_PASSWORD = "een nieuw wachtwoord"  # noqa: S105


def _text(response) -> str:
    return response.get_data(as_text=True)


def _register(client, email="fatima@example.org", house_number="12"):
    return client.post(
        "/account/register",
        data={
            "display_name": "Fatima",
            "email": email,
            "postcode": "2625 aa",
            "house_number": house_number,
            "birth_year": "1990",
            "password": "een lang wachtwoord",
            "confirm": "een lang wachtwoord",
        },
    )


def _link(to: str, path_part: str) -> str:
    bodies = [m.body for m in queued(to) if path_part in m.body]
    assert bodies, f"no mail with {path_part} to {to}"
    return link_in(bodies[-1], path_part)


# Confirming the e-mail address --------------------------------------------------------------


def test_five_unconfirmed_accounts_at_one_address_cast_no_ballot_until_confirmed(
    app, make, client_for
):
    world = tanthof_round(make)
    round_id, project = world["round"].id, world["projects"][0]
    # A confirmed neighbour votes first, so the next ballots take the one-statement path.
    casting.cast_ballot(world["resident"], world["round"], {project: 1})
    clients, people = [], []
    for n in range(5):
        person = make.resident(
            world["area"], email=f"wegwerp{n}@example.org", confirmed=False, house_number=1
        )
        client = client_for(person)
        page = client.get(f"/rounds/{round_id}/ballot", follow_redirects=True)
        assert "Confirm your e-mail address first" in _text(page)
        client.post(f"/rounds/{round_id}/ballot/confirm", data={"project": [project]})
        clients.append(client)
        people.append(person)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1
    # One of them confirms through the mailed link (logged out, in another browser): now 1 more.
    account_email.queue_confirmation(people[0])
    db.session.commit()
    anonymous = app.test_client()
    assert anonymous.get(_link("wegwerp0@example.org", "/account/confirm/")).status_code == 302
    assert anonymous.get(_link("wegwerp0@example.org", "/account/confirm/")).status_code == 400
    clients[0].post(f"/rounds/{round_id}/ballot/confirm", data={"project": [project]})
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 2


def test_an_unconfirmed_resident_is_refused_on_the_pages_to_propose_comment_and_join(
    make, client_for
):
    area = make.area()
    theme = make.theme(area.municipality)
    initiative = make.initiative(area, status="open")
    group = make.working_group(area, theme)
    resident = make.resident(area, confirmed=False)
    client = client_for(resident)

    def attempt() -> tuple[int, int, int]:
        client.post(
            "/initiatives/new",
            data={
                "area_id": area.id,
                "title": "Moestuin",
                "description": "Samen groente kweken.",
                "requested_amount": "1.000",
                "theme_ids": [theme.id],
            },
        )
        client.post(f"/initiatives/{initiative.id}/comments", data={"body": "Mooi!"})
        client.post(f"/groups/{group.id}/join")
        db.session.expire_all()
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Initiative, Comment, WorkingGroupMember)
        )

    assert attempt() == (1, 0, 0)
    resident.email_confirmed_at = utcnow()  # the same posts work once the address is confirmed
    db.session.commit()
    assert attempt() == (2, 1, 1)


def test_my_account_offers_a_new_confirmation_link(make, client_for):
    resident = make.resident(confirmed=False)
    client = client_for(resident)
    page = client.get("/account/password")
    assert "not confirmed yet" in _text(page)
    assert client.post("/account/confirm/resend").status_code == 302
    assert client.get(_link(resident.email, "/account/confirm/")).status_code == 302
    assert "not confirmed yet" not in _text(client.get("/account/password"))


# Forgotten password ---------------------------------------------------------------------------


def test_reset_answers_the_same_whether_or_not_the_address_exists(make, client):
    make.resident(email="iris@example.org")
    known = client.post(
        "/account/reset", data={"email": "Iris@example.org "}, follow_redirects=True
    )
    unknown = client.post(
        "/account/reset", data={"email": "nobody@example.org"}, follow_redirects=True
    )
    assert known.status_code == unknown.status_code == 200

    def message(response):
        text = _text(response)
        return text[
            text.index('class="flashes"') : text.index("</div>", text.index('class="flashes"'))
        ]

    assert message(known) == message(unknown)
    assert len(queued("iris@example.org")) == 1
    assert queued("nobody@example.org") == []


def test_a_reset_link_sets_the_password_once_and_logs_out_everywhere(make, client_for, app):
    resident = make.resident(email="iris@example.org")
    logged_in = client_for(resident)
    visitor = app.test_client()
    visitor.post("/account/reset", data={"email": "iris@example.org"})
    link = _link("iris@example.org", "/account/reset/")
    assert visitor.get(link).status_code == 200
    data = {"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert visitor.post(link, data=data).status_code == 302
    assert logged_in.get("/account/password").status_code == 302  # the old session is gone
    assert client_for(resident, password=NEW_PASSWORD)
    # Single use: the link does not work again, not even to show the form.
    assert visitor.get(link).status_code == 400
    again = visitor.post(link, data={"new_password": "nog een ander", "confirm": "nog een ander"})
    assert again.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, resident.id).check_password(NEW_PASSWORD)


def test_a_reset_link_expires(make, client):
    resident = make.resident(email="iris@example.org")
    client.post("/account/reset", data={"email": "iris@example.org"})
    link = _link("iris@example.org", "/account/reset/")
    db.session.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    data = {"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert client.post(link, data=data).status_code == 400
    db.session.expire_all()
    assert db.session.get(User, resident.id).check_password(TEST_PASSWORD)


def test_reset_requests_are_rate_limited_per_address_and_per_account(app, make):
    from buurtbudget.web import throttle

    def throttle_clear():
        with app.test_request_context():
            throttle.current().clear()

    make.resident(email="iris@example.org")
    client = app.test_client()
    for _ in range(5):
        client.post("/account/reset", data={"email": "iris@example.org"})
    # At most PASSWORD_RESET_MAILS_PER_HOUR mails to one account, whoever asks.
    assert len(queued("iris@example.org")) == app.config["PASSWORD_RESET_MAILS_PER_HOUR"]
    app.config["PASSWORD_RESET_RATE_LIMIT"] = "3 per minute"
    throttle_clear()
    try:
        statuses = [
            client.post("/account/reset", data={"email": f"x{n}@example.org"}).status_code
            for n in range(5)
        ]
    finally:
        app.config["PASSWORD_RESET_RATE_LIMIT"] = "100000 per minute"
        throttle_clear()
    assert statuses == [302, 302, 302, 429, 429]


# Changing the e-mail address ----------------------------------------------------------------


def test_the_new_address_is_used_only_after_its_link_is_opened(make, client_for, app):
    resident = make.resident(email="iris@example.org")
    make.resident(email="taken@example.org")
    client = client_for(resident)
    wrong = client.post("/account/email", data={"email": "nieuw@example.org", "password": "x"})
    assert wrong.status_code == 400
    taken = client.post(
        "/account/email", data={"email": "taken@example.org", "password": TEST_PASSWORD}
    )
    assert taken.status_code == 400 and "already exists" in _text(taken)
    asked = client.post(
        "/account/email", data={"email": "Nieuw@example.org", "password": TEST_PASSWORD}
    )
    assert asked.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, resident.id).email == "iris@example.org"
    assert any("nieuw@example.org" in m.body for m in queued("iris@example.org"))  # warned
    link = _link("nieuw@example.org", "/account/email/confirm/")
    assert app.test_client().get(link).status_code == 302
    db.session.expire_all()
    user = db.session.get(User, resident.id)
    assert user.email == "nieuw@example.org" and user.email_confirmed
    assert app.test_client().get(link).status_code == 400  # single use
    assert client_for(user)  # logs in with the new address


# Download and delete ------------------------------------------------------------------------


def test_download_my_data(make, client_for):
    area = make.area(name="Tanthof")
    resident = make.resident(area, display_name="Iris")
    initiative = make.initiative(area, resident, status="open", title="Moestuin")
    make.comment(initiative, resident, "Doe mee!")
    response = client_for(resident).get("/account/data.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert data["account"]["email"] == resident.email
    assert data["account"]["area"] == "Tanthof"
    assert [i["title"] for i in data["initiatives"]] == ["Moestuin"]
    assert [c["body"] for c in data["comments"]] == ["Doe mee!"]


def test_deleting_the_account_needs_confirmation_and_keeps_ballots_initiatives_and_money(
    make, client_for, app
):
    world = tanthof_round(make)
    resident = world["resident"]
    email, name = resident.email, resident.display_name
    initiative = make.initiative(world["area"], resident, status="open", title="Moestuin")
    make.comment(initiative, resident, "Doe mee!")
    casting.cast_ballot(resident, world["round"], {world["projects"][0]: 1})
    make.budget_period(world["area"])
    ledger_before = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    client = client_for(resident)
    assert client.get("/account/delete").status_code == 200
    unconfirmed = client.post("/account/delete", data={"password": TEST_PASSWORD})
    wrong = client.post("/account/delete", data={"password": "fout", "confirm": "y"})
    assert unconfirmed.status_code == wrong.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, resident.id).deleted_at is None
    done = client.post("/account/delete", data={"password": TEST_PASSWORD, "confirm": "y"})
    assert done.status_code == 302
    db.session.expire_all()
    gone = db.session.get(User, resident.id)
    assert gone.deleted_at is not None and not gone.is_active
    assert email not in gone.email and name not in gone.display_name
    assert (gone.postcode, gone.house_number, gone.birth_year) == (None, None, None)
    # The initiative and comment stay with the anonymised author; the ballot stays counted.
    assert db.session.get(Initiative, initiative.id).initiator_user_id == resident.id
    assert db.session.scalar(select(Comment.body)) == "Doe mee!"
    assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1
    assert db.session.scalar(select(func.count()).select_from(VoterRecord)) == 1
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == ledger_before
    assert "account.deleted" in db.session.scalars(select(AuditEntry.action)).all()
    # The session ended and the old password no longer logs in.
    assert client.get("/account/password").status_code == 302
    login = app.test_client().post(
        "/account/login", data={"email": email, "password": TEST_PASSWORD}
    )
    assert login.status_code == 400
    page = app.test_client().get(f"/initiatives/{initiative.id}")
    assert "[verwijderd / deleted]" in _text(page)


@pytest.mark.parametrize("path", ["/account/email", "/account/delete", "/account/data.json"])
def test_self_service_needs_login(client, path):
    assert client.get(path).status_code == 302
