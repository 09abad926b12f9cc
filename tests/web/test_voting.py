"""Voting pages: the ballot path (choose -> review -> confirm -> receipt), refusals, voting
codes, changing a vote, paper ballots, setup, closing, results, CSV and pabulib files."""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Role, VoterRecord, VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.services.voting import casting, codes, counting
from tests.paths import PABULIB_DIR
from tests.voting_world import tanthof_round

PABULIB = PABULIB_DIR


@pytest.fixture
def world(make):
    """The shared Tanthof round, titled, with the staff of elsewhere and a council member."""
    world = tanthof_round(make, title="Tanthof kiest")
    return world | {
        "council": make.council_member(world["area"]),
        "other_coordinator": make.coordinator(world["other"]),
        "other_admin": make.administrator(make.municipality()),
    }


def _ballots() -> int:
    return db.session.scalar(select(func.count()).select_from(Ballot))


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_rounds_are_public(client, world):
    page = _text(client.get("/rounds"))
    assert "Tanthof kiest" in page and "Voting now" in page
    detail = _text(client.get(f"/rounds/{world['round'].id}"))
    assert "Project 1" in detail and "€300.00" in detail and "Log in to vote" in detail
    assert client.get("/rounds/987654").status_code == 404


def test_a_resident_votes_in_one_path(client_for, world):
    client = client_for(world["resident"])
    round_id = world["round"].id
    first, second, _ = world["projects"]
    detail = _text(client.get(f"/rounds/{round_id}"))
    assert "Vote now" in detail
    ballot = client.get(f"/rounds/{round_id}/ballot")
    assert ballot.status_code == 200
    page = _text(ballot)
    assert "<fieldset>" in page and 'aria-live="polite"' in page and "js/ballot.js" in page
    assert "Left of the budget of €10,000.00: €10,000.00." in page

    review = client.post(
        f"/rounds/{round_id}/ballot", data={"project": [first, second], "review": "1"}
    )
    assert review.status_code == 200
    text = _text(review)
    assert "Check your vote" in text and "Together: €800.00." in text
    assert _ballots() == 0  # nothing is cast before the confirmation

    confirmed = client.post(f"/rounds/{round_id}/ballot/confirm", data={"project": [first, second]})
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"].endswith(f"/rounds/{round_id}/receipt")
    receipt = _text(client.get(f"/rounds/{round_id}/receipt"))
    assert "Your vote has been counted" in receipt and "Date of your vote" in receipt
    assert "receipt code" not in receipt  # the round does not allow changes
    assert _ballots() == 1

    again = client.get(f"/rounds/{round_id}/ballot", follow_redirects=True)
    assert "You have already voted in this round." in _text(again)
    twice = client.post(f"/rounds/{round_id}/ballot/confirm", data={"project": [first]})
    assert twice.status_code == 302  # refused before casting, with the message on the page
    assert _ballots() == 1 and "You have voted" in _text(client.get(f"/rounds/{round_id}"))


def test_a_race_past_the_page_checks_gets_409(client_for, world, monkeypatch):
    client = client_for(world["resident"])
    round_id = world["round"].id
    client.post(f"/rounds/{round_id}/ballot/confirm", data={"project": [world["projects"][0]]})
    monkeypatch.setattr(casting, "has_voted", lambda user, voting_round: False)
    response = client.post(
        f"/rounds/{round_id}/ballot/confirm", data={"project": [world["projects"][1]]}
    )
    assert response.status_code == 409
    assert "You have already voted in this round." in _text(response)
    assert _ballots() == 1


def test_invalid_ballots_are_explained_without_javascript(client_for, world):
    client = client_for(world["resident"])
    url = f"/rounds/{world['round'].id}/ballot"
    too_many = client.post(url, data={"project": world["projects"], "review": "1"})
    assert too_many.status_code == 400
    assert "Choose at most 2 projects (you chose 3)." in _text(too_many)
    assert "You chose 3 projects, together €1,500.00." in _text(too_many)
    for bad in (["abc"], ["987654"], ["-1"]):
        response = client.post(url, data={"project": bad, "review": "1"})
        assert response.status_code == 400
        assert "not in this round" in _text(response)
    confirm = client.post(f"{url}/confirm", data={"project": world["projects"]})
    assert confirm.status_code == 400 and _ballots() == 0


