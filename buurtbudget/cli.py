"""``flask`` commands: seed-demo, import-population, import-addresses, electorate, roles."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from buurtbudget.extensions import db


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(import_population_command)
    app.cli.add_command(roles_group)
    app.cli.add_command(send_mail_command)
    app.cli.add_command(jobs_group)
    app.cli.add_command(rules_group)
    app.cli.add_command(import_addresses_command)
    app.cli.add_command(electorate_group)
    app.cli.add_command(cheques_group)
    from buurtbudget import voting_cli  # flask rounds ..., flask pb ...

    voting_cli.register(app)


@click.command("send-mail")
@click.option("--once", is_flag=True, help="Send what is due now and stop (for cron and tests).")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between passes.")
def send_mail_command(once: bool, interval: float) -> None:
    """The mail worker: announce due round news (services/outreach.py), then send the queued
    e-mails, retrying failures later; runs until stopped unless --once."""
    import time

    from buurtbudget.services import mail, outreach

    def shown(message, outcome) -> None:
        click.echo(f"  {outcome}: {message.to_address} – {message.subject}", err=True)

    while True:
        outreach.announce_due(progress=lambda line: click.echo(line, err=True))
        report = mail.send_due(progress=shown)
        if report.handled or once:
            click.echo(
                f"sent {report.sent}, will retry {report.retrying}, gave up {report.given_up}",
                err=True,
            )
        db.session.remove()
        if once:
            return
        time.sleep(interval)


jobs_group = AppGroup("jobs", help="Background jobs: counting, publishing, exporting large rounds.")


@jobs_group.command("work")
@click.option("--once", is_flag=True, help="Do the jobs waiting now and stop (cron, tests).")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between looks.")
def jobs_work_command(once: bool, interval: float) -> None:
    """The job worker: claims queued jobs (and those whose worker died) and does them, one at
    a time, as the staff member who asked; runs until stopped unless --once. Start one or more
    next to gunicorn."""
    import time

    from sqlalchemy.exc import OperationalError

    from buurtbudget.services import jobs

    while True:
        try:
            job = jobs.work_once()
        except OperationalError as error:  # the database went away: try again in a while
            click.echo(f"cannot reach the database: {error}", err=True)
            db.session.remove()
            if once:
                raise click.ClickException("cannot reach the database") from None
            time.sleep(interval)
            continue
        if job is not None:
            click.echo(f"job {job.id} ({job.kind}, round {job.round_id}): {job.status}", err=True)
        db.session.remove()
        if job is None:
            if once:
                return
            time.sleep(interval)


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Allow seeding in production.")
def seed_demo_command(force: bool) -> None:
    """Fill the database with a realistic demo (idempotent: safe to run again)."""
    from buurtbudget.demo import seed_demo
    from buurtbudget.demo.people import DEMO_PASSWORD
    from buurtbudget.services import audit

    if current_app.config["ENV_NAME"] == "production" and not force:
        raise click.ClickException("refusing to add demo accounts in production (use --force)")
    seed_demo(progress=lambda message: click.echo(message, err=True))
    audit.record(None, "demo.seeded", None)
    db.session.commit()
    click.echo(
        f"Demo accounts use the password {DEMO_PASSWORD!r}, e.g. "
        "admin.delft@demo.buurtbudget.nl, coordinator1.delft@demo.buurtbudget.nl, "
        "bewoner1-1.delft@demo.buurtbudget.nl"
    )


@click.command("import-population")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", type=int, help="Year of the figures, if the file has no 'jaar' column.")
def import_population_command(csv_file: Path, year: int | None) -> None:
    """Import areas and population figures from a CBS "kerncijfers wijken en buurten" CSV.

    Columns: gwb_code, regio, recs (Gemeente/Wijk/Buurt), a_inw, a_hh, optional a_00_14,
    a_15_24, a_25_44, a_45_64, a_65_oo, need_index, jaar. All rows or none are imported.
    """
    from buurtbudget.domain.population_csv import PopulationCsvError
    from buurtbudget.services.population import import_population

    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise click.ClickException(
            f"{csv_file}: not UTF-8 text (byte {error.start}); save the file as UTF-8"
        ) from None
    try:
        summary = import_population(
            text, year, progress=lambda done, total: click.echo(f"  {done}/{total} rows", err=True)
        )
    except PopulationCsvError as error:
        raise click.ClickException(f"{csv_file}, {error}. Nothing was imported.") from None
    click.echo(
        f"Imported: {summary.municipalities} new municipalities, {summary.areas_created} new"
        f" areas, {summary.neighbourhoods_created} new neighbourhoods,"
        f" {summary.figures_written} population figures."
    )


def _text_lines(path: Path):
    """The lines of a UTF-8 file, read as they are needed (a file of millions of rows is never
    held whole); a file that is not UTF-8 stops with the byte where it went wrong."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        try:
            yield from handle
        except UnicodeDecodeError as error:
            raise click.ClickException(
                f"{path}: not UTF-8 text (byte {error.start}); save the file as UTF-8."
                " Nothing was imported."
            ) from None


