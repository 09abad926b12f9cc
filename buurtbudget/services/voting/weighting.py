"""Correcting a voting round for participation gaps: the round's weighting settings, the voter
weights of its ballots, the corrected ranking and the figures residents see.

The arithmetic is domain/weighting (read its module docs); this module only connects it to
the records:

* the settings are ``VotingRound.weighting_config``: ``RankingConfig.to_dict()``, or None
  when the correction is off. They may change only before voting opens
  (``counting.update_weighting``): residents vote knowing them and nobody chooses them after
  seeing votes. Every change is audited with the old and the new settings.
* population: the round's areas' :class:`AreaPopulation` of the round's year (or the latest
  earlier year), as they were when voting opened (``rounds.population_figures``: stored with
  the round then, so an import of new figures during or after the vote changes no weight;
  before the opening the live figures). Age bands wholly below the round's minimum age have
  no voters and are left out (the 15-24 band counts whole, although 15-year-olds cannot vote
  at a minimum age of 16).
* ballots whose area is not one of the round's areas, or whose age band is not known, are
  "unknown" on that characteristic. Raking handles them as the domain documents (they keep
  their own unweighted share of that margin); post-stratification does the same: unknown
  voters keep weight 1 and the known voters are post-stratified among themselves.
* populated cells without voters (a small area, or an age band nobody of voted in) do not stop
  the count: their population is spread over the other cells (``empty_cells="spread"``) and
  listed in the diagnostics, so the page can say so.
* own contribution = the volunteer hours the initiators offered (one unit for the whole
  round, as the ranking needs; co-funding is shown on the initiative, not scored).
* the voting rules count with ``exact_weights()``, the same rounded weights the ranking uses.
* which decides the money (``funding``, stored beside the domain config in the same JSON, key
  absent = the default): the round's counting rule with the voter weights (``rule``), or the
  corrected ranking itself (``corrected_ranking``: fund down it over the round's budget,
  skipping what no longer fits; :func:`corrected_outcome`, called by
  ``counting.compute_outcome``). The ranking counts approvals, so the second needs the
  correction on and an approval ballot. Caps from a pabulib META (per category or
  neighbourhood) belong to the counting rule and do not apply to it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import numpy as np
from flask import current_app
from flask_babel import lazy_gettext as _l

from buurtbudget.domain.ballots import CUMULATIVE
from buurtbudget.domain.rules import Election, Outcome, TraceStep
from buurtbudget.domain.weighting import (
    AREA_PERCENTILE,
    CONTRIBUTION_MEASURES,
    NEED,
    NO_WEIGHTING,
    PER_1000_INHABITANTS,
    POST_STRATIFICATION,
    RAKING,
    RELATIVE_CONTRIBUTION,
    SUPPORT,
    WEIGHTED_SUPPORT,
    ProjectInfo,
    Ranking,
    RankingConfig,
    RankingConfigError,
    TurnoutReport,
    WeightDiagnostics,
    WeightingError,
    WeightingResult,
    cell_shares,
    design_effect,
    effective_sample_size,
    fund_in_order,
    post_stratification_weights,
    rake,
    rank_projects,
    turnout,
)
from buurtbudget.models import AGE_BANDS, Area, Phase, User, VotingRound
from buurtbudget.services.errors import Conflict, ValidationFailed
from buurtbudget.services.permissions import require
from buurtbudget.services.voting.election import RoundBallots, read_ballots
from buurtbudget.services.voting.rounds import (
    AGE_BAND_LABELS,
    can_manage_round,
    population_figures,
)

AREA = "area"
AGE_BAND = "age_band"

# What the coordinator chooses -> (domain method, dimensions).
METHOD_NONE = "none"
METHOD_AREA = "area"
METHOD_AREA_AGE = "area_age"
METHOD_RAKING = "raking"
METHODS = {
    METHOD_NONE: (NO_WEIGHTING, ()),
    METHOD_AREA: (POST_STRATIFICATION, (AREA,)),
    METHOD_AREA_AGE: (POST_STRATIFICATION, (AREA, AGE_BAND)),
    METHOD_RAKING: (RAKING, (AREA, AGE_BAND)),
}
METHOD_LABELS = {
    METHOD_NONE: _l("No weights: every vote counts once"),
    METHOD_AREA: _l("By area (post-stratification)"),
    METHOD_AREA_AGE: _l("By area and age band (post-stratification)"),
    METHOD_RAKING: _l("By area and by age band separately (raking)"),
}
MEASURE_LABELS = {
    AREA_PERCENTILE: _l("Compared with the other projects in the same area"),
    PER_1000_INHABITANTS: _l("Per 1,000 inhabitants of the area"),
}
FACTOR_LABELS = {
    SUPPORT: _l("Support"),
    WEIGHTED_SUPPORT: _l("Weighted support"),
    RELATIVE_CONTRIBUTION: _l("Own contribution, relative"),
    "own_contribution": _l("Own contribution, absolute"),
    NEED: _l("Need"),
}
# Which decides the money (see the module doc).
FUNDING_KEY = "funding"
FUNDING_RULE = "rule"
FUNDING_CORRECTED = "corrected_ranking"
FUNDING_LABELS = {
    FUNDING_RULE: _l("The counting rule of the round, with the voter weights"),
    FUNDING_CORRECTED: _l(
        "The corrected ranking: fund from the top down, skipping what no longer fits"
    ),
}
NOT_FOR_POINTS = _l(
    "The corrected ranking counts approvals; it cannot decide the money of a round with "
    "points ballots."
)
FORM_FACTORS = (SUPPORT, WEIGHTED_SUPPORT, RELATIVE_CONTRIBUTION, NEED)
MAX_FACTOR_WEIGHT = Decimal(100)
MAX_WEIGHT_CAP = Decimal(20)
DECIMALS = 6
# Cells (area x age band) with fewer ballots are not shown: with the voter register they could
# identify a voter's ballot (see services/voting/casting.py, "Secret ballot").
SMALL_CELL = 10


@dataclass
class WeightingSettings:
    """What the settings form sends (numbers as typed; the service parses them)."""

    enabled: bool = False
    method: str = METHOD_AREA
    weight_cap: str = ""
    support: str = "0"
    weighted_support: str = "1"
    relative_contribution: str = "0"
    need: str = "0"
    contribution_measure: str = AREA_PERCENTILE
    area_balance: bool = False
    funding: str = FUNDING_RULE

    @classmethod
    def from_config(cls, stored: dict | None) -> WeightingSettings:
        if not stored:
            return cls()
        config = RankingConfig.from_dict(_ranking_part(stored))
        method = next(
            (
                name
                for name, (kind, dims) in METHODS.items()
                if kind == config.weighting and dims == config.weighting_dimensions
            ),
            METHOD_AREA,
        )
        weights = config.factor_weights

        def text(value: Fraction | None) -> str:
            return "" if value is None else _number_text(value)

        return cls(
            enabled=True,
            method=method,
            weight_cap=text(config.weight_cap),
            support=text(weights.get(SUPPORT, Fraction(0))),
            weighted_support=text(weights.get(WEIGHTED_SUPPORT, Fraction(0))),
            relative_contribution=text(weights.get(RELATIVE_CONTRIBUTION, Fraction(0))),
            need=text(weights.get(NEED, Fraction(0))),
            contribution_measure=config.contribution_measure,
            area_balance=config.area_balance,
            funding=str(stored.get(FUNDING_KEY, FUNDING_RULE)),
        )


def _ranking_part(stored: dict) -> dict:
    """The stored settings without the funding choice: what the domain's config reads."""
    if not isinstance(stored, dict):
        return stored
    return {key: value for key, value in stored.items() if key != FUNDING_KEY}


