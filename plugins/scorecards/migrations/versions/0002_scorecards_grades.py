"""scorecards plugin: customer-manager grade events (provisional 初级, exam passed, separation notice, assistant facts)

Revision ID: 0002_scorecards_grades
Revises: 0001_scorecards
Create Date: 2026-12-02 04:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002_scorecards_grades'
down_revision = '0001_scorecards'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scorecards_grade_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('outlet_id', sa.Integer(), nullable=True),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_scorecards_grade_event_branch_id_branch')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_scorecards_grade_event_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_scorecards_grade_event_outlet_id_outlet')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_scorecards_grade_event_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecards_grade_event'))
    )
    with op.batch_alter_table('scorecards_grade_event', schema=None) as batch_op:
        batch_op.create_index('ix_scorecards_grade_event_outlet_id', ['outlet_id'], unique=False)
        batch_op.create_index('ix_scorecards_grade_event_user_id', ['user_id', 'on', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('scorecards_grade_event', schema=None) as batch_op:
        batch_op.drop_index('ix_scorecards_grade_event_user_id')
        batch_op.drop_index('ix_scorecards_grade_event_outlet_id')

    op.drop_table('scorecards_grade_event')