@click.command("import-addresses")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_addresses_command(csv_file: Path) -> None:
    """Import the address table (CBS/BAG layout): which wijk and buurt every postcode + house
    number (+ letter, + addition) lies in.

    Columns: postcode, huisnummer, huisletter, toevoeging, buurtcode and/or wijkcode. All rows
    or none are imported; the file replaces the addresses of the municipalities in it.
    """
    from buurtbudget.domain.addresses import AddressFileError
    from buurtbudget.services.addresses import import_addresses

    try:
        summary = import_addresses(
            _text_lines(csv_file),
            progress=lambda done: click.echo(f"  {done} addresses read", err=True),
        )
    except AddressFileError as error:
        raise click.ClickException(f"{csv_file}, {error}. Nothing was imported.") from None
    click.echo(
        f"Imported {summary.rows} addresses of {summary.municipalities} municipalities"
        f" (replacing {summary.replaced})."
    )


electorate_group = AppGroup(
    "electorate", help="The electorate of a round: register extract and stempas letters."
)


def _voting_round(round_id: int):
    from buurtbudget.models import VotingRound

    voting_round = db.session.get(VotingRound, round_id)
    if voting_round is None:
        raise click.ClickException(f"no voting round {round_id}")
    return voting_round


@electorate_group.command("import")
@click.argument("round_id", type=int)
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_electorate_command(round_id: int, csv_file: Path) -> None:
    """Replace the electorate of a round by the municipality's register extract (CSV:
    persoonssleutel, geboortedatum, postcode, huisnummer, huisletter, toevoeging, optional
    straat, woonplaats). Allowed until voting opens; all rows or none."""
    from buurtbudget.domain.addresses import AddressFileError
    from buurtbudget.services import electorate
    from buurtbudget.services.errors import ServiceError

    voting_round = _voting_round(round_id)
    try:
        summary = electorate.import_register(
            None,
            voting_round,
            _text_lines(csv_file),
            progress=lambda done: click.echo(f"  {done} rows read", err=True),
        )
    except AddressFileError as error:
        raise click.ClickException(f"{csv_file}, {error}. Nothing was imported.") from None
    except ServiceError as error:
        raise click.ClickException(str(error.message)) from None
    click.echo(
        f"Electorate of round {round_id}: {summary.electors} electors; left out"
        f" {summary.outside_areas} living outside the round's areas and {summary.too_young}"
        " below the minimum age."
    )