def _number_text(value: Fraction) -> str:
    text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _parse_number(text: str, field_name: str, maximum: Decimal) -> Decimal:
    cleaned = (text or "").strip().replace(",", ".")
    if not cleaned:
        return Decimal(0)
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise ValidationFailed(_l("Enter a number, for example 0.5."), field=field_name) from None
    if not number.is_finite():
        raise ValidationFailed(_l("Enter a number, for example 0.5."), field=field_name)
    if number < 0:
        raise ValidationFailed(_l("The number cannot be negative."), field=field_name)
    if number > maximum:
        raise ValidationFailed(
            _l("Enter at most %(max)s.", max=_number_text(Fraction(maximum))), field=field_name
        )
    if number != round(number, DECIMALS):
        raise ValidationFailed(
            _l("Use at most %(decimals)d decimals.", decimals=DECIMALS), field=field_name
        )
    return number


def config_from_settings(settings: WeightingSettings) -> RankingConfig | None:
    """The domain configuration for the form's settings (None: correction off)."""
    if not settings.enabled:
        return None
    if settings.method not in METHODS:
        raise ValidationFailed(_l("Choose a weighting method from the list."), field="method")
    if settings.contribution_measure not in CONTRIBUTION_MEASURES:
        raise ValidationFailed(_l("Choose a measure from the list."), field="contribution_measure")
    weights = {
        name: _parse_number(getattr(settings, name), name, MAX_FACTOR_WEIGHT)
        for name in FORM_FACTORS
    }
    if not any(weights.values()):
        raise ValidationFailed(
            _l("Give at least one factor a weight above 0."), field="weighted_support"
        )
    cap = None
    if (settings.weight_cap or "").strip():
        cap = _parse_number(settings.weight_cap, "weight_cap", MAX_WEIGHT_CAP)
        if cap < 1:
            raise ValidationFailed(
                _l("The cap is a multiple of the average weight and must be at least 1."),
                field="weight_cap",
            )
    kind, dimensions = METHODS[settings.method]
    if kind == NO_WEIGHTING:
        cap = None  # nothing to cap
    try:
        return RankingConfig(
            {name: str(value) for name, value in weights.items() if value},
            contribution_measure=settings.contribution_measure,
            weighting=kind,
            weighting_dimensions=dimensions,
            weight_cap=str(cap) if cap is not None else None,
            area_balance=bool(settings.area_balance),
        )
    except RankingConfigError as error:  # the checks above should have caught it
        raise ValidationFailed(str(error)) from None


