"""Reader and writer for pabulib ``.pb`` files (https://pabulib.org/format).

A file has three sections, each introduced by a line ``META``, ``PROJECTS`` or ``VOTES`` and
followed by a header row; fields are separated by ``;`` and may be quoted like CSV.

Written by hand rather than using pabutools' parser: pabutools is GPL (a test-only dependency
here), it builds one Python object per ballot (2.5 s on Warszawa 2026), and it reports malformed
files with a raw traceback. This reader streams the file line by line, builds the compact
:class:`~buurtbudget.domain.rules.model.Ballots` arrays directly, and turns every problem into a
:class:`PabulibError` carrying the line number.

Extra columns are kept: project columns other than id/cost/name/category/neighborhood end up in
``Project.extra`` (e.g. ``votes``, ``score``, ``selected``), voter columns other than
id/vote/points in ``Ballots.voter_columns`` (e.g. ``age``, ``sex``, ``voting_method``).

Any bytes give an Election or a :class:`PabulibError` with a line number, never another
exception. Numbers are plain decimals within bounds (``ballots.MAX_AMOUNT`` for money,
``MAX_COUNT`` for points and lengths); control characters such as NUL are refused.

Ballots are checked against the file's own META rules (``ballots.validate_ballot``). A ballot
that breaks them is refused, except for two cases real files contain, which are kept and
reported as :class:`ReadWarning` (with their line) in ``Election.warnings`` unless
``strict=True``: a project listed twice in one ballot (counted once; Amsterdam 604, line 1927)
and a ballot shorter or longer than ``min_length`` / ``max_length`` or over ``max_sum_cost``.
A ``choose-1`` ballot with more than one project is always refused.

``ordinal`` ballots are rankings, most preferred first. Their positional score (``k`` points for
the first place, ``k - 1`` for the second, ..., with ``k`` = META ``max_length``, or the ballot's
length without one) is what the file's ``score`` column holds and what greedy counts; a file
whose ``score`` column disagrees with its ballots gets a warning.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import IO

import numpy as np

from buurtbudget.domain.ballots import (
    APPROVAL,
    BALLOT_KINDS,
    CHOOSE_ONE,
    CUMULATIVE,
    MAX_AMOUNT,
    MAX_COUNT,
    NUMBER_REASONS,
    ORDINAL,
    BallotRules,
    MetaValueError,
    NumberError,
    parse_number,
    validate_ballot,
)
from buurtbudget.domain.rules.model import Ballots, Election, Project

SECTIONS = ("meta", "projects", "votes")
_CATEGORY_COLUMNS = ("category", "categories")
_NEIGHBORHOOD_COLUMNS = ("neighborhood", "neighborhoods", "neighbourhood", "neighbourhoods")
_MISSING = ("", "none")
# C0 control characters (and DEL) other than tab: NUL and friends have no place in a text file
# and PostgreSQL refuses NUL in text columns.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class ReadWarning:
    """Something the reader accepted but reports: ``"line <n>: <message>"``."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


