"""Demo budgets, one municipality per model, with realistic figures:

* Delft (area programme): EUR 10 per inhabitant plus a EUR 5,000 knelpuntenpot per wijk, for
  2025 and this year; in Binnenstad and Buitenhof an agenda, a programme, granted initiatives,
  payouts (one above EUR 1,000 with two approvals), urgent spending and a published 2025
  wijkverslag.
* Zaanstad (area council): EUR 5 per inhabitant; recorded council meetings with physical and
  social decisions. Poelenburg met five times this year, Kogerveld only three times, so its
  pages show the warning.
* Ede (household cheques): EUR 7.50 per household, twice a year. The budget is computed for
  every household, but the demo issues cheques to a sample of 200 households per wijk and
  half-year (real Ede would print about 45,000 letters twice a year); the value of cheques not
  issued simply stays available in the area pot. Some cheques are pooled, and in Veldhuizen a
  street party is funded by pooled cheques.

Idempotent: every step looks up what it would create (by period, title, date or address).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from buurtbudget.demo.people import COUNCIL_NUMBERS, demo_email
from buurtbudget.domain.budget import (
    AccountKind,
    SpendKind,
    format_cheque_code,
    halves_for,
    model_defaults,
)
from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status, path_to
from buurtbudget.extensions import db
from buurtbudget.models import (
    Address,
    Area,
    AreaAgenda,
    Cheque,
    CouncilMeeting,
    DirectSpending,
    Initiative,
    InitiativeStatusChange,
    LedgerEntry,
    Municipality,
    PayoutRequest,
    Theme,
    User,
)
from buurtbudget.services import (
    attachments,
    budgets,
    cheques,
    council,
    direct_spending,
    initiatives,
    ledger,
    payouts,
)

THEMES = ("Groen", "Spelen", "Verkeer", "Ontmoeting", "Veiligheid", "Jongeren")
CHEQUE_SAMPLE = 200  # households per wijk and half-year that get a cheque in the demo
RECEIPT_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def seed_budgets(progress) -> None:
    today = date.today()
    _seed_delft(progress, today)
    _seed_zaanstad(progress, today)
    _seed_ede(progress, today)


# Helpers -------------------------------------------------------------------------------------


def _municipality(slug: str) -> Municipality:
    return db.session.scalar(select(Municipality).where(Municipality.slug == slug))


def _user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def _area(municipality: Municipality, name: str) -> Area:
    return next(a for a in municipality.areas if a.name == name)


def _themes(municipality: Municipality) -> dict[str, Theme]:
    existing = {
        t.name: t
        for t in db.session.scalars(select(Theme).where(Theme.municipality_id == municipality.id))
    }
    for name in THEMES:
        if name not in existing:
            existing[name] = Theme(municipality=municipality, name=name)
            db.session.add(existing[name])
    db.session.commit()
    return existing


def _configure(municipality: Municipality, kind: str, **changes) -> None:
    if budgets.municipality_config(municipality) is None:
        budgets.configure_model(None, municipality, model_defaults(kind).with_changes(**changes))


def _open(area: Area, year: int, half: int | None = None):
    settings = budgets.config_for(area).settings()
    half = halves_for(settings)[0] if half is None else half
    return budgets.find_period(area, year, half) or budgets.open_period(None, area, year, half)


def _initiative(area, initiator, title, description, cost_cents, themes, **fields) -> Initiative:
    """An initiative that passed the feasibility review (open for support)."""
    initiative = db.session.scalar(
        select(Initiative).where(Initiative.area_id == area.id, Initiative.title == title)
    )
    if initiative is not None:
        return initiative
    initiative = Initiative(
        area=area,
        title=title,
        description=description,
        requested_amount_cents=cost_cents,
        checked_cost_cents=cost_cents,
        initiator=initiator,
        status=Status.OPEN,
        themes=themes,
        **fields,
    )
    db.session.add(initiative)
    previous = None
    for status in path_to(Status.OPEN):
        db.session.add(
            InitiativeStatusChange(initiative=initiative, from_status=previous, to_status=status)
        )
        previous = status
    db.session.commit()
    return initiative


def _is_new(initiative: Initiative) -> bool:
    return not db.session.scalar(
        select(LedgerEntry.id).where(LedgerEntry.initiative_id == initiative.id).limit(1)
    )


def _pay(initiative: Initiative, amounts_and_texts, approvers: list[User]) -> None:
    """Payout requests with a receipt, approved by the coordinator(s)."""
    if db.session.scalar(
        select(PayoutRequest.id).where(PayoutRequest.initiative_id == initiative.id).limit(1)
    ):
        return
    for amount, text in amounts_and_texts:
        receipt = attachments.add_attachment(
            initiative.initiator,
            initiative,
            _pdf_stream(),
            f"bon-{text.split()[0].lower()}.pdf",
        )
        request = payouts.request_payout(initiative.initiator, initiative, amount, text, [receipt])
        for approver in approvers:
            if request.status.value in ("pending", "awaiting_second"):
                payouts.approve(approver, request)


def _pdf_stream():
    import io

    return io.BytesIO(RECEIPT_PDF)


# Delft ---------------------------------------------------------------------------------------

DELFT_PLANS = {
    "Binnenstad": {
        "agenda": ("Groen", "Ontmoeting", "Verkeer"),
        "initiatives": [
            # title, description, cost, themes, payouts, completed
            (
                "Geveltuinen Oude Delft",
                "Bewoners leggen samen veertig geveltuinen aan langs de Oude Delft; de"
                " gemeente haalt de tegels op.",
                3_800_00,
                ("Groen",),
                [(1_650_00, "Planten en potgrond tuincentrum"), (900_00, "Huur aanhanger")],
                True,
            ),
            (
                "Burenontbijt op de Markt",
                "Een ontbijt voor alle buren op de Markt op Koningsdag, met muziek voor kinderen.",
                2_250_00,
                ("Ontmoeting",),
                [(2_250_00, "Catering en tenthuur")],
                True,
            ),
            (
                "Fietsnietjes Zuidpoort",
                "Twintig extra fietsnietjes bij de Zuidpoort, zodat fietsen niet meer op de"
                " stoep staan.",
                6_400_00,
                ("Verkeer",),
                [(3_200_00, "Eerste termijn leverancier")],
                False,
            ),
        ],
        "urgent": [(1_180_00, "Herstel kapotte bankjes Beestenmarkt na storm", "Ontmoeting")],
    },
    "Buitenhof": {
        "agenda": ("Spelen", "Jongeren", "Veiligheid", "Ontmoeting"),
        "initiatives": [
            (
                "Pannakooi Buitenhof-Zuid",
                "Een pannakooi op het grasveld achter de Jan Campertlaan, beheerd door de"
                " jongerenwerkgroep.",
                18_500_00,
                ("Spelen", "Jongeren"),
                [(9_000_00, "Aanbetaling pannakooi")],
                False,
            ),
            (
                "Buurtpreventie-app en borden",
                "Borden en een startbijeenkomst voor de buurtpreventie-app in Buitenhof-Noord.",
                850_00,
                ("Veiligheid",),
                [(850_00, "Borden en zaalhuur")],
                True,
            ),
        ],
        "urgent": [(2_400_00, "Extra verlichting brandgang na inbraken", "Veiligheid")],
    },
}


def _seed_delft(progress, today: date) -> None:
    municipality = _municipality("delft")
    _configure(municipality, "area_programme")
    themes = _themes(municipality)
    coordinator_second = _user(demo_email("coordinator", "delft", 0))
    for area in municipality.areas:
        for year in (today.year - 1, today.year):
            _open(area, year)
        plan = DELFT_PLANS.get(area.name)
        if plan is None:
            continue
        coordinator = _user(demo_email("coordinator", "delft", _area_number(municipality, area)))
        last_year = _open(area, today.year - 1)
        this_year = _open(area, today.year)
        for year in (today.year - 1, today.year):
            agenda = db.session.scalar(
                select(AreaAgenda).where(AreaAgenda.area_id == area.id, AreaAgenda.year == year)
            )
            if agenda is None:
                from buurtbudget.services.themes import set_area_agenda

                set_area_agenda(
                    coordinator,
                    area,
                    year,
                    [themes[name].id for name in plan["agenda"]],
                    "Gekozen na de wijkanalyse in april en gesprekken met bewoners.",
                )
        residents = _residents(municipality, area)
        for number, (title, text, cost, theme_names, paid, completed) in enumerate(
            plan["initiatives"]
        ):
            period = last_year if completed else this_year
            initiative = _initiative(
                area, residents[number], title, text, cost, [themes[n] for n in theme_names]
            )
            if _is_new(initiative):
                # As a coordinator does on the screens: the programme line, then the selection,
                # which grants the checked cost from that period's area pot.
                budgets.set_programme_line(
                    coordinator, period, cost, initiative=initiative, note="Wijkprogramma"
                )
                initiatives.change_status(
                    coordinator, initiative, Status.SELECTED, funding_route=FundingRoute.PROGRAMME
                )
            _pay(initiative, paid, [coordinator, coordinator_second])
            if completed and initiative.status is Status.IN_EXECUTION:
                # Completed below its budget: the rest goes back to the area pot by itself.
                initiatives.change_status(None, initiative, Status.COMPLETED)
        for period in (last_year, this_year):
            fund = period.account(AccountKind.BOTTLENECK)
            if ledger.account_balance(fund).paid == 0:
                for amount, purpose, theme in plan["urgent"]:
                    # From EUR 1,000 with a receipt and a second coordinator's approval.
                    booked = direct_spending.spend(
                        coordinator,
                        fund,
                        amount,
                        purpose,
                        theme_id=themes[theme].id,
                        receipt=(_pdf_stream(), "bon-spoed.pdf"),
                    )
                    if isinstance(booked, DirectSpending):
                        direct_spending.approve(coordinator_second, booked)
        if budgets.report_of(last_year) is None:
            budgets.save_report(
                coordinator,
                last_year,
                f"In {last_year.year} werkte {area.name} aan {', '.join(plan['agenda'])}."
                " Bewoners brachten de plannen zelf in; de meeste zijn uitgevoerd. Het"
                " geld dat niet is besteed, vloeit terug naar de gemeente.",
                publish=False,
            )
            # The area council publishes what the coordinator wrote.
            council = budgets.council_of(area)
            budgets.publish_report(council[0] if council else coordinator, last_year)
    progress("  Delft: area programmes, payouts and the wijkverslag of last year")


def _area_number(municipality: Municipality, area: Area) -> int:
    return [a.id for a in municipality.areas].index(area.id) + 1


def _residents(municipality: Municipality, area: Area) -> list[User]:
    number = _area_number(municipality, area)
    return [_user(demo_email(f"bewoner{number}-", municipality.slug, n)) for n in range(2, 9)]


# Zaanstad ------------------------------------------------------------------------------------

ZAANSTAD_MEETINGS = {
    # area: [(month, day, attendees, [(decision, euros, kind, initiative title or None)])]
    "Poelenburg": [
        (1, 21, 34, [("Jaarplan leefbaarheidsbudget vastgesteld", 0, None, None)]),
        (3, 18, 27, [("Taalcafé in buurthuis De Kolk", 6_500, "social", "Taalcafé De Kolk")]),
        (5, 27, 41, [("Nieuwe speeltoestellen Plein 1", 18_000, "physical", None)]),
        (
            9,
            16,
            22,
            [("Huiswerkbegeleiding voor tieners", 4_800, "social", "Huiswerkklas Poelenburg")],
        ),
        (11, 4, 30, [("Bloembakken Pieter Ghijsenlaan", 2_900, "physical", None)]),
    ],
    "Kogerveld": [
        (2, 10, 18, [("Verkeersdrempels Kogerveldweg", 12_000, "physical", None)]),
        (6, 9, 15, [("Burendag Kogerveld", 1_750, "social", "Burendag Kogerveld")]),
        (10, 13, 12, [("Hekwerk hondenuitlaatveld", 3_400, "physical", None)]),
    ],
}


def _seed_zaanstad(progress, today: date) -> None:
    municipality = _municipality("zaanstad")
    _configure(municipality, "council_budget")
    themes = _themes(municipality)
    for area in municipality.areas:
        _open(area, today.year)
        plan = ZAANSTAD_MEETINGS.get(area.name)
        if not plan:
            continue
        present = [
            _user(demo_email(f"bewoner{_area_number(municipality, area)}-", "zaanstad", n))
            for n in COUNCIL_NUMBERS
        ]
        member = present[0]  # the secretary, who records the meeting
        residents = _residents(municipality, area)
        for number, (month, day, attendees, decisions) in enumerate(plan):
            held_on = date(today.year, month, day)
            if held_on > today or db.session.scalar(
                select(CouncilMeeting.id).where(
                    CouncilMeeting.area_id == area.id, CouncilMeeting.held_on == held_on
                )
            ):
                continue
            meeting = council.record_meeting(
                member,
                area,
                held_on,
                attendees,
                "Buurthuis",
                "Openbare vergadering.",
                present=present,
            )
            for title, euros, kind, initiative_title in decisions:
                initiative = None
                if initiative_title:
                    initiative = _initiative(
                        area,
                        residents[number % len(residents)],
                        initiative_title,
                        f"{title}: voorstel van bewoners, besproken in de wijkraad.",
                        euros * 100,
                        [themes["Ontmoeting"]],
                    )
                council.record_decision(
                    member,
                    meeting,
                    title,
                    euros * 100,
                    spend_kind=SpendKind(kind) if kind else None,
                    initiative=initiative,
                )
    progress("  Zaanstad: council meetings and decisions (Kogerveld met only three times)")


# Ede -----------------------------------------------------------------------------------------


def _seed_ede(progress, today: date) -> None:
    municipality = _municipality("ede")
    _configure(municipality, "household_cheques")
    themes = _themes(municipality)
    codes: dict[int, str] = {}  # cheque id -> code: only in memory, for pooling and printing
    for area in municipality.areas:
        # The letters go to households of the area itself: addresses the address file places
        # in it.
        addresses = db.session.execute(
            select(Address.postcode, Address.house_number)
            .where(Address.area_id == area.id)
            .order_by(Address.postcode, Address.house_number)
            .limit(CHEQUE_SAMPLE)
        ).all()
        for half in (1, 2):
            if half == 2 and today.month < 7:
                continue
            period = _open(area, today.year, half)
            households = [cheques.Household(postcode, number) for postcode, number in addresses]
            for issued in cheques.issue_cheques(None, period, households):
                codes[issued.cheque.id] = issued.code
    veldhuizen = _area(municipality, "Veldhuizen")
    period = _open(veldhuizen, today.year, 2 if today.month >= 7 else 1)
    residents = _residents(municipality, veldhuizen)
    party = _initiative(
        veldhuizen,
        residents[0],
        "Straatfeest Veldhuizen-A",
        "Een straatfeest met springkussen en buurtbarbecue; bewoners sparen er hun cheques"
        " voor op.",
        150_00,  # twenty cheques
        [themes["Ontmoeting"]],
    )
    garden = _initiative(
        veldhuizen,
        residents[1],
        "Moestuin achter de school",
        "Een gezamenlijke moestuin met bakken op het veldje achter de Rehobothschool.",
        600_00,  # eighty cheques
        [themes["Groen"]],
    )
    unused = [
        c
        for c in db.session.scalars(cheques.cheques_query(period))
        if c.redeemed_at is None and c.expired_at is None
    ]
    resident = residents[2]
    if party.status is Status.OPEN:
        for cheque in unused[:20]:
            cheques.redeem(resident, _code_of(cheque, codes), party)
    if garden.status is Status.OPEN and ledger.initiative_totals(garden).pooled == 0:
        for cheque in unused[20:32]:
            cheques.redeem(resident, _code_of(cheque, codes), garden)
    progress(f"  Ede: cheques for {CHEQUE_SAMPLE} households per wijk and half-year, pooled")
    # Codes a demo visitor can pool: those just issued, or (on a later run, when the codes of
    # the first are gone) three letters reprinted with new codes, as for lost letters.
    spare = [
        c
        for c in db.session.scalars(cheques.cheques_query(period))
        if c.redeemed_at is None and c.expired_at is None
    ][-3:]
    printed = [format_cheque_code(_code_of(c, codes)) for c in spare]
    progress(
        f"  Ede: cheque codes of Veldhuizen to pool (log in as {residents[3].email}):"
        f" {', '.join(printed)}"
    )


def _code_of(cheque: Cheque, codes: dict[int, str]) -> str:
    """The code this run issued, else a new one (an earlier run's codes exist nowhere)."""
    if cheque.id not in codes:
        codes[cheque.id] = cheques.reprint_cheque(None, cheque.id).code
    return codes[cheque.id]