@pytest.mark.parametrize(
    "who, expected",
    [
        ("other_resident", "Only electors of Tanthof can vote in this round"),
        ("coordinator", "Only electors of Tanthof can vote in this round"),
        ("child", "Only electors of Tanthof can vote in this round"),
    ],
)
def test_who_cannot_vote_is_told_why(make, client_for, world, who, expected):
    users = {
        "other_resident": lambda: make.resident(world["other"]),
        "coordinator": lambda: world["coordinator"],
        "child": lambda: make.resident(world["area"], birth_year=world["round"].year - 10),
    }
    client = client_for(users[who]())
    response = client.get(f"/rounds/{world['round'].id}/ballot", follow_redirects=True)
    assert expected in _text(response)
    posted = client.post(
        f"/rounds/{world['round'].id}/ballot/confirm", data={"project": [world["projects"][0]]}
    )
    assert posted.status_code == 302 and _ballots() == 0


def test_anonymous_voters_are_sent_to_log_in(client, world):
    response = client.get(f"/rounds/{world['round'].id}/ballot")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    posted = client.post(
        f"/rounds/{world['round'].id}/ballot/confirm", data={"project": [world["projects"][0]]}
    )
    assert posted.status_code == 302 and _ballots() == 0


def test_changing_a_vote_with_the_receipt(make, client_for, world):
    voting_round = make.voting_round(
        world["other"], costs=(100_00, 200_00), allow_ballot_change=True
    )
    a, b = (p.id for p in voting_round.projects)
    voter = make.resident(world["other"])
    client = client_for(voter)
    client.post(f"/rounds/{voting_round.id}/ballot/confirm", data={"project": [a]})
    receipt = _text(client.get(f"/rounds/{voting_round.id}/receipt"))
    assert "Your receipt code:" in receipt
    page = _text(client.get(f"/rounds/{voting_round.id}/ballot"))
    assert "Change your vote" in page
    # The voter's own earlier choice is preselected (found through their receipt).
    assert re.search(rf'id="project-{a}"[^>]*checked', page)
    assert not re.search(rf'id="project-{b}"[^>]*checked', page)
    review = _text(
        client.post(f"/rounds/{voting_round.id}/ballot", data={"project": [b], "review": "1"})
    )
    assert "replaces your earlier vote" in review
    token = review.split('name="receipt" value="')[1].split('"')[0]
    assert len(token) >= 22
    wrong = client.post(
        f"/rounds/{voting_round.id}/ballot/confirm", data={"project": [b], "receipt": "wrong"}
    )
    assert wrong.status_code == 400 and "receipt code is not valid" in _text(wrong)
    changed = client.post(
        f"/rounds/{voting_round.id}/ballot/confirm", data={"project": [b], "receipt": token}
    )
    assert changed.status_code == 302
    ballot = db.session.scalars(select(Ballot)).one()
    db.session.refresh(ballot)
    assert list(ballot.choices) == [b]
    # Another resident on the same browser profile does not see the first voter's receipt.
    other_client = client_for(make.resident(world["other"]))
    assert "receipt code" not in _text(other_client.get(f"/rounds/{voting_round.id}/receipt"))


def test_voting_with_a_code(make, client, world):
    voting_round = make.voting_round(
        world["area"], costs=(100_00,), uses_voting_codes=True, electorate=False
    )
    [(_recipient, code)] = codes.issue_voting_codes(
        None, voting_round, [codes.CodeRecipient("Kruithuisweg 1", world["area"])]
    )
    url = f"/rounds/{voting_round.id}/code"
    assert client.get(url).status_code == 200
    wrong = client.post(url, data={"code": "AAAA-BBBB-CCCC"})
    assert wrong.status_code == 400 and "not valid for this round" in _text(wrong)
    assert (
        client.post(url, data={"code": code})
        .headers["Location"]
        .endswith(f"/rounds/{voting_round.id}/ballot")
    )
    assert client.get(f"/rounds/{voting_round.id}/ballot").status_code == 200
    project = voting_round.projects[0].id
    done = client.post(f"/rounds/{voting_round.id}/ballot/confirm", data={"project": [project]})
    assert done.status_code == 302
    assert db.session.scalars(select(Ballot)).one().channel.value == "code"
    used = client.post(url, data={"code": code})
    assert used.status_code == 400 and "already been used" in _text(used)
    # A round with neither voting codes nor an electorate (stempas codes) has no code page.
    bare = make.voting_round(world["other"], costs=(100_00,), electorate=False)
    assert client.get(f"/rounds/{bare.id}/code").status_code == 404


