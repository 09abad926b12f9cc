"""integrity: council quorum and attendance by name; direct spending with a second approver

Revision ID: 7d3c9e21a4b5
Revises: 46a5aadf1e53
Create Date: 2026-12-04 21:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7d3c9e21a4b5"
down_revision = "46a5aadf1e53"
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


    op.create_table(
        "direct_spending",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=300), nullable=False),
        sa.Column("theme_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "awaiting_second",
                "paid",
                "rejected",
                name="payoutstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejected_by_id", sa.Integer(), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.String(length=1000), nullable=True),
        sa.Column("receipt_stored_name", sa.String(length=64), nullable=False),
        sa.Column("receipt_original_name", sa.String(length=200), nullable=False),
        sa.Column("receipt_content_type", sa.String(length=40), nullable=False),
        sa.Column("receipt_size_bytes", sa.Integer(), nullable=False),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_direct_spending_amount_positive")),
        sa.CheckConstraint(
            "approved_by_id IS NULL OR approved_by_id <> requested_by_id",
            name=op.f("ck_direct_spending_four_eyes"),
        ),
        sa.CheckConstraint(
            "status <> 'rejected' OR rejection_reason IS NOT NULL",
            name=op.f("ck_direct_spending_rejected_with_reason"),
        ),
        sa.CheckConstraint(
            "receipt_size_bytes > 0", name=op.f("ck_direct_spending_receipt_present")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["budget_account.id"],
            name=op.f("fk_direct_spending_account_id_budget_account"),
        ),
        sa.ForeignKeyConstraint(
            ["approved_by_id"],
            ["user_account.id"],
            name=op.f("fk_direct_spending_approved_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["rejected_by_id"],
            ["user_account.id"],
            name=op.f("fk_direct_spending_rejected_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["user_account.id"],
            name=op.f("fk_direct_spending_requested_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"], ["theme.id"], name=op.f("fk_direct_spending_theme_id_theme")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_direct_spending")),
        sa.UniqueConstraint(
            "receipt_stored_name", name=op.f("uq_direct_spending_receipt_stored_name")
        ),
    )
    with op.batch_alter_table("direct_spending", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_direct_spending_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_direct_spending_status"), ["status"], unique=False)


def downgrade():
    with op.batch_alter_table("direct_spending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_direct_spending_status"))
        batch_op.drop_index(batch_op.f("ix_direct_spending_account_id"))
    op.drop_table("direct_spending")
    op.drop_table("meeting_attendance")
    with op.batch_alter_table("budget_model_config", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("ck_budget_model_config_council_quorum_two_or_more"), type_="check"
        )
        batch_op.drop_column("council_quorum")
