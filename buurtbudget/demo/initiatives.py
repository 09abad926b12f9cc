# ruff: noqa: E501 - Dutch demo texts read best on one line each
"""Demo themes, area agendas, initiatives in every status (with their history), working groups
with discussions, comments (one hidden, one reported) and notifications.

Idempotent: themes are keyed on municipality + name, agendas on area + year, initiatives on
area + title, groups on area + name; a second run adds nothing.
"""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from buurtbudget.demo.people import demo_email
from buurtbudget.demo.places import MUNICIPALITIES
from buurtbudget.domain.initiative_lifecycle import FundingRoute, Status, path_to
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    AreaAgenda,
    Comment,
    CommentReport,
    Initiative,
    InitiativeStatusChange,
    Municipality,
    Theme,
    User,
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupMessage,
)
from buurtbudget.models._base import utcnow
from buurtbudget.services import notifications

THEMES = {
    "Groen": "Bomen, geveltuinen, plantsoenen en moestuinen.",
    "Spelen": "Speelplekken en speeltoestellen voor kinderen.",
    "Verkeer": "Veilig lopen, fietsen en parkeren.",
    "Ontmoeting": "Plekken en activiteiten waar buren elkaar leren kennen.",
    "Jeugd": "Activiteiten voor en door jongeren.",
    "Ouderen": "Meedoen en gezelschap voor oudere buurtgenoten.",
    "Veiligheid": "Een veilige, schone en verlichte buurt.",
    "Duurzaamheid": "Energie besparen, afval scheiden, klimaatbestendig wonen.",
}

