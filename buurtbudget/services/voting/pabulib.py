"""Voting rounds as pabulib ``.pb`` files (https://pabulib.org/format), the field's standard.

* :func:`export_round`: a round's projects and ballots (and, once counted, each project's votes
  and whether it was selected) as a ``.pb`` file. Ballots carry no voter information beyond
  how they were cast (internet / paper): never their area or age band, which in small areas
  could single a voter out.
* :func:`import_round`: a real file becomes a CLOSED round with its projects (without
  initiatives) and anonymous ballots (channel "imported"), counted with the engine, so its
  results can be shown, compared and exported again. Amounts in files are whole currency units
  (euros); they are stored in cents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from fractions import Fraction

import numpy as np
from flask_babel import lazy_gettext as _l

from buurtbudget.domain.ballots import ORDINAL
from buurtbudget.domain.pabulib import PabulibError, format_pabulib, parse_pabulib
from buurtbudget.domain.rules import RULES, Ballots, rule_for_meta
from buurtbudget.extensions import db
from buurtbudget.models import (
    Area,
    Channel,
    Municipality,
    RoundProject,
    RoundSource,
    User,
    VotingRound,
)
from buurtbudget.models._base import utcnow
from buurtbudget.models.voting import new_ballot_id
from buurtbudget.services import audit, file_messages
from buurtbudget.services.errors import ValidationFailed
from buurtbudget.services.permissions import is_admin_of, require
from buurtbudget.services.voting import weighting
from buurtbudget.services.voting.counting import store_results
from buurtbudget.services.voting.election import build_election

CENTS_PER_UNIT = 100
# META "rule" of an exported round whose money followed the corrected ranking (voting.weighting).
CORRECTED_RANKING_RULE = "buurtbudget-corrected-ranking"


def rule_for_file(meta_rule: str | None) -> str | None:
    """Our rule name for a file's META ``rule``; None when the engine does not know it."""
    return rule_for_meta(meta_rule)


def export_round(voting_round: VotingRound) -> str:
    """The round as the text of a ``.pb`` file."""
    election = build_election(voting_round)
    if voting_round.is_closed:
        by_external = {p.external_id: p for p in voting_round.projects}
        projects = []
        for project in election.projects:
            stored = by_external[project.id]
            extra = dict(project.extra)
            extra["votes"] = str(stored.votes or 0)
            extra["selected"] = "1" if stored.selected else "0"
            projects.append(replace(project, extra=extra))
        election = replace(election, projects=tuple(projects))
        if weighting.funded_by_corrected_ranking(voting_round):
            # META "rule" says how the "selected" column came about: not the counting rule.
            election = replace(election, meta={**election.meta, "rule": CORRECTED_RANKING_RULE})
    return format_pabulib(election)


class InvalidFile(ValidationFailed):
    """The file is not a valid pabulib file: the message is made in the language of whoever
    reads it; ``failure`` is the reader's problem as data (the import job stores it)."""

    def __init__(self, error: PabulibError):
        self.failure = file_messages.failure(error)
        super().__init__(
            file_messages.LazyText(file_messages.not_a_pabulib_file, self.failure), field="file"
        )


def _cents(amount: int | Fraction, what: str) -> int:
    cents = Fraction(amount) * CENTS_PER_UNIT
    if cents.denominator != 1:
        raise ValidationFailed(
            _l("The file's %(what)s is not a whole number of cents.", what=what), field="file"
        )
    return int(cents)


