"""Home and area pages lead to what is happening now; an initiative on a ballot says so."""

from __future__ import annotations

from datetime import date, timedelta


def _world(make):
    municipality = make.municipality("Delft")
    tanthof = make.area(municipality, name="Tanthof", inhabitants=13_600)
    buitenhof = make.area(municipality, name="Buitenhof")
    voting_round = make.voting_round(tanthof, costs=(300_00,), title="Tanthof kiest")
    upcoming = make.voting_round(buitenhof, phase="proposals", title="Buitenhof kiest")
    on_ballot = voting_round.projects[0]
    open_one = make.open_initiative(buitenhof, title="Bankjes aan de vijver")
    group = make.working_group(buitenhof, name="Groen Buitenhof")
    ended = make.working_group(
        buitenhof, name="Oud clubje", starts_on=date(2020, 1, 1), ends_on=date(2020, 2, 1)
    )
    return locals()


def test_a_visitor_sees_open_votes_initiatives_and_groups_per_area(make, client):
    w = _world(make)
    page = client.get("/").get_data(as_text=True)
    assert "Voting now: Tanthof kiest" in page
    assert f'href="/rounds/{w["voting_round"].id}"' in page
    assert "Coming up: Buitenhof kiest" in page
    assert "1 initiative open for support" in page
    assert "1 working group" in page  # the ended group does not count
    assert "13,600" not in page  # the population table moved to the area dashboard


def test_a_resident_sees_their_own_area_first_with_the_vote(make, client_for):
    w = _world(make)
    page = client_for(make.resident(w["tanthof"])).get("/").get_data(as_text=True)
    assert page.index("Your area: Tanthof") < page.index("Areas of Delft")
    assert f'href="/rounds/{w["voting_round"].id}/ballot"' in page
    assert page.index("Vote in Tanthof kiest") < page.index("Areas of Delft")


def test_the_area_page_lists_what_is_open_and_links_the_dashboard(make, client):
    w = _world(make)
    page = client.get(f"/areas/{w['buitenhof'].id}").get_data(as_text=True)
    assert "Bankjes aan de vijver" in page
    assert "Groen Buitenhof" in page and "Oud clubje" not in page
    assert "Buitenhof kiest" in page
    assert f'href="/monitoring/areas/{w["buitenhof"].id}"' in page
    dashboard = client.get(f"/monitoring/areas/{w['tanthof'].id}").get_data(as_text=True)
    assert "13,600" in dashboard


def test_an_initiative_on_a_ballot_says_so_and_links_to_the_vote(make, client):
    w = _world(make)
    initiative_id = w["on_ballot"].initiative_id
    page = client.get(f"/initiatives/{initiative_id}").get_data(as_text=True)
    assert "This initiative is on the ballot of Tanthof kiest" in page
    assert f'href="/rounds/{w["voting_round"].id}/ballot"' in page
    other = client.get(f"/initiatives/{w['open_one'].id}").get_data(as_text=True)
    assert "on the ballot" not in other


def test_a_group_that_ended_yesterday_is_not_listed(make, client):
    area = make.area(name="Tanthof")
    make.working_group(
        area,
        name="Klaar",
        starts_on=date.today() - timedelta(days=30),
        ends_on=date.today() - timedelta(days=1),
    )
    assert "Klaar" not in client.get(f"/areas/{area.id}").get_data(as_text=True)


def test_accessibility_and_privacy_statements_in_dutch_and_english(client):
    for path, english, dutch in (
        ("/accessibility", "Accessibility statement", "Toegankelijkheidsverklaring"),
        ("/privacy", "Privacy statement", "Privacyverklaring"),
    ):
        en = client.get(path).get_data(as_text=True)
        nl = client.get(path, headers={"Accept-Language": "nl"}).get_data(as_text=True)
        assert f"<h1>{english}</h1>" in en and f"<h1>{dutch}</h1>" in nl
        home = client.get("/").get_data(as_text=True)
        assert f'href="{path}"' in home  # linked from the footer of every page
    privacy = client.get("/privacy").get_data(as_text=True)
    assert "Your vote is secret" in privacy and "How long" in privacy
