"""customer name indexes: a Chinese search (name prefix) within an outlet and across the bank; a maintainer's list by name

Revision ID: 0007_customer_name_index
Revises: 0006_audit_seal
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007_customer_name_index'
down_revision = '0006_audit_seal'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.create_index('ix_customer_outlet_name', ['outlet_id', 'name'], unique=False)
        batch_op.create_index('ix_customer_name', ['name'], unique=False)
        batch_op.create_index('ix_customer_maintainer_pinyin_id', ['maintainer_id', 'name_pinyin', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_maintainer_pinyin_id')
        batch_op.drop_index('ix_customer_name')
        batch_op.drop_index('ix_customer_outlet_name')