def test_paper_ballot_entry(make, client_for, world):
    """Issue numbered papers, key a paper twice (two staff members) with its stempas."""
    from buurtbudget.domain.budget import format_cheque_code, new_cheque_code
    from buurtbudget.services import electorate

    url = f"/staff/rounds/{world['round'].id}/paper"
    for who in ("resident", "council"):
        assert client_for(world[who]).get(url).status_code == 403
    for who in ("other_coordinator", "other_admin"):
        assert client_for(world[who]).get(url).status_code == 403
    client = client_for(world["coordinator"])
    assert "Enter paper ballots" in _text(client.get(url))
    issued = client.post(url, data={"issue-area": world["area"].id, "issue-count": "2"})
    assert issued.status_code == 302
    number = f"{world['area'].id}-00001"
    code = new_cheque_code()
    make.elector(
        world["round"], area_id=world["area"].id, stempas_hash=electorate.stempas_hash(code)
    )
    data = {"paper_number": number, "stempas": format_cheque_code(code)}
    data["project"] = [world["projects"][0]]
    not_issued = client.post(url, data={**data, "paper_number": "A-17"})
    assert not_issued.status_code == 400
    assert "not in this round's register" in html.unescape(_text(not_issued))
    first = client.post(url, data=data, follow_redirects=True)
    assert "a second staff member must key it too" in _text(first) and _ballots() == 0
    again = client.post(url, data=data)
    assert again.status_code == 400 and "You have keyed this paper already" in _text(again)
    second = client_for(world["admin"]).post(url, data=data, follow_redirects=True)
    assert f"Paper ballot {number} has been entered." in _text(second)
    assert _ballots() == 1
    # The same stempas on another paper: refused, saying how and when it was used.
    reused = client.post(url, data={**data, "paper_number": f"{world['area'].id}-00002"})
    assert reused.status_code == 400
    assert "This stempas has already been used to vote on paper on" in _text(reused)
    assert "1 paper ballot entered so far." in _text(client.get(url))


