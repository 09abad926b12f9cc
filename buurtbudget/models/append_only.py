"""Database-level protection of the append-only tables (audit log and ledger) on PostgreSQL.

The ORM refuses updates and deletes of these rows (models/audit.py, models/budget.py), but a
raw ``UPDATE`` or a script with its own connection would pass the ORM by. On PostgreSQL a row
trigger refuses them in the database itself. ``TRUNCATE`` fires no row trigger, so the test
suite can still empty its tables; only the database owner can truncate anyway.

The SQL lives here: ``db.create_all()`` runs it through the ``after_create`` listeners below;
the migration ``append_only_triggers`` holds a copy of it, so that migration never changes
meaning when this module does. SQLite keeps the ORM-level guard only (the suite empties SQLite
tables with DELETE).
"""

from __future__ import annotations

from sqlalchemy import DDL, event

from buurtbudget.models.audit import AuditEntry
from buurtbudget.models.budget import LedgerEntry

APPEND_ONLY_TABLES = ("audit_entry", "ledger_entry")
FUNCTION = "buurtbudget_refuse_change"

_CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION 'rows of table % are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END
$body$
"""


def _trigger_name(table: str) -> str:
    return f"{table}_append_only"


def create_statements(table: str) -> list[str]:
    """Plain SQL (no DDL escaping) that makes ``table`` append-only on PostgreSQL."""
    return [
        _CREATE_FUNCTION,
        f"DROP TRIGGER IF EXISTS {_trigger_name(table)} ON {table}",
        f"CREATE TRIGGER {_trigger_name(table)} BEFORE UPDATE OR DELETE ON {table}"
        f" FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()",
    ]


def _listen(table) -> None:
    for statement in create_statements(table.name):
        # DDL() %-formats its text: keep the function body's '%' placeholders literal.
        escaped = statement.replace("%", "%%")
        event.listen(table, "after_create", DDL(escaped).execute_if(dialect="postgresql"))


for _table in (AuditEntry.__table__, LedgerEntry.__table__):
    _listen(_table)
