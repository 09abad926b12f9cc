"""append-only triggers on audit_entry and ledger_entry (PostgreSQL)

Hand-written: Alembic's autogenerate does not see triggers. The same SQL is attached to
db.create_all() in buurtbudget/models/append_only.py; it is copied here (not imported) so this
migration keeps meaning what it meant when it was written, whatever the app code becomes.

Revision ID: c5e1f0a2b3d4
Revises: 1a659a8b7781
Create Date: 2026-11-23 02:30:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "c5e1f0a2b3d4"
down_revision = "1a659a8b7781"
branch_labels = None
depends_on = None

TABLES = ("audit_entry", "ledger_entry")
FUNCTION = "buurtbudget_refuse_change"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION 'rows of table % are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$body$
"""
    )
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
