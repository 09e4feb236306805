"""working-day calendar (statutory holidays and make-up workdays)

Revision ID: 0004_workdays
Revises: 0003_customer_profile
Create Date: 2026-12-01 23:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_workdays'
down_revision = '0003_customer_profile'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('workday_calendar',
    sa.Column('day', sa.Date(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('holiday', 'workday')", name=op.f('ck_workday_calendar_kind')),
    sa.CheckConstraint("source IN ('package', 'admin')", name=op.f('ck_workday_calendar_source')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_workday_calendar_updated_by_id_user_account')),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_workday_calendar'))
    )


def downgrade():
    op.drop_table('workday_calendar')
