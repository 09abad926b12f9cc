"""SQLAlchemy models, one module per aggregate. Import them from here."""

# Not models: attach the PostgreSQL triggers (append-only audit and ledger, ballot choices).
from buurtbudget.models import append_only, ballot_choices  # noqa: F401
from buurtbudget.models.audit import AuditEntry
from buurtbudget.models.budget import (
    AreaReport,
    BudgetAccount,
    BudgetModelConfig,
    BudgetPeriod,
    Cheque,
    CouncilMeeting,
    DirectSpending,
    LedgerEntry,
    MeetingAttendance,
    MeetingDecision,
    PayoutReceipt,
    PayoutRequest,
    PayoutStatus,
    ProgrammeLine,
)
from buurtbudget.models.electorate import (
    Address,
    Elector,
    PaperBallotKeying,
    PaperBallotSheet,
)
from buurtbudget.models.geo import (
    AGE_BANDS,
    Area,
    AreaPopulation,
    Municipality,
    Neighbourhood,
    PostcodeRange,
)
from buurtbudget.models.initiative import (
    AreaAgenda,
    Attachment,
    Comment,
    CommentReport,
    Initiative,
    InitiativeStatusChange,
    Notification,
    Theme,
)
from buurtbudget.models.jobs import BackgroundJob, JobStatus
from buurtbudget.models.mail import AccountToken, OutgoingMail, RoundAnnouncement, TokenPurpose
from buurtbudget.models.progress import Milestone, ProgressUpdate, progress_photo
from buurtbudget.models.user import Role, RoleAssignment, User
from buurtbudget.models.voting import (
    Ballot,
    Channel,
    Phase,
    RoundProject,
    RoundSource,
    VoterRecord,
    VotingCode,
    VotingRound,
)
from buurtbudget.models.working_group import (
    WorkingGroup,
    WorkingGroupMember,
    WorkingGroupMessage,
)

__all__ = [
    "AccountToken",
    "BackgroundJob",
    "JobStatus",
    "OutgoingMail",
    "RoundAnnouncement",
    "TokenPurpose",
    "Address",
    "Elector",
    "PaperBallotKeying",
    "PaperBallotSheet",
    "AGE_BANDS",
    "Area",
    "AreaAgenda",
    "AreaPopulation",
    "AreaReport",
    "Attachment",
    "AuditEntry",
    "Ballot",
    "BudgetAccount",
    "BudgetModelConfig",
    "BudgetPeriod",
    "Channel",
    "Cheque",
    "Comment",
    "CommentReport",
    "CouncilMeeting",
    "Initiative",
    "InitiativeStatusChange",
    "LedgerEntry",
    "DirectSpending",
    "MeetingAttendance",
    "MeetingDecision",
    "Municipality",
    "Neighbourhood",
    "Notification",
    "PayoutReceipt",
    "PayoutRequest",
    "PayoutStatus",
    "Phase",
    "PostcodeRange",
    "ProgrammeLine",
    "Milestone",
    "ProgressUpdate",
    "progress_photo",
    "Role",
    "RoleAssignment",
    "RoundProject",
    "RoundSource",
    "Theme",
    "User",
    "VoterRecord",
    "VotingCode",
    "VotingRound",
    "WorkingGroup",
    "WorkingGroupMember",
    "WorkingGroupMessage",
]