# Why a file is refused: a code with its English text (for the command line, the logs and
# ``str()``). The screens translate the code instead (services/file_messages.py), so the domain
# stays free of Babel; every code has a translation there (tests/services/test_file_messages.py).
# A ``reason`` parameter is a code of ballots.NUMBER_REASONS (why a text is not a number);
# ``problems`` (invalid_ballot) is a tuple of ballots.BallotError.
MESSAGES = {
    "bad_quoting": "badly quoted field (%(detail)s)",
    "not_utf8": "not valid UTF-8 text (byte %(byte)s at column %(column)d)",
    "control_character": "control character %(char)s at column %(column)d",
    "cannot_read_file": "cannot read file: %(detail)s",
    "cannot_read_line": "cannot read this line (%(detail)s)",
    "empty_file": "the file is empty",
    "no_meta_first": "a pabulib file must start with a META section",
    "missing_section": "missing %(section)s section",
    "wrong_section": "expected %(expected)s section, found %(found)s",
    "unexpected_section": "unexpected %(section)s section",
    "no_header": "%(section)s section has no header row",
    "repeated_column": "%(section)s header has a repeated column name",
    "missing_column": "%(section)s header has no %(column)s column",
    "wrong_width": (
        "%(section)s row has %(found)d fields, the header has %(expected)d (%(columns)s)"
    ),
    "meta_row_width": "META row must have 2 fields (key;value), found %(found)d",
    "meta_key_twice": "META key %(key)s appears twice",
    "no_budget": "META has no 'budget'",
    "bad_budget": "budget must be a number, got %(value)s (%(reason)s)",
    "negative_budget": "budget must not be negative, got %(value)s",
    "unsupported_vote_type": "vote_type %(value)s is not supported (supported: %(supported)s)",
    "meta_not_number": "META %(key)s must be a number, got %(value)s (%(reason)s)",
    "meta_negative": "META %(key)s must not be negative, got %(value)s",
    "meta_not_whole": "META %(key)s must be a whole number, got %(value)s",
    "meta_min_above_max": "a minimum is larger than its maximum",
    "empty_project_id": "project_id is empty",
    "duplicate_project": "duplicate project_id %(project)s",
    "bad_cost": "cost of project %(project)s must be a whole number, got %(value)s (%(reason)s)",
    "negative_cost": "cost of project %(project)s is negative",
    "duplicate_voter": "duplicate voter_id %(voter)s",
    "unknown_project": "voter %(voter)s votes for unknown project %(project)s",
    "points_count": "voter %(voter)s has %(projects)d projects but %(points)d points",
    "bad_points": "points must be a whole number, got %(value)s (%(reason)s)",
    "negative_points": "points must not be negative",
    "project_twice": "voter %(voter)s lists project %(projects)s more than once",
    "invalid_ballot": "voter %(voter)s: %(problems)s",
    # voter_weights_from_column (the command line's weights)
    "no_weight_column": "VOTES has no column %(column)s",
    "bad_weight": "weight of voter %(voter)s is not a number: %(value)s",
    "negative_weight": "weight of voter %(voter)s is negative",
}


def english(code: str, params: dict[str, object]) -> str:
    """The English text of a code of MESSAGES with its parameters."""
    values = dict(params)
    if "reason" in values:
        values["reason"] = NUMBER_REASONS[str(values["reason"])] % values
    if "problems" in values:
        values["problems"] = " ".join(p.message for p in values["problems"])  # type: ignore[attr-defined]
    return MESSAGES[code] % values