def import_round(
    actor: User | None,
    municipality: Municipality,
    content: bytes,
    *,
    source_name: str = "",
    areas: list[Area] | tuple[Area, ...] = (),
    rule_name: str | None = None,
    progress: Progress | None = None,
) -> VotingRound:
    """Create a closed, published round from a pabulib file and count it with the engine, in
    one transaction; ballots are written in bulk (:func:`write_ballots`)."""
    if actor is not None:
        require(is_admin_of(actor, municipality.id))
    try:
        election = parse_pabulib(content)
    except PabulibError as error:
        raise InvalidFile(error) from None
    if election.vote_type == ORDINAL:
        raise ValidationFailed(
            _l(
                "Rounds with ranked (ordinal) ballots cannot be imported; "
                "'flask pb compute' counts such files."
            ),
            field="file",
        )
    rule = rule_name or rule_for_file(election.meta.get("rule"))
    if rule is None:
        raise ValidationFailed(
            _l(
                "The file's rule %(rule)s cannot be applied; choose a rule to count it with.",
                rule=election.meta.get("rule", "").strip()[:60] or "-",
            ),
            field="rule",
        )
    if rule not in RULES:
        raise ValidationFailed(_l("This is not a valid choice."), field="rule")
    for area in areas:
        if area.municipality_id != municipality.id:
            raise ValidationFailed(_l("This is not a valid choice."), field="area")
    if any(len(voter_id) > 64 for voter_id in election.ballots.voter_ids):
        raise ValidationFailed(_l("A voter id in the file is too long."), field="file")
    rules = election.ballot_rules
    now = utcnow()
    title = (election.meta.get("description") or source_name or "pabulib").strip()[:120]
    voting_round = VotingRound(
        municipality_id=municipality.id,
        title=title,
        description=election.meta.get("comment", "")[:5000],
        source=RoundSource.PABULIB,
        ballot_type=election.vote_type,
        rule_name=rule,
        min_projects=rules.min_length or None,
        max_projects=rules.max_length,
        max_total_cost_cents=(
            _cents(rules.max_total_cost, "max_sum_cost") if rules.max_total_cost else None
        ),
        max_points_per_project=rules.max_points,
        max_total_points=rules.max_total_points,
        min_age=0,
        budget_cents=_cents(election.budget, "budget"),
        rule_meta=dict(election.meta),
        created_by_id=actor.id if actor is not None else None,
        locked_at=now,
    )
    voting_round.areas = list(areas)
    for position, project in enumerate(election.projects):
        voting_round.projects.append(
            RoundProject(
                external_id=project.id[:64],
                name=(project.name or project.id)[:200],
                description=project.extra.get("description", ""),
                cost_cents=project.cost * CENTS_PER_UNIT,
                category=",".join(project.categories)[:200],
                neighbourhood=",".join(project.neighborhoods)[:200],
                position=position,
            )
        )
    db.session.add(voting_round)
    db.session.flush()
    _insert_ballots(voting_round, election, progress)
    db.session.expire(voting_round)
    if progress is not None:
        progress("counting", 0, 1)
    store_results(voting_round)
    if progress is not None:
        progress("counting", 1, 1)
    voting_round.closed_at = now
    voting_round.results_published_at = now
    audit.record(
        actor,
        "round.imported",
        voting_round,
        municipality_id=municipality.id,
        source=source_name or None,
        rule=rule,
        ballots=election.num_voters,
        projects=len(election.projects),
        warnings=[str(warning) for warning in election.warnings[:20]] or None,
    )
    db.session.commit()
    return voting_round


Progress = Callable[[str, int, int], None]
"""``progress(what, done, total)``: called while writing ("ballots"), e.g. by the CLI."""

# Rows handed to the database at a time (COPY or executemany): memory stays flat.
WRITE_BATCH = 20_000
COPY_BALLOTS = (
    "COPY ballot (id, round_id, channel, external_id, area_id, age_band, project_ids, points)"
    " FROM STDIN"
)
INSERT_BALLOTS = (
    "INSERT INTO ballot (id, round_id, channel, external_id, area_id, age_band, project_ids,"
    " points) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# COPY's text format: these characters in a value are written as escapes, NULL as \N.
NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: object) -> str:
    return NULL if value is None else str(value).translate(_COPY_ESCAPES)


def _copy_fields(values: Sequence[object]) -> list[str]:
    """``values``, of which there are few distinct ones, as fields of COPY's text format."""
    converted = {value: _copy_field(value) for value in set(values)}
    return [converted[value] for value in values]


def _insert_ballots(voting_round: VotingRound, election, progress: Progress | None) -> None:
    project_ids = [project.id for project in voting_round.projects]
    write_ballots(
        voting_round,
        election.ballots,
        project_ids,
        external_ids=election.ballots.voter_ids,
        progress=progress,
    )


