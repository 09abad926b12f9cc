"""pabulib reader and writer: real files, round trips, and clear errors for malformed input."""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np
import pytest

from buurtbudget.domain.pabulib import (
    PabulibError,
    format_pabulib,
    parse_pabulib,
    project_flags,
    read_pabulib,
    voter_weights_from_column,
    write_pabulib,
)
from buurtbudget.domain.rules import Election, Project

from .conftest import SHARED_FILES, shared_file

MINIMAL = """META
key;value
description;test
num_projects;3
num_votes;3
budget;100
vote_type;approval
PROJECTS
project_id;cost;name;category;votes;selected
1;60;First;green,youth;2;1
2;50;"Second; with semicolon";;1;0
3;40;Third;green;2;1
VOTES
voter_id;vote;age;sex;voting_method
v1;1,3;30;F;internet
v2;1;41;M;paper
v3;3,2;;;internet
"""


def test_minimal_file_is_read_with_extra_columns() -> None:
    election = parse_pabulib(MINIMAL)
    assert election.budget == 100
    assert election.vote_type == "approval"
    assert [p.id for p in election.projects] == ["1", "2", "3"]
    first, second, _ = election.projects
    assert first == Project(
        "1", 60, "First", ("green", "youth"), (), {"votes": "2", "selected": "1"}
    )
    assert second.name == "Second; with semicolon"
    assert second.categories == ()
    assert election.ballots.voter_ids == ("v1", "v2", "v3")
    assert [election.ballots.ballot(v) for v in range(3)] == [[0, 2], [0], [2, 1]]
    assert election.ballots.voter_columns["age"] == ("30", "41", "")
    assert election.ballots.voter_columns["voting_method"] == ("internet", "paper", "internet")
    assert project_flags(election) == ["1", "3"]


def test_crlf_bom_and_blank_lines_are_accepted() -> None:
    text = "\ufeff" + MINIMAL.replace("\n", "\r\n").replace("PROJECTS", "\r\nPROJECTS")
    assert parse_pabulib(text) == parse_pabulib(MINIMAL)


def test_cumulative_points_and_ballot_rules() -> None:
    text = """META
key;value
budget;10
vote_type;cumulative
max_points;3
max_sum_points;5
PROJECTS
project_id;cost
a;4
b;6
VOTES
voter_id;vote;points
1;a,b;3,2
2;b;1
"""
    election = parse_pabulib(text)
    assert election.ballots.ballot_points(0) == {0: 3, 1: 2}
    assert election.ballots.ballot_points(1) == {1: 1}
    assert election.ballot_rules.max_points == 3
    assert election.ballot_rules.max_total_points == 5


def test_decimal_budget_is_kept_exactly() -> None:
    election = parse_pabulib(MINIMAL.replace("budget;100", "budget;100.5"))
    assert election.budget == Fraction(201, 2)
    assert "budget;100.5\n" in format_pabulib(election)


def test_weights_column() -> None:
    text = MINIMAL.replace("voting_method", "weight").replace("internet", "0.5")
    text = text.replace("paper", "2")
    election = parse_pabulib(text)
    assert voter_weights_from_column(election, "weight") == [Fraction(1, 2), 2, Fraction(1, 2)]
    with pytest.raises(PabulibError, match="no column 'nope'"):
        voter_weights_from_column(election, "nope")


@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: p.name)
def test_shared_files_match_their_meta_and_round_trip(path, tmp_path) -> None:
    election = read_pabulib(path)
    assert len(election.projects) == int(election.meta["num_projects"])
    assert election.num_voters == int(election.meta["num_votes"])
    # The 'votes' column of PROJECTS is the count of approvals in VOTES.
    counts = np.bincount(election.ballots.projects, minlength=len(election.projects))
    if all("votes" in p.extra for p in election.projects):
        stated = [int(p.extra["votes"]) for p in election.projects]
        if election.warnings:
            # Amsterdam 604 counted the projects of line 1927 twice; we count them once.
            differences = [a - b for a, b in zip(stated, counts.tolist(), strict=True)]
            assert set(differences) <= {0, 1} and sum(differences) == 4
        else:
            assert stated == counts.tolist()
    out = tmp_path / path.name
    write_pabulib(election, out)
    again = read_pabulib(out)
    assert again == election
    assert again.project_columns == election.project_columns


