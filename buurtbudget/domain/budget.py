"""Area budgets: the three budget models as configuration, the budget calculation from
population figures, the ledger arithmetic and household-cheque codes. Pure Python.

Money is integer euro cents everywhere. Rates are integer *millicents* (1/1000 cent), so every
real rate is exact (EUR 9.30 per inhabitant = 930_000, EUR 7.50 per household = 750_000) and a
fractional rate such as EUR 0.125 per inhabitant (12_500) can still be expressed.

Rounding rule (the only place money is rounded): the budget of an area for one period is
``count * rate_millicents`` millicents, rounded to whole cents **half up** (0.5 cent becomes 1
cent; "commercial rounding"), i.e. ``(count * rate + 500) // 1000``. When the rate is a whole
number of cents the product is exact and nothing is rounded; otherwise the difference from the
exact amount is at most half a cent per area and period.

The ledger
----------
Balances are never stored: they are sums over append-only ledger entries, each a positive
amount of one *kind*. Per account (an area pot, a bottleneck fund or a city-wide pot, for one
period)::

    budget    = allocation - withdrawal
    committed = commitment + cheque_issue - release - payout - cheque_expiry
    paid      = payout - return
    available = budget - committed - paid        (never below zero)

``committed`` is money promised but not yet paid: grants to initiatives, direct spending
decisions and household cheques in circulation. A payout turns committed money into paid money;
a return (money an initiator gives back) lowers ``paid`` and the grant, so it is available in
the pot again. A cheque redemption moves a cheque's value from "cheques in circulation" to the
initiative it is pooled on, so it leaves the account totals unchanged.

Per holder of a commitment (an initiative, or "no initiative" for direct spending)::

    granted     = commitment + cheque_redemption - release - return
    paid        = payout - return
    outstanding = granted - paid                 (what may still be paid out)
"""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation

MILLICENTS_PER_CENT = 1000


class BudgetModelKind(enum.StrEnum):
    """The three Dutch budget models, by the city that made each one known."""

    AREA_PROGRAMME = "area_programme"  # Delft: coordinator-led area programme
    COUNCIL_BUDGET = "council_budget"  # Zaanstad: the area council holds a liveability budget
    HOUSEHOLD_CHEQUES = "household_cheques"  # Ede: a cheque per household, pooled by residents


class RateBasis(enum.StrEnum):
    PER_INHABITANT = "per_inhabitant"
    PER_HOUSEHOLD = "per_household"


class UnpooledValuePolicy(enum.StrEnum):
    """What happens to cheque value that funded nothing when the cheques expire."""

    AREA_POT = "area_pot"  # stays in the area's pot, for the coordinator or a next initiative
    MUNICIPALITY = "municipality"  # goes back to the municipality (withdrawn from the budget)


class SpendKind(enum.StrEnum):
    """Zaanstad tracks whether money went to physical works or to social measures."""

    PHYSICAL = "physical"
    SOCIAL = "social"


class AccountKind(enum.StrEnum):
    AREA = "area"  # the area pot
    BOTTLENECK = "bottleneck"  # knelpuntenpot: Delft's fund for urgent problems in an area
    CITYWIDE = "citywide"  # a pot for the whole municipality, beside the area pots


class EntryKind(enum.StrEnum):
    ALLOCATION = "allocation"
    WITHDRAWAL = "withdrawal"
    COMMITMENT = "commitment"
    RELEASE = "release"
    PAYOUT = "payout"
    RETURN = "return"
    CHEQUE_ISSUE = "cheque_issue"
    CHEQUE_REDEMPTION = "cheque_redemption"
    CHEQUE_EXPIRY = "cheque_expiry"


DEFAULT_COUNCIL_QUORUM = 3
MIN_COUNCIL_QUORUM, MAX_COUNCIL_QUORUM = 2, 100


def has_quorum(members_present: int, quorum: int) -> bool:
    """A council decides only with at least ``quorum`` of its members present."""
    return members_present >= max(quorum, MIN_COUNCIL_QUORUM)


