"""An account proposes, comments, joins or writes in a working group, and votes only after its
owner confirmed the e-mail address through the link mailed at registration (issue 14 item 4):
on every path, the complete use cases and the ballot box's one-statement fast path alike."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from buurtbudget.extensions import db
from buurtbudget.models import AccountToken, Ballot, VoterRecord
from buurtbudget.models._base import utcnow
from buurtbudget.services import account_email, accounts, comments, initiatives, working_groups
from buurtbudget.services.errors import PermissionDenied, ValidationFailed
from buurtbudget.services.initiatives import InitiativeData
from buurtbudget.services.voting import ballot_box, casting, eligibility
from buurtbudget.services.working_groups import GroupData
from tests.mail_helpers import link_in, queued
from tests.voting_world import tanthof_round

pytestmark = pytest.mark.usefixtures("english")


def _ballots() -> int:
    return db.session.scalar(select(func.count()).select_from(Ballot))


def _register(email: str, area_postcode: str = "2625AA") -> accounts.User:
    return accounts.register(
        accounts.Registration(
            email=email,
            password="een goed wachtwoord",
            display_name="Noor",
            postcode=area_postcode,
            house_number=1,
            birth_year=1990,
        )
    )


def _token_of(email: str) -> str:
    [message] = [m for m in queued(email) if "/account/confirm/" in m.body]
    return link_in(message.body, "/account/confirm/").rsplit("/", 1)[1]


def test_registration_mails_a_link_and_the_account_starts_unconfirmed(make):
    make.area(name="Buitenhof", postcode="2625AA")
    user = _register("noor@example.org")
    assert user.email_confirmed_at is None
    [message] = queued("noor@example.org")
    assert message.sent_at is None  # only queued: the worker sends it
    token = _token_of("noor@example.org")
    stored = db.session.scalar(select(AccountToken.token_hash))
    assert token not in stored  # only a hash is stored
    assert account_email.confirm_email(token) == user
    assert user.email_confirmed_at is not None


def test_a_confirmation_link_works_once_and_not_after_it_expires(make):
    make.area(name="Buitenhof", postcode="2625AA")
    user = _register("noor@example.org")
    token = _token_of("noor@example.org")
    db.session.execute(update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    with pytest.raises(ValidationFailed):
        account_email.confirm_email(token)
    assert user.email_confirmed_at is None
    db.session.execute(update(AccountToken).values(expires_at=utcnow() + timedelta(hours=1)))
    db.session.commit()
    account_email.confirm_email(token)
    user.email_confirmed_at = None  # as if unconfirmed again: the used link must not help
    db.session.commit()
    with pytest.raises(ValidationFailed):
        account_email.confirm_email(token)
    with pytest.raises(ValidationFailed):
        account_email.confirm_email("x" * 43)
    assert db.session.get(type(user), user.id).email_confirmed_at is None


def test_new_links_are_rate_limited(make, app):
    user = make.resident(confirmed=False)
    limit = app.config["PASSWORD_RESET_MAILS_PER_HOUR"]
    assert all(account_email.resend_confirmation(user) for _ in range(limit))
    assert account_email.resend_confirmation(user) is False
    assert len(queued(user.email)) == limit


def test_an_unconfirmed_account_cannot_propose_comment_join_or_post(make):
    area = make.area()
    theme = make.theme(area.municipality)
    unconfirmed = make.resident(area, confirmed=False)
    initiative = make.initiative(area, status="open")
    group = make.working_group(area, theme)
    data = InitiativeData(
        area_id=area.id,
        title="Moestuin",
        description="Samen groente kweken.",
        requested_amount_cents=1_000_00,
        theme_ids=[theme.id],
    )
    attempts = {
        "propose": lambda: initiatives.propose(unconfirmed, data),
        "comment": lambda: comments.add_comment(unconfirmed, initiative, "Mooi plan!"),
        "join": lambda: working_groups.join(unconfirmed, group),
        "start a group": lambda: working_groups.create_group(
            unconfirmed, GroupData(area_id=area.id, theme_id=theme.id, name="Groen")
        ),
    }
    for what, attempt in attempts.items():
        with pytest.raises(PermissionDenied, match="Confirm your e-mail address"):
            attempt()
        assert db.session.get(type(unconfirmed), unconfirmed.id) is not None, what
    # A member whose address is not (or no longer) confirmed cannot write in the group.
    confirmed_member = make.resident(area)
    working_groups.join(confirmed_member, group)
    confirmed_member.email_confirmed_at = None
    db.session.commit()
    with pytest.raises(PermissionDenied, match="Confirm your e-mail address"):
        working_groups.post_message(confirmed_member, group, "Hallo")
    # Once confirmed, the same account may.
    account_email.queue_confirmation(unconfirmed)
    db.session.commit()
    account_email.confirm_email(_token_of(unconfirmed.email))
    assert initiatives.propose(unconfirmed, data).initiator == unconfirmed
    comments.add_comment(unconfirmed, initiative, "Mooi plan!")
    working_groups.join(unconfirmed, group)


def test_five_unconfirmed_accounts_at_one_address_cast_no_ballot(make):
    world = tanthof_round(make)
    casting.cast_ballot(world["resident"], world["round"], {world["projects"][0]: 1})
    assert _ballots() == 1
    setup = ballot_box.setup_for(world["round"].id)
    for n in range(5):
        sock_puppet = make.resident(
            world["area"], confirmed=False, postcode="2617AA", house_number=1
        )
        assert "Confirm your e-mail address" in eligibility.eligibility_problem(
            sock_puppet, world["round"]
        )
        with pytest.raises(PermissionDenied, match="Confirm your e-mail address"):
            casting.cast_ballot(sock_puppet, world["round"], {world["projects"][0]: 1})
        # The one-statement fast path refuses them too (it answers None: not the common case).
        assert (
            ballot_box.try_cast(setup, sock_puppet.session_token, {world["projects"][1]: 1}) is None
        ), n
    db.session.expire_all()
    assert _ballots() == 1
    assert db.session.scalar(select(func.count()).select_from(VoterRecord)) == 1


def test_a_reset_link_used_twice_at_the_same_moment_works_once(app, make):
    """Single use also under a race: the conditional UPDATE lets exactly one use through."""
    import threading

    from buurtbudget.services.errors import ServiceError

    user = make.resident(email="iris@example.org")
    account_email.request_password_reset("iris@example.org")
    [message] = queued("iris@example.org")
    token = link_in(message.body, "/account/reset/").rsplit("/", 1)[1]
    outcomes, lock = [], threading.Lock()
    barrier = threading.Barrier(6)

    def use(n: int) -> None:
        with app.test_request_context():
            try:
                barrier.wait()
                account_email.reset_password(token, f"wachtwoord nummer {n}")
                outcome = f"ok {n}"
            except ServiceError:
                db.session.rollback()
                outcome = "refused"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=use, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    winners = [o for o in outcomes if o.startswith("ok")]
    assert len(winners) == 1 and outcomes.count("refused") == 5, outcomes
    db.session.expire_all()
    assert db.session.get(type(user), user.id).check_password(
        f"wachtwoord nummer {winners[0].split()[1]}"
    )