def _round_form(world, **changes) -> dict:
    now = utcnow()
    data = {
        "title": "Buitenhof beslist",
        "description": "Stem op de plannen voor Buitenhof.",
        "areas": [world["other"].id],
        "proposals_until": (now + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
        "review_until": (now + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M"),
        "voting_opens_at": (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        "voting_closes_at": (now + timedelta(days=44)).strftime("%Y-%m-%dT%H:%M"),
        "ballot_type": "approval",
        "rule_name": "mes_add1",
        "max_projects": "3",
        "min_age": "16",
        "budget_period": "0",
        "budget": "25.000,00",
    }
    data.update(changes)
    return data


def test_setting_up_and_editing_a_round(client_for, world):
    admin = client_for(world["admin"])
    assert admin.get("/staff/rounds/new").status_code == 200
    created = admin.post("/staff/rounds/new", data=_round_form(world))
    assert created.status_code == 302
    voting_round = db.session.scalars(
        select(VotingRound).where(VotingRound.title == "Buitenhof beslist")
    ).one()
    assert (voting_round.rule_name, voting_round.budget_cents) == ("mes_add1", 25_000_00)
    assert voting_round.max_projects == 3 and voting_round.areas == [world["other"]]
    bad = admin.post("/staff/rounds/new", data=_round_form(world, budget="-5", title=""))
    assert bad.status_code == 400 and "cannot be negative" in _text(bad)
    wrong_order = admin.post(
        "/staff/rounds/new",
        data=_round_form(world, voting_closes_at=utcnow().strftime("%Y-%m-%dT%H:%M")),
    )
    assert wrong_order.status_code == 400 and "follow each other" in _text(wrong_order)
    edit_url = f"/staff/rounds/{voting_round.id}/edit"
    form = _text(admin.get(edit_url))
    assert "Buitenhof beslist" in form and 'value="250,00"' not in form
    assert admin.post(edit_url, data=_round_form(world, title="Buitenhof kiest")).status_code == 302
    db.session.refresh(voting_round)
    assert voting_round.title == "Buitenhof kiest"
    # A coordinator of another area cannot edit it, nor put their area in it.
    other = client_for(world["coordinator"])
    assert other.get(edit_url).status_code == 403
    denied = other.post("/staff/rounds/new", data=_round_form(world))
    assert (
        denied.status_code == 400
        and db.session.scalar(select(func.count()).select_from(VotingRound)) == 2
    )
    assert client_for(world["resident"]).get("/staff/rounds/new").status_code == 403


def test_staff_of_two_municipalities_choose_where_to_set_up_and_import(client_for, make, world):
    first = world["area"].municipality
    second = make.municipality("Zaanstad")
    poelenburg = make.area(second, "Poelenburg")
    staff = make.user(
        None,
        municipality=first,
        roles=((Role.ADMINISTRATOR, first), (Role.COORDINATOR, poelenburg)),
    )
    client = client_for(staff)
    index = _text(client.get("/rounds"))
    for municipality in (first, second):
        assert f"New voting round in {municipality.name}" in index
        assert f"/staff/rounds/new?municipality={municipality.id}" in index
    # Administrator of the first only: importing is offered there alone.
    assert f"/staff/rounds/import?municipality={first.id}" in index
    assert f"/staff/rounds/import?municipality={second.id}" not in index
    url = f"/staff/rounds/new?municipality={second.id}"
    assert "Poelenburg" in _text(client.get(url))
    created = client.post(url, data=_round_form(world, areas=[poelenburg.id]))
    assert created.status_code == 302
    voting_round = db.session.scalars(
        select(VotingRound).where(VotingRound.title == "Buitenhof beslist")
    ).one()
    assert voting_round.municipality_id == second.id and voting_round.areas == [poelenburg]
    # Without ?municipality= the first (lowest id) applies, as on the other staff pages.
    assert "Poelenburg" not in _text(client.get("/staff/rounds/new"))
    # Not staff there: ?municipality= cannot pick another municipality.
    foreign = world["other_admin"].roles[0].municipality_id
    assert "Poelenburg" not in _text(client.get(f"/staff/rounds/new?municipality={foreign}"))
    import_page = client.get(f"/staff/rounds/import?municipality={second.id}")
    assert import_page.status_code == 200  # falls back to where they are administrator
    # A resident sees neither link.
    assert "/staff/rounds/new" not in _text(client_for(world["resident"]).get("/rounds"))


def _as_on_the_page(voting_round, **changes) -> dict:
    """The edit form of a round whose voting has opened, as the browser sends it: its title
    and its dates (as the page shows them, to the minute), but none of the fields the page
    shows read-only (disabled fields are not sent): the opening date, the areas, the ballot,
    the rule and limits, who may vote and the money."""
    data = {"title": voting_round.title}
    for name in ("proposals_until", "review_until", "voting_closes_at"):
        data[name] = _to_local_text(getattr(voting_round, name))
    data.update(changes)
    return data


def _as_sent_before_the_opening(voting_round, **changes) -> dict:
    """The whole edit form, as a page loaded before the opening sends it (or a hand-made
    request): every field, the read-only ones included."""
    data = _as_on_the_page(
        voting_round,
        areas=[a.id for a in voting_round.areas],
        voting_opens_at=_to_local_text(voting_round.voting_opens_at),
        ballot_type=voting_round.ballot_type,
        rule_name=voting_round.rule_name,
        max_projects=str(voting_round.max_projects),
        min_age=str(voting_round.min_age),
        budget_period="0",
        budget=f"{voting_round.budget_cents // 100},00",
    )
    data.update(changes)
    return data


def _disabled_fields(page: str) -> set[str]:
    """Names of the form fields the page shows read-only (in a disabled fieldset or
    disabled themselves)."""
    names = set()
    for block in re.findall(r"<fieldset[^>]*\bdisabled\b.*?</fieldset>", page, re.S):
        names |= set(re.findall(r'name="([a-z_]+)"', block))
    names |= set(re.findall(r'<input[^>]*\bdisabled\b[^>]*name="([a-z_]+)"', page))
    names |= set(re.findall(r'<input[^>]*name="([a-z_]+)"[^>]*\bdisabled\b', page))
    return names


FIXED_ON_THE_PAGE = {
    "areas",
    "voting_opens_at",
    "ballot_type",
    "rule_name",
    "min_projects",
    "max_projects",
    "max_total_cost",
    "max_total_points",
    "max_points_per_project",
    "min_age",
    "uses_voting_codes",
    "allow_ballot_change",
    "budget_period",
    "budget",
}


def test_editing_after_the_first_ballot_keeps_the_rules(client_for, world):
    casting.cast_ballot(world["resident"], world["round"], {world["projects"][0]: 1})
    admin = client_for(world["admin"])
    page = _text(admin.get(f"/staff/rounds/{world['round'].id}/edit"))
    assert "Voting opened on" in page
    data = _as_sent_before_the_opening(world["round"], rule_name="mes")
    response = admin.post(f"/staff/rounds/{world['round'].id}/edit", data=data)
    assert response.status_code == 409 and "cannot change any more" in _text(response)


def test_the_ballot_setup_is_read_only_once_voting_opened(client_for, world):
    # Voting is open and nobody has voted yet: the rule, the ballot, the limits, the areas
    # and the money are fixed all the same.
    voting_round = world["round"]
    assert voting_round.is_voting_open() and not voting_round.is_locked
    admin = client_for(world["admin"])
    url = f"/staff/rounds/{voting_round.id}/edit"
    page = _text(admin.get(url))
    assert "Voting opened on" in page and "were fixed then" in page
    assert _disabled_fields(page) == FIXED_ON_THE_PAGE
    assert 'name="title"' in page and "title" not in _disabled_fields(page)
    # The page as the browser sends it saves what may change (its dates shown to the minute
    # are the stored ones, not a closing date moved earlier by the seconds).
    assert admin.post(url, data=_as_on_the_page(voting_round, title="T")).status_code == 302
    later = voting_round.voting_closes_at + timedelta(days=1)
    saved = admin.post(
        url,
        data=_as_on_the_page(voting_round, title="Tanthof", voting_closes_at=_to_local_text(later)),
    )
    assert saved.status_code == 302
    db.session.refresh(voting_round)
    assert voting_round.title == "Tanthof"
    assert (voting_round.rule_name, voting_round.max_projects) == ("greedy", 2)
    assert [a.id for a in voting_round.areas] == [world["area"].id]
    # A page loaded before the opening saves too, as long as it changes nothing fixed.
    unchanged = _as_sent_before_the_opening(voting_round, title="Tanthof kiest")
    assert admin.post(url, data=unchanged).status_code == 302
    # Anything fixed sent anyway is refused, and the page shows the stored setup again.
    attempts = [
        {"rule_name": "mes"},
        {"ballot_type": "choose-1"},
        {"max_projects": "3"},
        {"budget": "50.000,00"},
        {"min_age": "12"},
        {"allow_ballot_change": "y"},
        {"areas": [world["area"].id, world["other"].id]},
    ]
    for changes in attempts:
        response = admin.post(url, data=_as_sent_before_the_opening(voting_round, **changes))
        assert response.status_code == 409, changes
        assert "cannot change any more" in _text(response)
        assert '<option selected value="greedy">' in _text(response)
    db.session.refresh(voting_round)
    assert (voting_round.title, voting_round.rule_name, voting_round.ballot_type) == (
        "Tanthof kiest",
        "greedy",
        "approval",
    )
    assert (voting_round.max_projects, voting_round.min_age, voting_round.budget_cents) == (
        2,
        16,
        1_000_000,
    )
    assert not voting_round.allow_ballot_change
    assert [a.id for a in voting_round.areas] == [world["area"].id]
    # A shorter vote is refused too.
    sooner = _to_local_text(utcnow() + timedelta(hours=1))
    response = admin.post(url, data=_as_on_the_page(voting_round, voting_closes_at=sooner))
    assert response.status_code == 409 and "closing date can only move later" in _text(response)


def test_the_opening_date_is_read_only_once_voting_opened(client_for, world):
    # Voting is open, nobody has voted: moving the opening date later would put the round
    # back before its opening, where its weighting could change again.
    voting_round = world["round"]
    opens = voting_round.voting_opens_at
    admin = client_for(world["admin"])
    url = f"/staff/rounds/{voting_round.id}/edit"
    page = admin.get(url).get_data(as_text=True)
    assert re.search(r'<input[^>]*disabled[^>]*name="voting_opens_at"', page) or re.search(
        r'<input[^>]*name="voting_opens_at"[^>]*disabled', page
    ), page
    assert "the opening date can no longer change" in _text(admin.get(url))
    # The page as sent by the browser saves (here: a new title and a later closing date).
    later = _to_local_text(voting_round.voting_closes_at + timedelta(days=1))
    saved = admin.post(
        url, data=_as_on_the_page(voting_round, title="Tanthof", voting_closes_at=later)
    )
    assert saved.status_code == 302
    db.session.refresh(voting_round)
    assert voting_round.title == "Tanthof" and voting_round.voting_opens_at == opens
    # An opening date sent anyway (later, back before the opening) is refused.
    now = utcnow()
    moved = _as_on_the_page(
        voting_round,
        proposals_until=_to_local_text(now + timedelta(days=1)),
        review_until=_to_local_text(now + timedelta(days=2)),
        voting_opens_at=_to_local_text(now + timedelta(days=3)),
        voting_closes_at=_to_local_text(now + timedelta(days=20)),
    )
    response = admin.post(url, data=moved)
    assert response.status_code == 409
    assert "the opening date can no longer change" in _text(response)
    db.session.refresh(voting_round)
    assert voting_round.voting_opens_at == opens and voting_round.is_voting_open()


def _to_local_text(moment) -> str:
    from buurtbudget.web.voting_staff import DATE_FORMAT, _to_local

    return _to_local(moment).strftime(DATE_FORMAT)


def _end_voting(voting_round) -> None:
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def test_publishing_says_which_winner_is_not_funded(client_for, world):
    from buurtbudget.models import RoundProject
    from buurtbudget.services import initiatives
    from buurtbudget.services.voting import casting, counting

    voting_round = world["round"]
    first, second, _third = world["projects"]
    casting.cast_ballot(world["resident"], voting_round, {first: 1, second: 1})
    _end_voting(voting_round)
    counting.close_round(world["admin"], voting_round)
    winner = db.session.get(RoundProject, first)
    assert winner.selected
    initiative = winner.initiative
    initiatives.apply_status_change(initiative.initiator, initiative, "cancelled", "moved away")
    counting.request_publication(world["coordinator"], voting_round)
    admin = client_for(world["admin"])
    published = admin.post(f"/staff/rounds/{voting_round.id}/publish", follow_redirects=True)
    page = _text(published)
    assert "The results are published." in page
    assert f"“{winner.name}” won but is not funded" in page and "(now: Cancelled)" in page


def test_close_publish_results_and_files(make, client, client_for, world):
    voting_round = world["round"]
    first, second, third = world["projects"]
    casting.cast_ballot(world["resident"], voting_round, {first: 1, second: 1})
    make.paper_ballot(voting_round, {third: 1}, keyers=(world["coordinator"], world["admin"]))
    urls = {
        "results": f"/rounds/{voting_round.id}/results",
        "csv": f"/rounds/{voting_round.id}/results.csv",
        "pb": f"/rounds/{voting_round.id}/export.pb",
    }
    for url in urls.values():  # nothing to see while voting is open
        assert client.get(url).status_code == 404
        assert client_for(world["admin"]).get(url).status_code == 404
    admin = client_for(world["admin"])
    close_url = f"/staff/rounds/{voting_round.id}/close"
    early = admin.post(close_url)
    assert early.status_code == 409 and "has not ended" in _text(early)
    _end_voting(voting_round)
    assert client_for(world["resident"]).post(close_url).status_code == 403
    assert client_for(world["other_coordinator"]).get(close_url).status_code == 403
    assert "Close and count" in _text(admin.get(close_url))
    assert admin.post(close_url).status_code == 302

    # Closed, not published: staff see results, residents do not.
    assert client.get(urls["results"]).status_code == 404
    staff_page = _text(admin.get(urls["results"]))
    assert "not published yet" in staff_page and "Turnout per area" in staff_page
    assert admin.get(urls["pb"]).status_code == 200
    publish_url = f"/staff/rounds/{voting_round.id}/publish"
    assert client_for(world["council"]).post(publish_url).status_code == 403
    # Four eyes: one staff member asks for publication, another publishes.
    alone = admin.post(publish_url)
    assert alone.status_code == 409 and "Ask for publication first" in _text(alone)
    assert "Ask for publication" in staff_page
    request_url = f"/staff/rounds/{voting_round.id}/request-publication"
    assert admin.post(request_url).status_code == 302
    assert "A second staff member must publish" in _text(admin.get(urls["results"]))
    assert admin.post(publish_url).status_code == 409
    colleague = client_for(world["coordinator"])
    assert "Publish the results" in _text(colleague.get(urls["results"]))
    assert colleague.post(publish_url).status_code == 302

    page = _text(client.get(urls["results"]))
    assert "Results of Tanthof kiest" in page
    assert page.count("Selected</span>") == 3  # budget €10,000 covers all three
    assert "of which 1 on paper" in page
    # Turnout: 2 ballots, both with Tanthof as area (a paper ballot takes the area of the
    # elector whose stempas came with it), 13,600 inhabitants.
    assert "0.0%" in page and "Area not known (paper)" not in page
    csv_text = _text(client.get(urls["csv"]))
    assert csv_text.splitlines()[0] == ",".join(counting.CSV_HEADER)
    assert "Project 1,300.00,1,1,1," in csv_text
    pb = client.get(urls["pb"])
    assert pb.status_code == 200 and _text(pb).startswith("META")
    statuses = {p.initiative.status.value for p in voting_round.projects}
    assert statuses == {"selected"}


def test_import_a_pabulib_file(client_for, world):
    url = "/staff/rounds/import"
    assert client_for(world["coordinator"]).get(url).status_code == 403
    admin = client_for(world["admin"])
    assert admin.get(url).status_code == 200
    content = (PABULIB / "Netherlands_Assen_2024.pb").read_bytes()
    response = admin.post(
        url,
        data={"file": (io.BytesIO(content), "assen.pb"), "area": "0", "rule_name": ""},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    imported = db.session.scalars(
        select(VotingRound).where(VotingRound.title == "Assen Top Idee")
    ).one()
    assert imported.is_published and imported.rule_name == "mes_add1"
    assert "PopUp Podium" in _text(admin.get(response.headers["Location"]))
    broken = admin.post(
        url,
        data={"file": (io.BytesIO(b"nonsense"), "x.pb"), "area": "0", "rule_name": ""},
        content_type="multipart/form-data",
    )
    assert broken.status_code == 400 and "not a valid pabulib file" in _text(broken)


_HEAD = "META\nkey;value\nbudget;100\nvote_type;{kind}\nPROJECTS\nproject_id;cost\n"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'\r"', "line 1: control character"),
        (
            _HEAD.format(kind="approval").encode() + b"a;1\nVOTES\nvoter_id;vote\nx\x00;a\n",
            "line 10",
        ),
        (
            _HEAD.format(kind="approval").encode()
            + b"a;"
            + b"9" * 30
            + b"\nVOTES\nvoter_id;vote\n1;a\n",
            "line 7: cost of project",
        ),
        (
            _HEAD.replace("budget;100", "budget;" + "9" * 25).format(kind="approval").encode()
            + b"a;1\nVOTES\nvoter_id;vote\n1;a\n",
            "line 3: budget must be a number",
        ),
        (
            _HEAD.format(kind="choose-1").encode() + b"a;1\nb;1\nVOTES\nvoter_id;vote\n1;a,b\n",
            "line 11: voter",
        ),
    ],
    ids=["cr-quote", "nul", "huge-cost", "huge-budget", "choose-one-two-projects"],
)
def test_importing_a_hostile_pabulib_file_is_a_clear_400(client_for, world, content, problem):
    """Each of these was a 500 or an accepted round (NUL bytes, a two-project choose-one
    ballot) before the reader checked them."""
    admin = client_for(world["admin"])
    before = db.session.scalar(select(func.count()).select_from(VotingRound))
    response = admin.post(
        "/staff/rounds/import",
        data={"file": (io.BytesIO(content), "x.pb"), "area": "0", "rule_name": ""},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "not a valid pabulib file" in _text(response) and problem in _text(response)
    assert db.session.scalar(select(func.count()).select_from(VotingRound)) == before


def test_staff_of_one_municipality_only(client_for, world):
    other_admin = client_for(world["other_admin"])
    for path in ("edit", "paper", "close", "publish", "codes"):
        assert other_admin.get(f"/staff/rounds/{world['round'].id}/{path}").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(VoterRecord)) == 0
    assert Role.ADMINISTRATOR in {r.role for r in world["other_admin"].roles}


# The hot path of casting (services/voting/ballot_box.py) ------------------------------------


def test_after_the_first_ballot_the_hot_path_casts_and_thanks_in_the_voters_language(
    make, client_for, world, monkeypatch
):
    round_id = world["round"].id
    first, second, _ = world["projects"]
    client_for(world["resident"]).post(
        f"/rounds/{round_id}/ballot/confirm", data={"project": [first]}
    )  # the first ballot locks the round, the complete way
    dutch = make.resident(world["area"], locale="nl")
    client = client_for(dutch)

    def complete_way(*args, **kwargs):
        raise AssertionError("the hot path should have cast this ballot")

    monkeypatch.setattr(casting, "cast_ballot", complete_way)
    response = client.post(f"/rounds/{round_id}/ballot/confirm", data={"project": [second]})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/rounds/{round_id}/receipt")
    receipt = _text(client.get(f"/rounds/{round_id}/receipt"))
    assert "Bedankt! Uw stem is geteld." in receipt  # the resident's language, not the browser's
    assert _ballots() == 2 and casting.has_voted(dutch, world["round"])

    # Voting again goes the complete way, which explains (and writes nothing).
    again = client.post(f"/rounds/{round_id}/ballot/confirm", data={"project": [first]})
    assert again.status_code == 302 and _ballots() == 2
    # The message is kept per language: the next resident reads their own.
    english = client_for(make.resident(world["area"], locale="en"))
    english.post(f"/rounds/{round_id}/ballot/confirm", data={"project": [second]})
    receipt = _text(english.get(f"/rounds/{round_id}/receipt"))
    assert "Thank you! Your vote has been counted." in receipt and _ballots() == 3


def test_the_hot_path_keeps_csrf_protection(make, csrf_app, world):
    round_id = world["round"].id
    first = world["projects"][0]
    casting.cast_ballot(make.resident(world["area"]), world["round"], {first: 1})  # locks
    resident = make.resident(world["area"])
    client = csrf_app.test_client()
    page = _text(client.get("/account/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    login = {"email": resident.email, "password": "correct horse battery", "csrf_token": token}
    assert client.post("/account/login", data=login).status_code == 302
    url = f"/rounds/{round_id}/ballot/confirm"
    for forged in ({}, {"csrf_token": "forged"}):
        response = client.post(url, data={"project": [first], **forged})
        assert response.status_code == 400 and _ballots() == 1
    assert client.post(url, data={"project": [first], "csrf_token": token}).status_code == 302
    assert _ballots() == 2


def test_the_hot_path_refuses_a_session_from_another_browser(make, client_for, world):
    """Flask-Login's strong session protection: the session cookie alone, from another
    browser, does not cast (the complete way then sends the visitor to log in)."""
    round_id = world["round"].id
    first = world["projects"][0]
    casting.cast_ballot(make.resident(world["area"]), world["round"], {first: 1})  # locks
    client = client_for(make.resident(world["area"]))
    response = client.post(
        f"/rounds/{round_id}/ballot/confirm",
        data={"project": [first]},
        headers={"User-Agent": "another browser"},
    )
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    assert _ballots() == 1