@electorate_group.command("letters")
@click.argument("round_id", type=int)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--base-url", help="Public address of the site (default: PUBLIC_BASE_URL).")
def letters_command(
    round_id: int, csv_path: Path | None, pdf_path: Path | None, base_url: str | None
) -> None:
    """Issue a stempas code to every elector of the round who has none yet, and write the
    letters: a mail-merge CSV for a printing house (--csv) and/or a PDF (--pdf). The codes
    are stored only hashed: these files are the only place they exist in clear."""
    from buurtbudget.services import electorate, stempas_letters
    from buurtbudget.services.errors import ServiceError

    if csv_path is None and pdf_path is None:
        raise click.ClickException("give --csv FILE and/or --pdf FILE")
    for path in (csv_path, pdf_path):
        if path is not None and path.exists():
            raise click.ClickException(f"{path} exists; choose a new file")
    voting_round = _voting_round(round_id)
    base_url = base_url or current_app.config["PUBLIC_BASE_URL"]
    # Open the files first: if one cannot be written, no codes are issued.
    handles = [open(p, "x", encoding="utf-8", newline="") for p in (csv_path,) if p]  # noqa: SIM115
    try:
        letters = electorate.issue_stempas_codes(
            None,
            voting_round,
            progress=lambda done, total: click.echo(f"  {done}/{total} codes", err=True),
        )
    except ServiceError as error:
        raise click.ClickException(str(error.message)) from None
    if csv_path is not None:
        with handles[0] as out:
            stempas_letters.write_mail_merge(
                letters,
                out,
                round_id,
                base_url,
                progress=lambda done: click.echo(f"  {done}/{len(letters)} CSV rows", err=True),
            )
    if pdf_path is not None:
        pdf_path.write_bytes(
            stempas_letters.letters_pdf(
                letters,
                voting_round.title,
                round_id,
                base_url,
                progress=lambda done: click.echo(f"  {done}/{len(letters)} letters", err=True),
            )
        )
    click.echo(f"{len(letters)} stempas codes issued for round {round_id}.")


cheques_group = AppGroup("cheques", help="Household cheques (Ede): issuing and letters.")


