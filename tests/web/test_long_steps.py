"""Steps that would hold a web worker too long on a large round (config LONG_STEP_BALLOTS)
are refused on the web with a message naming the command that does them, outside any
request, with its progress; the command does them. Here the limit is set to 2 ballots."""

from __future__ import annotations

import pytest

from buurtbudget.services.voting import casting
from tests.voting_world import tanthof_round
from tests.web.test_voting import _end_voting, _text


@pytest.fixture
def large(app, make, monkeypatch):
    monkeypatch.setitem(app.config, "LONG_STEP_BALLOTS", 2)
    world = tanthof_round(make, title="Stad kiest")
    first, second, _third = world["projects"]
    for choices in ({first: 1}, {second: 1}, {first: 1, second: 1}):
        casting.cast_ballot(make.resident(world["area"]), world["round"], choices)
    _end_voting(world["round"])
    return world


def test_closing_a_large_round_on_the_web_points_to_the_command(client_for, large):
    voting_round = large["round"]
    admin = client_for(large["admin"])
    response = admin.post(f"/staff/rounds/{voting_round.id}/close")
    assert response.status_code == 409
    assert f"flask --app buurtbudget rounds close {voting_round.id}" in _text(response)
    assert not voting_round.is_closed
    # Someone who may not manage the round learns nothing about it.
    assert (
        client_for(large["resident"]).post(f"/staff/rounds/{voting_round.id}/close").status_code
        == 403
    )


def test_the_command_counts_it_with_progress_and_the_export_points_to_the_command(
    app, client_for, make, large
):
    voting_round = large["round"]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["rounds", "close", str(voting_round.id)])
    assert result.exit_code == 0, result.output
    assert "counting 3 ballots" in result.output
    make.publish(voting_round, large["admin"])
    exported = client_for(large["admin"]).get(f"/rounds/{voting_round.id}/export.pb")
    assert exported.status_code == 409
    assert f"flask --app buurtbudget pb export {voting_round.id}" in _text(exported)
    result = runner.invoke(args=["pb", "export", str(voting_round.id)])
    assert result.exit_code == 0 and "META" in result.output
