"""SQLAlchemy models, one module per aggregate. Import them from here."""

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
from buurtbudget.models.user import Role, RoleAssignment, User
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
    "BudgetAccount",
    "BudgetModelConfig",
    "BudgetPeriod",
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
    "PostcodeRange",
    "ProgrammeLine",
    "Role",
    "RoleAssignment",
    "Theme",
    "User",
    "WorkingGroup",
    "WorkingGroupMember",
    "WorkingGroupMessage",
]
