"""analytics change log for the columnar read model

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 15:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "tenant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("row_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_changes")),
    )
    with op.batch_alter_table("analytics_changes", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_changes_tenant", ["tenant_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("analytics_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_changes_tenant")
    op.drop_table("analytics_changes")