def _invalid_settings(error: str) -> Conflict:
    return Conflict(_l("The weighting settings of this round are invalid: %(error)s", error=error))


def round_config(voting_round: VotingRound) -> RankingConfig | None:
    """The round's stored settings, validated by the domain (None: correction off)."""
    if not voting_round.weighting_config:
        return None
    try:
        return RankingConfig.from_dict(_ranking_part(voting_round.weighting_config))
    except RankingConfigError as error:
        raise _invalid_settings(str(error)) from None


def round_funding(voting_round: VotingRound) -> str:
    """What decides the round's money: FUNDING_RULE (also when the correction is off) or
    FUNDING_CORRECTED."""
    stored = voting_round.weighting_config
    if not stored:
        return FUNDING_RULE
    funding = stored.get(FUNDING_KEY, FUNDING_RULE) if isinstance(stored, dict) else None
    if funding not in FUNDING_LABELS:
        raise _invalid_settings(f"funding must be one of {', '.join(FUNDING_LABELS)}")
    return funding


def funded_by_corrected_ranking(voting_round: VotingRound) -> bool:
    return round_funding(voting_round) == FUNDING_CORRECTED


def _check_funding(
    voting_round: VotingRound, settings: WeightingSettings, config: RankingConfig | None
) -> None:
    """The corrected ranking may decide the money only when there is one, of approvals."""
    if settings.funding not in FUNDING_LABELS:
        raise ValidationFailed(_l("Choose what decides the money from the list."), field="funding")
    if settings.funding != FUNDING_CORRECTED:
        return
    if config is None:
        raise ValidationFailed(
            _l("The corrected ranking can decide the money only when the correction is on."),
            field="funding",
        )
    if voting_round.ballot_type == CUMULATIVE:
        raise ValidationFailed(NOT_FOR_POINTS, field="funding")


