"""The store-credit wallet: a cached balance per member and its append-only entries."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store.tables import wallet_entries, wallets


class WalletRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def balance(self, member_id: int) -> RowMapping | None:
        stmt = select(wallets.c.currency, wallets.c.balance, wallets.c.updated_at).where(
            wallets.c.tenant_id == self.tenant_id, wallets.c.member_id == member_id
        )
        return self.conn.execute(stmt).mappings().first()

    def set_balance(
        self, member_id: int, currency: str, balance: Decimal, now: datetime, *, exists: bool
    ) -> None:
        """Write the new balance; callers hold the member's lock and checked it first."""
        if not exists:
            self.conn.execute(
                wallets.insert().values(
                    tenant_id=self.tenant_id,
                    member_id=member_id,
                    currency=currency,
                    balance=balance,
                    updated_at=now,
                )
            )
            return
        self.conn.execute(
            update(wallets)
            .where(wallets.c.tenant_id == self.tenant_id, wallets.c.member_id == member_id)
            .values(balance=balance, updated_at=now)
        )

    def entry_by_reference(self, member_id: int, kind: str, reference: str) -> RowMapping | None:
        w = wallet_entries.c
        stmt = select(wallet_entries).where(
            w.tenant_id == self.tenant_id,
            w.member_id == member_id,
            w.kind == kind,
            w.reference == reference,
        )
        return self.conn.execute(stmt).mappings().first()

    def add_entry(self, **values: Any) -> int:
        stmt = wallet_entries.insert().values(tenant_id=self.tenant_id, **values)
        return int(self.conn.execute(stmt).inserted_primary_key[0])

    def entries(self, member_id: int, after: int | None, limit: int) -> list[RowMapping]:
        w = wallet_entries.c
        conditions = [w.tenant_id == self.tenant_id, w.member_id == member_id]
        if after:
            conditions.append(w.id < after)
        stmt = select(wallet_entries).where(*conditions).order_by(w.id.desc()).limit(limit)
        return list(self.conn.execute(stmt).mappings())

    def cashback_of_order(self, member_id: int, order_pk: int) -> list[RowMapping]:
        """The cashback credits an order gave (one per rule), oldest first."""
        w = wallet_entries.c
        stmt = (
            select(wallet_entries)
            .where(
                w.tenant_id == self.tenant_id,
                w.order_pk == order_pk,
                w.member_id == member_id,
                w.kind == "credit",
                w.rule_id.is_not(None),
            )
            .order_by(w.id)
        )
        return list(self.conn.execute(stmt).mappings())
