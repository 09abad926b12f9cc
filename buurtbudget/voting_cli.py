"""``flask rounds ...`` (list, shake, close, publish) and ``flask pb ...`` (import, export,
compute)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from buurtbudget.extensions import db

rounds_group = AppGroup(
    "rounds", help="Voting rounds: list, shake (mix the ballot box), close (count), publish."
)
pb_group = AppGroup("pb", help="pabulib .pb files: import as a round, export a round, compute.")


def register(app: Flask) -> None:
    app.cli.add_command(rounds_group)
    app.cli.add_command(pb_group)


def _round(round_id: int):
    from buurtbudget.models import VotingRound

    voting_round = db.session.get(VotingRound, round_id)
    if voting_round is None:
        raise click.ClickException(f"no voting round {round_id}")
    return voting_round


def _run(action, *args, **kwargs):
    from buurtbudget.services.errors import ServiceError

    try:
        return action(*args, **kwargs)
    except ServiceError as error:
        raise click.ClickException(str(error.message)) from None


@rounds_group.command("list")
def list_rounds() -> None:
    """List every round with its phase."""
    from buurtbudget.models import VotingRound

    for voting_round in db.session.scalars(select(VotingRound).order_by(VotingRound.id)):
        areas = ", ".join(area.name for area in voting_round.areas) or "-"
        click.echo(
            f"{voting_round.id}\t{voting_round.phase().value}\t{voting_round.title}\t{areas}"
        )


@rounds_group.command("close")
@click.argument("round_id", type=int)
def close_round(round_id: int) -> None:
    """Count the votes of a round whose voting has ended (as the system). Publishing is a
    separate step for two staff members: ``request-publication`` and ``publish``."""
    from buurtbudget.services.voting import counting

    voting_round = _round(round_id)
    click.echo(f"counting {counting.ballot_count(voting_round):,} ballots ...", err=True)
    outcome = _run(counting.close_round, None, voting_round, progress=_progress)
    click.echo(
        f"{voting_round.title}: {len(outcome.selected)} projects selected with "
        f"{voting_round.rule_name}, cost {voting_round.result_total_cost_cents / 100:.2f} EUR"
    )


@rounds_group.command("shake")
@click.argument("round_id", type=int)
def shake_round(round_id: int) -> None:
    """Shake a round's ballot box: its ballots rewritten in a random order with new ids, so
    that nothing stored follows the order of voting (closing does this too). For an open
    round, e.g. nightly from cron; the count and the receipts stay the same."""
    from buurtbudget.services.voting import counting, shaking

    voting_round = _round(round_id)
    click.echo(
        f"shaking round {voting_round.id} ({voting_round.title}):"
        f" {counting.ballot_count(voting_round):,} ballots ...",
        err=True,
    )
    mixed = _run(shaking.shake_round, None, voting_round, progress=_progress)
    click.echo(f"{mixed:,} ballots mixed: new order, new ids")


def _staff(email: str):
    from buurtbudget.models import User

    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no account {email!r}")
    return user


AS_OPTION = click.option(
    "--as", "email", required=True, help="E-mail of the staff member who does this step."
)


@rounds_group.command("request-publication")
@click.argument("round_id", type=int)
@AS_OPTION
def request_publication(round_id: int, email: str) -> None:
    """The first of the four eyes: a staff member of the round asks for publication."""
    from buurtbudget.services.voting import counting

    _run(counting.request_publication, _staff(email), _round(round_id))
    click.echo("publication requested: another staff member of the round publishes")


@rounds_group.command("publish")
@click.argument("round_id", type=int)
@AS_OPTION
def publish_round(round_id: int, email: str) -> None:
    """The second of the four eyes: another staff member publishes the results of a closed
    round whose publication was requested (selected initiatives get their grant). The command
    line is no way around the four eyes of the screens."""
    from buurtbudget.services.voting import counting

    _run(counting.publish_results, _staff(email), _round(round_id))
    click.echo("results published")


def _progress(what: str, done: int, total: int) -> None:
    """Progress of a long step on stderr, e.g. "ballots: 40,000 / 61,668"."""
    if what == "counting":
        click.echo("counting ..." if done < total else "counted", err=True)
    else:
        click.echo(f"{what}: {done:,} / {total:,}", err=True)


@pb_group.command("import")
@click.argument("pb_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--municipality", "municipality_slug", required=True, help="Municipality slug.")
@click.option("--area", "area_name", help="Area the round belongs to.")
@click.option("--rule", "rule_name", help="Rule to count with (default: the file's rule).")
def import_pb(pb_file: Path, municipality_slug: str, area_name: str | None, rule_name) -> None:
    """Import a .pb file as a closed round, counted with the rules engine."""
    from buurtbudget.domain.pabulib import parse_pabulib, project_flags
    from buurtbudget.models import Area, Municipality
    from buurtbudget.services.voting import pabulib

    municipality = db.session.scalar(
        select(Municipality).where(Municipality.slug == municipality_slug)
    )
    if municipality is None:
        raise click.ClickException(f"no municipality {municipality_slug!r}")
    areas = []
    if area_name:
        area = db.session.scalar(
            select(Area).where(Area.municipality_id == municipality.id, Area.name == area_name)
        )
        if area is None:
            raise click.ClickException(f"no area {area_name!r} in {municipality.name}")
        areas.append(area)
    content = pb_file.read_bytes()
    voting_round = _run(
        pabulib.import_round,
        None,
        municipality,
        content,
        source_name=pb_file.name,
        areas=areas,
        rule_name=rule_name,
        progress=_progress,
    )
    selected = [p.external_id for p in voting_round.projects if p.selected]
    click.echo(
        f"round {voting_round.id} ({voting_round.title}): {len(voting_round.projects)} projects,"
        f" rule {voting_round.rule_name}, selected: {', '.join(selected)}"
    )
    # What the reader reported (with line numbers) and the official outcome, as pb compute does.
    election = parse_pabulib(content)
    for warning in election.warnings:
        click.echo(f"warning: {warning}", err=True)
    official = project_flags(election, "selected")
    if official is not None:
        only_ours = sorted(set(selected) - set(official))
        only_official = sorted(set(official) - set(selected))
        same = not only_ours and not only_official
        click.echo(
            "same projects as the file's 'selected' column (the official outcome): "
            + ("yes" if same else "no")
        )
        if only_ours:
            click.echo(f"  computed, not official: {', '.join(only_ours)}")
        if only_official:
            click.echo(f"  official, not computed: {', '.join(only_official)}")


@pb_group.command("export")
@click.argument("round_id", type=int)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
def export_pb(round_id: int, output: Path | None) -> None:
    """Write a round as a .pb file (to stdout without --output)."""
    from buurtbudget.services.voting import counting, pabulib

    voting_round = _round(round_id)
    click.echo(f"writing {counting.ballot_count(voting_round):,} ballots ...", err=True)
    text = pabulib.export_round(voting_round)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"written to {output}", err=True)


@pb_group.command(
    "compute", context_settings={"ignore_unknown_options": True, "help_option_names": []}
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def compute_pb(args: tuple[str, ...]) -> None:
    """Compute the outcome of a .pb file: FILE [--rule greedy|greedy_no_skip|mes|mes_add1]
    (default: the file's rule) [--utility ...] [--weights-column COLUMN] [--no-caps] [--trace]
    [--strict] (see buurtbudget.domain.pbcli); compares with the file's official outcome."""
    from buurtbudget.domain import pbcli

    sys.exit(pbcli.main(["compute", *args]))
