"""voting: a ballot's choices in its own row (project_ids, points), no ballot_choice table

Revision ID: a3d5f7b9c1e2
Revises: c4e8a1d2f6b3
Create Date: 2026-12-05 23:30:00

A million-ballot import paid two foreign-key checks per choice (two thirds of its database
time); as arrays in the ballot's row the choices are written and read with the ballot. On
PostgreSQL, CHECK constraints and a statement trigger take over what the foreign keys and
the primary key checked (a copy of models/ballot_choices.py as it was at this revision). The
ballot keys sort bytewise on PostgreSQL too, and an index gives a round's ballots in that
order, which counting reads them in.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "a3d5f7b9c1e2"
down_revision = "c4e8a1d2f6b3"
branch_labels = None
depends_on = None

CHECKS = {
    "project_ids_plain": "array_position(project_ids, NULL) IS NULL"
    " AND coalesce(array_ndims(project_ids), 1) = 1",
    "points_match": "points IS NULL OR (array_position(points, NULL) IS NULL"
    " AND cardinality(points) = cardinality(project_ids) AND 1 <= ALL (points))",
}

CREATE_FUNCTION = """
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
TRIGGERS = ("INSERT", "UPDATE")

# SQLite: the ballots are stored WITHOUT ROWID (in the order of their random keys); a batch
# rebuild must keep that.
SQLITE_TABLE = {"sqlite_with_rowid": False}


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    postgresql_db = _postgresql()
    array = postgresql.ARRAY(sa.Integer()) if postgresql_db else sa.Text()
    with op.batch_alter_table("ballot", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_ids", array, nullable=True))
        batch_op.add_column(sa.Column("points", array, nullable=True))
    if postgresql_db:
        op.execute(
            "UPDATE ballot SET project_ids = c.project_ids, points = c.points"
            " FROM (SELECT ballot_id, array_agg(project_id ORDER BY project_id) AS project_ids,"
            " CASE WHEN bool_and(points = 1) THEN NULL"
            " ELSE array_agg(points ORDER BY project_id) END AS points"
            " FROM ballot_choice GROUP BY ballot_id) AS c WHERE c.ballot_id = ballot.id"
        )
        op.execute("UPDATE ballot SET project_ids = '{}' WHERE project_ids IS NULL")
    else:
        # group_concat follows the order of the ordered subquery it reads.
        op.execute(
            "UPDATE ballot SET project_ids = coalesce((SELECT group_concat(project_id, ',')"
            " FROM (SELECT project_id FROM ballot_choice WHERE ballot_id = ballot.id"
            " ORDER BY project_id)), ''),"
            " points = CASE WHEN EXISTS (SELECT 1 FROM ballot_choice"
            " WHERE ballot_id = ballot.id AND points != 1) THEN (SELECT group_concat(points, ',')"
            " FROM (SELECT points FROM ballot_choice WHERE ballot_id = ballot.id"
            " ORDER BY project_id)) END"
        )
    with op.batch_alter_table("ballot", schema=None, table_kwargs=SQLITE_TABLE) as batch_op:
        batch_op.alter_column("project_ids", existing_type=array, nullable=False)
    with op.batch_alter_table("ballot_choice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ballot_choice_project_id"))
    op.drop_table("ballot_choice")
    with op.batch_alter_table("ballot", schema=None, table_kwargs=SQLITE_TABLE) as batch_op:
        batch_op.create_index("ix_ballot_round_id_key", ["round_id", "id"], unique=False)
    if postgresql_db:
        # Keys in byte order, as Python and SQLite order them (voting.election reads a round's
        # ballots in that order, from the index below, without a sort).
        op.alter_column(
            "ballot",
            "id",
            existing_type=sa.String(length=32),
            type_=sa.String(length=32, collation="C"),
        )
        for name, condition in CHECKS.items():
            op.create_check_constraint(op.f(f"ck_ballot_{name}"), "ballot", condition)
        op.execute(CREATE_FUNCTION)
        for event in TRIGGERS:
            name = f"ballot_choices_on_{event.lower()}"
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON ballot"
                " REFERENCING NEW TABLE AS new_ballots"
                " FOR EACH STATEMENT EXECUTE FUNCTION buurtbudget_check_ballot_choices()"
            )


def _sqlite_choices() -> list[dict]:
    """SQLite: every ballot's choices as rows of the ballot_choice table."""
    rows = []
    for ballot_id, project_ids, points in op.get_bind().execute(
        sa.text("SELECT id, project_ids, points FROM ballot")
    ):
        chosen = [int(n) for n in project_ids.split(",") if n]
        given = [int(n) for n in points.split(",")] if points else [1] * len(chosen)
        rows += [
            {"b": ballot_id, "p": pid, "v": value} for pid, value in zip(chosen, given, strict=True)
        ]
    return rows


def _create_choice_table() -> None:
    op.create_table(
        "ballot_choice",
        sa.Column("ballot_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.CheckConstraint("points >= 1", name=op.f("ck_ballot_choice_points_positive")),
        sa.ForeignKeyConstraint(
            ["ballot_id"],
            ["ballot.id"],
            name=op.f("fk_ballot_choice_ballot_id_ballot"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["round_project.id"],
            name=op.f("fk_ballot_choice_project_id_round_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ballot_id", "project_id", name=op.f("pk_ballot_choice")),
        **SQLITE_TABLE,
    )
    with op.batch_alter_table("ballot_choice", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ballot_choice_project_id"), ["project_id"], unique=False
        )


def _drop_choice_columns() -> None:
    with op.batch_alter_table("ballot", schema=None, table_kwargs=SQLITE_TABLE) as batch_op:
        batch_op.drop_index("ix_ballot_round_id_key")
        batch_op.drop_column("points")
        batch_op.drop_column("project_ids")


def downgrade():
    if _postgresql():
        for event in TRIGGERS:
            op.execute(f"DROP TRIGGER ballot_choices_on_{event.lower()} ON ballot")
        op.execute("DROP FUNCTION buurtbudget_check_ballot_choices()")
        for name in CHECKS:
            op.drop_constraint(op.f(f"ck_ballot_{name}"), "ballot", type_="check")
        op.alter_column(
            "ballot",
            "id",
            existing_type=sa.String(length=32, collation="C"),
            type_=sa.String(length=32),
        )
        _create_choice_table()
        op.execute(
            "INSERT INTO ballot_choice (ballot_id, project_id, points)"
            " SELECT b.id, c.project_id, coalesce(b.points[c.n], 1)"
            " FROM ballot AS b CROSS JOIN LATERAL unnest(b.project_ids)"
            " WITH ORDINALITY AS c(project_id, n)"
        )
        _drop_choice_columns()
        return
    # SQLite: the choices are read, the ballot table rebuilt without them, and the rows of
    # the new ballot_choice table written.
    rows = _sqlite_choices()
    _drop_choice_columns()
    _create_choice_table()
    if rows:
        op.get_bind().execute(
            sa.text(
                "INSERT INTO ballot_choice (ballot_id, project_id, points) VALUES (:b, :p, :v)"
            ),
            rows,
        )
