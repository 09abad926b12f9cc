"""In real Chromium: the results page of a city-wide round, Warszawa 2026 (61,668 ballots, 83
projects) imported from its pabulib file with the bulk writer and counted from the one read
of its ballots."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from buurtbudget.domain.pabulib import read_pabulib
from buurtbudget.services.voting import pabulib

WARSZAWA = Path(__file__).resolve().parents[1] / "data" / "pabulib" / "Poland_Warszawa_2026.pb"


def test_the_results_page_of_a_city_wide_round(make, page):
    on_file = read_pabulib(WARSZAWA)
    voting_round = pabulib.import_round(
        None, make.municipality("Warszawa"), WARSZAWA.read_bytes(), rule_name="greedy"
    )
    round_id, title = voting_round.id, voting_round.title
    top = max(on_file.projects, key=lambda project: int(project.extra["votes"]))

    page.goto(f"/rounds/{round_id}/results")
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    expect(page.locator("dl.facts")).to_contain_text("61.668")  # ballots, in Dutch
    rows = page.locator("table.results tbody tr")
    expect(rows).to_have_count(83)
    # The most supported project leads the table with the file's own number of votes.
    first = rows.first
    expect(first.get_by_role("rowheader")).to_have_text(top.name)
    expect(first).to_contain_text(f"{int(top.extra['votes']):,}".replace(",", "."))
    expect(first).to_contain_text("Gekozen")
