"""SQLAlchemy models, one module per aggregate. Import them from here."""

from buurtbudget.models.audit import AuditEntry
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
    "Attachment",
    "AuditEntry",
    "Comment",
    "CommentReport",
    "Initiative",
    "InitiativeStatusChange",
    "Municipality",
    "Neighbourhood",
    "Notification",
    "PostcodeRange",
    "Role",
    "RoleAssignment",
    "Theme",
    "User",
    "WorkingGroup",
    "WorkingGroupMember",
    "WorkingGroupMessage",
]
