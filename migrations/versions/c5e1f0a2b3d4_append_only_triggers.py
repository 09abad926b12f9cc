"""append-only triggers on audit_entry and ledger_entry (PostgreSQL)

Hand-written: Alembic's autogenerate does not see triggers. The SQL is kept in one place,
buurtbudget/models/append_only.py, which also attaches it to db.create_all().

Revision ID: c5e1f0a2b3d4
Revises: 1a659a8b7781
Create Date: 2026-11-24 10:00:00

"""
from alembic import op

from buurtbudget.models.append_only import APPEND_ONLY_TABLES, create_statements, drop_statements

# revision identifiers, used by Alembic.
revision = 'c5e1f0a2b3d4'
down_revision = '1a659a8b7781'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in APPEND_ONLY_TABLES:
        for statement in create_statements(table):
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in APPEND_ONLY_TABLES:
        for statement in drop_statements(table):
            op.execute(statement)
