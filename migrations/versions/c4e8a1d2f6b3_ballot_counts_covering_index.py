"""voting: the ballot index by round and area also holds age band and channel

Revision ID: c4e8a1d2f6b3
Revises: 8b2e4f6a1c37
Create Date: 2026-12-05 01:00:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "c4e8a1d2f6b3"
down_revision = "8b2e4f6a1c37"
branch_labels = None
depends_on = None


def upgrade():
    # Replaces ix_ballot_round_area (its prefix): the results page's counts per area, age
    # band and channel then read the index alone, never the wide ballot rows.
    with op.batch_alter_table("ballot", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ballot_round_area_band_channel",
            ["round_id", "area_id", "age_band", "channel"],
            unique=False,
        )
        batch_op.drop_index("ix_ballot_round_area")


def downgrade():
    with op.batch_alter_table("ballot", schema=None) as batch_op:
        batch_op.create_index("ix_ballot_round_area", ["round_id", "area_id"], unique=False)
        batch_op.drop_index("ix_ballot_round_area_band_channel")