class PabulibError(ValueError):
    """A malformed pabulib file: a ``code`` of ``MESSAGES`` and its ``params`` (``message`` is
    the English text). ``str()`` gives ``"<source>, line <n>: <message>"``."""

    def __init__(
        self, code: str, line: int | None = None, source: str | None = None, **params: object
    ):
        self.code = code
        self.params = params
        self.message = english(code, params)
        super().__init__(self.message)
        self.line = line
        self.source = source

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.line is not None:
            where.append(f"line {self.line}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


def _split(line: str, number: int) -> list[str]:
    # Fast path: most lines have no quotes, and str.split is ~10x faster than the csv module.
    if '"' not in line:
        return [field.strip() for field in line.split(";")]
    try:
        return [field.strip() for field in next(csv.reader([line], delimiter=";", strict=True))]
    except (csv.Error, StopIteration) as error:
        raise PabulibError("bad_quoting", number, detail=str(error)) from None


def _decoded_lines(raw_lines: Iterable[bytes]) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(raw_lines, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise PabulibError(
                "not_utf8", number, byte=f"{raw[error.start]:#04x}", column=error.start + 1
            ) from None
        text = text.rstrip("\r\n")
        control = None if text.isprintable() else _CONTROL.search(text)
        if control:
            raise PabulibError(
                "control_character",
                number,
                char=f"{ord(control.group()):#04x}",
                column=control.start() + 1,
            )
        yield number, text


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _parse_int(text: str, code: str, line: int, maximum: int = MAX_COUNT, **params: object) -> int:
    try:
        value = parse_number(text, maximum=maximum, whole=True)
    except NumberError as error:
        raise PabulibError(
            code, line, value=_shown(text), reason=error.code, **error.params, **params
        ) from None
    return int(value)


def _parse_budget(text: str, line: int) -> int | Fraction:
    try:
        value = parse_number(text, maximum=MAX_AMOUNT)
    except NumberError as error:
        raise PabulibError(
            "bad_budget", line, value=_shown(text), reason=error.code, **error.params
        ) from None
    if value < 0:
        raise PabulibError("negative_budget", line, value=repr(text))
    # A decimal budget is kept exactly as a Fraction.
    return value


def _list_field(value: str) -> tuple[str, ...]:
    if value.lower() in _MISSING:
        return ()
    return tuple(item.strip() for item in value.split(",") if item.strip())


class _Reader:
    def __init__(self, lines: Iterable[tuple[int, str]]):
        self.lines = iter(lines)
        self.line = 0

    def next_row(self) -> tuple[int, list[str]] | None:
        """The next non-blank row, or None at the end of the file."""
        for number, text in self.lines:
            self.line = number
            if text.strip():
                return number, _split(text, number) if '"' in text else text.split(";")
        return None


def _section_name(row: list[str]) -> str | None:
    if len(row) == 1 or all(not field.strip() for field in row[1:]):
        name = row[0].strip().lower()
        if name in SECTIONS:
            return name
    return None


def _read_header(reader: _Reader, section: str) -> list[str]:
    entry = reader.next_row()
    if entry is None:
        raise PabulibError("no_header", reader.line, section=section.upper())
    number, row = entry
    header = [field.strip() for field in row]
    if len(set(header)) != len(header):
        raise PabulibError("repeated_column", number, section=section.upper())
    return header


def _check_width(row: list[str], header: list[str], line: int, section: str) -> None:
    if len(row) != len(header):
        raise PabulibError(
            "wrong_width",
            line,
            section=section,
            found=len(row),
            expected=len(header),
            columns=";".join(header),
        )


def parse_lines(
    raw_lines: Iterable[bytes], source: str | None = None, *, strict: bool = False
) -> Election:
    """Parse a pabulib file given as an iterable of raw (bytes) lines.

    ``strict=True`` refuses what is otherwise accepted with a warning (see the module doc)."""
    reader = _Reader(_decoded_lines(raw_lines))
    try:
        return _parse(reader, strict)
    except PabulibError as error:
        error.source = source
        if error.line is None:
            error.line = reader.line or 1
        raise
    except (ValueError, ArithmeticError, IndexError, KeyError, TypeError, csv.Error) as error:
        # A defect of this reader must still name the line, never crash an upload with a 500.
        raise PabulibError(
            "cannot_read_line",
            reader.line or 1,
            source,
            detail=f"{type(error).__name__}: {error}",
        ) from None


def read_pabulib(file: str | os.PathLike[str] | IO[bytes], *, strict: bool = False) -> Election:
    """Read a ``.pb`` file from a path or a binary file object. Raises :class:`PabulibError`."""
    if isinstance(file, str | os.PathLike):
        source = os.path.basename(os.fspath(file))
        try:
            with open(file, "rb") as handle:
                return parse_lines(handle, source, strict=strict)
        except OSError as error:
            raise PabulibError("cannot_read_file", None, source, detail=error.strerror) from None
    return parse_lines(file, getattr(file, "name", None), strict=strict)


def parse_pabulib(content: str | bytes, *, strict: bool = False) -> Election:
    """Parse the text (or bytes) of a ``.pb`` file. Raises :class:`PabulibError`."""
    if isinstance(content, str):
        content = content.encode("utf-8", errors="surrogatepass")
    return parse_lines(io.BytesIO(content), strict=strict)


def _parse(reader: _Reader, strict: bool = False) -> Election:
    entry = reader.next_row()
    if entry is None:
        raise PabulibError("empty_file", reader.line or 1)
    number, row = entry
    if _section_name(row) != "meta":
        raise PabulibError("no_meta_first", number)

    # META
    _read_header(reader, "meta")
    meta: dict[str, str] = {}
    meta_lines: dict[str, int] = {}
    while True:
        entry = reader.next_row()
        if entry is None:
            raise PabulibError("missing_section", reader.line, section="PROJECTS")
        number, row = entry
        section = _section_name(row)
        if section == "projects":
            break
        if section is not None:
            raise PabulibError("wrong_section", number, expected="PROJECTS", found=section.upper())
        row = [field.strip() for field in row]
        if len(row) != 2:
            raise PabulibError("meta_row_width", number, found=len(row))
        key, value = row
        if key in meta:
            raise PabulibError("meta_key_twice", number, key=repr(key))
        meta[key] = value
        meta_lines[key] = number

    if "budget" not in meta:
        raise PabulibError("no_budget", number)
    budget = _parse_budget(meta["budget"], meta_lines["budget"])
    vote_type = meta.get("vote_type", "").lower()
    if vote_type not in BALLOT_KINDS:
        raise PabulibError(
            "unsupported_vote_type",
            meta_lines.get("vote_type", number),
            value=repr(meta.get("vote_type", "")),
            supported=", ".join(BALLOT_KINDS),
        )
    try:
        ballot_rules = BallotRules.from_pabulib_meta(vote_type, meta)
    except MetaValueError as error:
        raise PabulibError(error.code, meta_lines.get(error.key), **error.params) from None
    except ValueError:  # BallotRules: a minimum above its maximum
        raise PabulibError("meta_min_above_max") from None

    # PROJECTS
    header = _read_header(reader, "projects")
    for required in ("project_id", "cost"):
        if required not in header:
            raise PabulibError(
                "missing_column", reader.line, section="PROJECTS", column=repr(required)
            )
    id_col, cost_col = header.index("project_id"), header.index("cost")
    projects: list[Project] = []
    project_lines: list[int] = []
    index: dict[str, int] = {}
    while True:
        entry = reader.next_row()
        if entry is None:
            raise PabulibError("missing_section", reader.line, section="VOTES")
        number, row = entry
        section = _section_name(row)
        if section == "votes":
            break
        if section is not None:
            raise PabulibError("wrong_section", number, expected="VOTES", found=section.upper())
        row = [field.strip() for field in row]
        _check_width(row, header, number, "PROJECTS")
        project_id = row[id_col]
        if not project_id:
            raise PabulibError("empty_project_id", number)
        if project_id in index:
            raise PabulibError("duplicate_project", number, project=repr(project_id))
        cost = _parse_int(row[cost_col], "bad_cost", number, MAX_AMOUNT, project=repr(project_id))
        if cost < 0:
            raise PabulibError("negative_cost", number, project=repr(project_id))
        name, categories, neighborhoods, extra = "", (), (), {}
        for column, value in zip(header, row, strict=True):
            if column in ("project_id", "cost"):
                continue
            if column == "name":
                name = value
            elif column in _CATEGORY_COLUMNS:
                categories = _list_field(value)
            elif column in _NEIGHBORHOOD_COLUMNS:
                neighborhoods = _list_field(value)
            else:
                extra[column] = value
        index[project_id] = len(projects)
        project_lines.append(number)
        projects.append(Project(project_id, cost, name, categories, neighborhoods, extra))

    project_header = header
    # VOTES
    header = _read_header(reader, "votes")
    for required in ("voter_id", "vote") + (("points",) if vote_type == CUMULATIVE else ()):
        if required not in header:
            raise PabulibError(
                "missing_column", reader.line, section="VOTES", column=repr(required)
            )
    voter_col, vote_col = header.index("voter_id"), header.index("vote")
    points_col = header.index("points") if "points" in header else None
    other_cols = [
        (i, column)
        for i, column in enumerate(header)
        if column not in ("voter_id", "vote", "points")
    ]
    width = len(header)
    offsets = [0]
    flat: list[int] = []
    points: list[int] = []
    voter_ids: list[str] = []
    seen_voters: set[str] = set()
    columns: dict[str, list[str]] = {column: [] for _, column in other_cols}
    column_lists = [(i, columns[column]) for i, column in other_cols]
    lookup = index.get
    cumulative = vote_type == CUMULATIVE
    ordinal = vote_type == ORDINAL
    warnings: list[ReadWarning] = []
    costs = {p.id: p.cost for p in projects}
    rules = ballot_rules
    check_rules = ballot_rules != BallotRules(kind=APPROVAL)
    min_length = rules.min_length or 0
    max_length = rules.max_length if rules.max_length is not None else len(projects) + 1
    if vote_type == CHOOSE_ONE:
        min_length, max_length = 0, 1  # an empty ballot is a blank vote; two are never allowed
    cost_limits = rules.min_total_cost is not None or rules.max_total_cost is not None
    cost_of = [p.cost for p in projects]
    min_cost = rules.min_total_cost or 0
    max_cost = rules.max_total_cost if rules.max_total_cost is not None else MAX_AMOUNT * 10**6
    point_limits = cumulative and (
        rules.max_points is not None
        or rules.min_points is not None
        or rules.max_total_points is not None
        or rules.min_total_points is not None
    )
    while True:
        entry = reader.next_row()
        if entry is None:
            break
        number, row = entry
        if len(row) != width:
            if _section_name(row) is not None:
                raise PabulibError("unexpected_section", number, section=row[0].strip().upper())
            _check_width(row, header, number, "VOTES")
        voter_id = row[voter_col].strip()
        if voter_id in seen_voters:
            raise PabulibError("duplicate_voter", number, voter=repr(voter_id))
        seen_voters.add(voter_id)
        vote = row[vote_col].strip()
        chosen = [item.strip() for item in vote.split(",")] if vote else []
        start = len(flat)
        for project_id in chosen:
            position = lookup(project_id)
            if position is None:
                raise PabulibError(
                    "unknown_project", number, voter=repr(voter_id), project=repr(project_id)
                )
            flat.append(position)
        given: list[int] = []
        if cumulative:
            text = row[points_col].strip()
            raw_points = [item.strip() for item in text.split(",")] if text else []
            if len(raw_points) != len(chosen):
                raise PabulibError(
                    "points_count",
                    number,
                    voter=repr(voter_id),
                    projects=len(chosen),
                    points=len(raw_points),
                )
            for value in raw_points:
                score = _parse_int(value, "bad_points", number)
                if score < 0:
                    raise PabulibError("negative_points", number)
                given.append(score)
        count = len(chosen)
        if count > 1 and len(set(flat[start:])) != count:
            twice = sorted({p for p in chosen if chosen.count(p) > 1})
            if strict:
                raise PabulibError(
                    "project_twice", number, voter=repr(voter_id), projects=", ".join(twice)
                )
            warnings.append(
                ReadWarning(
                    number,
                    f"voter {voter_id!r} lists project {', '.join(twice)} more than once; "
                    "counted once",
                )
            )
            # Keep the first mention (its rank on an ordinal ballot, its points on a points
            # ballot), as a ballot that names the project once would.
            kept, first = [], set()
            for position_in_ballot, project_id in enumerate(chosen):
                if project_id not in first:
                    first.add(project_id)
                    kept.append(position_in_ballot)
            flat[start:] = [flat[start + k] for k in kept]
            chosen = [chosen[k] for k in kept]
            count = len(chosen)
            if cumulative:
                given = [given[k] for k in kept]
        if cumulative:
            points.extend(given)
        if check_rules and (
            count < min_length
            or count > max_length
            or point_limits
            or (cost_limits and not min_cost <= sum(cost_of[i] for i in flat[start:]) <= max_cost)
        ):
            ballot = dict(zip(chosen, given, strict=True)) if cumulative else chosen
            problems = [
                p
                for p in validate_ballot(ballot, ballot_rules, costs)
                if not (p.code == "choose_exactly_one" and not chosen)
            ]
            if problems:
                message = f"voter {voter_id!r}: " + " ".join(p.message for p in problems)
                if (
                    strict
                    or vote_type == CHOOSE_ONE
                    or not all(p.code in _TOLERATED for p in problems)
                ):
                    raise PabulibError(
                        "invalid_ballot", number, voter=repr(voter_id), problems=tuple(problems)
                    )
                warnings.append(ReadWarning(number, message))
        offsets.append(len(flat))
        voter_ids.append(voter_id)
        for i, values in column_lists:
            values.append(row[i].strip())

    ballots = Ballots(
        np.array(offsets, dtype=np.int64),
        np.array(flat, dtype=np.int32),
        np.array(points, dtype=np.int64) if cumulative else None,
        voter_ids=voter_ids,
        voter_columns=columns,
    )
    election = Election(
        budget=budget,
        projects=tuple(projects),
        ballots=ballots,
        vote_type=vote_type,
        meta=meta,
        ballot_rules=ballot_rules,
        project_columns=tuple(project_header),
    )
    if ordinal and "score" in project_header:
        warnings.extend(_check_ordinal_scores(election, project_lines))
    if warnings:
        object.__setattr__(election, "warnings", tuple(warnings))
    return election


# Ballot problems real files contain; reported as warnings unless ``strict``.
_TOLERATED = frozenset(
    {"too_few_projects", "too_many_projects", "total_cost_too_high", "total_cost_too_low"}
)


def ordinal_scores(election: Election) -> list[int]:
    """Positional score per project of an ordinal election (see the module doc)."""
    from buurtbudget.domain.rules.greedy import ordinal_points, sum_by_project

    ballots = election.ballots
    return sum_by_project(ordinal_points(election), ballots.projects, len(election.projects))


def _check_ordinal_scores(election: Election, lines: list[int]) -> list[ReadWarning]:
    warnings = []
    for project, line, computed in zip(
        election.projects, lines, ordinal_scores(election), strict=True
    ):
        stated = project.extra.get("score", "").strip()
        if stated and stated != str(computed):
            warnings.append(
                ReadWarning(
                    line,
                    f"project {project.id!r}: the file's score {stated} differs from the score "
                    f"of its ballots, {computed}",
                )
            )
    return warnings


def header_of_projects(projects: Iterable[Project], preferred: Iterable[str] | None) -> list[str]:
    """Project columns: id, cost, name, category, neighborhood, then the extra columns."""
    if preferred:
        return list(preferred)
    projects = list(projects)
    header = ["project_id", "cost"]
    if any(p.name for p in projects):
        header.append("name")
    if any(p.categories for p in projects):
        header.append("category")
    if any(p.neighborhoods for p in projects):
        header.append("neighborhood")
    for project in projects:
        for column in project.extra:
            if column not in header:
                header.append(column)
    return header


def _format_money(value: int | Fraction) -> str:
    if isinstance(value, int) or value.denominator == 1:
        return str(int(value))
    decimal = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(decimal) != value:
        raise ValueError(f"budget {value} has no exact decimal form")
    return format(decimal, "f")


def write_pabulib(election: Election, file: str | os.PathLike[str] | IO[str]) -> None:
    """Write an election as a ``.pb`` file (UTF-8, ``\\n`` line ends)."""
    if isinstance(file, str | os.PathLike):
        with open(file, "w", encoding="utf-8", newline="") as handle:
            _write(election, handle)
    else:
        _write(election, file)


def format_pabulib(election: Election) -> str:
    buffer = io.StringIO()
    _write(election, buffer)
    return buffer.getvalue()


def _write(election: Election, out: IO[str]) -> None:
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    meta = dict(election.meta)
    meta.update(
        {
            "num_projects": str(len(election.projects)),
            "num_votes": str(election.num_voters),
            "budget": _format_money(election.budget),
            "vote_type": election.vote_type,
        }
    )
    out.write("META\n")
    writer.writerow(["key", "value"])
    writer.writerows(meta.items())

    out.write("PROJECTS\n")
    project_header = _project_header(election)
    writer.writerow(project_header)
    for project in election.projects:
        writer.writerow([_project_field(project, column) for column in project_header])

    out.write("VOTES\n")
    ballots = election.ballots
    voter_columns = list(ballots.voter_columns)
    vote_header = ["voter_id", "vote"]
    if election.vote_type == CUMULATIVE:
        vote_header.append("points")
    writer.writerow(vote_header + voter_columns)
    ids = [p.id for p in election.projects]
    offsets = ballots.offsets.tolist()
    flat = ballots.projects.tolist()
    points = ballots.points.tolist() if ballots.points is not None else None
    extra = [ballots.voter_columns[column] for column in voter_columns]
    for voter, voter_id in enumerate(ballots.voter_ids):
        start, end = offsets[voter], offsets[voter + 1]
        row = [voter_id, ",".join(ids[i] for i in flat[start:end])]
        if points is not None:
            row.append(",".join(str(value) for value in points[start:end]))
        row.extend(values[voter] for values in extra)
        writer.writerow(row)


def _project_header(election: Election) -> list[str]:
    header = header_of_projects(election.projects, election.project_columns)
    for required in ("project_id", "cost"):
        if required not in header:
            header.insert(0 if required == "project_id" else 1, required)
    return header


def _project_field(project: Project, column: str) -> str:
    if column == "project_id":
        return project.id
    if column == "cost":
        return str(project.cost)
    if column == "name":
        return project.name
    if column in _CATEGORY_COLUMNS:
        return ",".join(project.categories)
    if column in _NEIGHBORHOOD_COLUMNS:
        return ",".join(project.neighborhoods)
    return project.extra.get(column, "")


def voter_weights_from_column(election: Election, column: str) -> list[Fraction]:
    """Voter weights read from a VOTES column (e.g. ``weight``), exactly, as Fractions."""
    values = election.ballots.voter_columns.get(column)
    if values is None:
        raise PabulibError("no_weight_column", column=repr(column))
    weights = []
    for voter, text in enumerate(values):
        try:
            weight = Fraction(parse_number(text, maximum=MAX_COUNT))
        except ValueError:
            raise PabulibError(
                "bad_weight", voter=repr(election.ballots.voter_ids[voter]), value=_shown(text)
            ) from None
        if weight < 0:
            raise PabulibError("negative_weight", voter=repr(election.ballots.voter_ids[voter]))
        weights.append(weight)
    return weights


def project_flags(election: Election, column: str = "selected") -> list[str] | None:
    """Ids of projects whose ``column`` is ``1`` (e.g. the official winners), or None."""
    if not any(column in p.extra for p in election.projects):
        return None
    return [p.id for p in election.projects if p.extra.get(column, "").strip() == "1"]


__all__ = [
    "APPROVAL",
    "CHOOSE_ONE",
    "CUMULATIVE",
    "ORDINAL",
    "PabulibError",
    "ReadWarning",
    "format_pabulib",
    "parse_lines",
    "parse_pabulib",
    "ordinal_scores",
    "project_flags",
    "read_pabulib",
    "voter_weights_from_column",
    "write_pabulib",
]