@dataclass(frozen=True)
class BudgetModelSettings:
    """One model's configuration. A municipality picks a model and may change any setting, for
    the whole municipality or for one area."""

    kind: BudgetModelKind
    basis: RateBasis
    rate_millicents: int
    periods_per_year: int = 1  # 1: a year; 2: half-years (cheques)
    bottleneck_fund_cents: int = 0  # per area and period, on top of the area pot
    citywide_pot_cents: int = 0  # per period, for the whole municipality
    min_meetings_per_year: int = 0  # the council must meet at least this often (Zaanstad: 4)
    social_target_percent: int | None = None  # target share of social measures in spending
    cheque_value_cents: int = 0
    cheque_valid_days: int = 365
    unpooled_value_policy: UnpooledValuePolicy = UnpooledValuePolicy.AREA_POT
    # Council members present, recorded by name, for a council meeting to decide (never one).
    council_quorum: int = DEFAULT_COUNCIL_QUORUM

    def __post_init__(self) -> None:
        if self.rate_millicents < 0 or self.bottleneck_fund_cents < 0:
            raise ValueError("rates and funds cannot be negative")
        if self.citywide_pot_cents < 0 or self.cheque_value_cents < 0:
            raise ValueError("pots and cheque values cannot be negative")
        if self.periods_per_year not in (1, 2):
            raise ValueError("a budget period is a year or a half-year")
        if self.social_target_percent is not None and not 0 <= self.social_target_percent <= 100:
            raise ValueError("the social target is a percentage")
        if self.kind is BudgetModelKind.HOUSEHOLD_CHEQUES and self.cheque_value_cents <= 0:
            raise ValueError("the cheque model needs a cheque value")
        if self.cheque_valid_days < 1:
            raise ValueError("cheques must be valid for at least a day")
        if not MIN_COUNCIL_QUORUM <= self.council_quorum <= MAX_COUNCIL_QUORUM:
            raise ValueError("a council quorum is at least two members present")

    @property
    def council_decides(self) -> bool:
        """Spending needs a decision taken in a recorded council meeting (Zaanstad)."""
        return self.kind is BudgetModelKind.COUNCIL_BUDGET

    @property
    def uses_cheques(self) -> bool:
        return self.kind is BudgetModelKind.HOUSEHOLD_CHEQUES

    def with_changes(self, **changes) -> BudgetModelSettings:
        return replace(self, **changes)


# The defaults of each model, from the studies (see shared/DOMAIN.md).
MODEL_DEFAULTS: dict[BudgetModelKind, BudgetModelSettings] = {
    BudgetModelKind.AREA_PROGRAMME: BudgetModelSettings(
        kind=BudgetModelKind.AREA_PROGRAMME,
        basis=RateBasis.PER_INHABITANT,
        rate_millicents=1_000_000,  # EUR 10 per inhabitant (EUR 9.30 in 2004)
        bottleneck_fund_cents=500_000,  # EUR 5,000 per area: a "small" knelpuntenpot
    ),
    BudgetModelKind.COUNCIL_BUDGET: BudgetModelSettings(
        kind=BudgetModelKind.COUNCIL_BUDGET,
        basis=RateBasis.PER_INHABITANT,
        rate_millicents=500_000,  # EUR 5 per inhabitant
        min_meetings_per_year=4,
        social_target_percent=50,
    ),
    BudgetModelKind.HOUSEHOLD_CHEQUES: BudgetModelSettings(
        kind=BudgetModelKind.HOUSEHOLD_CHEQUES,
        basis=RateBasis.PER_HOUSEHOLD,
        rate_millicents=750_000,  # one EUR 7.50 cheque per household per period
        periods_per_year=2,
        cheque_value_cents=750,
    ),
}


def model_defaults(kind: BudgetModelKind | str) -> BudgetModelSettings:
    return MODEL_DEFAULTS[BudgetModelKind(kind)]


# Budget calculation -------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetCalculation:
    """How an area's budget for one period was computed; shown to users as it is."""

    basis: RateBasis
    count: int  # inhabitants or households
    population_year: int
    rate_millicents: int
    amount_cents: int

    @property
    def rounded(self) -> bool:
        return (self.count * self.rate_millicents) % MILLICENTS_PER_CENT != 0


