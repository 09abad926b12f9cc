"""Issue 14 items 4 and 5, the attacks of the review: unverified accounts, an account and its
elector's stempas, paper after online, a coordinator moving residents, and 200 simultaneous
attempts of one elector across the three channels. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from buurtbudget.domain.budget import format_cheque_code, new_cheque_code
from buurtbudget.extensions import db
from buurtbudget.models import Ballot, Elector, PaperBallotSheet, User, VotingRound
from buurtbudget.services import accounts, electorate, paper_ballots
from buurtbudget.services.errors import Conflict, PermissionDenied
from buurtbudget.services.voting import casting

pytestmark = pytest.mark.usefixtures("english")


def _ballots() -> int:
    return db.session.scalar(select(func.count()).select_from(Ballot))


@pytest.fixture
def tanthof(make):
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Tanthof", postcode="2617AA")
    other = make.area(municipality, name="Buitenhof", postcode="2625AA")
    voting_round = make.voting_round(area, costs=(100_00, 200_00))
    return {
        "area": area,
        "other": other,
        "round": voting_round,
        "project": voting_round.projects[0].id,
        "coordinator": make.coordinator(area),
        "admin": make.administrator(municipality),
    }


def _elector_with_code(make, voting_round, area) -> tuple[Elector, str]:
    code = new_cheque_code()
    elector = make.elector(
        voting_round, area_id=area.id, stempas_hash=electorate.stempas_hash(code)
    )
    return elector, code


def test_five_unverified_accounts_at_one_address_cast_no_ballot(app, tanthof):
    for n in range(5):
        user = accounts.register(
            accounts.Registration(
                email=f"wegwerp{n}@example.org",
                password="een lang wachtwoord",
                display_name=f"Bewoner {n}",
                postcode="2617 AA",
                house_number="1",
                birth_year=1990,
            )
        )
        assert user.home_area_id == tanthof["area"].id  # the address says Tanthof...
        with pytest.raises(PermissionDenied, match="link the stempas"):
            casting.cast_ballot(user, tanthof["round"], {tanthof["project"]: 1})
    assert _ballots() == 0  # ...but no vote without an elector bound by stempas


def test_account_and_the_same_electors_stempas_give_one_ballot(app, make, tanthof):
    voting_round, project = tanthof["round"], tanthof["project"]
    _elector, code = _elector_with_code(make, voting_round, tanthof["area"])
    user = make.resident(tanthof["area"], elector=False)
    electorate.bind_account(user, voting_round, code)
    casting.cast_ballot(user, voting_round, {project: 1})
    with pytest.raises(Conflict, match=r"already been used to vote online with an account on \d"):
        casting.cast_ballot(None, voting_round, {project: 1}, voting_code=code)
    with pytest.raises(Conflict, match="already voted"):
        casting.cast_ballot(user, voting_round, {project: 1})
    # The other way round: the code first, then the account bound to it.
    _other, other_code = _elector_with_code(make, voting_round, tanthof["area"])
    casting.cast_ballot(
        None, voting_round, {project: 1}, voting_code=format_cheque_code(other_code)
    )
    second = make.resident(tanthof["area"], elector=False)
    electorate.bind_account(second, voting_round, other_code)
    assert casting.has_voted(second, voting_round)
    with pytest.raises(Conflict, match="already been used to vote online with the stempas code"):
        casting.cast_ballot(second, voting_round, {project: 1})
    assert _ballots() == 2


def test_paper_after_online_is_refused_and_online_after_paper(app, make, tanthof):
    voting_round, project, area = tanthof["round"], tanthof["project"], tanthof["area"]
    keyers = (tanthof["coordinator"], tanthof["admin"])
    _elector, code = _elector_with_code(make, voting_round, area)
    casting.cast_ballot(None, voting_round, {project: 1}, voting_code=code)
    [sheet] = paper_ballots.issue_papers(keyers[0], voting_round, area, 1)
    today = date.today().isoformat()
    with pytest.raises(Conflict, match=f"online with the stempas code on {today}"):
        paper_ballots.key_paper(keyers[0], voting_round, sheet.number, code, {project: 1})
    # Paper first: the account bound to that stempas can no longer vote online.
    _paper_elector, paper_code = _elector_with_code(make, voting_round, area)
    for keyer in keyers:
        paper_ballots.key_paper(keyer, voting_round, sheet.number, paper_code, {project: 1})
    user = make.resident(area, elector=False)
    electorate.bind_account(user, voting_round, paper_code)
    with pytest.raises(Conflict, match=f"on paper on {today}"):
        casting.cast_ballot(user, voting_round, {project: 1})
    with pytest.raises(Conflict, match="on paper"):
        casting.cast_ballot(None, voting_round, {project: 1}, voting_code=paper_code)
    assert _ballots() == 2


def test_paper_needs_a_registered_paper_two_staff_members_and_agreement(app, make, tanthof):
    voting_round, project, area = tanthof["round"], tanthof["project"], tanthof["area"]
    coordinator, admin = tanthof["coordinator"], tanthof["admin"]
    second_project = voting_round.projects[1].id
    _elector, code = _elector_with_code(make, voting_round, area)
    with pytest.raises(Exception, match="not in this round's register"):
        paper_ballots.key_paper(coordinator, voting_round, "P-001", code, {project: 1})
    [sheet] = paper_ballots.issue_papers(coordinator, voting_round, area, 1)
    paper_ballots.key_paper(coordinator, voting_round, sheet.number, code, {project: 1})
    with pytest.raises(Conflict, match="second staff member"):
        paper_ballots.key_paper(coordinator, voting_round, sheet.number, code, {project: 1})
    result = paper_ballots.key_paper(admin, voting_round, sheet.number, code, {second_project: 1})
    assert result.mismatch and not result.entered and _ballots() == 0
    assert [s.number for s in paper_ballots.mismatches(voting_round)] == [sheet.number]
    paper_ballots.discard_keyings(admin, voting_round, sheet.number)
    assert paper_ballots.mismatches(voting_round) == []
    paper_ballots.key_paper(coordinator, voting_round, sheet.number, code, {project: 1})
    assert paper_ballots.key_paper(admin, voting_round, sheet.number, code, {project: 1}).entered
    assert _ballots() == 1
    ballot = db.session.scalars(select(Ballot)).one()
    assert (ballot.paper_number, ballot.area_id) == (sheet.number, area.id)
    assert db.session.get(PaperBallotSheet, sheet.id).entered
    # A coordinator of another area cannot key papers of this round.
    outsider = make.coordinator(tanthof["other"])
    [other_sheet] = paper_ballots.issue_papers(admin, voting_round, area, 1)
    with pytest.raises(PermissionDenied):
        paper_ballots.key_paper(outsider, voting_round, other_sheet.number, code, {project: 1})


def test_moving_a_resident_adds_no_vote_elsewhere(app, make, tanthof):
    """A coordinator moves residents of another area into Tanthof (and a Tanthof elector out):
    the electorate is the register's, frozen since voting opened."""
    voting_round, project = tanthof["round"], tanthof["project"]
    moved_in = make.resident(tanthof["other"])
    coordinator = tanthof["coordinator"]
    moved_in.home_area = tanthof["area"]  # as accounts.set_home_area would, or a direct edit
    db.session.commit()
    with pytest.raises(PermissionDenied, match="link the stempas"):
        casting.cast_ballot(moved_in, voting_round, {project: 1})
    elector_user = make.resident(tanthof["area"])
    elector_user.home_area = tanthof["other"]
    db.session.commit()
    casting.cast_ballot(elector_user, voting_round, {project: 1})
    assert db.session.scalars(select(Ballot)).one().area_id == tanthof["area"].id
    assert coordinator is not None


