"""Weighting module: rank projects while correcting for participation gaps (the Venray finding).

Pure Python + numpy. The round/web integration calls, in this order:

1. :func:`turnout` (per area, or per ``(area, age band)`` cell) -> :class:`TurnoutReport` with
   turnout per cell, the representativeness score ``1 - D`` and the R-indicator.
2. Voter weights, as the round's :class:`RankingConfig` says:
   :func:`post_stratification_weights` (cells = areas or area x age band) or :func:`rake`
   (several one-way margins), both with an optional ``cap`` ->
   :class:`WeightingResult` (``weights`` with mean 1, ``diagnostics`` with n_eff and deff).
3. :func:`rank_projects` with those weights -> :class:`Ranking` (raw and corrected rank, each
   factor's value and share of the score per project); :func:`fund_in_order` to fund down it.
4. The weighted voting rules get ``result.exact_weights()`` (the weights rounded to 6 decimals,
   as Fractions), the same weights the ranking counted with: ``greedy(election, weights)``,
   ``equal_shares(election, weights, completion="add1")``.

Module docs: :mod:`.weights` (weights, unknowns, empty cells, trimming, floats),
:mod:`.turnout` (formulas), :mod:`.ranking` (factors, score, ties). The public explanation for
residents is docs/weighting-methodology.md.
"""

from buurtbudget.domain.weighting.ranking import (
    AREA_PERCENTILE,
    CONTRIBUTION_MEASURES,
    FACTORS,
    NEED,
    NO_WEIGHTING,
    OWN_CONTRIBUTION,
    PER_1000_INHABITANTS,
    POST_STRATIFICATION,
    RAKING,
    RELATIVE_CONTRIBUTION,
    SUPPORT,
    WEIGHTED_SUPPORT,
    WEIGHTING_METHODS,
    AreaFunding,
    FactorScore,
    Funding,
    ProjectInfo,
    RankedProject,
    Ranking,
    RankingConfig,
    RankingConfigError,
    area_entitlements,
    area_funding_shares,
    fund_in_order,
    rank_projects,
    relative_own_contribution,
)
from buurtbudget.domain.weighting.turnout import (
    DEFAULT_AGE_BANDS,
    CellTurnout,
    TurnoutReport,
    age_band,
    band_label,
    count_cells,
    representativeness,
    turnout,
)
from buurtbudget.domain.weighting.weights import (
    EmptyCellsError,
    WeightDiagnostics,
    WeightingError,
    WeightingResult,
    cell_shares,
    design_effect,
    effective_sample_size,
    exact_weights,
    post_stratification_weights,
    rake,
    scaled_weights,
    trim_weights,
)

__all__ = [
    "AREA_PERCENTILE",
    "CONTRIBUTION_MEASURES",
    "DEFAULT_AGE_BANDS",
    "FACTORS",
    "NEED",
    "NO_WEIGHTING",
    "OWN_CONTRIBUTION",
    "PER_1000_INHABITANTS",
    "POST_STRATIFICATION",
    "RAKING",
    "RELATIVE_CONTRIBUTION",
    "SUPPORT",
    "WEIGHTED_SUPPORT",
    "WEIGHTING_METHODS",
    "AreaFunding",
    "CellTurnout",
    "EmptyCellsError",
    "FactorScore",
    "Funding",
    "ProjectInfo",
    "RankedProject",
    "Ranking",
    "RankingConfig",
    "RankingConfigError",
    "TurnoutReport",
    "WeightDiagnostics",
    "WeightingError",
    "WeightingResult",
    "age_band",
    "area_entitlements",
    "area_funding_shares",
    "band_label",
    "cell_shares",
    "count_cells",
    "design_effect",
    "effective_sample_size",
    "exact_weights",
    "fund_in_order",
    "post_stratification_weights",
    "rake",
    "rank_projects",
    "relative_own_contribution",
    "representativeness",
    "scaled_weights",
    "trim_weights",
    "turnout",
]
