"""Official outcomes of real pabulib elections: greedy-no-skip, ranked (ordinal) ballots, a
project listed twice in a ballot, the file's own rule by default; and a reader that answers any
bytes with its own error and a line number (huge numbers, NUL bytes, broken quoting)."""

from __future__ import annotations

import io
import time
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from buurtbudget.domain.ballots import MAX_AMOUNT, parse_number
from buurtbudget.domain.pabulib import (
    PabulibError,
    ordinal_scores,
    parse_pabulib,
    project_flags,
    read_pabulib,
)
from buurtbudget.domain.pbcli import compare_with_official, main, official_rule
from buurtbudget.domain.rules import compute, greedy, rule_for_meta

from .conftest import SHARED_FILES, shared_file

GDYNIA = "Poland_Gdynia_2020_Chylonia__large.pb"
WROCLAW = "Poland_Wroclaw_2018_Rejon_nr_2_250.pb"
KRAKOW = "Poland_Krakow_2018_Bienczyce.pb"
AMSTERDAM_604 = "Netherlands_Amsterdam_604.pb"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# greedy-no-skip ---------------------------------------------------------------------------------


def test_gdynia_greedy_no_skip_equals_the_official_outcome_and_plain_greedy_does_not():
    election = read_pabulib(shared_file(GDYNIA))
    official = set(project_flags(election))
    assert rule_for_meta(election.meta["rule"]) == "greedy_no_skip"
    no_skip = compute("greedy_no_skip", election)
    assert set(no_skip.selected) == official
    assert set(compute("greedy", election).selected) != official  # skipping funds one more
    stop = no_skip.details["stopped_at"]
    steps = {step.project_id: step for step in no_skip.trace}
    assert steps[stop].action == "skipped" and "greedy-no-skip stops here" in steps[stop].reason
    after = [s for s in no_skip.trace if f"stopped at project {stop}" in s.reason]
    assert after and all(s.action == "skipped" for s in after)


def test_wroclaw_choose_one_greedy_no_skip_equals_the_official_outcome():
    election = read_pabulib(shared_file(WROCLAW))
    assert election.vote_type == "choose-1"
    assert set(compute("greedy_no_skip", election).selected) == set(project_flags(election))


SMALL = """META
key;value
budget;{budget}
vote_type;approval
PROJECTS
project_id;cost
a;60
b;50
c;30
d;10
VOTES
voter_id;vote
1;a,b,c,d
2;a,b,c
3;a,b
4;a
"""


def test_no_skip_stops_at_the_first_project_that_does_not_fit_exactly():
    # a (4 votes) fits, b (3) does not fit in 100 - 60 = 40: the count stops; greedy goes on.
    election = parse_pabulib(SMALL.format(budget=100))
    assert compute("greedy", election).selected == ("a", "c", "d")
    outcome = compute("greedy_no_skip", election)
    assert outcome.selected == ("a",)
    assert outcome.total_cost == 60 and outcome.leftover == 40
    assert [s.action for s in outcome.trace] == ["selected", "skipped", "skipped", "skipped"]
    # exact: with a budget of 110 b fits to the cent, and the count goes on to c (cost 30 > 0).
    exact = compute("greedy_no_skip", parse_pabulib(SMALL.format(budget=110)))
    assert exact.selected == ("a", "b")
    decimal = compute("greedy_no_skip", parse_pabulib(SMALL.format(budget="109.99")))
    assert decimal.selected == ("a",) and decimal.budget == Fraction(10999, 100)


def test_no_skip_matches_pabutools_greedy_while_nothing_is_skipped():
    """pabutools has no no-skip rule; up to the first project that does not fit, both rules take
    the same projects in the same order as pabutools' greedy."""
    from .conftest import pabutools_outcome

    for name in (GDYNIA, WROCLAW):
        election = read_pabulib(shared_file(name))
        no_skip = greedy(election, no_skip=True, min_score=0)
        theirs = pabutools_outcome(election, "greedy", "cost")
        assert list(no_skip.selected) == theirs[: len(no_skip.selected)]


