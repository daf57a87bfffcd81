"""promotion usage and budget held by open checkouts

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import loyalty.store.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("promotions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reserved_uses", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "reserved_budget",
                loyalty.store.types.Money(length=48),
                nullable=False,
                server_default="0",
            )
        )
    with op.batch_alter_table("promotion_member_usage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reserved", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("promotion_member_usage", schema=None) as batch_op:
        batch_op.drop_column("reserved")
    with op.batch_alter_table("promotions", schema=None) as batch_op:
        batch_op.drop_column("reserved_budget")
        batch_op.drop_column("reserved_uses")