def _stored_choices(
    ballots: Ballots, project_ids: Sequence[int]
) -> tuple[list[int], list[str], list[str] | None]:
    """The ballots' choices as their rows store them (models.voting.stored_choices), for all
    ballots at once with numpy: offsets into the two lists below, each choice's project id
    as text (in ascending order within a ballot), and its points as text (None when every
    choice of every ballot has one point; a cumulative ballot's zero points are no choice)."""
    ids = np.asarray(project_ids, dtype=np.int64)[ballots.projects]
    owner = np.repeat(np.arange(len(ballots)), np.diff(ballots.offsets))
    points = ballots.points
    if points is not None:
        kept = points != 0
        ids, owner, points = ids[kept], owner[kept], points[kept]
    order = np.lexsort((ids, owner))
    ids, owner = ids[order], owner[order]
    if np.any((np.diff(ids) <= 0) & (np.diff(owner) == 0)):
        raise ValueError("a ballot lists a project more than once")
    offsets = np.searchsorted(owner, np.arange(len(ballots) + 1)).tolist()
    texts = {value: str(value) for value in project_ids}
    id_texts = [texts[value] for value in ids.tolist()]
    if points is None or np.all(points == 1):
        return offsets, id_texts, None
    return offsets, id_texts, [str(value) for value in points[order].tolist()]


def write_ballots(
    voting_round: VotingRound,
    ballots: Ballots,
    project_ids: Sequence[int],
    *,
    external_ids: Sequence[str | None] | None = None,
    area_ids: Sequence[int | None] | None = None,
    age_bands: Sequence[str | None] | None = None,
    progress: Progress | None = None,
) -> int:
    """Write ``ballots`` (the engine's arrays; project indices map to ``project_ids``) as the
    round's imported ballots, each with its choices in its row, in bulk and in the caller's
    transaction: COPY on PostgreSQL, executemany on SQLite, a batch at a time. Returns the
    number of ballots written."""
    count = len(ballots)
    external_ids = external_ids if external_ids is not None else [None] * count
    area_ids = area_ids if area_ids is not None else [None] * count
    age_bands = age_bands if age_bands is not None else [None] * count
    offsets, id_texts, point_texts = _stored_choices(ballots, project_ids)
    round_id, channel = voting_round.id, Channel.IMPORTED.value
    postgresql = db.session.connection().dialect.name == "postgresql"

    def listed(texts: list[str] | None, voter: int) -> str | None:
        if texts is None:
            return None
        joined = ",".join(texts[offsets[voter] : offsets[voter + 1]])
        return "{" + joined + "}" if postgresql else joined  # see models._base.IntegerList

    ballot_ids = [new_ballot_id() for _ in range(count)]
    # Written in the order of their (random) keys: each index insert then lands next to the
    # previous one instead of on a random page.
    order = sorted(range(count), key=ballot_ids.__getitem__)
    connection = db.session.connection()
    driver = connection.connection.driver_connection
    if postgresql:
        externals = [_copy_field(value) for value in external_ids]
        areas, bands = _copy_fields(area_ids), _copy_fields(age_bands)
        with driver.cursor() as cursor, cursor.copy(COPY_BALLOTS) as copy:
            for start in range(0, count, WRITE_BATCH):
                # A batch as one block of COPY text: a write a batch costs the app a fraction
                # of psycopg's write_row a row.
                copy.write(
                    "".join(
                        f"{ballot_ids[voter]}\t{round_id}\t{channel}\t{externals[voter]}"
                        f"\t{areas[voter]}\t{bands[voter]}\t{listed(id_texts, voter)}"
                        f"\t{listed(point_texts, voter) or NULL}\n"
                        for voter in order[start : start + WRITE_BATCH]
                    )
                )
                if progress is not None:
                    progress("ballots", min(start + WRITE_BATCH, count), count)
    else:
        cursor = driver.cursor()
        try:
            for start in range(0, count, WRITE_BATCH):
                batch = [
                    (
                        ballot_ids[voter],
                        round_id,
                        channel,
                        external_ids[voter],
                        area_ids[voter],
                        age_bands[voter],
                        listed(id_texts, voter),
                        listed(point_texts, voter),
                    )
                    for voter in order[start : start + WRITE_BATCH]
                ]
                cursor.executemany(INSERT_BALLOTS, batch)
                if progress is not None:
                    progress("ballots", min(start + WRITE_BATCH, count), count)
        finally:
            cursor.close()
    return count
