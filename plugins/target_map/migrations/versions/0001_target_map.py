"""target_map plugin: the 金融生态图 entries (which customers an outlet put on its map, R-02–R-05)

Revision ID: 0001_target_map
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_target_map"
down_revision = None
branch_labels = ("target_map",)
depends_on = "0003_customer_profile"  # by hand (Flask-Migrate has no --depends-on); core with the customer table


def upgrade():
    op.create_table(
        "target_map_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("outlet_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=4), nullable=True),
        sa.Column("expected_scale", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("tax_rank", sa.Integer(), nullable=True),
        sa.Column("sales_rank", sa.Integer(), nullable=True),
        sa.Column("trade_rank", sa.Integer(), nullable=True),
        sa.Column("plan", sa.Text(), nullable=True),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["added_by_id"], ["user_account.id"],
                                name=op.f("fk_target_map_entry_added_by_id_user_account")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_target_map_entry_customer_id_customer"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["outlet_id"], ["outlet.id"], name=op.f("fk_target_map_entry_outlet_id_outlet")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_target_map_entry")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_target_map_entry_customer_id")),
    )
    with op.batch_alter_table("target_map_entry") as batch_op:
        batch_op.create_index("ix_target_map_entry_outlet_id", ["outlet_id", "id"], unique=False)


def downgrade():
    with op.batch_alter_table("target_map_entry") as batch_op:
        batch_op.drop_index("ix_target_map_entry_outlet_id")
    op.drop_table("target_map_entry")
