"""example plugin: example_note

Revision ID: 0001_example
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_example"
down_revision = None
branch_labels = ("example",)
depends_on = "0001_core"  # set by hand: Flask-Migrate's CLI has no --depends-on


def upgrade():
    op.create_table(
        "example_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outlet_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["outlet_id"], ["outlet.id"], name=op.f("fk_example_note_outlet_id_outlet")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_example_note")),
    )
    with op.batch_alter_table("example_note") as batch_op:
        batch_op.create_index(batch_op.f("ix_example_note_outlet_id"), ["outlet_id"], unique=False)


def downgrade():
    op.drop_table("example_note")
