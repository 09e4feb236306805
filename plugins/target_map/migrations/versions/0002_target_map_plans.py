"""target_map plans: Gantt tasks, visit records, group marketing plans, three-week rollout

Revision ID: 0002_target_map_plans
Revises: 0001_target_map
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_target_map_plans"
down_revision = "0001_target_map"
branch_labels = None
depends_on = None

ACTIVE = "status <> 'closed'"


def _fk(table: str, column: str, referred: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{referred}.id"], ondelete=ondelete,
                                   name=op.f(f"fk_{table}_{column}_{referred}"))


def upgrade():
    t = "target_map_task"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outlet_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("planned_start", sa.Date(), nullable=False),
        sa.Column("planned_end", sa.Date(), nullable=False),
        sa.Column("actual_start", sa.Date(), nullable=True),
        sa.Column("actual_end", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _fk(t, "outlet_id", "outlet"),
        _fk(t, "customer_id", "customer", "CASCADE"),
        _fk(t, "owner_id", "user_account"),
        _fk(t, "created_by_id", "user_account"),
        _fk(t, "updated_by_id", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    with op.batch_alter_table(t) as batch_op:
        batch_op.create_index("ix_target_map_task_owner_end", ["owner_id", "planned_end", "status"], unique=False)
        batch_op.create_index("ix_target_map_task_outlet_end", ["outlet_id", "planned_end", "status"], unique=False)
        batch_op.create_index("ix_target_map_task_customer_id", ["customer_id", "id"], unique=False)

    t = "target_map_visit"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("outlet_id", sa.Integer(), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("major_matter", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.String(length=8), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("hypotheses", sa.Text(), nullable=False),
        sa.Column("questions", sa.Text(), nullable=True),
        sa.Column("pre_by_id", sa.Integer(), nullable=True),
        sa.Column("pre_at", sa.DateTime(), nullable=True),
        sa.Column("key_info", sa.Text(), nullable=True),
        sa.Column("during_by_id", sa.Integer(), nullable=True),
        sa.Column("during_at", sa.DateTime(), nullable=True),
        sa.Column("reported_on", sa.Date(), nullable=True),
        sa.Column("report_content", sa.Text(), nullable=True),
        sa.Column("post_by_id", sa.Integer(), nullable=True),
        sa.Column("post_at", sa.DateTime(), nullable=True),
        sa.Column("advice", sa.Text(), nullable=True),
        sa.Column("advice_by_id", sa.Integer(), nullable=True),
        sa.Column("advice_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _fk(t, "task_id", "target_map_task", "CASCADE"),
        _fk(t, "customer_id", "customer", "CASCADE"),
        _fk(t, "outlet_id", "outlet"),
        _fk(t, "pre_by_id", "user_account"),
        _fk(t, "during_by_id", "user_account"),
        _fk(t, "post_by_id", "user_account"),
        _fk(t, "advice_by_id", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    with op.batch_alter_table(t) as batch_op:
        batch_op.create_index("ix_target_map_visit_task_id", ["task_id", "id"], unique=False)
        batch_op.create_index("ix_target_map_visit_customer_id", ["customer_id", "id"], unique=False)

    t = "target_map_group_plan"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outlet_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("basis", sa.String(length=12), nullable=False),
        sa.Column("basis_detail", sa.String(length=100), nullable=False),
        sa.Column("customer_kind", sa.String(length=8), nullable=False),
        sa.Column("participants", sa.String(length=200), nullable=True),
        sa.Column("module_a", sa.Text(), nullable=True),
        sa.Column("module_b", sa.Text(), nullable=True),
        sa.Column("module_c", sa.Text(), nullable=True),
        sa.Column("module_d", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _fk(t, "outlet_id", "outlet"),
        _fk(t, "created_by_id", "user_account"),
        _fk(t, "updated_by_id", "user_account"),
        _fk(t, "submitted_by_id", "user_account"),
        _fk(t, "closed_by_id", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
    )
    with op.batch_alter_table(t) as batch_op:
        batch_op.create_index("ix_target_map_group_plan_outlet_id", ["outlet_id", "id"], unique=False)
        # one target group per outlet — at most one plan that is not closed (T-53).
        batch_op.create_index("uq_target_map_group_plan_active_outlet", ["outlet_id"], unique=True,
                              sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))

    t = "target_map_rollout"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outlet_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _fk(t, "outlet_id", "outlet"),
        _fk(t, "started_by_id", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("outlet_id", name=op.f(f"uq_{t}_outlet_id")),
    )

    t = "target_map_rollout_item"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("done_by_id", sa.Integer(), nullable=True),
        _fk(t, "rollout_id", "target_map_rollout", "CASCADE"),
        _fk(t, "done_by_id", "user_account"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{t}")),
        sa.UniqueConstraint("rollout_id", "code", name="uq_target_map_rollout_item_code"),
    )


def downgrade():
    op.drop_table("target_map_rollout_item")
    op.drop_table("target_map_rollout")
    op.drop_table("target_map_group_plan")
    op.drop_table("target_map_visit")
    op.drop_table("target_map_task")