ATTEMPTS = 200


def test_200_simultaneous_attempts_of_one_elector_across_three_channels_give_one_ballot(
    app, make, tanthof
):
    voting_round, project, area = tanthof["round"], tanthof["project"], tanthof["area"]
    keyers = (tanthof["coordinator"], tanthof["admin"])
    _elector, code = _elector_with_code(make, voting_round, area)
    user = make.resident(area, elector=False)
    electorate.bind_account(user, voting_round, code)
    sheets = paper_ballots.issue_papers(keyers[0], voting_round, area, ATTEMPTS // 3 + 1)
    # Each paper keyed once already: the racing keying is the second, which enters it.
    for sheet in sheets:
        paper_ballots.key_paper(keyers[0], voting_round, sheet.number, code, {project: 1})
    ids = {
        "round": voting_round.id,
        "user": user.id,
        "admin": keyers[1].id,
        "sheets": [s.number for s in sheets],
    }
    db.session.remove()
    start = threading.Barrier(ATTEMPTS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        with app.test_request_context(headers={"Accept-Language": "en"}):
            start.wait(timeout=60)
            try:
                this_round = db.session.get(VotingRound, ids["round"])
                channel = n % 3
                if channel == 0:
                    casting.cast_ballot(db.session.get(User, ids["user"]), this_round, {project: 1})
                elif channel == 1:
                    casting.cast_ballot(None, this_round, {project: 1}, voting_code=code)
                else:
                    paper_ballots.key_paper(
                        db.session.get(User, ids["admin"]),
                        this_round,
                        ids["sheets"][n // 3],
                        code,
                        {project: 1},
                    )
                result = "cast"
            except Conflict as error:
                result = "refused" if "already" in str(error.message) else str(error.message)
            except Exception as error:  # noqa: BLE001 - any other failure is reported below
                result = f"{type(error).__name__}: {error}"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert Counter(outcomes) == {"cast": 1, "refused": ATTEMPTS - 1}
    assert _ballots() == 1
