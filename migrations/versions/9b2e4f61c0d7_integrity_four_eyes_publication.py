"""integrity: four-eyes publication of round results

Revision ID: 9b2e4f61c0d7
Revises: 6f51b5b0b2f1
Create Date: 2026-12-04 21:35:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "9b2e4f61c0d7"
down_revision = "6f51b5b0b2f1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("voting_round", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("publication_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("publication_requested_by_id", sa.Integer(), nullable=True)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_voting_round_publication_requested_by_id_user_account"),
            "user_account",
            ["publication_requested_by_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("voting_round", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_voting_round_publication_requested_by_id_user_account"),
            type_="foreignkey",
        )
        batch_op.drop_column("publication_requested_by_id")
        batch_op.drop_column("publication_requested_at")
