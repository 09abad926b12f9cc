"""Notifications along the money path: a payout request reaches the coordinators who may
approve it, a first approval the second approver, and the decision the initiator, in the app
and by e-mail (after the commit)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from buurtbudget.domain.initiative_lifecycle import Status
from buurtbudget.extensions import db
from buurtbudget.models import Attachment, Notification
from buurtbudget.services import ledger, notifications, payouts

THIS_YEAR = date.today().year


@pytest.fixture
def sent_mail(monkeypatch):
    outbox = []
    # What notifications put in the mail queue (services/mail.py; the worker sends it).
    monkeypatch.setattr(
        notifications.mail, "queue", lambda to, subject, body: outbox.append((to, body))
    )
    return outbox


@pytest.fixture
def money(app, make):
    area = make.area(inhabitants=1_000, year=THIS_YEAR)
    make.budget_period(area)
    initiative = make.budget_initiative(area, cost_cents=3_000_00)
    ledger.grant(None, initiative)
    initiative.status = Status.SELECTED
    receipt = Attachment(
        initiative=initiative,
        stored_name=f"r{initiative.id}.pdf",
        original_name="bon.pdf",
        content_type="application/pdf",
        size_bytes=10,
    )
    db.session.add(receipt)
    db.session.commit()
    return {
        "initiative": initiative,
        "initiator": initiative.initiator,
        "receipt": receipt,
        "first": make.coordinator(area),
        "second": make.coordinator(area),
        "elsewhere": make.coordinator(make.area(year=THIS_YEAR)),
    }


def _inbox(user) -> list[str]:
    return [
        (n.kind, notifications.render(n))
        for n in db.session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    ]


def _request(money, cents):
    return payouts.request_payout(
        money["initiator"], money["initiative"], cents, "Springkussen", [money["receipt"]]
    )


def test_a_request_reaches_the_coordinators_who_may_approve(money, sent_mail):
    _request(money, 400_00)
    for coordinator in (money["first"], money["second"]):
        assert [kind for kind, _ in _inbox(coordinator)] == [notifications.PAYOUT_REQUESTED]
        assert "400,00" in _inbox(coordinator)[0][1]
    assert _inbox(money["elsewhere"]) == []
    assert _inbox(money["initiator"]) == []
    assert sorted(to for to, _ in sent_mail) == sorted(
        [money["first"].email, money["second"].email]
    )


def test_a_first_approval_reaches_the_second_approver_and_the_end_the_initiator(money, sent_mail):
    request = _request(money, 1_500_00)
    sent_mail.clear()
    payouts.approve(money["first"], request)
    assert [k for k, _ in _inbox(money["second"])][-1] == notifications.PAYOUT_SECOND_NEEDED
    assert notifications.PAYOUT_SECOND_NEEDED not in [k for k, _ in _inbox(money["first"])]
    assert [to for to, _ in sent_mail] == [money["second"].email]
    sent_mail.clear()
    payouts.approve(money["second"], request)
    kinds = [k for k, _ in _inbox(money["initiator"])]
    assert notifications.PAYOUT_APPROVED in kinds
    assert money["initiator"].email in [to for to, _ in sent_mail]


def test_a_refusal_reaches_the_initiator_with_the_reason(money, sent_mail):
    request = _request(money, 200_00)
    sent_mail.clear()
    payouts.reject(money["first"], request, "Bon onleesbaar")
    kind, text = _inbox(money["initiator"])[-1]
    assert kind == notifications.PAYOUT_REJECTED and "Bon onleesbaar" in text
    assert [to for to, _ in sent_mail] == [money["initiator"].email]
    assert "Bon onleesbaar" in sent_mail[0][1]
