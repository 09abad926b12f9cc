"""Area budgets: the budget model per municipality (or area), budget periods and their
accounts, the append-only ledger, council meetings, household cheques, payout requests, the
area programme and the area report (wijkverslag).

Balances are never stored: they are sums over :class:`LedgerEntry` rows (see
buurtbudget/domain/budget.py for the formulas), written only by services/ledger.py, which locks
the account row first so concurrent requests cannot overspend.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from buurtbudget.domain.budget import (
    DEFAULT_COUNCIL_QUORUM,
    AccountKind,
    BudgetModelKind,
    BudgetModelSettings,
    EntryKind,
    RateBasis,
    SpendKind,
    UnpooledValuePolicy,
    period_dates,
)
from buurtbudget.extensions import db
from buurtbudget.models._base import UTCDateTime, refuse_orm_changes, utcnow
from buurtbudget.models.geo import Area, Municipality
from buurtbudget.models.initiative import Attachment, Initiative, Theme
from buurtbudget.models.user import User


def _enum(enum_class, length: int) -> Enum:
    return Enum(
        enum_class, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class BudgetModelConfig(db.Model):
    """The budget model of a municipality (``area_id`` NULL) or of one area that differs."""

    __tablename__ = "budget_model_config"
    __table_args__ = (
        UniqueConstraint("municipality_id", "area_id"),
        # NULLs are distinct in unique constraints: one municipality-wide row via this index.
        Index(
            "uq_budget_model_config_municipality_default",
            "municipality_id",
            unique=True,
            sqlite_where=text("area_id IS NULL"),
            postgresql_where=text("area_id IS NULL"),
        ),
        CheckConstraint("rate_millicents >= 0", name="rate_non_negative"),
        CheckConstraint("periods_per_year IN (1, 2)", name="periods_year_or_half"),
        CheckConstraint("bottleneck_fund_cents >= 0", name="bottleneck_non_negative"),
        CheckConstraint("citywide_pot_cents >= 0", name="citywide_non_negative"),
        CheckConstraint("min_meetings_per_year >= 0", name="meetings_non_negative"),
        CheckConstraint(
            "social_target_percent IS NULL OR social_target_percent BETWEEN 0 AND 100",
            name="social_target_percentage",
        ),
        CheckConstraint("cheque_value_cents >= 0", name="cheque_value_non_negative"),
        CheckConstraint("cheque_valid_days >= 1", name="cheque_valid_days_positive"),
        CheckConstraint("council_quorum >= 2", name="council_quorum_two_or_more"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    kind: Mapped[BudgetModelKind] = mapped_column(_enum(BudgetModelKind, 24))
    basis: Mapped[RateBasis] = mapped_column(_enum(RateBasis, 16))
    rate_millicents: Mapped[int] = mapped_column(BigInteger)
    periods_per_year: Mapped[int] = mapped_column(default=1)
    bottleneck_fund_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    citywide_pot_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    min_meetings_per_year: Mapped[int] = mapped_column(default=0)
    social_target_percent: Mapped[int | None]
    cheque_value_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    cheque_valid_days: Mapped[int] = mapped_column(default=365)
    unpooled_value_policy: Mapped[UnpooledValuePolicy] = mapped_column(
        _enum(UnpooledValuePolicy, 16), default=UnpooledValuePolicy.AREA_POT
    )
    council_quorum: Mapped[int] = mapped_column(
        default=DEFAULT_COUNCIL_QUORUM, server_default=str(DEFAULT_COUNCIL_QUORUM)
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    municipality: Mapped[Municipality] = relationship()
    area: Mapped[Area | None] = relationship()

    SETTING_FIELDS = (
        "kind",
        "basis",
        "rate_millicents",
        "periods_per_year",
        "bottleneck_fund_cents",
        "citywide_pot_cents",
        "min_meetings_per_year",
        "social_target_percent",
        "cheque_value_cents",
        "cheque_valid_days",
        "unpooled_value_policy",
        "council_quorum",
    )

    def settings(self) -> BudgetModelSettings:
        return BudgetModelSettings(**{name: getattr(self, name) for name in self.SETTING_FIELDS})

    def apply(self, settings: BudgetModelSettings) -> None:
        for name in self.SETTING_FIELDS:
            setattr(self, name, getattr(settings, name))


class BudgetPeriod(db.Model):
    """A year (``half`` 0) or half-year (1, 2) of one area, or of the city-wide pot
    (``area_id`` NULL), with the calculation of its budget as it was made."""

    __tablename__ = "budget_period"
    __table_args__ = (
        UniqueConstraint("area_id", "year", "half"),
        Index(
            "uq_budget_period_citywide",
            "municipality_id",
            "year",
            "half",
            unique=True,
            sqlite_where=text("area_id IS NULL"),
            postgresql_where=text("area_id IS NULL"),
        ),
        CheckConstraint("half IN (0, 1, 2)", name="half_valid"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_plausible"),
        CheckConstraint("basis_count >= 0", name="count_non_negative"),
        CheckConstraint("rate_millicents >= 0", name="rate_non_negative"),
        CheckConstraint("amount_cents >= 0", name="amount_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id"), index=True)
    year: Mapped[int]
    half: Mapped[int] = mapped_column(default=0)
    model_kind: Mapped[BudgetModelKind] = mapped_column(_enum(BudgetModelKind, 24))
    # The calculation (for the city-wide pot: count 0, rate 0, a fixed amount).
    basis: Mapped[RateBasis | None] = mapped_column(_enum(RateBasis, 16))
    basis_count: Mapped[int] = mapped_column(default=0)
    population_year: Mapped[int | None]
    rate_millicents: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    municipality: Mapped[Municipality] = relationship()
    area: Mapped[Area | None] = relationship()
    accounts: Mapped[list[BudgetAccount]] = relationship(
        back_populates="period", order_by="BudgetAccount.id"
    )

    @property
    def starts_on(self) -> date:
        return period_dates(self.year, self.half)[0]

    @property
    def ends_on(self) -> date:
        return period_dates(self.year, self.half)[1]

    @property
    def label(self) -> str:
        return str(self.year) if self.half == 0 else f"{self.year}-{self.half}"

    def account(self, kind: AccountKind) -> BudgetAccount | None:
        return next((a for a in self.accounts if a.kind is kind), None)

    def __repr__(self) -> str:
        return f"<BudgetPeriod {self.area_id} {self.label}>"


class BudgetAccount(db.Model):
    """A pot of money within a period: the area pot, its bottleneck fund (knelpuntenpot) or
    the city-wide pot. ``lock_version`` exists to be bumped as the first statement of every
    money operation, which locks the row (see services.ledger.locked_account)."""

    __tablename__ = "budget_account"
    __table_args__ = (UniqueConstraint("period_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("budget_period.id"), index=True)
    kind: Mapped[AccountKind] = mapped_column(_enum(AccountKind, 12))
    lock_version: Mapped[int] = mapped_column(BigInteger, default=0)

    period: Mapped[BudgetPeriod] = relationship(back_populates="accounts")

    def __repr__(self) -> str:
        return f"<BudgetAccount {self.id} {self.kind}>"


class LedgerEntry(db.Model):
    """One movement of money. Never changed or deleted: corrections are new entries."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "kind <> 'cheque_redemption' OR initiative_id IS NOT NULL",
            name="redemption_has_initiative",
        ),
        Index("ix_ledger_entry_account_kind", "account_id", "kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("budget_account.id"))
    kind: Mapped[EntryKind] = mapped_column(_enum(EntryKind, 20))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    initiative_id: Mapped[int | None] = mapped_column(ForeignKey("initiative.id"), index=True)
    # For direct spending without an initiative (e.g. from the knelpuntenpot).
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("theme.id"))
    spend_kind: Mapped[SpendKind | None] = mapped_column(_enum(SpendKind, 10))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_decision.id"))
    payout_request_id: Mapped[int | None] = mapped_column(ForeignKey("payout_request.id"))
    cheque_count: Mapped[int | None]  # for cheque issues and expiries: how many cheques
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    memo: Mapped[str] = mapped_column(String(300), default="")

    account: Mapped[BudgetAccount] = relationship()
    initiative: Mapped[Initiative | None] = relationship()
    theme: Mapped[Theme | None] = relationship()
    actor: Mapped[User | None] = relationship()