def stored_settings(config: RankingConfig | None, funding: str) -> dict | None:
    """The JSON kept in ``VotingRound.weighting_config``: the domain config, plus the funding
    choice when it is not the default (so rounds funded by their rule store what they always
    did)."""
    if config is None:
        return None
    stored = config.to_dict()
    if funding != FUNDING_RULE:
        stored[FUNDING_KEY] = funding
    return stored


# Population ------------------------------------------------------------------------------------


def eligible_bands(voting_round: VotingRound) -> tuple[str, ...]:
    """CBS age bands with at least some people old enough to vote in the round."""
    return tuple(
        name for name, _low, high in AGE_BANDS if high is None or high >= voting_round.min_age
    )


@dataclass(frozen=True)
class Population:
    areas: dict[int, Area]
    inhabitants: dict[int, int]
    need_index: dict[int, float | None]
    # (area id, band) -> inhabitants, only when every area has age figures.
    cells: dict[tuple[int, str], int] | None

    def area_totals_of_cells(self) -> dict[int, int]:
        totals: dict[int, int] = dict.fromkeys(self.areas, 0)
        for (area_id, _band), count in (self.cells or {}).items():
            totals[area_id] += count
        return totals

    def band_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for (_area, band), count in (self.cells or {}).items():
            totals[band] = totals.get(band, 0) + count
        return totals


def population(voting_round: VotingRound) -> Population:
    areas, inhabitants, need, cells = {}, {}, {}, {}
    all_ages = True
    bands = eligible_bands(voting_round)
    stored = population_figures(voting_round)
    for area in voting_round.areas:
        figures = stored[area.id]
        areas[area.id] = area
        if figures is None:
            all_ages = False
            continue
        inhabitants[area.id] = figures["inhabitants"]
        need[area.id] = figures["need_index"]
        counts = {band: figures.get(band) for band, _low, _high in AGE_BANDS}
        if any(count is None for count in counts.values()):
            all_ages = False
        else:
            cells.update({(area.id, band): counts[band] for band in bands})
    return Population(areas, inhabitants, need, cells if all_ages and cells else None)


def check_round_can_use(voting_round: VotingRound, config: RankingConfig | None) -> None:
    """The round has what these settings need (population figures, age figures, need index,
    approval ballots); ValidationFailed naming the form field otherwise."""
    if config is None:
        return
    if voting_round.ballot_type == CUMULATIVE:
        raise ValidationFailed(
            _l("The corrected ranking counts approvals; it is not available for points ballots."),
            field="enabled",
        )
    if not voting_round.areas:
        raise ValidationFailed(
            _l("This round has no areas, so there are no population figures to weight with."),
            field="enabled",
        )
    figures = population(voting_round)
    missing = [a.name for a in voting_round.areas if not figures.inhabitants.get(a.id)]
    if missing:
        raise ValidationFailed(
            _l(
                "No population figures for %(year)d of: %(areas)s.",
                year=voting_round.year,
                areas=", ".join(missing),
            ),
            field="method",
        )
    if AGE_BAND in config.weighting_dimensions and figures.cells is None:
        raise ValidationFailed(
            _l(
                "Not every area of the round has population figures per age band; "
                "weight by area only."
            ),
            field="method",
        )
    if NEED in config.factor_weights:
        without = [a.name for a in voting_round.areas if figures.need_index.get(a.id) is None]
        if without:
            raise ValidationFailed(
                _l("No need index is published for: %(areas)s.", areas=", ".join(without)),
                field="need",
            )
    if any(p.area_id is None for p in voting_round.projects):
        raise ValidationFailed(
            _l("Some projects on the ballot have no area; the ranking needs one for each."),
            field="enabled",
        )


# Voter weights ---------------------------------------------------------------------------------


def _voter_areas(voting_round: VotingRound, data: RoundBallots) -> list[int | None]:
    """Each ballot's area, None when it is not one of the round's areas (unknown)."""
    round_areas = set(voting_round.area_ids)
    return [area_id if area_id in round_areas else None for area_id in data.area_ids]


def _voter_bands(bands: tuple[str, ...], data: RoundBallots) -> list[str | None]:
    known = set(bands)
    return [band if band in known else None for band in data.age_bands]


