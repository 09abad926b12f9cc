"""cheque codes stored only as their sha256

Revision ID: e4a7c2d9f1b3
Revises: 9b2e4f61c0d7
Create Date: 2026-12-04 23:40:00

The data step hashes every existing code the way services.cheques.cheque_hash does (copied
here: a migration must not change when the app's code does). The clear codes cannot come
back on a downgrade: it fills the old column with a placeholder that is no valid code, so
those cheques need a reprint.
"""

import hashlib

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e4a7c2d9f1b3"
down_revision = "9b2e4f61c0d7"
branch_labels = None
depends_on = None

cheque = sa.table(
    "cheque",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("code_hash", sa.String),
)


def _cheque_hash(code: str) -> str:
    return hashlib.sha256(b"cheque:" + code.encode()).hexdigest()


def upgrade():
    with op.batch_alter_table("cheque", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_hash", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(cheque.c.id, cheque.c.code)).all()
    if rows:
        connection.execute(
            cheque.update().where(cheque.c.id == sa.bindparam("cheque_id")),
            [{"cheque_id": row.id, "code_hash": _cheque_hash(row.code)} for row in rows],
        )
    with op.batch_alter_table("cheque", schema=None) as batch_op:
        batch_op.alter_column("code_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_cheque_code_hash"), ["code_hash"])
        batch_op.drop_constraint(batch_op.f("uq_cheque_code"), type_="unique")
        batch_op.drop_column("code")


def downgrade():
    with op.batch_alter_table("cheque", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=20), nullable=True))
    connection = op.get_bind()
    connection.execute(cheque.update().values(code=sa.literal("VOID") + sa.cast(cheque.c.id, sa.String)))
    with op.batch_alter_table("cheque", schema=None) as batch_op:
        batch_op.alter_column("code", existing_type=sa.String(length=20), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_cheque_code"), ["code"])
        batch_op.drop_constraint(batch_op.f("uq_cheque_code_hash"), type_="unique")
        batch_op.drop_column("code_hash")