@cheques_group.command("issue")
@click.argument("period_id", type=int)
@click.argument("addresses", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--base-url", help="Public address of the site (default: PUBLIC_BASE_URL).")
def issue_cheques_command(
    period_id: int,
    addresses: Path,
    csv_path: Path | None,
    pdf_path: Path | None,
    base_url: str | None,
) -> None:
    """Issue a cheque to every household of the ADDRESSES file (postcode;house number;addition
    per line, as on the screen) that has none for the budget period yet, and write the
    letters: a mail-merge CSV for a printing house (--csv) and/or a PDF (--pdf). The codes are
    stored only hashed: these files are the only place they exist in clear."""
    from buurtbudget.domain.households import HouseholdListError, parse_household_list
    from buurtbudget.models import BudgetPeriod
    from buurtbudget.services import cheque_letters, cheques
    from buurtbudget.services.errors import ServiceError

    if csv_path is None and pdf_path is None:
        raise click.ClickException("give --csv FILE and/or --pdf FILE")
    for path in (csv_path, pdf_path):
        if path is not None and path.exists():
            raise click.ClickException(f"{path} exists; choose a new file")
    period = db.session.get(BudgetPeriod, period_id)
    if period is None or period.area is None:
        raise click.ClickException(f"no area budget period {period_id}")
    try:
        households = parse_household_list(addresses.read_text(encoding="utf-8-sig"))
    except HouseholdListError as error:
        lines = ", ".join(f"{e.line} ({e.text})" for e in error.errors)
        raise click.ClickException(f"{addresses}: these lines are not addresses: {lines}") from None
    redeem_page = f"{(base_url or current_app.config['PUBLIC_BASE_URL']).rstrip('/')}"
    redeem_page += "/budgets/cheques/redeem"

    def write_letters(issued) -> None:
        # Before anything is stored: a file that cannot be written issues no codes.
        if csv_path is not None:
            with open(csv_path, "x", encoding="utf-8", newline="") as out:
                cheque_letters.write_mail_merge(
                    issued,
                    out,
                    period,
                    redeem_page,
                    progress=lambda done: click.echo(f"  {done}/{len(issued)} CSV rows", err=True),
                )
        if pdf_path is not None:
            with open(pdf_path, "xb") as out:
                out.write(
                    cheque_letters.letters_pdf(
                        issued,
                        period,
                        redeem_page,
                        progress=lambda done: click.echo(
                            f"  {done}/{len(issued)} letters", err=True
                        ),
                    )
                )

    try:
        issued = cheques.issue_cheques(None, period, households, write_letters=write_letters)
    except ServiceError as error:
        for path in (csv_path, pdf_path):  # letters of codes that were never stored
            if path is not None and path.exists():
                path.unlink()
        raise click.ClickException(str(error.message)) from None
    click.echo(
        f"{len(issued)} cheques issued for period {period_id}"
        f" ({len(households) - len(issued)} households already had one)."
    )


@cheques_group.command("reprint")
@click.argument("cheque_id", type=int)
@click.option("--pdf", "pdf_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--base-url", help="Public address of the site (default: PUBLIC_BASE_URL).")
def reprint_cheque_command(cheque_id: int, pdf_path: Path, base_url: str | None) -> None:
    """A lost letter: give the cheque a NEW code (the old one stops working) and write its
    letter as a PDF. Refused for a pooled or expired cheque."""
    from buurtbudget.services import cheque_letters, cheques
    from buurtbudget.services.errors import ServiceError

    if pdf_path.exists():
        raise click.ClickException(f"{pdf_path} exists; choose a new file")
    redeem_page = f"{(base_url or current_app.config['PUBLIC_BASE_URL']).rstrip('/')}"
    redeem_page += "/budgets/cheques/redeem"
    with open(pdf_path, "xb") as out:  # opened first: if it cannot be written, nothing changes
        try:
            reprinted = cheques.reprint_cheque(None, cheque_id)
        except ServiceError as error:
            out.close()
            pdf_path.unlink()
            raise click.ClickException(str(error.message)) from None
        out.write(
            cheque_letters.letters_pdf([reprinted], reprinted.cheque.account.period, redeem_page)
        )
    click.echo(f"Cheque {cheque_id} has a new code; the old letter no longer works.")


roles_group = AppGroup("roles", help="Grant, revoke and list roles.")


@roles_group.command("grant")
@click.argument("email")
@click.argument("role", type=click.Choice(["council_member", "coordinator", "administrator"]))
@click.option("--municipality", "municipality_slug", required=True, help="Municipality slug.")
@click.option("--area", "area_name", help="Area name (for council_member and coordinator).")
def grant_role_command(email: str, role: str, municipality_slug: str, area_name: str | None):
    """Give a user a role (recorded in the audit log)."""
    from buurtbudget.models import Area, Municipality, Role, User
    from buurtbudget.services import accounts
    from buurtbudget.services.errors import ServiceError

    user = db.session.scalar(select(User).where(User.email == accounts.normalise_email(email)))
    if user is None:
        raise click.ClickException(f"no user with e-mail {email}")
    municipality = db.session.scalar(
        select(Municipality).where(Municipality.slug == municipality_slug)
    )
    if municipality is None:
        raise click.ClickException(f"no municipality {municipality_slug!r}")
    area = None
    if area_name:
        area = db.session.scalar(
            select(Area).where(Area.municipality_id == municipality.id, Area.name == area_name)
        )
        if area is None:
            raise click.ClickException(f"no area {area_name!r} in {municipality.name}")
    try:
        accounts.grant_role(None, user, Role(role), municipality=municipality, area=area)
    except ServiceError as error:
        raise click.ClickException(str(error.message)) from None
    click.echo(f"{email} is now {role}" + (f" of {area.name}" if area else ""))


@roles_group.command("list")
def list_roles_command() -> None:
    """List every role assignment."""
    from buurtbudget.models import RoleAssignment

    for assignment in db.session.scalars(select(RoleAssignment).order_by(RoleAssignment.id)):
        area = assignment.area.name if assignment.area else "-"
        click.echo(
            f"{assignment.user.email}\t{assignment.role.value}\t"
            f"{assignment.municipality.slug}\t{area}"
        )


rules_group = AppGroup("rules", help="The voting rules engine.")


@rules_group.command("warm-up")
def warm_up_command() -> None:
    """Compile (after an install) or load the compiled Equal Shares rounds, so that no request
    pays for it. Run once after installing or upgrading."""
    from buurtbudget.domain.rules.warmup import warm_up

    click.echo("warming up the compiled Equal Shares rounds ...", err=True)
    click.echo(f"compiled rules ready in {warm_up():.1f} s")