def _known_only(
    known: list[int], result: WeightingResult, n: int, diagnostics: WeightDiagnostics
) -> WeightingResult:
    """Weights of all ``n`` voters: the known voters' weights, 1 for the unknown ones."""
    weights = np.ones(n, dtype=np.float64)
    weights[known] = result.weights
    weights.flags.writeable = False
    return WeightingResult(
        weights,
        WeightDiagnostics(
            n=n,
            effective_sample_size=effective_sample_size(weights),
            design_effect=design_effect(weights),
            min_weight=float(weights.min()),
            max_weight=float(weights.max()),
            cap=diagnostics.cap,
            trimmed=diagnostics.trimmed,
            spread_cells=diagnostics.spread_cells,
        ),
    )


def compute_weights(
    voting_round: VotingRound, data: RoundBallots, config: RankingConfig
) -> WeightingResult | None:
    """Voter weights for the ballots of ``data`` (in their order) as ``config`` says; None when
    the config does not weight or there are no ballots. Raises WeightingError when the figures
    do not allow it."""
    if config.weighting == NO_WEIGHTING or not len(data):
        return None
    figures = population(voting_round)
    cap = float(config.weight_cap) if config.weight_cap is not None else None
    bands = eligible_bands(voting_round)
    areas = _voter_areas(voting_round, data)
    ages = _voter_bands(bands, data)
    with_ages = AGE_BAND in config.weighting_dimensions
    if with_ages and figures.cells is None:
        raise WeightingError("not every area has population figures per age band")
    if config.weighting == RAKING:
        margins = {AREA: figures.area_totals_of_cells(), AGE_BAND: figures.band_totals()}
        return rake({AREA: areas, AGE_BAND: ages}, margins, cap=cap, empty_cells="spread")
    if with_ages:
        cells: list[Hashable] = [
            (a, g) if a is not None and g is not None else None
            for a, g in zip(areas, ages, strict=True)
        ]
        population_per_cell: dict[Hashable, int] = dict(figures.cells or {})
    else:
        cells = list(areas)
        population_per_cell = dict(figures.inhabitants)
    known = [i for i, cell in enumerate(cells) if cell is not None]
    if not known:
        raise WeightingError("no ballot has a known area (and age band)")
    result = post_stratification_weights(
        [cells[i] for i in known], population_per_cell, cap=cap, empty_cells="spread"
    )
    if len(known) == len(cells):
        return result
    return _known_only(known, result, len(cells), result.diagnostics)


def _weighting_problem(error: Exception) -> Conflict:
    return Conflict(
        _l(
            "The voter weights cannot be computed (%(error)s). Check the population figures "
            "or change the weighting settings of the round.",
            error=str(error),
        )
    )


def voter_weights_for(voting_round: VotingRound, data: RoundBallots) -> list[Fraction] | None:
    """For voting.counting: one exact weight per ballot of ``data``, or None (unweighted)."""
    config = round_config(voting_round)
    if config is None:
        return None
    try:
        result = compute_weights(voting_round, data, config)
    except WeightingError as error:
        raise _weighting_problem(error) from None
    return None if result is None else result.exact_weights()


# The analysis residents and staff see ---------------------------------------------------------


@dataclass(frozen=True)
class AreaRow:
    area: Area
    inhabitants: int
    ballots: int
    turnout: Fraction
    voter_share: Fraction
    population_share: Fraction
    weighted_share: Fraction | None
    need_index: float | None


@dataclass(frozen=True)
class CellRow:
    area: Area
    band: str
    inhabitants: int
    ballots: int | None  # None: fewer than SMALL_CELL, not shown
    turnout: Fraction | None


@dataclass(frozen=True)
class ProjectRow:
    project: object  # RoundProject
    ranked: object  # domain RankedProject
    volunteer_hours: int