def budget_amount_cents(count: int, rate_millicents: int) -> int:
    """``count`` x rate, in whole cents, rounded half up (see the module docstring)."""
    if count < 0 or rate_millicents < 0:
        raise ValueError("count and rate cannot be negative")
    return (count * rate_millicents + MILLICENTS_PER_CENT // 2) // MILLICENTS_PER_CENT


def calculate_budget(
    settings: BudgetModelSettings, *, inhabitants: int, households: int, population_year: int
) -> BudgetCalculation:
    count = inhabitants if settings.basis is RateBasis.PER_INHABITANT else households
    return BudgetCalculation(
        basis=settings.basis,
        count=count,
        population_year=population_year,
        rate_millicents=settings.rate_millicents,
        amount_cents=budget_amount_cents(count, settings.rate_millicents),
    )


# Periods ------------------------------------------------------------------------------------


def period_dates(year: int, half: int) -> tuple[date, date]:
    """First and last day of a period: ``half`` 0 is the whole year, 1 and 2 its halves."""
    if half == 0:
        return date(year, 1, 1), date(year, 12, 31)
    if half == 1:
        return date(year, 1, 1), date(year, 6, 30)
    if half == 2:
        return date(year, 7, 1), date(year, 12, 31)
    raise ValueError("half must be 0, 1 or 2")


def halves_for(settings: BudgetModelSettings) -> tuple[int, ...]:
    return (0,) if settings.periods_per_year == 1 else (1, 2)


# Parsing amounts ----------------------------------------------------------------------------


class InvalidAmount(ValueError):
    pass


# A euro amount in the Dutch way: thousands grouped by a dot or a space ("1.234", "1 234"),
# decimals after a comma ("7,50", "7,5", "7,-"). A decimal point is taken only where it cannot
# be a thousands separator: one or two digits after it and no grouping ("7.50"). A comma
# followed by three digits ("7,500", "0,001") is refused: in Dutch it is a decimal comma with a
# fraction of a cent, to an English reader it groups thousands; guessing either would book an
# amount 1,000 times too large or too small.
_AMOUNT = re.compile(
    r"(?P<whole>[0-9]{1,3}(?P<sep>[. ])[0-9]{3}(?:(?P=sep)[0-9]{3})*|[0-9]+)"
    r"(?:,(?P<decimals>[0-9]{1,2}|-{1,2}))?"
)
_DECIMAL_POINT = re.compile(r"(?P<whole>[0-9]+)\.(?P<decimals>[0-9]{1,2})")
# The largest amount anyone types: EUR 999,999,999,999.99 (far below BIGINT's limit).
MAX_WHOLE_EUROS_DIGITS = 12


def parse_euros(text: str) -> int:
    """A euro amount typed in the Dutch format, in cents: "7,50", "1.234,56", "€ 1 000", "7,-";
    also "7.50". Anything ambiguous or malformed ("7,500", "0,001", "1,234.56", "١٢") raises
    :class:`InvalidAmount`: a form shows an error rather than booking a guess."""
    cleaned = text.strip().removeprefix("€").removeprefix("EUR").strip().replace("\u00a0", " ")
    match = _AMOUNT.fullmatch(cleaned) or _DECIMAL_POINT.fullmatch(cleaned)
    if not match:
        raise InvalidAmount(text)
    whole = re.sub(r"[. ]", "", match.group("whole"))
    decimals = match.group("decimals") or ""
    if decimals.startswith("-"):
        decimals = ""
    if len(whole.lstrip("0")) > MAX_WHOLE_EUROS_DIGITS:
        raise InvalidAmount(text)
    return int(whole) * 100 + int(decimals.ljust(2, "0"))


def parse_rate_millicents(text: str) -> int:
    """A rate in euros with up to five decimals ("9,30", "0.125"), in millicents."""
    cleaned = text.strip().removeprefix("€").strip().replace(",", ".")
    if not re.fullmatch(r"[0-9]{1,9}(\.[0-9]{1,5})?", cleaned):
        raise InvalidAmount(text)
    try:
        value = Decimal(cleaned) * 100 * MILLICENTS_PER_CENT
    except InvalidOperation:  # pragma: no cover - the pattern already rules this out
        raise InvalidAmount(text) from None
    return int(value)


def format_rate(rate_millicents: int) -> str:
    """A rate in euros, with as many decimals as it needs (at least two): 930_000 -> "9.30"."""
    euros = Decimal(rate_millicents) / (100 * MILLICENTS_PER_CENT)
    text = f"{euros:.5f}".rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def csv_euros(cents: int | None) -> str:
    """Cents as euros with a decimal comma, the way Dutch spreadsheets read them (CSV files):
    -123456 -> "-1234,56"; no amount -> an empty cell."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100},{abs(cents) % 100:02d}"


# Ledger arithmetic --------------------------------------------------------------------------


class LedgerRuleBroken(ValueError):
    """An entry would break a ledger rule. ``code`` is stable, for messages and tests."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Balance:
    """The derived totals of one account."""

    budget: int = 0
    committed: int = 0
    paid: int = 0
    cheques_outstanding: int = 0  # value of issued cheques neither redeemed nor expired

    @property
    def available(self) -> int:
        return self.budget - self.committed - self.paid

    @property
    def spent(self) -> int:
        """Granted or paid: what the area has decided to spend."""
        return self.committed - self.cheques_outstanding + self.paid


@dataclass(frozen=True)
class HolderMoney:
    """The money of one initiative (or of direct spending) within one account."""

    granted: int = 0
    paid: int = 0
    pooled: int = 0  # value of cheques redeemed on it (part of granted)

    @property
    def outstanding(self) -> int:
        return self.granted - self.paid


def _total(totals: Mapping[str, int], kind: EntryKind) -> int:
    return int(totals.get(kind, 0) or 0)


def account_balance(totals: Mapping[str, int]) -> Balance:
    """Totals per entry kind (e.g. from ``SUM ... GROUP BY kind``) -> the account's balance."""

    def t(kind: EntryKind) -> int:
        return _total(totals, kind)

    E = EntryKind
    return Balance(
        budget=t(E.ALLOCATION) - t(E.WITHDRAWAL),
        committed=t(E.COMMITMENT)
        + t(E.CHEQUE_ISSUE)
        - t(E.RELEASE)
        - t(E.PAYOUT)
        - t(E.CHEQUE_EXPIRY),
        paid=t(E.PAYOUT) - t(E.RETURN),
        cheques_outstanding=t(E.CHEQUE_ISSUE) - t(E.CHEQUE_REDEMPTION) - t(E.CHEQUE_EXPIRY),
    )


def holder_money(totals: Mapping[str, int]) -> HolderMoney:
    """Totals per entry kind of one holder's entries -> its granted / paid / pooled."""

    def t(kind: EntryKind) -> int:
        return _total(totals, kind)

    E = EntryKind
    return HolderMoney(
        granted=t(E.COMMITMENT) + t(E.CHEQUE_REDEMPTION) - t(E.RELEASE) - t(E.RETURN),
        paid=t(E.PAYOUT) - t(E.RETURN),
        pooled=t(E.CHEQUE_REDEMPTION),
    )


# What each kind of entry needs to have room for.
_NEEDS_AVAILABLE = {EntryKind.WITHDRAWAL, EntryKind.COMMITMENT, EntryKind.CHEQUE_ISSUE}
_NEEDS_OUTSTANDING = {EntryKind.RELEASE, EntryKind.PAYOUT}
_NEEDS_CHEQUES = {EntryKind.CHEQUE_REDEMPTION, EntryKind.CHEQUE_EXPIRY}
_HOLDER_KINDS = {
    EntryKind.COMMITMENT,
    EntryKind.RELEASE,
    EntryKind.PAYOUT,
    EntryKind.RETURN,
    EntryKind.CHEQUE_REDEMPTION,
}


def check_entry(
    balance: Balance, kind: EntryKind, amount_cents: int, holder: HolderMoney | None = None
) -> Balance:
    """Check that an entry keeps every ledger rule; return the account balance after it.

    ``holder`` is the money of the initiative (or direct spending) the entry concerns; entries
    that change a holder's money (commitment, release, payout, return, cheque redemption) need
    it. Raises :class:`LedgerRuleBroken`.
    """
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise LedgerRuleBroken(
            "amount_not_positive", "an amount must be a positive number of cents"
        )
    if kind in _HOLDER_KINDS and holder is None:
        raise LedgerRuleBroken("holder_required", f"a {kind} entry concerns an initiative")
    if kind in _NEEDS_AVAILABLE and amount_cents > balance.available:
        raise LedgerRuleBroken(
            "insufficient_available",
            f"{amount_cents} cents needed but only {balance.available} available",
        )
    if kind in _NEEDS_OUTSTANDING and amount_cents > holder.outstanding:
        raise LedgerRuleBroken(
            "exceeds_outstanding",
            f"{amount_cents} cents is more than the {holder.outstanding} granted and not paid",
        )
    if kind is EntryKind.RETURN and amount_cents > holder.paid:
        raise LedgerRuleBroken("exceeds_paid", f"only {holder.paid} cents were paid out")
    if kind in _NEEDS_CHEQUES and amount_cents > balance.cheques_outstanding:
        raise LedgerRuleBroken(
            "exceeds_cheques", "more cheque value than is in circulation in this account"
        )
    after = apply_entry(balance, kind, amount_cents)
    if min(after.budget, after.committed, after.paid, after.available) < 0:
        raise LedgerRuleBroken("negative_balance", "the entry would make a balance negative")
    return after


def apply_entry(balance: Balance, kind: EntryKind, amount: int) -> Balance:
    """The balance after an entry; each kind is its effect on (budget, committed, paid,
    cheques in circulation)."""
    effects = {
        EntryKind.ALLOCATION: (amount, 0, 0, 0),
        EntryKind.WITHDRAWAL: (-amount, 0, 0, 0),
        EntryKind.COMMITMENT: (0, amount, 0, 0),
        EntryKind.RELEASE: (0, -amount, 0, 0),
        EntryKind.PAYOUT: (0, -amount, amount, 0),
        EntryKind.RETURN: (0, 0, -amount, 0),
        EntryKind.CHEQUE_ISSUE: (0, amount, 0, amount),
        EntryKind.CHEQUE_REDEMPTION: (0, 0, 0, -amount),
        EntryKind.CHEQUE_EXPIRY: (0, -amount, 0, -amount),
    }[kind]
    return Balance(
        budget=balance.budget + effects[0],
        committed=balance.committed + effects[1],
        paid=balance.paid + effects[2],
        cheques_outstanding=balance.cheques_outstanding + effects[3],
    )


# Payouts, councils, shares ------------------------------------------------------------------


def needs_second_approval(
    amount_cents: int, threshold_cents: int, *, already_paid_cents: int = 0
) -> bool:
    """A payout needs a second approver when what was paid to the initiative in total,
    including this payout, reaches the threshold (default EUR 1,000): *from* the threshold
    itself, so neither one request of exactly EUR 1,000 nor three of them pass on one pair of
    eyes. Direct spending (no initiative) counts its own amount."""
    return already_paid_cents + amount_cents >= threshold_cents


def share_percent(part: int, whole: int) -> int | None:
    """``part`` as a whole percentage of ``whole`` (half up), or None when ``whole`` is 0."""
    if whole <= 0:
        return None
    return (200 * part + whole) // (2 * whole)


def too_few_meetings(meetings_held: int, minimum: int) -> bool:
    return meetings_held < minimum


@dataclass(frozen=True)
class PoolingOutcome:
    funded: bool
    surplus_cents: int  # pooled beyond the cost: goes back to the pot when funded


def pooling_outcome(pooled_cents: int, cost_cents: int) -> PoolingOutcome:
    """Pooled cheques fund an initiative as soon as they reach its cost."""
    if pooled_cents >= cost_cents > 0:
        return PoolingOutcome(True, pooled_cents - cost_cents)
    return PoolingOutcome(False, 0)


# Cheque codes -------------------------------------------------------------------------------

# Crockford's base32: digits and letters without I, L, O and U, so codes read aloud and typed
# from paper survive the usual confusions (I/L read as 1, O as 0).
CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHEQUE_RANDOM_CHARS = 16  # 80 random bits
_DECODE_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0"})


def _check_character(payload: str) -> str:
    """Luhn mod 32 check character: catches every single mistyped character and every swap
    of two neighbours except "0Z" <-> "Z0" (Luhn's one blind spot). (Crockford's own mod-37
    check adds symbols like '*' and '~' that print and type badly, so we keep the check inside
    the alphabet.)"""
    n = len(CROCKFORD_ALPHABET)
    factor, total = 2, 0
    for char in reversed(payload):
        addend = factor * CROCKFORD_ALPHABET.index(char)
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return CROCKFORD_ALPHABET[(n - total % n) % n]


def new_cheque_code() -> str:
    """A fresh cheque code: 16 random Crockford characters from ``secrets`` plus a check
    character (17 characters, stored without separators).

    Guessing odds: 32**16 = 2**80 (about 1.2e24) possible codes. With a million live cheques
    an attacker who could try a billion codes would hit one with probability about
    1e6 * 1e9 / 1.2e24, below 1 in a billion; the web form is also rate limited and the check
    character rejects 31 of 32 random strings before the database is asked.
    """
    payload = "".join(secrets.choice(CROCKFORD_ALPHABET) for _ in range(CHEQUE_RANDOM_CHARS))
    return payload + _check_character(payload)


class InvalidChequeCode(ValueError):
    pass


def normalise_cheque_code(text: str) -> str:
    """Accept a code as typed: any case, spaces or hyphens, I/L for 1 and O for 0; verify the
    check character. Returns the stored form or raises :class:`InvalidChequeCode`."""
    cleaned = re.sub(r"[\s\-]", "", text or "").upper().translate(_DECODE_CONFUSABLE)
    if len(cleaned) != CHEQUE_RANDOM_CHARS + 1 or any(c not in CROCKFORD_ALPHABET for c in cleaned):
        raise InvalidChequeCode(text)
    if _check_character(cleaned[:-1]) != cleaned[-1]:
        raise InvalidChequeCode(text)
    return cleaned


def format_cheque_code(code: str) -> str:
    """Groups of four for print: "7KQ2-M9XH-4TD0-PB3R-6"."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))
