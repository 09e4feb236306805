"""segmentation plugin: per-post tier quotas (R-08/R-14), 5C1S ratings (S-13), the primary segment of a tag

Revision ID: 0002_segmentation_more
Revises: 0001_segmentation
Create Date: 2026-12-15
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_segmentation_more"
down_revision = "0001_segmentation"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "segmentation_quota",
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("post", sa.String(length=30), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], name=op.f("fk_segmentation_quota_branch_id_branch")),
        sa.PrimaryKeyConstraint("branch_id", "post", "tier", name=op.f("pk_segmentation_quota")),
    )
    op.create_table(
        "segmentation_rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("grade", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("rated_by_id", sa.Integer(), nullable=True),
        sa.Column("rated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["branch.id"], name=op.f("fk_segmentation_rating_branch_id_branch")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], ondelete="CASCADE",
                                name=op.f("fk_segmentation_rating_customer_id_customer")),
        sa.ForeignKeyConstraint(["rated_by_id"], ["user_account.id"],
                                name=op.f("fk_segmentation_rating_rated_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segmentation_rating")),
    )
    with op.batch_alter_table("segmentation_rating") as batch_op:
        batch_op.create_index("ix_segmentation_rating_customer_id", ["customer_id", "id"], unique=False)
    with op.batch_alter_table("segmentation_tag") as batch_op:
        batch_op.add_column(sa.Column("primary_segment", sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table("segmentation_tag") as batch_op:
        batch_op.drop_column("primary_segment")
    op.drop_table("segmentation_rating")
    op.drop_table("segmentation_quota")