# (title, description, themes, amount in euros, volunteer hours, in kind)
IDEAS = (
    (
        "Geveltuinen in {area}",
        "Bewoners leggen samen twintig geveltuinen aan. De gemeente haalt de tegels weg, wij zorgen voor planten en onderhoud.",
        ("Groen",),
        1850,
        80,
        "Planten uit eigen tuin",
    ),
    (
        "Nieuwe speeltoestellen bij het schoolplein",
        "Het klimrek is versleten en afgekeurd. We willen een duurzaam klimtoestel en een zandbak voor de kleintjes.",
        ("Spelen", "Jeugd"),
        12500,
        40,
        "",
    ),
    (
        "Buurtbarbecue op de eerste zomerzaterdag",
        "Een gezellige middag voor de hele straat, met muziek en een springkussen. Iedereen neemt een gerecht mee.",
        ("Ontmoeting",),
        950,
        30,
        "Tafels en stoelen van het buurthuis",
    ),
    (
        "Taalcafé voor nieuwe buren",
        "Elke week een uur Nederlands oefenen met koffie en thee, begeleid door vrijwilligers uit de wijk.",
        ("Ontmoeting",),
        2400,
        150,
        "Ruimte in de bibliotheek",
    ),
    (
        "Verkeersdrempel in de schoolstraat",
        "Auto's rijden te hard langs de basisschool. Ouders vragen om een drempel en een duidelijk 30-km-bord.",
        ("Verkeer", "Veiligheid"),
        7800,
        10,
        "",
    ),
    (
        "Moestuin achter het buurthuis",
        "Een gezamenlijke moestuin met bakken op hoogte, zodat ook ouderen en mensen in een rolstoel mee kunnen tuinieren.",
        ("Groen", "Ouderen"),
        4300,
        200,
        "Compost en gereedschap",
    ),
    (
        "Jongerenpodium in het park",
        "Een zomeravond met optredens van jongeren uit de wijk: rap, dans en bandjes.",
        ("Jeugd",),
        3200,
        60,
        "Geluidsinstallatie van de muziekschool",
    ),
    (
        "Wandelgroep voor 65-plussers",
        "Twee keer per week samen wandelen door de wijk, met koffie na afloop. Voor de route zoeken we rustpunten.",
        ("Ouderen", "Ontmoeting"),
        600,
        100,
        "",
    ),
    (
        "Extra verlichting op het fietspad",
        "Het fietspad langs het water is 's avonds donker en voelt onveilig. We vragen om ledlantaarns.",
        ("Veiligheid", "Verkeer"),
        9600,
        0,
        "",
    ),
    (
        "Buurtbatterij en zonnepanelen op het wijkcentrum",
        "Met zonnepanelen en een buurtbatterij wordt het wijkcentrum zelfvoorzienend; de besparing gaat naar activiteiten.",
        ("Duurzaamheid",),
        18500,
        50,
        "",
    ),
    (
        "Repair café elke maand",
        "Vrijwilligers repareren kapotte spullen zodat ze niet weggegooid worden. We zoeken gereedschap en een vaste plek.",
        ("Duurzaamheid", "Ontmoeting"),
        1500,
        240,
        "Gereedschap van de vrijwilligers",
    ),
    (
        "Schoonmaakactie met de kinderen",
        "Vier keer per jaar ruimen we samen met de basisschool zwerfafval op, met grijpers en vuilniszakken.",
        ("Veiligheid", "Jeugd"),
        450,
        60,
        "",
    ),
    (
        "Bankjes langs de singel",
        "Er zijn te weinig plekken om even te zitten. Vijf bankjes maken de wandeling voor ouderen mogelijk.",
        ("Ouderen", "Groen"),
        3750,
        15,
        "",
    ),
    (
        "Pannakooi op het grasveld",
        "Een kleine voetbalkooi waar tieners na school kunnen spelen, dicht bij huis en goed zichtbaar.",
        ("Spelen", "Jeugd"),
        14500,
        20,
        "",
    ),
    (
        "Insectenhotel en bloemenweide",
        "Een stuk gazon wordt een bloemenweide met een insectenhotel, gebouwd door de kinderen van de wijk.",
        ("Groen", "Duurzaamheid"),
        1200,
        45,
        "Hout van de timmerwerkplaats",
    ),
    (
        "Kerstmarkt op het plein",
        "Een kleine kerstmarkt met kraampjes van bewoners en ondernemers uit de buurt, met warme chocolademelk.",
        ("Ontmoeting",),
        2800,
        90,
        "Kramen van de winkeliersvereniging",
    ),
    (
        "Deelbakfietsen voor de buurt",
        "Twee elektrische bakfietsen die buren via een app kunnen reserveren, voor boodschappen en klusjes.",
        ("Duurzaamheid", "Verkeer"),
        8900,
        30,
        "",
    ),
    (
        "Huiswerkklas in het wijkcentrum",
        "Studenten helpen kinderen uit groep 7 en 8 en de brugklas twee middagen per week met hun huiswerk.",
        ("Jeugd",),
        3600,
        180,
        "Lokaal van het wijkcentrum",
    ),
    (
        "Buurtpreventie-app en bordjes",
        "Bewoners starten een WhatsApp-buurtpreventiegroep; we vragen om bordjes en een informatieavond met de wijkagent.",
        ("Veiligheid",),
        700,
        25,
        "",
    ),
    (
        "Boomspiegels beplanten",
        "De kale grond rond de straatbomen wordt beplant en onderhouden door de bewoners van de straat.",
        ("Groen",),
        800,
        35,
        "Plantjes van de tuincentra",
    ),
    (
        "Speeldag op autovrije zondag",
        "Eén zondag per jaar gaat de straat dicht voor auto's en is hij van de kinderen: stoepkrijt, spelletjes en een springkussen.",
        ("Spelen", "Ontmoeting"),
        1100,
        40,
        "",
    ),
    (
        "Koffieochtend voor eenzame buren",
        "Elke dinsdag een open koffieochtend in de huiskamer van de wijk, met vervoer voor wie slecht ter been is.",
        ("Ouderen", "Ontmoeting"),
        2100,
        120,
        "",
    ),
    (
        "Oversteekplaats bij de supermarkt",
        "Veel ouderen steken hier over tussen het verkeer door. Een zebrapad met middeneiland maakt het veilig.",
        ("Verkeer", "Ouderen"),
        11200,
        0,
        "",
    ),
    (
        "Regenton-actie",
        "Bewoners krijgen korting op een regenton en hulp bij het afkoppelen van de regenpijp.",
        ("Duurzaamheid", "Groen"),
        2500,
        20,
        "",
    ),
)

