"""scorecards plugin: pools and inputs entered for the 绩效分配 page (scorecards_pool)

Revision ID: 0003_scorecards_pools
Revises: 0002_scorecards_grades
Create Date: 2026-12-02 04:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003_scorecards_pools'
down_revision = '0002_scorecards_grades'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scorecards_pool',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_scorecards_pool_outlet_id_outlet')),
    sa.ForeignKeyConstraint(['period_id'], ['scorecards_period.id'], name=op.f('fk_scorecards_pool_period_id_scorecards_period'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_scorecards_pool_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecards_pool')),
    sa.UniqueConstraint('period_id', 'outlet_id', 'kind', name='uq_scorecards_pool_kind')
    )
    with op.batch_alter_table('scorecards_pool', schema=None) as batch_op:
        batch_op.create_index('ix_scorecards_pool_outlet_id', ['outlet_id'], unique=False)


def downgrade():
    with op.batch_alter_table('scorecards_pool', schema=None) as batch_op:
        batch_op.drop_index('ix_scorecards_pool_outlet_id')

    op.drop_table('scorecards_pool')