class LedgerIsAppendOnly(RuntimeError):
    pass


refuse_orm_changes(LedgerEntry, LedgerIsAppendOnly, "ledger entries")


class CouncilMeeting(db.Model):
    """A public meeting of an area council (Zaanstad: at least four a year)."""

    __tablename__ = "council_meeting"
    __table_args__ = (CheckConstraint("attendees_count >= 0", name="attendees_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    held_on: Mapped[date]
    attendees_count: Mapped[int]
    location: Mapped[str] = mapped_column(String(120), default="")
    minutes: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    area: Mapped[Area] = relationship()
    decisions: Mapped[list[MeetingDecision]] = relationship(
        back_populates="meeting", order_by="MeetingDecision.id"
    )
    # The council members present, by name: a decision needs a quorum of them.
    present_members: Mapped[list[User]] = relationship(
        secondary="meeting_attendance", order_by="User.display_name"
    )


class MeetingAttendance(db.Model):
    """A council member present at a council meeting (the quorum is counted from these)."""

    __tablename__ = "meeting_attendance"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("council_meeting.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)


class MeetingDecision(db.Model):
    """A decision taken in a council meeting; with an amount it commits area money."""

    __tablename__ = "meeting_decision"
    __table_args__ = (
        CheckConstraint("amount_cents >= 0", name="amount_non_negative"),
        CheckConstraint(
            "amount_cents = 0 OR spend_kind IS NOT NULL", name="spending_is_physical_or_social"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("council_meeting.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    spend_kind: Mapped[SpendKind | None] = mapped_column(_enum(SpendKind, 10))
    initiative_id: Mapped[int | None] = mapped_column(ForeignKey("initiative.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("budget_account.id"))

    meeting: Mapped[CouncilMeeting] = relationship(back_populates="decisions")
    initiative: Mapped[Initiative | None] = relationship()


class Cheque(db.Model):
    """One household's cheque for one period (Ede). Redeemable once, on one initiative."""

    __tablename__ = "cheque"
    __table_args__ = (
        UniqueConstraint("account_id", "postcode", "house_number", "house_addition"),
        CheckConstraint("value_cents > 0", name="value_positive"),
        CheckConstraint(
            "(redeemed_at IS NULL AND initiative_id IS NULL)"
            " OR (redeemed_at IS NOT NULL AND initiative_id IS NOT NULL)",
            name="redeemed_on_initiative",
        ),
        CheckConstraint("redeemed_at IS NULL OR expired_at IS NULL", name="redeemed_or_expired"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("budget_account.id"), index=True)
    # Only the sha256 of the code (services.cheques.cheque_hash): the code itself exists in
    # clear only on the letter printed when it was issued.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    postcode: Mapped[str] = mapped_column(String(6))
    house_number: Mapped[int]
    house_addition: Mapped[str] = mapped_column(String(8), default="")
    value_cents: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_on: Mapped[date]
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    initiative_id: Mapped[int | None] = mapped_column(ForeignKey("initiative.id"), index=True)
    # Set when the expiry run returned its value (it was never redeemed).
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[BudgetAccount] = relationship()
    initiative: Mapped[Initiative | None] = relationship()

    @property
    def address(self) -> str:
        postcode = f"{self.postcode[:4]} {self.postcode[4:]}"
        return f"{postcode}, {self.house_number}{self.house_addition}"


class PayoutStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for a coordinator
    AWAITING_SECOND = "awaiting_second"  # approved once; above the threshold a second is needed
    PAID = "paid"  # approved (once or twice) and booked in the ledger
    REJECTED = "rejected"


class PayoutRequest(db.Model):
    """An initiator asks for (part of) the granted money, with receipts."""

    __tablename__ = "payout_request"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "second_approver_id IS NULL OR second_approver_id <> first_approver_id",
            name="four_eyes",
        ),
        CheckConstraint(
            "status <> 'rejected' OR rejection_reason IS NOT NULL", name="rejected_with_reason"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(ForeignKey("initiative.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("budget_account.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(1000))
    status: Mapped[PayoutStatus] = mapped_column(
        _enum(PayoutStatus, 16), default=PayoutStatus.PENDING, index=True
    )
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_approver_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    first_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    second_approver_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    second_approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(String(1000))

    initiative: Mapped[Initiative] = relationship()
    account: Mapped[BudgetAccount] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    first_approver: Mapped[User | None] = relationship(foreign_keys=[first_approver_id])
    second_approver: Mapped[User | None] = relationship(foreign_keys=[second_approver_id])
    rejected_by: Mapped[User | None] = relationship(foreign_keys=[rejected_by_id])
    receipts: Mapped[list[Attachment]] = relationship(
        secondary="payout_receipt", order_by="Attachment.id"
    )


class DirectSpending(db.Model):
    """Direct spending (no initiative, e.g. urgent spending from the knelpuntenpot) from the
    second-approver threshold up: a coordinator asks with a receipt, another approves, and
    only then is it booked in the ledger (services.direct_spending)."""

    __tablename__ = "direct_spending"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "approved_by_id IS NULL OR approved_by_id <> requested_by_id", name="four_eyes"
        ),
        CheckConstraint(
            "status <> 'rejected' OR rejection_reason IS NOT NULL", name="rejected_with_reason"
        ),
        CheckConstraint("receipt_size_bytes > 0", name="receipt_present"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("budget_account.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(300))
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("theme.id"))
    status: Mapped[PayoutStatus] = mapped_column(
        _enum(PayoutStatus, 16), default=PayoutStatus.AWAITING_SECOND, index=True
    )
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(String(1000))
    # The receipt, stored like attachments (random name under the upload folder).
    receipt_stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    receipt_original_name: Mapped[str] = mapped_column(String(200))
    receipt_content_type: Mapped[str] = mapped_column(String(40))
    receipt_size_bytes: Mapped[int]

    account: Mapped[BudgetAccount] = relationship()
    theme: Mapped[Theme | None] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    rejected_by: Mapped[User | None] = relationship(foreign_keys=[rejected_by_id])


class PayoutReceipt(db.Model):
    """A receipt (an attachment of the initiative) belonging to a payout request."""

    __tablename__ = "payout_receipt"

    payout_request_id: Mapped[int] = mapped_column(
        ForeignKey("payout_request.id"), primary_key=True
    )
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachment.id"), primary_key=True)


class ProgrammeLine(db.Model):
    """A line of a Delft area programme: an indicative amount for a theme or an initiative.
    Indicative only: the ledger holds the money."""

    __tablename__ = "programme_line"
    __table_args__ = (
        CheckConstraint("indicative_cents >= 0", name="indicative_non_negative"),
        CheckConstraint(
            "theme_id IS NOT NULL OR initiative_id IS NOT NULL", name="theme_or_initiative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("budget_period.id"), index=True)
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("theme.id"))
    initiative_id: Mapped[int | None] = mapped_column(ForeignKey("initiative.id"))
    indicative_cents: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(300), default="")

    period: Mapped[BudgetPeriod] = relationship()
    theme: Mapped[Theme | None] = relationship()
    initiative: Mapped[Initiative | None] = relationship()


class AreaReport(db.Model):
    """The coordinator's account of a finished period (wijkverslag). The figures are not
    stored: they are computed from the ledger whenever the report is shown."""

    __tablename__ = "area_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("budget_period.id"), unique=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    period: Mapped[BudgetPeriod] = relationship()
    published_by: Mapped[User | None] = relationship()
