"""segmentation plugin: tier ladders, custom rules, runs, tier history, segment slots and tags, saved lists

Revision ID: 0001_segmentation
Revises:
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_segmentation"
down_revision = None
branch_labels = ("segmentation",)
depends_on = "0002_customers"  # by hand (Flask-Migrate has no --depends-on); the core revision creating `customer`


def upgrade():
    op.create_table(
        "segmentation_tier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("min_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], name=op.f("fk_segmentation_tier_branch_id_branch")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmentation_tier")),
        sa.UniqueConstraint("branch_id", "code", name="uq_segmentation_tier_branch_code"),
        sa.UniqueConstraint("branch_id", "position", name="uq_segmentation_tier_branch_position"),
    )
    op.create_table(
        "segmentation_custom_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("join", sa.String(length=3), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"],
                                name=op.f("fk_segmentation_custom_rule_branch_id_branch")),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_segmentation_custom_rule_created_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmentation_custom_rule")),
    )
    with op.batch_alter_table("segmentation_custom_rule") as batch_op:
        batch_op.create_index(batch_op.f("ix_segmentation_custom_rule_branch_id"), ["branch_id"], unique=False)
    op.create_table(
        "segmentation_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("tiers_before", sa.JSON(), nullable=False),
        sa.Column("tiers_after", sa.JSON(), nullable=False),
        sa.Column("segments_before", sa.JSON(), nullable=False),
        sa.Column("segments_after", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["user_account.id"], name=op.f("fk_segmentation_run_actor_id_user_account")),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], name=op.f("fk_segmentation_run_branch_id_branch")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmentation_run")),
    )
    with op.batch_alter_table("segmentation_run") as batch_op:
        batch_op.create_index("ix_segmentation_run_branch_id", ["branch_id", "id"], unique=False)
    op.create_table(
        "segmentation_tier_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("old_tier", sa.String(length=20), nullable=True),
        sa.Column("new_tier", sa.String(length=20), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE",
                                name=op.f("fk_segmentation_tier_change_customer_id_customer")),
        sa.ForeignKeyConstraint(["run_id"], ["segmentation_run.id"], ondelete="CASCADE",
                                name=op.f("fk_segmentation_tier_change_run_id_segmentation_run")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmentation_tier_change")),
    )
    with op.batch_alter_table("segmentation_tier_change") as batch_op:
        batch_op.create_index("ix_segmentation_tier_change_customer_id", ["customer_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_segmentation_tier_change_run_id"), ["run_id"], unique=False)
    op.create_table(
        "segmentation_slot",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("bit", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("segment", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], name=op.f("fk_segmentation_slot_branch_id_branch")),
        sa.PrimaryKeyConstraint("branch_id", "bit", name=op.f("pk_segmentation_slot")),
        sa.UniqueConstraint("branch_id", "segment", name="uq_segmentation_slot_branch_segment"),
    )
    op.create_table(
        "segmentation_tag",
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=True),
        sa.Column("bits", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], name=op.f("fk_segmentation_tag_branch_id_branch")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE",
                                name=op.f("fk_segmentation_tag_customer_id_customer")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_segmentation_tag")),
    )
    with op.batch_alter_table("segmentation_tag") as batch_op:
        batch_op.create_index("ix_segmentation_tag_branch_id", ["branch_id"], unique=False)
    op.create_table(
        "segmentation_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("segment", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], name=op.f("fk_segmentation_list_branch_id_branch")),
        sa.ForeignKeyConstraint(["created_by_id"], ["user_account.id"],
                                name=op.f("fk_segmentation_list_created_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmentation_list")),
    )
    with op.batch_alter_table("segmentation_list") as batch_op:
        batch_op.create_index("ix_segmentation_list_branch_id", ["branch_id", "id"], unique=False)
    op.create_table(
        "segmentation_list_member",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE",
                                name=op.f("fk_segmentation_list_member_customer_id_customer")),
        sa.ForeignKeyConstraint(["list_id"], ["segmentation_list.id"], ondelete="CASCADE",
                                name=op.f("fk_segmentation_list_member_list_id_segmentation_list")),
        sa.PrimaryKeyConstraint("list_id", "customer_id", name=op.f("pk_segmentation_list_member")),
    )
    with op.batch_alter_table("segmentation_list_member") as batch_op:
        batch_op.create_index("ix_segmentation_list_member_customer_id", ["customer_id"], unique=False)


def downgrade():
    op.drop_table("segmentation_list_member")
    op.drop_table("segmentation_list")
    op.drop_table("segmentation_tag")
    op.drop_table("segmentation_slot")
    op.drop_table("segmentation_tier_change")
    op.drop_table("segmentation_run")
    op.drop_table("segmentation_custom_rule")
    op.drop_table("segmentation_tier")
