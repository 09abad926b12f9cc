"""voting: the volunteer hours of a round's projects, fixed when voting opens

Revision ID: 8b2e4f6a1c37
Revises: 3f7c2a9d1e55
Create Date: 2026-12-05 00:55:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "8b2e4f6a1c37"
down_revision = "3f7c2a9d1e55"
branch_labels = None
depends_on = None


def upgrade():
    # Rounds that stored their population figures before this column keep using the live
    # hours (voting.services.weighting falls back to them when the column is NULL).
    with op.batch_alter_table("round_project", schema=None) as batch_op:
        batch_op.add_column(sa.Column("volunteer_hours", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("round_project", schema=None) as batch_op:
        batch_op.drop_column("volunteer_hours")