# ordinal ballots --------------------------------------------------------------------------------


def test_krakow_ordinal_scores_equal_the_files_score_column():
    election = read_pabulib(shared_file(KRAKOW))
    assert election.vote_type == "ordinal" and election.warnings == ()
    assert ordinal_scores(election) == [int(p.extra["score"]) for p in election.projects]


def test_krakow_greedy_follows_the_files_score():
    election = read_pabulib(shared_file(KRAKOW))
    outcome = compute("greedy", election)
    # The official order: by the file's score, highest first, skipping what does not fit.
    remaining, expected = election.budget, []
    for project in sorted(election.projects, key=lambda p: -int(p.extra["score"])):
        if project.cost <= remaining:
            expected.append(project.id)
            remaining -= project.cost
    assert list(outcome.selected) == expected
    assert "points (ranked)" in outcome.trace[0].reason


def test_krakow_greedy_equals_pabutools_with_positional_scores():
    from pabutools.election import Instance, OrdinalBallot, OrdinalProfile, Project
    from pabutools.election.satisfaction import PositionalSatisfaction
    from pabutools.rules import greedy_utilitarian_welfare

    election = read_pabulib(shared_file(KRAKOW))
    k = election.ballot_rules.max_length
    projects = {p.id: Project(p.id, p.cost) for p in election.projects}
    instance = Instance(projects.values(), budget_limit=election.budget)
    ballots = []
    for voter in range(election.num_voters):
        ranking = [election.projects[i].id for i in election.ballots.ballot(voter)]
        ballots.append(OrdinalBallot(projects[pid] for pid in ranking))
    profile = OrdinalProfile(ballots, instance=instance)

    class ScoreTimesCost(PositionalSatisfaction):  # k points for first place, as the file
        def __init__(self, instance, profile, ballot):
            super().__init__(
                instance,
                profile,
                ballot,
                lambda b, p: (k - b.position(p)) * p.cost if p in b else 0,
                sum,
            )

    theirs = greedy_utilitarian_welfare(instance, profile, sat_class=ScoreTimesCost)
    assert list(compute("greedy", election).selected) == [p.name for p in theirs]


ORDINAL = """META
key;value
budget;100
vote_type;ordinal
min_length;1
max_length;2
PROJECTS
project_id;cost;score
a;50;5
b;50;2
c;50;0
VOTES
voter_id;vote
1;a,b
2;a
3;b,a
"""


def test_ordinal_ballots_are_validated_and_scored():
    election = parse_pabulib(ORDINAL)
    assert ordinal_scores(election) == [5, 3, 0]
    # the file says 2 for b: reported with b's line
    assert [str(w) for w in election.warnings] == [
        "line 10: project 'b': the file's score 2 differs from the score of its ballots, 3"
    ]
    too_long = parse_pabulib(ORDINAL.replace("3;b,a", "3;b,a,c"))
    assert any("line 16" in str(w) and "at most 2" in str(w) for w in too_long.warnings)
    with pytest.raises(PabulibError, match="at most 2") as caught:
        parse_pabulib(ORDINAL.replace("3;b,a", "3;b,a,c"), strict=True)
    assert caught.value.line == 16
    with pytest.raises(ValueError, match="ordinal"):
        compute("mes", election)


def test_a_ranking_that_lists_a_project_twice_keeps_its_first_place():
    election = parse_pabulib(ORDINAL.replace("1;a,b", "1;b,a,b"))
    assert election.ballots.ballot(0) == [1, 0]
    assert any("line 14" in str(w) and "more than once" in str(w) for w in election.warnings)


# a project twice in one ballot ------------------------------------------------------------------


