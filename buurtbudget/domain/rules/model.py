"""Plain data for voting rules: projects, ballots, elections and outcomes.

Everything here is immutable and free of I/O, so an election can be built from a pabulib file
(:mod:`buurtbudget.domain.pabulib`) or from database rows (the web app) in the same way.

Ballots are stored column-wise (CSR layout: one flat array of project indices plus offsets per
voter) because the rules work on tens of thousands of ballots and Python objects per ballot would
dominate the run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

import numpy as np

from buurtbudget.domain.ballots import APPROVAL, BALLOT_KINDS, CUMULATIVE, BallotRules

VOTE_TYPES = BALLOT_KINDS

Money = int | Fraction
"""Amounts are whole currency units (or cents); only a budget read from a file may be a Fraction."""


def _frozen_mapping(values: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class Project:
    """A project (initiative) on the ballot. ``cost`` is a non-negative integer amount."""

    id: str
    cost: int
    name: str = ""
    categories: tuple[str, ...] = ()
    neighborhoods: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("project id must be a non-empty string")
        if isinstance(self.cost, bool) or not isinstance(self.cost, int | np.integer):
            raise ValueError(f"project {self.id!r}: cost must be an integer, got {self.cost!r}")
        if self.cost < 0:
            raise ValueError(f"project {self.id!r}: cost must not be negative")
        object.__setattr__(self, "cost", int(self.cost))
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "neighborhoods", tuple(self.neighborhoods))
        object.__setattr__(self, "extra", _frozen_mapping(self.extra))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Project):
            return NotImplemented
        return (
            self.id == other.id
            and self.cost == other.cost
            and self.name == other.name
            and self.categories == other.categories
            and self.neighborhoods == other.neighborhoods
            and dict(self.extra) == dict(other.extra)
        )

    def __hash__(self) -> int:
        return hash((self.id, self.cost))


class Ballots:
    """All ballots of an election in compact form.

    ``offsets[v]:offsets[v+1]`` slices ``projects`` (indices into ``Election.projects``) for voter
    ``v``; ``points`` is parallel to ``projects`` for cumulative ballots and ``None`` for approval
    ballots. ``voter_ids`` and the optional ``voter_columns`` (e.g. age, sex, voting_method) keep
    what a pabulib file says about each voter, column-wise.

    Treated as immutable: the arrays are made read-only.
    """

    __slots__ = ("offsets", "projects", "points", "voter_ids", "voter_columns")

    def __init__(
        self,
        offsets: np.ndarray,
        projects: np.ndarray,
        points: np.ndarray | None = None,
        voter_ids: Sequence[str] | None = None,
        voter_columns: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        offsets = np.asarray(offsets, dtype=np.int64)
        projects = np.asarray(projects, dtype=np.int32)
        if offsets.ndim != 1 or len(offsets) == 0 or offsets[0] != 0:
            raise ValueError("offsets must start at 0")
        if offsets[-1] != len(projects) or np.any(np.diff(offsets) < 0):
            raise ValueError("offsets do not match the projects array")
        if points is not None:
            points = np.asarray(points, dtype=np.int64)
            if points.shape != projects.shape:
                raise ValueError("points must be parallel to projects")
            if np.any(points < 0):
                raise ValueError("points must not be negative")
            points.flags.writeable = False
        offsets.flags.writeable = False
        projects.flags.writeable = False
        n = len(offsets) - 1
        if voter_ids is None:
            voter_ids = [str(i) for i in range(n)]
        if len(voter_ids) != n:
            raise ValueError("one voter id per ballot is needed")
        columns = {name: tuple(values) for name, values in (voter_columns or {}).items()}
        for name, values in columns.items():
            if len(values) != n:
                raise ValueError(f"voter column {name!r} must have one value per ballot")
        self.offsets = offsets
        self.projects = projects
        self.points = points
        self.voter_ids = tuple(voter_ids)
        self.voter_columns = MappingProxyType(columns)

    @classmethod
    def from_lists(
        cls,
        ballots: Iterable[Iterable[int] | Mapping[int, int]],
        *,
        cumulative: bool = False,
        voter_ids: Sequence[str] | None = None,
        voter_columns: Mapping[str, Sequence[str]] | None = None,
    ) -> Ballots:
        """Build from per-voter project indices (approval) or ``{project_index: points}``."""
        offsets = [0]
        flat: list[int] = []
        points: list[int] = []
        for ballot in ballots:
            if isinstance(ballot, Mapping) != cumulative:
                raise ValueError("cumulative ballots must be mappings, approval ballots must not")
            if cumulative:
                for index, value in ballot.items():
                    flat.append(int(index))
                    points.append(int(value))
            else:
                flat.extend(int(index) for index in ballot)
            offsets.append(len(flat))
        return cls(
            np.array(offsets, dtype=np.int64),
            np.array(flat, dtype=np.int32),
            np.array(points, dtype=np.int64) if cumulative else None,
            voter_ids=voter_ids,
            voter_columns=voter_columns,
        )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def ballot(self, voter: int) -> list[int]:
        start, end = self.offsets[voter], self.offsets[voter + 1]
        return self.projects[start:end].tolist()

    def ballot_points(self, voter: int) -> dict[int, int]:
        start, end = self.offsets[voter], self.offsets[voter + 1]
        if self.points is None:
            return dict.fromkeys(self.projects[start:end].tolist(), 1)
        return dict(
            zip(self.projects[start:end].tolist(), self.points[start:end].tolist(), strict=True)
        )

    def voter_of_entry(self) -> np.ndarray:
        """For each entry of ``projects``, the index of its voter."""
        return np.repeat(np.arange(len(self), dtype=np.int64), np.diff(self.offsets))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ballots):
            return NotImplemented
        same_points = (self.points is None and other.points is None) or (
            self.points is not None
            and other.points is not None
            and np.array_equal(self.points, other.points)
        )
        return (
            np.array_equal(self.offsets, other.offsets)
            and np.array_equal(self.projects, other.projects)
            and same_points
            and self.voter_ids == other.voter_ids
            and dict(self.voter_columns) == dict(other.voter_columns)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Election:
    """One participatory-budgeting round: budget, projects, ballots and their metadata.

    ``meta`` is the free-form key/value metadata (pabulib META); the rules read caps from it
    (``budget_per_category`` with ``categories``, ``budget_per_neighborhood`` with
    ``neighborhoods``, ``leftover_budget``). ``ballot_rules`` says what a valid ballot is.
    ``project_columns`` only remembers the column order of a pabulib file for writing it back.
    """

    budget: Money
    projects: tuple[Project, ...]
    ballots: Ballots
    vote_type: str = APPROVAL
    meta: Mapping[str, str] = field(default_factory=dict)
    ballot_rules: BallotRules = field(default_factory=BallotRules)
    project_columns: tuple[str, ...] = ()
    # What the pabulib reader accepted but reports (pabulib.ReadWarning), e.g. a project listed
    # twice in one ballot; not part of the election's identity.
    warnings: tuple = ()

    def __post_init__(self) -> None:
        if self.vote_type not in VOTE_TYPES:
            raise ValueError(f"unsupported vote type {self.vote_type!r}")
        if isinstance(self.budget, bool) or not isinstance(self.budget, int | Fraction):
            raise ValueError("budget must be an int or a Fraction")
        if self.budget < 0:
            raise ValueError("budget must not be negative")
        projects = tuple(self.projects)
        ids = [p.id for p in projects]
        if len(set(ids)) != len(ids):
            raise ValueError("project ids must be unique")
        if (self.vote_type == CUMULATIVE) != (self.ballots.points is not None):
            raise ValueError(
                "cumulative elections need points, other vote types must not have them"
            )
        if len(self.ballots.projects) and (
            self.ballots.projects.min() < 0 or self.ballots.projects.max() >= len(projects)
        ):
            raise ValueError("a ballot refers to a project index out of range")
        object.__setattr__(self, "projects", projects)
        object.__setattr__(self, "meta", _frozen_mapping(self.meta))
        object.__setattr__(self, "project_columns", tuple(self.project_columns))

    @classmethod
    def build(
        cls,
        budget: Money,
        projects: Iterable[Project],
        ballots: Iterable[Iterable[str] | Mapping[str, int]],
        *,
        vote_type: str = APPROVAL,
        voter_ids: Sequence[str] | None = None,
        meta: Mapping[str, str] | None = None,
        ballot_rules: BallotRules | None = None,
    ) -> Election:
        """Build an election from project ids per ballot (e.g. from database rows).

        Approval / choose-1 ballots are iterables of project ids, cumulative ballots are
        ``{project_id: points}``.
        """
        projects = tuple(projects)
        index = {p.id: i for i, p in enumerate(projects)}
        converted: list[list[int] | dict[int, int]] = []
        for ballot in ballots:
            try:
                if vote_type == CUMULATIVE:
                    converted.append({index[pid]: points for pid, points in ballot.items()})
                else:
                    converted.append([index[pid] for pid in ballot])
            except KeyError as error:
                raise ValueError(f"ballot refers to unknown project {error.args[0]!r}") from None
        packed = Ballots.from_lists(
            converted, cumulative=vote_type == CUMULATIVE, voter_ids=voter_ids
        )
        return cls(
            budget=budget,
            projects=projects,
            ballots=packed,
            vote_type=vote_type,
            meta=meta or {},
            ballot_rules=ballot_rules or BallotRules.for_vote_type(vote_type),
        )

    @property
    def num_voters(self) -> int:
        return len(self.ballots)

    def project_index(self) -> dict[str, int]:
        return {p.id: i for i, p in enumerate(self.projects)}

    def project(self, project_id: str) -> Project:
        for p in self.projects:
            if p.id == project_id:
                return p
        raise KeyError(project_id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Election):
            return NotImplemented
        return (
            self.budget == other.budget
            and self.projects == other.projects
            and self.ballots == other.ballots
            and self.vote_type == other.vote_type
            and dict(self.meta) == dict(other.meta)
            and self.ballot_rules == other.ballot_rules
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class TraceStep:
    """One decision of a rule about one project, with a reason a resident can read."""

    project_id: str
    action: str  # "selected" or "skipped"
    reason: str


@dataclass(frozen=True)
class Outcome:
    """Result of a rule: selected project ids in selection order, plus the trace of decisions."""

    rule: str
    selected: tuple[str, ...]
    trace: tuple[TraceStep, ...] = ()
    total_cost: int = 0
    budget: Money = 0
    details: Mapping[str, object] = field(default_factory=dict, hash=False)

    @property
    def leftover(self) -> Money:
        return self.budget - self.total_cost