@dataclass
class Analysis:
    voting_round: VotingRound
    config: RankingConfig
    ballots: int
    weights: WeightingResult | None = None
    ranking: Ranking | None = None
    rows: list[ProjectRow] = field(default_factory=list)
    areas: list[AreaRow] = field(default_factory=list)
    area_report: TurnoutReport | None = None
    cells: list[CellRow] = field(default_factory=list)
    cell_report: TurnoutReport | None = None
    unknown_area: int = 0
    unknown_age: int = 0
    problem: str | None = None
    # External ids of the projects the corrected ranking funds, when it decides the money.
    funded: frozenset[str] | None = None

    @property
    def diagnostics(self) -> WeightDiagnostics | None:
        return self.weights.diagnostics if self.weights is not None else None

    def spread_labels(self) -> list[str]:
        """The populated cells without voters whose population was spread over the others."""
        if self.weights is None:
            return []
        names = {row.area.id: row.area.name for row in self.areas}

        def label(key) -> str:
            if isinstance(key, tuple) and len(key) == 2 and key[0] == AREA:
                return label(key[1])
            if isinstance(key, tuple) and len(key) == 2 and key[0] == AGE_BAND:
                return str(AGE_BAND_LABELS.get(key[1], key[1]))
            if isinstance(key, tuple):
                return ", ".join(label(part) for part in key)
            if key in names:
                return names[key]
            return str(AGE_BAND_LABELS.get(key, key))

        return [label(cell) for cell in self.weights.diagnostics.spread_cells]


def analyse(
    voting_round: VotingRound,
    config: RankingConfig | None = None,
    *,
    data: RoundBallots | None = None,
) -> Analysis:
    """Weights, ranking and turnout of the round under ``config`` (default: its own), from
    ``data`` (the round's ballots as voting.election.read_ballots gave them; read now when
    not given). The weights are computed once, here.

    Once the results are published neither the ballots nor the settings can change, so the
    figures of a published round are computed once per process and kept (:data:`MAX_KEPT`
    rounds), keyed by everything else they depend on (population figures, projects): the
    public ranking page of a city-wide round then answers without reading its ballots."""
    config = config or round_config(voting_round)
    if config is None:
        raise Conflict(_l("The correction is not switched on for this round."))
    figures = population(voting_round)
    projects = list(voting_round.projects)
    infos = [
        ProjectInfo(id=p.external_id, area=p.area_id, cost=p.cost_cents, own_contribution=_hours(p))
        for p in projects
    ]
    key = None
    if data is None and voting_round.is_published:
        key = _key(voting_round, config, figures, infos)
    computed = _kept().get(key) if key is not None else None
    if computed is None:
        data = read_ballots(voting_round) if data is None else data
        computed = _compute(voting_round, config, figures, infos, data)
        if key is not None:
            kept = _kept()
            if len(kept) >= MAX_KEPT:
                kept.clear()
            kept[key] = computed
    return _analysis(voting_round, config, figures, projects, computed)


# Published rounds whose figures one process keeps.
MAX_KEPT = 16


def _kept() -> dict:
    return current_app.extensions.setdefault("published_analyses", {})


def forget_published() -> None:
    """For tests, which empty the database and so use round ids again."""
    _kept().clear()


def _key(voting_round, config: RankingConfig, figures: Population, infos) -> tuple:
    return (
        voting_round.id,
        voting_round.created_at,
        voting_round.results_published_at,
        repr(config.to_dict()),
        repr(sorted(figures.inhabitants.items())),
        repr(sorted(figures.need_index.items())),
        repr(sorted((figures.cells or {}).items())),
        tuple(infos),
    )


@dataclass(frozen=True)
class _Computed:
    """What :func:`analyse` computes from the ballots: plain data, no ORM objects, no
    translated text (so it can be kept for a published round)."""

    ballots: int
    unknown_area: int
    unknown_age: int
    weights: WeightingResult | None
    weights_error: str | None
    ranking: Ranking | None
    ranking_error: str | None
    counted: dict[int, int] | None  # ballots per area of the population figures
    weighted: dict[int, float]  # weighted share per area
    per_cell: dict[tuple[int, str], int] | None


