"""import jobs: a background job without a round yet (a pabulib import), with its municipality
and what was asked

Revision ID: b7d31e5a9c20
Revises: 08f204e4b97d
Create Date: 2026-12-05 00:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7d31e5a9c20'
down_revision = '08f204e4b97d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('background_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('municipality_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('params', sa.JSON(), nullable=True))
        batch_op.alter_column('round_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f('fk_background_job_municipality_id_municipality'),
            'municipality',
            ['municipality_id'],
            ['id'],
            ondelete='CASCADE',
        )


def downgrade():
    op.execute("DELETE FROM background_job WHERE round_id IS NULL")
    with op.batch_alter_table('background_job', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_background_job_municipality_id_municipality'), type_='foreignkey'
        )
        batch_op.alter_column('round_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('params')
        batch_op.drop_column('municipality_id')
