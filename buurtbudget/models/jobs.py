"""Background jobs: a step that can take longer than a web request may (counting, exporting or
publishing a large round) is a row here, done by ``flask jobs work`` or, in the demo, by a
thread of the web process (services/jobs.py)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from buurtbudget.extensions import db
from buurtbudget.models._base import UTCDateTime, utcnow
from buurtbudget.models.user import User
from buurtbudget.models.voting import VotingRound


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class BackgroundJob(db.Model):
    """One long step on a round (or an import that makes one), asked for by a staff member,
    who it runs as."""

    __tablename__ = "background_job"
    __table_args__ = (Index("ix_background_job_claim", "status", "lease_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # "round.close", "round.export", "round.publish", "round.import" (services.jobs.STEPS).
    kind: Mapped[str] = mapped_column(String(30))
    # The round it works on; an import's is the round it made, empty until it has.
    round_id: Mapped[int | None] = mapped_column(
        ForeignKey("voting_round.id", ondelete="CASCADE"), index=True
    )
    # An import's municipality (whose administrators may follow it) and what was asked
    # (the stored upload's name, the area, the rule, the file's own name); for an import whose
    # file was refused also "failure": the problem as data (services.file_messages.failure).
    municipality_id: Mapped[int | None] = mapped_column(
        ForeignKey("municipality.id", ondelete="CASCADE")
    )
    params: Mapped[dict | None] = mapped_column(JSON)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[JobStatus] = mapped_column(
        Enum(
            JobStatus,
            native_enum=False,
            length=10,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=JobStatus.QUEUED,
    )
    # What the job is doing ("reading", "counting", "writing", ...) and how far it is, in
    # ballots; written by the job as it goes, read by the job's page.
    step: Mapped[str] = mapped_column(String(30), default="")
    done: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    # Why it failed, for the page (a refusal of the step itself); empty for an unexpected
    # error, which is logged with its traceback and shown as a general message.
    message: Mapped[str | None] = mapped_column(String(500))
    # The file it made (an export), relative to the jobs' result folder.
    result_file: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(default=0)
    # A running job whose worker has not reported before this moment is taken to have died.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    voting_round: Mapped[VotingRound | None] = relationship()
    requested_by: Mapped[User] = relationship()

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)