def _compute(voting_round, config, figures: Population, infos, data: RoundBallots) -> _Computed:
    voter_areas = _voter_areas(voting_round, data)
    voter_bands = _voter_bands(eligible_bands(voting_round), data)
    weights_result, weights_error = None, None
    try:
        weights_result = compute_weights(voting_round, data, config)
    except WeightingError as error:
        weights_error = str(error)
    weights = weights_result.weights if weights_result is not None else None
    counted, weighted, per_cell = None, {}, None
    if figures.inhabitants:
        counted = dict.fromkeys(figures.inhabitants, 0)
        for area_id in voter_areas:
            if area_id in counted:
                counted[area_id] += 1
        known = [i for i, a in enumerate(voter_areas) if a in counted]
        if weights is not None and known:
            weighted = cell_shares([voter_areas[i] for i in known], [weights[i] for i in known])
        if figures.cells is not None:
            per_cell = dict.fromkeys(figures.cells, 0)
            for cell in zip(voter_areas, voter_bands, strict=True):
                if cell in per_cell:
                    per_cell[cell] += 1
    ranking, ranking_error = None, None
    if weights_error is None and infos:
        external = [project.external_id for project in data.projects]
        offsets = data.ballots.offsets.tolist()
        entries = data.ballots.projects.tolist()
        chosen = [
            {external[i] for i in entries[start:end]}
            for start, end in zip(offsets, offsets[1:], strict=False)
        ]
        need = {a: v for a, v in figures.need_index.items() if v is not None}
        try:
            ranking = rank_projects(
                infos,
                chosen,
                weights,
                config,
                area_population=figures.inhabitants,
                need_index=need,
                voter_areas=voter_areas,
            )
        except ValueError as error:
            ranking_error = str(error)
    return _Computed(
        ballots=len(data),
        unknown_area=voter_areas.count(None),
        unknown_age=voter_bands.count(None),
        weights=weights_result,
        weights_error=weights_error,
        ranking=ranking,
        ranking_error=ranking_error,
        counted=counted,
        weighted=weighted,
        per_cell=per_cell,
    )


def _analysis(voting_round, config, figures: Population, projects, computed: _Computed):
    analysis = Analysis(voting_round, config, computed.ballots)
    analysis.unknown_area, analysis.unknown_age = computed.unknown_area, computed.unknown_age
    analysis.weights = computed.weights
    if computed.weights_error is not None:
        problem = _weighting_problem(WeightingError(computed.weights_error))
        analysis.problem = str(problem.message)
    elif computed.ranking_error is not None:
        analysis.problem = str(
            _l("The ranking cannot be computed (%(error)s).", error=computed.ranking_error)
        )
    if computed.counted is not None:
        _turnout_rows(analysis, figures, computed)
    if computed.ranking is not None:
        analysis.ranking = computed.ranking
        external = {p.external_id: p for p in projects}
        analysis.rows = [
            ProjectRow(
                project=external[entry.project_id],
                ranked=entry,
                volunteer_hours=_hours(external[entry.project_id]),
            )
            for entry in computed.ranking.entries
        ]
    return analysis


def _turnout_rows(analysis: Analysis, figures: Population, computed: _Computed) -> None:
    report = turnout(computed.counted, figures.inhabitants)
    analysis.area_report = report
    weighted = computed.weights is not None
    for cell in report.cells:
        share = computed.weighted.get(cell.cell, 0.0)
        analysis.areas.append(
            AreaRow(
                area=figures.areas[cell.cell],
                inhabitants=cell.population,
                ballots=cell.voters,
                turnout=cell.turnout,
                voter_share=cell.voter_share,
                population_share=cell.population_share,
                weighted_share=Fraction(share).limit_denominator(10**6) if weighted else None,
                need_index=figures.need_index.get(cell.cell),
            )
        )
    if computed.per_cell is None:
        return
    analysis.cell_report = turnout(computed.per_cell, figures.cells)
    for cell in analysis.cell_report.cells:
        area_id, band = cell.cell
        shown = cell.voters >= SMALL_CELL
        analysis.cells.append(
            CellRow(
                area=figures.areas[area_id],
                band=band,
                inhabitants=cell.population,
                ballots=cell.voters if shown else None,
                turnout=cell.turnout if shown else None,
            )
        )


def _hours(project) -> int:
    """The hours stored when voting opened (voting.rounds.fix_population), before that
    (or for a round that stored its figures before the hours were kept) the live ones."""
    if project.volunteer_hours is not None:
        return project.volunteer_hours
    return project.initiative.volunteer_hours if project.initiative else 0


