"""``flask rounds`` and ``flask pb`` commands."""

from __future__ import annotations

from datetime import timedelta

from buurtbudget.extensions import db
from buurtbudget.models import VotingRound
from buurtbudget.models._base import utcnow
from buurtbudget.services.voting import casting
from tests.paths import PABULIB_DIR

ASSEN = PABULIB_DIR / "Netherlands_Assen_2024.pb"


def test_close_and_publish_from_the_command_line(app, make):
    area = make.area()
    voting_round = make.voting_round(area, costs=(100_00, 200_00))
    casting.cast_ballot(make.resident(area), voting_round, {voting_round.projects[0].id: 1})
    runner = app.test_cli_runner()
    early = runner.invoke(args=["rounds", "close", str(voting_round.id)])
    # Commands speak the default language, Dutch.
    assert early.exit_code == 1 and "Het stemmen is nog niet voorbij" in early.output
    voting_round.voting_closes_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    result = runner.invoke(args=["rounds", "close", str(voting_round.id)])
    assert result.exit_code == 0, result.output
    assert "2 projects selected with greedy" in result.output
    # Publishing takes two staff members on the command line too (issue 15: four eyes).
    first, second = make.coordinator(area), make.coordinator(area)
    round_id = str(voting_round.id)
    alone = runner.invoke(args=["rounds", "publish", round_id, "--as", first.email])
    assert alone.exit_code == 1 and voting_round.results_published_at is None
    asked = runner.invoke(args=["rounds", "request-publication", round_id, "--as", first.email])
    assert asked.exit_code == 0, asked.output
    same = runner.invoke(args=["rounds", "publish", round_id, "--as", first.email])
    assert same.exit_code == 1 and voting_round.results_published_at is None
    outsider = make.coordinator(make.area())
    foreign = runner.invoke(args=["rounds", "publish", round_id, "--as", outsider.email])
    assert foreign.exit_code == 1 and voting_round.results_published_at is None
    published = runner.invoke(args=["rounds", "publish", round_id, "--as", second.email])
    assert published.exit_code == 0 and "published" in published.output, published.output
    listing = runner.invoke(args=["rounds", "list"])
    assert f"{voting_round.id}\tresults\t{voting_round.title}" in listing.output
    assert runner.invoke(args=["rounds", "close", "987654"]).exit_code == 1


def test_pb_import_export_and_compute(app, make, tmp_path):
    municipality = make.municipality()
    make.area(municipality, name="Centrum")
    runner = app.test_cli_runner()
    imported = runner.invoke(
        args=["pb", "import", str(ASSEN), "--municipality", municipality.slug, "--area", "Centrum"]
    )
    assert imported.exit_code == 0, imported.output
    assert "rule mes_add1" in imported.output
    voting_round = db.session.query(VotingRound).one()
    assert [a.name for a in voting_round.areas] == ["Centrum"]
    target = tmp_path / "out.pb"
    exported = runner.invoke(args=["pb", "export", str(voting_round.id), "-o", str(target)])
    assert exported.exit_code == 0 and target.read_text().startswith("META")
    computed = runner.invoke(args=["pb", "compute", str(ASSEN), "--rule", "mes_add1"])
    assert computed.exit_code == 0
    assert (
        "same projects as the file's 'selected' column (the official outcome): yes"
        in computed.output
    )
    bad = runner.invoke(args=["pb", "import", str(ASSEN), "--municipality", "nowhere"])
    assert bad.exit_code == 1 and "no municipality" in bad.output


def test_pb_import_uses_the_files_rule_and_compares_with_the_official_outcome(app, make):
    municipality = make.municipality("Gdynia")
    runner = app.test_cli_runner()
    gdynia = PABULIB_DIR / "Poland_Gdynia_2020_Chylonia__large.pb"
    result = runner.invoke(args=["pb", "import", str(gdynia), "--municipality", municipality.slug])
    assert result.exit_code == 0, result.output
    assert "rule greedy_no_skip" in result.output
    assert "(the official outcome): yes" in result.output
    skipping = runner.invoke(
        args=["pb", "import", str(gdynia), "--municipality", municipality.slug, "--rule", "greedy"]
    )
    assert "(the official outcome): no" in skipping.output
    assert "  computed, not official: " in skipping.output
    amsterdam = PABULIB_DIR / "Netherlands_Amsterdam_604.pb"
    doubled = runner.invoke(
        args=["pb", "import", str(amsterdam), "--municipality", municipality.slug]
    )
    assert doubled.exit_code == 0 and "warning: line 1927: voter '13650977333'" in doubled.output
    computed = runner.invoke(args=["pb", "compute", str(amsterdam), "--strict"])
    assert computed.exit_code == 2 and "line 1927" in computed.output