REJECTION_REASONS = (
    "De grond is van een woningcorporatie; de gemeente kan hier niet bouwen. Neem contact op met de corporatie.",
    "De verkeerscommissie heeft onderzocht dat een drempel hier niet mag op een busroute.",
    "Dit valt onder het reguliere onderhoud van de gemeente en wordt al in het najaar uitgevoerd.",
    "De kosten passen niet binnen het wijkbudget van dit jaar; dien een kleinere eerste fase in.",
)
CANCEL_REASONS = (
    "De initiatiefnemers zijn verhuisd en niemand neemt het over.",
    "De school regelt dit nu zelf met een subsidie van de provincie.",
    "Er waren te weinig vrijwilligers om het uit te voeren.",
)
COMMENTS = (
    "Goed idee, ik help graag mee!",
    "Eindelijk, hier wachten we al jaren op.",
    "Kunnen de kinderen van de school ook meedoen?",
    "Ik woon ernaast en vind het een mooi plan.",
    "Denk wel aan het onderhoud na het eerste jaar.",
    "Mijn buurvrouw van 82 zou dit geweldig vinden.",
)
# Every status appears in every municipality; rejected and cancelled twice, for variety.
STATUS_CYCLE = (
    Status.OPEN, Status.SUBMITTED, Status.SELECTED, Status.IN_EXECUTION, Status.COMPLETED,
    Status.DRAFT, Status.IN_REVIEW, Status.REJECTED, Status.CANCELLED, Status.OPEN,
    Status.SELECTED, Status.REJECTED, Status.OPEN, Status.IN_EXECUTION, Status.CANCELLED,
    Status.SUBMITTED, Status.COMPLETED, Status.OPEN,
)  # fmt: skip
INITIATIVES_PER_AREA = 3
FUNDING_ROUTES = {
    "delft": FundingRoute.PROGRAMME,  # the coordinator's area programme
    "zaanstad": FundingRoute.COUNCIL,  # the area council decides
    "ede": FundingRoute.CHEQUES,  # pooled household cheques
}
# (municipality, area index, group name, theme, description, member numbers, ended?)
GROUPS = (
    ("delft", 0, "Groene Gevels Binnenstad", "Groen", "Samen de stenen binnenstad groener maken, gevel voor gevel.", (2, 3, 4, 5), False),
    ("delft", 5, "Jongerenraad Buitenhof", "Jeugd", "Jongeren van 14 tot 21 die zelf activiteiten organiseren in Buitenhof.", (6, 7, 8), False),
    ("zaanstad", 0, "Veilig Poelenburg", "Veiligheid", "Werkgroep rond de donkere plekken in Poelenburg; afgerond na de schouw met de wijkagent.", (2, 3, 4), True),
    ("zaanstad", 1, "Ontmoeten in Kogerveld", "Ontmoeting", "Buren die koffieochtenden en straatfeesten organiseren.", (2, 5, 6, 7, 9), False),
    ("ede", 1, "Speelplein Veldhuizen", "Spelen", "Ouders die samen een nieuw speelplein voorbereiden.", (2, 3, 4, 5, 6), False),
    ("ede", 3, "Duurzaam Bennekom", "Duurzaamheid", "Bewoners die samen energie besparen en zonnepanelen delen.", (2, 4, 8), False),
)  # fmt: skip
GROUP_MESSAGES = (
    "Welkom allemaal! Zullen we volgende week dinsdag om acht uur bij elkaar komen?",
    "Ik heb bij de gemeente nagevraagd wat er mag; het antwoord volgt.",
    "Goed overleg gisteren. Het verslag staat hieronder, reacties graag voor vrijdag.",
)


def _user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def _resident(slug: str, area_index: int, number: int) -> User:
    return _user(demo_email(f"bewoner{area_index + 1}-", slug, number))


def _coordinator(slug: str, area_index: int) -> User:
    return _user(demo_email("coordinator", slug, area_index + 1))