# Changing the settings -------------------------------------------------------------------------


# While voting is open the preview would show how the projects stand: interim results, which
# nobody sees (as no export does, voting.rounds.can_export_unpublished).
NO_INTERIM_RESULTS = _l(
    "While voting is open nobody sees how the projects stand, so there is no preview of the "
    "ranking; it is there again once voting has ended."
)


def can_preview(voting_round: VotingRound) -> bool:
    """Whether a preview may read the round's ballots now: not while voting is open."""
    return voting_round.phase() is not Phase.VOTING


def preview(actor: User, voting_round: VotingRound, settings: WeightingSettings) -> Analysis | None:
    """The effect of ``settings`` on the round now, without saving them (None: off); not while
    voting is open (409)."""
    require(can_manage_round(actor, voting_round))
    if not can_preview(voting_round):
        raise Conflict(NO_INTERIM_RESULTS)
    config = config_from_settings(settings)
    _check_funding(voting_round, settings, config)
    check_round_can_use(voting_round, config)
    if config is None:
        return None
    analysis = analyse(voting_round, config)
    if settings.funding == FUNDING_CORRECTED and analysis.ranking is not None:
        funding = fund_in_order(analysis.ranking.entries, voting_round.budget_cents)
        analysis.funded = frozenset(funding.selected)
    return analysis


# Funding down the corrected ranking ------------------------------------------------------------


def _euros(cents: int) -> str:
    """Cents as euros the way the rules' traces write amounts ("4,500" or "4,500.50")."""
    whole = f"{cents // 100:,}"
    return whole if cents % 100 == 0 else f"{whole}.{cents % 100:02d}"


def corrected_analysis(voting_round: VotingRound, data: RoundBallots) -> Analysis:
    """The analysis the corrected ranking funds from (see :func:`corrected_outcome`); raises
    Conflict when it cannot decide the money (a points ballot, or the weights or ranking
    cannot be computed)."""
    if voting_round.ballot_type == CUMULATIVE:
        raise Conflict(NOT_FOR_POINTS)
    analysis = analyse(voting_round, data=data)
    if analysis.problem is not None:
        raise Conflict(analysis.problem)
    return analysis


def corrected_outcome(voting_round: VotingRound, election: Election, analysis: Analysis) -> Outcome:
    """The round's result when the corrected ranking decides the money: fund down the
    ranking of ``analysis`` (:func:`corrected_analysis`) over the round's budget, skipping
    what no longer fits (domain ``fund_in_order``).

    An :class:`Outcome` like a rule's, so storing, publishing and grants work unchanged:
    ``selected`` in funding order, a readable reason per project (amounts in euros),
    ``total_cost`` and ``budget`` in the election's money unit."""
    entries = analysis.ranking.entries if analysis.ranking is not None else ()
    funding = fund_in_order(entries, voting_round.budget_cents)
    funded = set(funding.selected)
    remaining = voting_round.budget_cents
    trace = []
    for entry in entries:
        if entry.project_id in funded:
            remaining -= entry.cost
            reason = (
                f"funded: corrected rank {entry.corrected_rank} (raw rank {entry.raw_rank}), "
                f"cost {_euros(entry.cost)} fits (remaining {_euros(remaining)})"
            )
            trace.append(TraceStep(entry.project_id, "selected", reason))
        else:
            reason = (
                f"skipped: corrected rank {entry.corrected_rank}, cost {_euros(entry.cost)} "
                f"exceeds remaining {_euros(remaining)}"
            )
            trace.append(TraceStep(entry.project_id, "skipped", reason))
    cost_in_unit = {project.id: project.cost for project in election.projects}
    return Outcome(
        rule=FUNDING_CORRECTED,
        selected=funding.selected,
        trace=tuple(trace),
        total_cost=sum(cost_in_unit[project_id] for project_id in funding.selected),
        budget=election.budget,
        details={"funding": FUNDING_CORRECTED, "leftover_cents": funding.leftover},
    )
