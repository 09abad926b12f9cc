"""Database-level checks of a ballot's choices on PostgreSQL.

A ballot keeps its choices in its own row (``Ballot.project_ids`` and ``Ballot.points``,
see models/voting.py). A foreign key cannot reach into an array, so PostgreSQL checks them
itself, for every way rows get in (the ORM, the ballot box's one-statement cast, COPY, the
shake, a script with its own connection):

* CHECK constraints (on the model): one-dimensional arrays without NULLs, as many points as
  projects, every point at least one;
* a statement trigger after INSERT and after UPDATE, with the statement's new rows as a
  transition table: every ballot's project ids rise strictly (so no project is chosen twice)
  and are projects of the ballot's own round (a foreign key only said "some project").
  One set-based query per statement, not a check per row: a million ballots of four
  choices are checked in about a second, where the per-choice foreign keys of a choice
  table cost two thirds of the import's time.

The SQL lives here: ``db.create_all()`` runs it through the ``after_create`` listener
below; the migration ``ballot_choices_in_the_ballot`` holds a copy of it, so that migration
never changes meaning when this module does. SQLite relies on the writers, which all store
choices through ``models.voting.stored_choices``.
"""

from __future__ import annotations

from sqlalchemy import DDL, event

from buurtbudget.models.voting import Ballot

FUNCTION = "buurtbudget_check_ballot_choices"

_CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION buurtbudget_check_ballot_choices() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
    IF EXISTS (
        SELECT 1
        FROM new_ballots AS b
        CROSS JOIN LATERAL unnest(b.project_ids) WITH ORDINALITY AS chosen(project_id, n)
        WHERE (n > 1 AND chosen.project_id <= b.project_ids[n - 1])
           OR NOT EXISTS (
                SELECT 1 FROM round_project AS p
                WHERE p.id = chosen.project_id AND p.round_id = b.round_id)
    ) THEN
        RAISE EXCEPTION 'a ballot chooses a project twice, out of order or not on its round'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$body$
"""


def create_statements() -> list[str]:
    """Plain SQL (no DDL escaping) that makes PostgreSQL check the ballots' choices."""
    statements = [_CREATE_FUNCTION]
    # One trigger per event: PostgreSQL allows a transition table on single-event triggers only.
    for event_name in ("INSERT", "UPDATE"):
        name = f"ballot_choices_on_{event_name.lower()}"
        statements += [
            f"DROP TRIGGER IF EXISTS {name} ON ballot",
            f"CREATE TRIGGER {name} AFTER {event_name} ON ballot"
            f" REFERENCING NEW TABLE AS new_ballots"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()",
        ]
    return statements


for _statement in create_statements():
    event.listen(
        Ballot.__table__,
        "after_create",
        DDL(_statement.replace("%", "%%")).execute_if(dialect="postgresql"),
    )
