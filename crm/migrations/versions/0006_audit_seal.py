"""audit hash chain: audit_seal, append-only like audit_log

Revision ID: 0006_audit_seal
Revises: 0005_totp
Create Date: 2026-12-02 06:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006_audit_seal'
down_revision = '0005_totp'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_seal',
    sa.Column('audit_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('sealed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('audit_id', name=op.f('pk_audit_seal')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_audit_seal_prev_hash'))
    )
    # Append-only in the database too (same guards as crm/models/audit.py).
    from crm.models.audit import SEAL_PG_GUARDS, SEAL_SQLITE_GUARDS

    dialect = op.get_bind().dialect.name
    for ddl in SEAL_SQLITE_GUARDS if dialect == "sqlite" else SEAL_PG_GUARDS if dialect == "postgresql" else []:
        op.execute(ddl.statement)


def downgrade():
    op.drop_table('audit_seal')  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_seal_append_only()")