def test_shared_files_keep_voter_and_project_columns() -> None:
    warsaw = read_pabulib(shared_file("Poland_Warszawa_2019_Rembertow.pb"))
    assert set(warsaw.ballots.voter_columns) == {"age", "sex", "voting_method", "neighborhood"}
    assert "selected" in warsaw.projects[0].extra
    amsterdam = read_pabulib(shared_file("Netherlands_Amsterdam_252.pb"))
    assert {p.neighborhoods for p in amsterdam.projects} >= {("Other",), ("Oostelijke Eilanden",)}
    assert amsterdam.meta["budget_per_neighborhood"] == "150000,100000,250000"


def test_writer_accepts_an_election_built_in_code() -> None:
    election = Election.build(
        50, [Project("x", 20, "X;y"), Project("y", 30)], [["x"], ["x", "y"], []]
    )
    text = format_pabulib(election)
    assert parse_pabulib(text) == Election.build(
        50,
        [Project("x", 20, "X;y"), Project("y", 30)],
        [["x"], ["x", "y"], []],
        meta=parse_pabulib(text).meta,
    )
    buffer = io.StringIO()
    write_pabulib(election, buffer)
    assert buffer.getvalue() == text


def _error_for(content: str | bytes) -> PabulibError:
    with pytest.raises(PabulibError) as caught:
        parse_pabulib(content)
    return caught.value


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("", 1, "the file is empty"),
        ("\n\n", 2, "the file is empty"),
        ("PROJECTS\nproject_id;cost\n", 1, "must start with a META section"),
        (MINIMAL.split("PROJECTS")[0], 7, "missing PROJECTS section"),
        (MINIMAL.split("VOTES")[0], 12, "missing VOTES section"),
        (MINIMAL.replace("budget;100\n", ""), 7, "META has no 'budget'"),
        (MINIMAL.replace("budget;100", "budget;lots"), 6, "budget must be a number"),
        (MINIMAL.replace("vote_type;approval", "vote_type;scoring"), 7, "not supported"),
        (MINIMAL.replace("3;40;Third", "3;forty;Third"), 12, "cost of project '3' must be a whole"),
        (MINIMAL.replace("3;40;Third", "3;40.5;Third"), 12, "must be a whole number"),
        (MINIMAL.replace("3;40;Third;green;2;1", "3;40;Third;green;2"), 12, "has 5 fields"),
        (MINIMAL.replace("3;40;Third", "1;40;Third"), 12, "duplicate project_id '1'"),
        (MINIMAL.replace("v2;1;41", "v2;7;41"), 16, "unknown project '7'"),
        (MINIMAL.replace("v3;3,2;;;internet", "v3;3,2;;internet"), 17, "has 4 fields"),
        (MINIMAL.replace("v3;", "v1;"), 17, "duplicate voter_id 'v1'"),
        (MINIMAL.replace("description;test", "description;test;extra"), 3, "must have 2 fields"),
        (MINIMAL.replace("voter_id;vote", "voter;vote"), 14, "no 'voter_id' column"),
        (MINIMAL + "PROJECTS\n", 18, "unexpected PROJECTS section"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None,
)
def test_malformed_files_give_line_and_message(content, line, message) -> None:
    error = _error_for(content)
    assert error.line == line
    assert message in error.message
    assert f"line {line}: " in str(error)


def test_non_utf8_is_reported_with_its_line() -> None:
    content = MINIMAL.encode("utf-8").replace(b"Third", b"Th\xe9rd")
    error = _error_for(content)
    assert error.line == 12
    assert "not valid UTF-8" in error.message


def test_points_errors() -> None:
    text = "META\nkey;value\nbudget;9\nvote_type;cumulative\nPROJECTS\nproject_id;cost\na;1\n"
    text += "VOTES\nvoter_id;vote;points\n"
    assert "1 projects but 2 points" in _error_for(text + "1;a;1,2\n").message
    assert "points must be a whole number" in _error_for(text + "1;a;x\n").message
    assert "no 'points' column" in _error_for(text.replace(";points", "") + "1;a\n").message


def test_read_from_path_names_the_file(tmp_path) -> None:
    path = tmp_path / "broken.pb"
    path.write_text(MINIMAL.replace("v2;1;41", "v2;9;41"), encoding="utf-8")
    with pytest.raises(PabulibError) as caught:
        read_pabulib(path)
    assert str(caught.value).startswith("broken.pb, line 16: ")
    with pytest.raises(PabulibError, match="cannot read file"):
        read_pabulib(tmp_path / "missing.pb")
