"""Catalogue rewards (with their stock) and the redemptions members made of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store.tables import members, redemptions, rewards


class RewardRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def get(self, reward_id: str, *, lock: bool = False) -> RowMapping | None:
        stmt = select(rewards).where(
            rewards.c.tenant_id == self.tenant_id, rewards.c.reward_id == reward_id
        )
        if lock and self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).mappings().first()

    def add(self, reward_id: str, data: dict[str, Any], stock: int | None, now: datetime) -> bool:
        """Insert a reward; False if the id is taken (nothing written)."""
        if self.get(reward_id) is not None:
            return False
        self.conn.execute(
            insert(rewards).values(
                tenant_id=self.tenant_id,
                reward_id=reward_id,
                version=data["version"],
                type=data["benefit"]["type"],
                data=data,
                stock=stock,
                stock_left=stock,
                created_at=now,
                updated_at=now,
            )
        )
        return True

    def replace(
        self,
        pk: int,
        data: dict[str, Any],
        stock: int | None,
        stock_left: int | None,
        now: datetime,
    ) -> None:
        self.conn.execute(
            update(rewards)
            .where(rewards.c.tenant_id == self.tenant_id, rewards.c.id == pk)
            .values(
                version=data["version"],
                type=data["benefit"]["type"],
                data=data,
                stock=stock,
                stock_left=stock_left,
                updated_at=now,
            )
        )

    def take_unit(self, pk: int) -> bool:
        """One unit of stock, atomically: False when none is left (two racers: one wins)."""
        stmt = (
            update(rewards)
            .where(
                rewards.c.tenant_id == self.tenant_id,
                rewards.c.id == pk,
                rewards.c.stock_left > 0,
            )
            .values(stock_left=rewards.c.stock_left - 1)
        )
        return self.conn.execute(stmt).rowcount == 1

    def return_unit(self, reward_id: str) -> None:
        """A cancelled redemption puts its unit back (never above the stock)."""
        self.conn.execute(
            update(rewards)
            .where(
                rewards.c.tenant_id == self.tenant_id,
                rewards.c.reward_id == reward_id,
                rewards.c.stock_left < rewards.c.stock,
            )
            .values(stock_left=rewards.c.stock_left + 1)
        )

    def page(self, after: int | None, limit: int, type_: str | None) -> list[RowMapping]:
        stmt = select(rewards).where(rewards.c.tenant_id == self.tenant_id)
        if after:
            stmt = stmt.where(rewards.c.id > after)
        if type_:
            stmt = stmt.where(rewards.c.type == type_)
        return list(self.conn.execute(stmt.order_by(rewards.c.id).limit(limit)).mappings())


_REDEMPTION_COLUMNS = (*redemptions.c, members.c.external_id.label("member_external_id"))


class RedemptionRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def add(self, **values: Any) -> int:
        stmt = insert(redemptions).values(tenant_id=self.tenant_id, **values)
        pk = self.conn.execute(stmt.returning(redemptions.c.id)).scalar_one()
        return int(pk)

    def update(self, pk: int, **values: Any) -> None:
        self.conn.execute(
            update(redemptions)
            .where(redemptions.c.tenant_id == self.tenant_id, redemptions.c.id == pk)
            .values(**values)
        )

    def get(self, pk: int) -> RowMapping | None:
        stmt = (
            select(*_REDEMPTION_COLUMNS)
            .join(members, members.c.id == redemptions.c.member_id)
            .where(redemptions.c.tenant_id == self.tenant_id, redemptions.c.id == pk)
        )
        return self.conn.execute(stmt).mappings().first()

    def count_since(
        self, member_id: int, reward_id: str, start: datetime | None, end: datetime | None
    ) -> int:
        """Redemptions of a reward by a member in ``[start, end)``, cancelled ones excluded."""
        stmt = select(func.count()).where(
            redemptions.c.tenant_id == self.tenant_id,
            redemptions.c.member_id == member_id,
            redemptions.c.reward_id == reward_id,
            redemptions.c.status != "cancelled",
        )
        if start is not None:
            stmt = stmt.where(redemptions.c.created_at >= start)
        if end is not None:
            stmt = stmt.where(redemptions.c.created_at < end)
        return int(self.conn.execute(stmt).scalar_one())

    def count_since_any(self, reward_id: str) -> int:
        """Redemptions of a reward by anyone, cancelled ones excluded."""
        stmt = select(func.count()).where(
            redemptions.c.tenant_id == self.tenant_id,
            redemptions.c.reward_id == reward_id,
            redemptions.c.status != "cancelled",
        )
        return int(self.conn.execute(stmt).scalar_one())

    def of_member(self, member_id: int, before: int | None, limit: int) -> list[RowMapping]:
        stmt = (
            select(*_REDEMPTION_COLUMNS)
            .join(members, members.c.id == redemptions.c.member_id)
            .where(redemptions.c.tenant_id == self.tenant_id, redemptions.c.member_id == member_id)
        )
        if before:
            stmt = stmt.where(redemptions.c.id < before)
        return list(
            self.conn.execute(stmt.order_by(redemptions.c.id.desc()).limit(limit)).mappings()
        )
