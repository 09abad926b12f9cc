"""voting: the population figures of a round, fixed when voting opens

Revision ID: 3f7c2a9d1e55
Revises: b7d31e5a9c20
Create Date: 2026-12-05 00:15:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "3f7c2a9d1e55"
down_revision = "b7d31e5a9c20"
branch_labels = None
depends_on = None


def upgrade():
    # Rounds that opened before this column have none: they keep using the live figures
    # until the next import of figures (or their count, or a first ballot) stores them.
    with op.batch_alter_table("voting_round", schema=None) as batch_op:
        batch_op.add_column(sa.Column("population_figures", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("voting_round", schema=None) as batch_op:
        batch_op.drop_column("population_figures")
