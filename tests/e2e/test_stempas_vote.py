"""Issue 14's journey in real Chromium: a resident registers (the address file gives the
area), confirms the e-mail address through the mailed link, enters the stempas code of their
letter (the account is bound to their elector), votes and sees the receipt; the code cannot
vote a second time."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import func, select

from buurtbudget.domain.budget import format_cheque_code, new_cheque_code
from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Elector, User
from buurtbudget.services import electorate
from tests.mail_helpers import link_in, queued


def test_register_link_stempas_vote_and_see_the_receipt(app, make, page):
    app.config["WTF_CSRF_ENABLED"] = True  # the browser posts real CSRF tokens
    try:
        area = make.area(name="Tanthof", postcode="2625AA")
        voting_round = make.voting_round(area, costs=(300_00, 500_00), title="Tanthof 2026")
        code = new_cheque_code()
        make.elector(
            voting_round,
            area_id=area.id,
            birth_year=1994,
            stempas_hash=electorate.stempas_hash(code),
        )
        names = [p.name for p in voting_round.projects]

        page.goto("/account/register")
        page.get_by_label("Naam die anderen zien").fill("Noor")
        page.get_by_label("E-mailadres").fill("noor@example.org")
        page.get_by_label("Postcode").fill("2625 aa")
        page.get_by_label("Huisnummer").fill("12a")
        page.get_by_label("Geboortejaar").fill("1994")
        page.get_by_label("Wachtwoord", exact=True).fill("een goed wachtwoord")
        page.get_by_label("Herhaal wachtwoord").fill("een goed wachtwoord")
        page.get_by_role("button", name="Account aanmaken").click()
        expect(page.get_by_text("Welkom! U woont in Tanthof.")).to_be_visible()

        # The confirmation e-mail waits in the queue: open its link, as the resident would.
        [mail] = [m for m in queued("noor@example.org") if "/account/confirm/" in m.body]
        page.goto(link_in(mail.body, "/account/confirm/"))
        expect(page.get_by_text("Dank u: uw e-mailadres is bevestigd.")).to_be_visible()

        # A self-declared address gives no vote: the round asks for the stempas first.
        page.goto(f"/rounds/{voting_round.id}")
        expect(page.get_by_text("Alleen kiezers van Tanthof kunnen stemmen")).to_be_visible()
        page.get_by_role("link", name="Koppel uw stempas aan uw account om te stemmen").click()
        expect(page.get_by_role("heading", name="Koppel uw stempas")).to_be_visible()
        page.get_by_label("Stempascode").fill(format_cheque_code(code).lower())
        page.get_by_role("button", name="Mijn stempas koppelen").click()
        expect(
            page.get_by_text("Uw account is gekoppeld aan uw stempas: u mag stemmen in Tanthof.")
        ).to_be_visible()

        expect(page.get_by_role("heading", name="Uw stem")).to_be_visible()
        page.get_by_label(names[0]).check()
        page.get_by_role("button", name="Mijn stem controleren").click()
        page.get_by_role("button", name="Mijn stem bevestigen").click()
        expect(page.get_by_role("heading", name="Uw stem is geteld")).to_be_visible()
        expect(page.get_by_text("Bedankt! Uw stem is geteld.")).to_be_visible()

        # The same stempas code cannot vote again, not even from another browser session.
        page.get_by_role("button", name="Uitloggen").click()
        page.goto(f"/rounds/{voting_round.id}/code")
        page.get_by_label("Stemcode").fill(format_cheque_code(code))
        page.get_by_role("button", name="Naar het stembiljet").click()
        # The error summary names the channel and the date; the field repeats it.
        refusal = "Met deze stempas is al gestemd online met een account op"
        expect(page.get_by_role("link", name=f"Stemcode: {refusal}")).to_be_visible()
        expect(page.get_by_text(re.compile(f"^{refusal} [0-9-]+\\.$"))).to_be_visible()

        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(Ballot)) == 1
        user = db.session.scalar(select(User).where(User.email == "noor@example.org"))
        bound = select(Elector.user_id).where(Elector.stempas_hash == electorate.stempas_hash(code))
        assert db.session.scalar(bound) == user.id
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
        db.session.remove()