def seed_initiatives(progress) -> None:
    rng = random.Random(2026)
    now = utcnow()
    for slug in MUNICIPALITIES:
        municipality = db.session.scalar(select(Municipality).where(Municipality.slug == slug))
        themes = _seed_themes(municipality)
        areas = _areas_in_demo_order(municipality)
        for area in areas:
            _seed_agenda(area, themes, now.year, rng)
        groups = [_seed_group(slug, areas, themes, now, spec) for spec in GROUPS if spec[0] == slug]
        created = 0
        for position in range(len(areas) * INITIATIVES_PER_AREA):
            area_index = position % len(areas)
            idea = IDEAS[(position * 7 + len(slug)) % len(IDEAS)]
            status = STATUS_CYCLE[position % len(STATUS_CYCLE)]
            created += _seed_initiative(
                slug, areas[area_index], area_index, idea, status, themes, groups, now, rng
            )
        progress(f"  {municipality.name}: {len(themes)} themes, {created} new initiatives")
    _seed_moderation()
    db.session.commit()


def _areas_in_demo_order(municipality: Municipality) -> list[Area]:
    """The areas in the order of demo.places, which the demo e-mail addresses follow."""
    codes = [spec[1] for spec in MUNICIPALITIES[municipality.slug][3]]
    by_code = {area.cbs_code: area for area in municipality.areas}
    return [by_code[code] for code in codes]


def _seed_themes(municipality: Municipality) -> dict[str, Theme]:
    themes = {
        t.name: t
        for t in db.session.scalars(select(Theme).where(Theme.municipality_id == municipality.id))
    }
    for name, description in THEMES.items():
        if name not in themes:
            themes[name] = Theme(municipality=municipality, name=name, description=description)
            db.session.add(themes[name])
    db.session.flush()
    return themes


def _seed_agenda(area: Area, themes: dict[str, Theme], year: int, rng: random.Random) -> None:
    if db.session.scalar(
        select(AreaAgenda.id).where(AreaAgenda.area_id == area.id, AreaAgenda.year == year)
    ):
        return
    chosen = rng.sample(sorted(themes), rng.randint(3, 5))
    db.session.add(
        AreaAgenda(
            area=area,
            year=year,
            themes=sorted((themes[n] for n in chosen), key=lambda t: t.name),
            note="Gekozen na de wijkanalyse en de bewonersavonden in het voorjaar.",
        )
    )


def _seed_group(slug, areas, themes, now, spec) -> WorkingGroup:
    _, area_index, name, theme, description, members, ended = spec
    area = areas[area_index]
    group = db.session.scalar(
        select(WorkingGroup).where(WorkingGroup.area_id == area.id, WorkingGroup.name == name)
    )
    if group is not None:
        return group
    starts = (now - timedelta(days=200 if ended else 90)).date()
    group = WorkingGroup(
        area=area,
        theme=themes[theme],
        name=name,
        description=description,
        starts_on=starts,
        ends_on=(now - timedelta(days=20)).date() if ended else None,
        created_by=_resident(slug, area_index, members[0]),
    )
    group.memberships = [
        WorkingGroupMember(user=_resident(slug, area_index, n), joined_at=now - timedelta(days=80))
        for n in members
    ]
    group.messages = [
        WorkingGroupMessage(
            author=_resident(slug, area_index, members[i % len(members)]),
            body=body,
            created_at=now - timedelta(days=60 - 15 * i),
        )
        for i, body in enumerate(GROUP_MESSAGES)
    ]
    db.session.add(group)
    db.session.flush()
    return group


