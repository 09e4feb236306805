"""scorecards plugin: schemes (versioned rule sets), periods, actuals, results, bancassurance policies

Revision ID: 0001_scorecards
Revises:
Create Date: 2026-12-02 03:51:27.982358

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0001_scorecards'
down_revision = None
branch_labels = ('scorecards',)
depends_on = '0004_workdays'  # by hand (Flask-Migrate has no --depends-on): the core tables


def upgrade():
    op.create_table('scorecards_period',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('supersedes_id', sa.Integer(), nullable=True),
    sa.Column('superseded', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('correction_reason', sa.Text(), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=True),
    sa.Column('computed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('locked_at', sa.DateTime(), nullable=True),
    sa.Column('locked_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_scorecards_period_branch_id_branch')),
    sa.ForeignKeyConstraint(['computed_by_id'], ['user_account.id'], name=op.f('fk_scorecards_period_computed_by_id_user_account')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_scorecards_period_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['locked_by_id'], ['user_account.id'], name=op.f('fk_scorecards_period_locked_by_id_user_account')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user_account.id'], name=op.f('fk_scorecards_period_reviewed_by_id_user_account')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['scorecards_period.id'], name=op.f('fk_scorecards_period_supersedes_id_scorecards_period')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecards_period')),
    sa.UniqueConstraint('branch_id', 'kind', 'starts_on', 'revision', name='uq_scorecards_period_revision')
    )
    with op.batch_alter_table('scorecards_period', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scorecards_period_branch_id'), ['branch_id'], unique=False)

    op.create_table('scorecards_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('policy_no', sa.String(length=40), nullable=False),
    sa.Column('seller_id', sa.Integer(), nullable=True),
    sa.Column('insurer_name', sa.String(length=100), nullable=True),
    sa.Column('insurer_rm', sa.String(length=50), nullable=True),
    sa.Column('customer_name', sa.String(length=100), nullable=True),
    sa.Column('payment_mode', sa.String(length=10), nullable=False),
    sa.Column('premium', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('fyc', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('counter_type', sa.String(length=10), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('status_changed_on', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_scorecards_policy_branch_id_branch')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_scorecards_policy_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_scorecards_policy_outlet_id_outlet')),
    sa.ForeignKeyConstraint(['seller_id'], ['user_account.id'], name=op.f('fk_scorecards_policy_seller_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecards_policy')),
    sa.UniqueConstraint('branch_id', 'policy_no', name='uq_scorecards_policy_no')
    )
    with op.batch_alter_table('scorecards_policy', schema=None) as batch_op:
        batch_op.create_index('ix_scorecards_policy_outlet_id', ['outlet_id', 'signed_on'], unique=False)
        batch_op.create_index('ix_scorecards_policy_signed_on', ['branch_id', 'signed_on'], unique=False)

    op.create_table('scorecards_scheme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('subject', sa.String(length=10), nullable=False),
    sa.Column('posts', sa.JSON(), nullable=False),
    sa.Column('grades', sa.JSON(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('based_on_id', sa.Integer(), nullable=True),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['based_on_id'], ['scorecards_scheme.id'], name=op.f('fk_scorecards_scheme_based_on_id_scorecards_scheme')),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_scorecards_scheme_branch_id_branch')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_scorecards_scheme_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecards_scheme')),
    sa.UniqueConstraint('branch_id', 'code', 'revision', name='uq_scorecards_scheme_code_revision')
    )
    with op.batch_alter_table('scorecards_scheme', schema=None) as batch_op:
        batch_op.create_index('ix_scorecards_scheme_branch_id', ['branch_id', 'code'], unique=False)

    op.create_table('scorecards_actual',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=10), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('outlet_id', sa.Integer(), nullable=True),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Numeric(precision=20, scale=6), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_scorecards_actual_branch_id_branch')),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_scorecards_actual_outlet_id_outlet')),
    sa.ForeignKeyConstraint(['period_id'], ['scorecards_period.id'], name=op.f('fk_scorecards_actual_period_id_scorecards_period'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_scorecards_actual_updated_by_id_user_account')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_scorecards_actual_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecards_actual')),
    sa.UniqueConstraint('period_id', 'subject', 'subject_id', 'code', name='uq_scorecards_actual_subject_code')
    )
    with op.batch_alter_table('scorecards_actual', schema=None) as batch_op:
        batch_op.create_index('ix_scorecards_actual_outlet_id', ['outlet_id'], unique=False)

    op.create_table('scorecards_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period_id', sa.Integer(), nullable=False),
    sa.Column('scheme_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=10), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('outlet_id', sa.Integer(), nullable=True),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('total', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=True),
    sa.Column('missing', sa.JSON(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['branch.id'], name=op.f('fk_scorecards_result_branch_id_branch')),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlet.id'], name=op.f('fk_scorecards_result_outlet_id_outlet')),
    sa.ForeignKeyConstraint(['period_id'], ['scorecards_period.id'], name=op.f('fk_scorecards_result_period_id_scorecards_period'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scheme_id'], ['scorecards_scheme.id'], name=op.f('fk_scorecards_result_scheme_id_scorecards_scheme')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_scorecards_result_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecards_result')),
    sa.UniqueConstraint('period_id', 'scheme_id', 'subject', 'subject_id', name='uq_scorecards_result_subject')
    )
    with op.batch_alter_table('scorecards_result', schema=None) as batch_op:
        batch_op.create_index('ix_scorecards_result_outlet_id', ['outlet_id'], unique=False)
        batch_op.create_index('ix_scorecards_result_rank', ['period_id', 'scheme_id', 'rank', 'id'], unique=False)
        batch_op.create_index('ix_scorecards_result_user_id', ['user_id'], unique=False)



def downgrade():
    with op.batch_alter_table('scorecards_result', schema=None) as batch_op:
        batch_op.drop_index('ix_scorecards_result_user_id')
        batch_op.drop_index('ix_scorecards_result_rank')
        batch_op.drop_index('ix_scorecards_result_outlet_id')

    op.drop_table('scorecards_result')
    with op.batch_alter_table('scorecards_actual', schema=None) as batch_op:
        batch_op.drop_index('ix_scorecards_actual_outlet_id')

    op.drop_table('scorecards_actual')
    with op.batch_alter_table('scorecards_scheme', schema=None) as batch_op:
        batch_op.drop_index('ix_scorecards_scheme_branch_id')

    op.drop_table('scorecards_scheme')
    with op.batch_alter_table('scorecards_policy', schema=None) as batch_op:
        batch_op.drop_index('ix_scorecards_policy_signed_on')
        batch_op.drop_index('ix_scorecards_policy_outlet_id')

    op.drop_table('scorecards_policy')
    with op.batch_alter_table('scorecards_period', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scorecards_period_branch_id'))

    op.drop_table('scorecards_period')
