"""integrity: council quorum and attendance by name

Revision ID: 7d3c9e21a4b5
Revises: c5e1f0a2b3d4
Create Date: 2026-12-04 21:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7d3c9e21a4b5"
down_revision = "c5e1f0a2b3d4"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("budget_model_config", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("council_quorum", sa.Integer(), nullable=False, server_default="3")
        )
        batch_op.create_check_constraint(
            op.f("ck_budget_model_config_council_quorum_two_or_more"), "council_quorum >= 2"
        )
    op.create_table(
        "meeting_attendance",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["council_meeting.id"],
            name=op.f("fk_meeting_attendance_meeting_id_council_meeting"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_meeting_attendance_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("meeting_id", "user_id", name=op.f("pk_meeting_attendance")),
    )


def downgrade():
    op.drop_table("meeting_attendance")
    with op.batch_alter_table("budget_model_config", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("ck_budget_model_config_council_quorum_two_or_more"), type_="check"
        )
        batch_op.drop_column("council_quorum")
