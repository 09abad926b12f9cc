"""Outreach: the residents of an area hear that a round opened, closes in two days, or has
results, and get the newsletters their staff write; each as they chose (in the app, by e-mail),
sent by the ``flask send-mail`` worker through a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from buurtbudget.extensions import db
from buurtbudget.models import Notification, OutgoingMail, RoundAnnouncement
from buurtbudget.models._base import utcnow
from buurtbudget.services import notifications, outreach
from buurtbudget.services.errors import PermissionDenied, ValidationFailed
from tests import mail_helpers

smtp_inbox = mail_helpers.smtp_inbox  # a fixture: a real SMTP server on 127.0.0.1


@pytest.fixture
def area_people(make):
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Tanthof")
    other = make.area(municipality, name="Buitenhof")
    people = {
        "both": make.resident(area, email="both@example.org", locale="en"),
        "app_only": make.resident(area, email="app@example.org", news_by_email=False),
        "mail_only": make.resident(area, email="mail@example.org", news_in_app=False),
        "nothing": make.resident(
            area, email="none@example.org", news_in_app=False, news_by_email=False
        ),
        "unconfirmed": make.resident(
            area, email="unconfirmed@example.org", confirmed=False, news_in_app=False
        ),
        "elsewhere": make.resident(other, email="elsewhere@example.org"),
    }
    return {"area": area, "other": other, "people": people}


def _kinds_for(user_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(Notification.kind)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id)
        )
    )


def test_a_round_opening_reaches_residents_as_they_chose_through_smtp(
    app, make, area_people, smtp_inbox
):
    people = {who: user.id for who, user in area_people["people"].items()}
    voting_round = make.voting_round(area_people["area"], title="Tanthof kiest")
    round_id = voting_round.id  # the worker ends the session: keep ids, not objects
    runner = app.test_cli_runner()
    result = runner.invoke(args=["send-mail", "--once"])
    assert result.exit_code == 0, result.output
    assert f"round {round_id} opened: 3 residents told" in result.output
    assert "sent 2, will retry 0, gave up 0" in result.output
    received = sorted(m["To"] for m in smtp_inbox.messages)
    assert received == ["both@example.org", "mail@example.org"]
    [english] = smtp_inbox.to("both@example.org")
    assert "Voting has opened in “Tanthof kiest” for Tanthof" in english.get_content()
    assert f"/rounds/{round_id}" in english.get_content()
    [dutch] = smtp_inbox.to("mail@example.org")  # no language chosen: Dutch
    assert "Het stemmen in “Tanthof kiest” voor Tanthof is geopend" in dutch.get_content()
    assert _kinds_for(people["both"]) == [notifications.ROUND_OPENED]
    assert _kinds_for(people["app_only"]) == [notifications.ROUND_OPENED]
    for who in ("mail_only", "nothing", "unconfirmed", "elsewhere"):
        assert _kinds_for(people[who]) == [], who
    # Once only: the next run tells nobody again.
    again = runner.invoke(args=["send-mail", "--once"])
    assert "sent 0, will retry 0, gave up 0" in again.output
    assert len(smtp_inbox.messages) == 2


def test_two_days_before_closing_and_when_results_are_published(make, area_people):
    people = area_people["people"]
    voting_round = make.voting_round(area_people["area"])
    opens, closes = voting_round.voting_opens_at, voting_round.voting_closes_at
    assert outreach.announce_due(now=opens + timedelta(hours=1)) == 1  # opened
    assert outreach.announce_due(now=closes - timedelta(days=3)) == 0
    assert outreach.announce_due(now=closes - timedelta(days=2)) == 1  # closing soon
    assert outreach.announce_due(now=closes - timedelta(days=1)) == 0
    voting_round.results_published_at = closes + timedelta(days=1)
    db.session.commit()
    assert outreach.announce_due(now=closes + timedelta(days=1, hours=1)) == 1
    assert _kinds_for(people["both"].id) == [
        notifications.ROUND_OPENED,
        notifications.ROUND_CLOSING,
        notifications.ROUND_RESULTS,
    ]
    to_mail_only = db.session.scalar(
        select(func.count())
        .select_from(OutgoingMail)
        .where(OutgoingMail.to_address == "mail@example.org")
    )
    assert to_mail_only == 3
    assert db.session.scalar(select(func.count()).select_from(RoundAnnouncement)) == 3


def test_old_moments_are_not_announced_when_the_worker_first_runs(make, area_people):
    voting_round = make.voting_round(area_people["area"], phase="counting")
    voting_round.results_published_at = utcnow() - timedelta(days=30)
    db.session.commit()
    assert outreach.announce_due() == 0
    assert db.session.scalar(select(func.count()).select_from(OutgoingMail)) == 0


def test_staff_send_an_area_newsletter_and_nobody_else_can(make, area_people, app, smtp_inbox):
    area, other = area_people["area"], area_people["other"]
    coordinator = make.coordinator(area)
    app_only = area_people["people"]["app_only"].id
    for outsider in (
        make.coordinator(other),
        area_people["people"]["both"],
        make.council_member(area),
    ):
        with pytest.raises(PermissionDenied):
            outreach.send_newsletter(outsider, area, "Nieuws", "Tekst")
    with pytest.raises(ValidationFailed):
        outreach.send_newsletter(coordinator, area, "  ", "Tekst")
    assert db.session.scalar(select(func.count()).select_from(OutgoingMail)) == 0
    told = outreach.send_newsletter(coordinator, area, "Buurtfeest", "Zaterdag is er een feest.")
    assert told == 4
    assert app.test_cli_runner().invoke(args=["send-mail", "--once"]).exit_code == 0
    [message] = smtp_inbox.to("mail@example.org")
    assert message["Subject"] == "Buurtbudget: Buurtfeest"
    assert "Zaterdag is er een feest." in message.get_content()
    assert _kinds_for(app_only) == [notifications.NEWSLETTER]


def test_the_newsletter_page_confirms_before_sending(make, area_people, client_for):
    area = area_people["area"]
    coordinator = make.coordinator(area)
    client = client_for(coordinator)
    assert client.get("/account/newsletter").status_code == 200
    url = f"/account/newsletter/{area.id}"
    unconfirmed = client.post(url, data={"subject": "Buurtfeest", "body": "Zaterdag."})
    assert unconfirmed.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(OutgoingMail)) == 0
    sent = client.post(url, data={"subject": "Buurtfeest", "body": "Zaterdag.", "confirm": "y"})
    assert sent.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(OutgoingMail)) == 2
    other_area = client_for(make.coordinator(area_people["other"]))
    assert other_area.get(url).status_code == 403
    assert (
        other_area.post(url, data={"subject": "x", "body": "y", "confirm": "y"}).status_code == 403
    )


def test_residents_choose_how_they_hear_it(make, client_for):
    resident = make.resident()
    client = client_for(resident)
    assert client.get("/account/preferences").status_code == 200
    assert client.post("/account/preferences", data={"news_by_email": "y"}).status_code == 302
    db.session.refresh(resident)
    assert (resident.news_in_app, resident.news_by_email) == (False, True)


def test_the_notifications_page_links_to_the_round_and_shows_the_newsletter(
    make, area_people, client_for
):
    voting_round = make.voting_round(area_people["area"], title="Tanthof kiest")
    outreach.announce_due()
    outreach.send_newsletter(
        make.coordinator(area_people["area"]), area_people["area"], "Buurtfeest", "Zaterdag feest."
    )
    page = client_for(area_people["people"]["app_only"]).get("/notifications")
    text = page.get_data(as_text=True)
    assert f'href="/rounds/{voting_round.id}"' in text
    assert "Voting has opened in “Tanthof kiest”" in text
    assert "Newsletter for Tanthof: Buurtfeest" in text and "Zaterdag feest." in text
