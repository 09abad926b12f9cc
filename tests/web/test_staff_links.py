"""Staff see only links they may follow (the page sweep checks every crawled link for every
role; these pin the two links it found leading to a 403)."""

from __future__ import annotations

from buurtbudget.domain.initiative_lifecycle import Status


def test_a_coordinator_is_not_offered_the_pabulib_import(make, client_for):
    municipality = make.municipality("Delft")
    area = make.area(municipality, name="Tanthof")
    hub = client_for(make.coordinator(area)).get("/staff/").get_data(as_text=True)
    assert 'href="/staff/rounds/import"' not in hub
    admin_hub = client_for(make.administrator(municipality)).get("/staff/").get_data(as_text=True)
    assert 'href="/staff/rounds/import"' in admin_hub


def test_payouts_are_linked_only_for_those_who_may_open_them(make, client_for):
    municipality = make.municipality("Delft")
    area, other = make.area(municipality, name="Tanthof"), make.area(municipality, name="Hof")
    initiative = make.budget_initiative(area, status=Status.SELECTED)
    link = f'href="/budgets/initiatives/{initiative.id}/payouts"'
    for user, sees in (
        (initiative.initiator, True),
        (make.coordinator(area), True),
        (make.coordinator(other), False),
    ):
        client = client_for(user)
        page = client.get(f"/initiatives/{initiative.id}").get_data(as_text=True)
        assert (link in page) is sees
        if sees:
            assert client.get(f"/budgets/initiatives/{initiative.id}/payouts").status_code == 200