def test_amsterdam_604_counts_the_doubled_projects_once_with_a_warning():
    election = read_pabulib(shared_file(AMSTERDAM_604))
    assert [w.line for w in election.warnings] == [1927]
    assert "more than once; counted once" in str(election.warnings[0])
    voter = election.ballots.voter_ids.index("13650977333")
    ids = [election.projects[i].id for i in election.ballots.ballot(voter)]
    assert ids == ["42344", "42346", "42350", "42355", "42360"]
    with pytest.raises(PabulibError) as caught:
        read_pabulib(shared_file(AMSTERDAM_604), strict=True)
    assert caught.value.line == 1927 and "more than once" in caught.value.message


def test_amsterdam_604_greedy_equals_pabutools():
    """pabutools' approval ballots are sets: a project named twice counts once there too."""
    from pabutools.election import parse_pabulib as pabutools_parse
    from pabutools.election.satisfaction import Cost_Sat
    from pabutools.rules import greedy_utilitarian_welfare

    election = read_pabulib(shared_file(AMSTERDAM_604))
    instance, profile = pabutools_parse(str(shared_file(AMSTERDAM_604)))
    theirs = greedy_utilitarian_welfare(instance, profile, sat_class=Cost_Sat)
    ours = compute("greedy", election, caps=False)
    assert list(ours.selected) == [p.name for p in theirs]


def test_the_cli_warns_with_the_line_and_strict_refuses(tmp_path):
    path = str(shared_file(AMSTERDAM_604))
    code, out, err = run_cli("compute", path)
    assert code == 0 and "warning: line 1927: voter '13650977333' lists project" in err
    assert "rule: greedy" in out
    code, out, err = run_cli("compute", path, "--strict")
    assert code == 2 and out == ""
    assert "Netherlands_Amsterdam_604.pb, line 1927:" in err.splitlines()[-1]


# the file's own rule and the official outcome ---------------------------------------------------


OFFICIAL = [p.name for p in SHARED_FILES if project_flags(read_pabulib(p)) is not None]


@pytest.mark.parametrize("name", OFFICIAL)
def test_every_file_with_an_official_outcome_and_a_known_rule_reproduces_it(name):
    election = read_pabulib(shared_file(name))
    rule = rule_for_meta(election.meta.get("rule"))
    if rule is None:
        assert election.meta["rule"] == "equalshares/add1-comparison"  # Wieliczka: not built
        return
    comparison = compare_with_official(election, compute(rule, election))
    assert comparison.equal, comparison


def test_compute_uses_the_files_rule_by_default_and_says_it_equals_the_official_one():
    code, out, err = run_cli("compute", str(shared_file(GDYNIA)))
    assert code == 0
    assert out.startswith("rule: greedy_no_skip\n")
    assert "(the file's rule 'greedy-no-skip')" in err
    assert "same projects as the file's 'selected' column (the official outcome): yes" in out


def test_compute_lists_the_differences_from_the_official_outcome():
    code, out, _ = run_cli("compute", str(shared_file(GDYNIA)), "--rule", "greedy")
    assert code == 0
    assert "(the official outcome): no" in out
    election = read_pabulib(shared_file(GDYNIA))
    extra = set(compute("greedy", election).selected) - set(project_flags(election))
    assert f"  computed, not official: {', '.join(sorted(extra))}" in out


def test_an_unknown_rule_is_reported_not_replaced(tmp_path):
    path = tmp_path / "other.pb"
    path.write_text(SMALL.format(budget=100).replace("vote_type;", "rule;borda-2000\nvote_type;"))
    code, out, err = run_cli("compute", str(path))
    assert code == 3 and out == ""
    assert "the file's rule 'borda-2000' cannot be applied" in err
    with pytest.raises(ValueError, match="cannot be applied"):
        official_rule(read_pabulib(path))
    assert run_cli("compute", str(path), "--rule", "greedy")[0] == 0


# any bytes: the reader's own error with a line number --------------------------------------------


