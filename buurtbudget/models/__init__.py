"""SQLAlchemy models, one module per aggregate. Import them from here."""

# Not a model: attaches the PostgreSQL append-only triggers to the audit and ledger tables.
from buurtbudget.models import append_only  # noqa: F401
from buurtbudget.models.audit import AuditEntry
from buurtbudget.models.budget import (
    AreaReport,
    BudgetAccount,
    BudgetModelConfig,
    BudgetPeriod,
    Cheque,
    CouncilMeeting,
    LedgerEntry,
    MeetingDecision,
    PayoutReceipt,
    PayoutRequest,
    PayoutStatus,
    ProgrammeLine,
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
from buurtbudget.models.progress import Milestone, ProgressUpdate, progress_photo
from buurtbudget.models.user import Role, RoleAssignment, User
from buurtbudget.models.voting import (
    Ballot,
    BallotChoice,
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
    "AGE_BANDS",
    "Area",
    "AreaAgenda",
    "AreaPopulation",
    "AreaReport",
    "Attachment",
    "AuditEntry",
    "Ballot",
    "BallotChoice",
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