def _seed_initiative(slug, area, area_index, idea, status, themes, groups, now, rng) -> int:
    title_template, description, theme_names, euros, hours, in_kind = idea
    title = title_template.format(area=area.name)
    if db.session.scalar(
        select(Initiative.id).where(Initiative.area_id == area.id, Initiative.title == title)
    ):
        return 0
    group = next(
        (
            g
            for g in groups
            if g.area_id == area.id and g.theme.name in theme_names and not g.ends_on
        ),
        None,
    )
    initiator = (
        group.memberships[0].user if group else _resident(slug, area_index, rng.randint(2, 12))
    )
    coordinator = _coordinator(slug, area_index)
    amount = euros * 100
    path = path_to(status)
    initiative = Initiative(
        area=area,
        title=title,
        description=description,
        requested_amount_cents=amount,
        volunteer_hours=hours,
        co_funding_cents=rng.choice((0, 0, 100_00, 250_00)),
        in_kind=in_kind,
        initiator=initiator,
        working_group=group,
        status=status,
        themes=[themes[n] for n in theme_names],
    )
    if Status.OPEN in path:
        # The coordinator's check lands near the request, sometimes a little lower.
        initiative.checked_cost_cents = amount - rng.choice((0, 0, 5, 10)) * amount // 100
    if Status.SELECTED in path:
        initiative.funding_route = FUNDING_ROUTES[slug]
    at = now - timedelta(days=12 * len(path) + rng.randint(0, 20))
    previous = None
    for step in path:
        actor, reason = _actor_and_reason(step, initiator, coordinator, slug, rng)
        initiative.history.append(
            InitiativeStatusChange(
                from_status=previous, to_status=step, actor=actor, at=at, reason=reason
            )
        )
        if step is Status.SUBMITTED:
            initiative.submitted_at = at
        previous = step
        at += timedelta(days=rng.randint(5, 14))
    initiative.created_at = initiative.history[0].at
    initiative.status_changed_at = initiative.history[-1].at
    db.session.add(initiative)
    db.session.flush()
    last = initiative.history[-1]
    if len(path) > 1 and last.actor_id != initiator.id:
        notifications.notify(
            initiator,
            notifications.STATUS_CHANGED,
            initiative,
            title=title,
            status=status.value,
            reason=last.reason,
        ).created_at = last.at
    if status is Status.SUBMITTED:
        notifications.notify(
            coordinator,
            notifications.SUBMITTED_FOR_REVIEW,
            initiative,
            title=title,
            area=area.name,
        ).created_at = last.at
    if status in (Status.OPEN, Status.SELECTED, Status.IN_EXECUTION):
        for n in range(rng.randint(1, 3)):
            db.session.add(
                Comment(
                    initiative=initiative,
                    author=_resident(slug, area_index, 9 + n),
                    body=COMMENTS[rng.randrange(len(COMMENTS))],
                    created_at=last.at + timedelta(days=n + 1),
                )
            )
    return 1


def _actor_and_reason(step, initiator, coordinator, slug, rng):
    if step in (Status.DRAFT, Status.SUBMITTED, Status.IN_EXECUTION):
        return initiator, None
    if step is Status.REJECTED:
        return coordinator, rng.choice(REJECTION_REASONS)
    if step is Status.CANCELLED:
        return initiator, rng.choice(CANCEL_REASONS)
    if step is Status.SELECTED and FUNDING_ROUTES[slug] is FundingRoute.CHEQUES:
        return None, None  # the cheque pool reached the cost: the system selects
    return coordinator, None


def _seed_moderation() -> None:
    """One hidden comment and one open abuse report, in Delft's Binnenstad."""
    if db.session.scalar(select(Comment.id).where(Comment.hidden_at.is_not(None))):
        return
    binnenstad_comments = db.session.scalars(
        select(Comment)
        .join(Initiative)
        .join(Area)
        .where(Area.cbs_code == MUNICIPALITIES["delft"][3][0][1])
        .order_by(Comment.id)
    ).all()
    if len(binnenstad_comments) < 2:
        return
    coordinator = _coordinator("delft", 0)
    hidden, reported = binnenstad_comments[0], binnenstad_comments[1]
    hidden.body = "Wat een onzin, die lui van de gemeente doen toch niks. Stelletje zakkenvullers!"
    hidden.hidden_at = hidden.created_at + timedelta(hours=5)
    hidden.hidden_by = coordinator
    hidden.hidden_reason = (
        "Scheldwoorden en beledigingen passen niet in een respectvolle discussie."
    )
    db.session.add(
        CommentReport(
            comment=reported,
            reporter=_resident("delft", 0, 11),
            reason="Dit is reclame voor een bedrijf, geen reactie op het plan.",
            created_at=reported.created_at + timedelta(hours=2),
        )
    )
    reported.body = "Bel Tuinservice De Groene Vinger voor de beste prijs: 06-12345678!"