HEAD = "META\nkey;value\nbudget;100\nvote_type;approval\nPROJECTS\nproject_id;cost\n"


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (b'\r"', 1, "control character 0x0d"),
        (b'META\nkey;value\nbudget;"1"0\n', 3, "badly quoted field"),
        (b'META\nkey;value\nbudget;"1\r0"\n', 3, "control character"),
        (b"META\x00\n", 1, "control character 0x00"),
        (HEAD.encode() + b"a;1\x00\nVOTES\nvoter_id;vote\n", 7, "control character 0x00"),
        (HEAD.replace("budget;100", "budget;1e999999999").encode(), 3, "budget must be a number"),
        (HEAD.replace("budget;100", "budget;" + "9" * 30).encode(), 3, "budget must be a number"),
        (HEAD.encode() + b"a;" + b"9" * 30 + b"\n", 7, "cost of project 'a'"),
        (HEAD.encode() + b"a;100000000000000\n", 7, "larger than"),
        (HEAD.encode() + b"a;\xd9\xa1\xd9\xa2\n", 7, "not a plain number"),  # Arabic-Indic digits
        (HEAD.replace("budget;100", "budget;100\nmax_length;" + "9" * 12).encode(), 4, "max_len"),
    ],
)
def test_malformed_bytes_give_the_readers_error_with_a_line(content, line, message):
    with pytest.raises(PabulibError) as caught:
        parse_pabulib(content)
    assert caught.value.line == line
    assert message in caught.value.message


def test_huge_numbers_are_refused_fast_in_points_caps_and_thresholds():
    cumulative = (
        "META\nkey;value\nbudget;9\nvote_type;cumulative\nPROJECTS\nproject_id;cost\na;1\n"
        "VOTES\nvoter_id;vote;points\n1;a;" + "9" * 25 + "\n"
    )
    with pytest.raises(PabulibError, match="points must be a whole number") as caught:
        parse_pabulib(cumulative)
    assert caught.value.line == 10
    caps = SMALL.format(budget=100).replace(
        "vote_type;", "categories;x\nbudget_per_category;1e999999999\nvote_type;"
    )
    started = time.perf_counter()
    with pytest.raises(ValueError, match="budget_per_category"):
        compute("greedy", parse_pabulib(caps))
    threshold = SMALL.format(budget=100).replace(
        "vote_type;", "rule;greedy-threshold\nmin_project_score_threshold;1e99999999\nvote_type;"
    )
    with pytest.raises(ValueError, match="min_project_score_threshold"):
        compute("greedy", parse_pabulib(threshold))
    assert time.perf_counter() - started < 1
    with pytest.raises(ValueError):
        parse_number("1" * 25, maximum=MAX_AMOUNT)
    assert parse_number("12,5", maximum=100) == Fraction(25, 2)


def test_a_choose_one_ballot_with_two_projects_is_refused_with_its_line():
    content = SMALL.format(budget=100).replace("vote_type;approval", "vote_type;choose-1")
    content = content.replace("1;a,b,c,d\n2;a,b,c\n3;a,b\n", "1;a\n2;\n3;a,b\n")
    with pytest.raises(PabulibError, match="Choose exactly one project") as caught:
        parse_pabulib(content)
    assert caught.value.line == 15
    blank_allowed = content.replace("3;a,b\n", "3;b\n")
    assert parse_pabulib(blank_allowed).num_voters == 4


@settings(
    derandomize=True,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.binary(max_size=300))
@example(b'\r"')
@example(b'META\nkey;value\n"\r\n')
@example(b"META\nkey;value\nbudget;1\nvote_type;approval\nPROJECTS\nproject_id;cost\n")
def test_any_bytes_give_an_election_or_a_pabulib_error_with_a_line(content):
    prefix = HEAD.encode()
    for candidate in (content, prefix + content, prefix + b"a;1\nVOTES\nvoter_id;vote\n" + content):
        try:
            parse_pabulib(candidate)
        except PabulibError as error:
            assert error.line is not None and error.line >= 1
