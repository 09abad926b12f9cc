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
from buurtbudget.models.user import Role, RoleAssignment, User

__all__ = [
    "AGE_BANDS",
    "Area",
    "AreaPopulation",
    "AuditEntry",
    "Municipality",
    "Neighbourhood",
    "PostcodeRange",
    "Role",
    "RoleAssignment",
    "User",
]
