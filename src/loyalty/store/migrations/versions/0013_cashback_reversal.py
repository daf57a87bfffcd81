"""cashback reversal: wallet entries name their order and carry a clawback note; a wallet may
owe (a negative balance) after a refund takes back cashback already spent

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("wallet_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("order_pk", _ID, nullable=True))
        batch_op.add_column(sa.Column("meta", sa.JSON(), nullable=True))
        batch_op.create_index("ix_wallet_entries_order", ["tenant_id", "order_pk"], unique=False)
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_wallets_balance_not_negative"), type_="check")
    # Cashback credited before this revision: its order is the one the same event earned
    # points on (an order whose only effect was cashback cannot be traced and keeps none).
    op.execute(
        """
        UPDATE wallet_entries SET order_pk = (
            SELECT MIN(l.order_pk) FROM ledger_entries l
            WHERE l.tenant_id = wallet_entries.tenant_id
            AND l.event_pk = wallet_entries.event_pk
            AND l.order_pk IS NOT NULL
        )
        WHERE kind = 'credit' AND rule_id IS NOT NULL AND event_pk IS NOT NULL
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.create_check_constraint("balance_not_negative", "balance NOT LIKE '-%'")
    with op.batch_alter_table("wallet_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_wallet_entries_order")
        batch_op.drop_column("meta")
        batch_op.drop_column("order_pk")
