"""Member rows and their cached balances. Balances change only through ``apply_deltas``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, select, union, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._raw import RawRunner, RawStatement
from loyalty.store._upsert import insert_row_if_absent
from loyalty.store.tables import birthday_changes, members, membership_plans, tier_ladders

_BY_EXTERNAL = select(members).where(
    members.c.tenant_id == bindparam("tenant_id"), members.c.external_id == bindparam("external_id")
)
_BY_EXTERNAL_LOCKED = _BY_EXTERNAL.with_for_update()
_BY_ID = select(members).where(
    members.c.tenant_id == bindparam("tenant_id"), members.c.id == bindparam("id")
)
_BY_ID_LOCKED = _BY_ID.with_for_update()
_APPLY = RawStatement(
    """UPDATE members SET available = available + :d_available, pending = pending + :d_pending,
    lifetime_earned = lifetime_earned + :d_lifetime, debt = debt + :d_debt,
    last_activity_at = COALESCE(:activity_at, last_activity_at)
    WHERE tenant_id = :tenant_id AND id = :member_id
    AND available + :d_available >= -(debt + :d_debt) AND pending + :d_pending >= 0
    RETURNING available, pending, lifetime_earned, debt"""
)
_LEDGER_COLUMNS = (
    "id, external_id, status, email, phone, first_name, last_name, locale, birthday, "
    "available, pending, lifetime_earned, debt"
)
_FOR_EVENT = RawStatement(
    f"SELECT {_LEDGER_COLUMNS} FROM members WHERE tenant_id = :tenant_id AND external_id = :external_id"
)
_FOR_EVENT_LOCKED = RawStatement(_FOR_EVENT.sql + " FOR UPDATE")
_BALANCE_KEYS = ("available", "pending", "lifetime_earned", "debt")
_LEDGER_KEYS = tuple(c.strip() for c in _LEDGER_COLUMNS.split(","))


class MemberRepository:
    def __init__(self, conn: Connection, tenant_id: int, raw: RawRunner) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.raw = raw
        self._lock = conn.dialect.name == "postgresql"
        # Balances each member was left with by this unit of work's last change.
        self.latest: dict[int, dict[str, int]] = {}

    def get(self, external_id: str, *, lock: bool = False) -> RowMapping | None:
        stmt = _BY_EXTERNAL_LOCKED if lock and self._lock else _BY_EXTERNAL
        return (
            self.conn.execute(stmt, {"tenant_id": self.tenant_id, "external_id": external_id})
            .mappings()
            .first()
        )

    def get_for_event(self, external_id: str) -> dict[str, Any] | None:
        """The columns the ledger needs, locked for the rest of the transaction."""
        stmt = _FOR_EVENT_LOCKED if self._lock else _FOR_EVENT
        row = self.raw.one(stmt, {"tenant_id": self.tenant_id, "external_id": external_id})
        return None if row is None else dict(zip(_LEDGER_KEYS, row, strict=True))

    def get_by_id(self, member_id: int, *, lock: bool = False) -> RowMapping | None:
        stmt = _BY_ID_LOCKED if lock and self._lock else _BY_ID
        return (
            self.conn.execute(stmt, {"tenant_id": self.tenant_id, "id": member_id})
            .mappings()
            .first()
        )

    def lock_many(self, member_ids: list[int]) -> None:
        """Lock rows in primary-key order so two transfers never deadlock."""
        if self._lock and member_ids:
            stmt = (
                select(members.c.id)
                .where(members.c.tenant_id == self.tenant_id, members.c.id.in_(member_ids))
                .order_by(members.c.id)
                .with_for_update()
            )
            self.conn.execute(stmt).all()

    def add(self, external_id: str, fields: dict[str, Any], now: datetime) -> RowMapping | None:
        """Insert a member and return the row; None if that external id exists already."""
        values = {
            "tenant_id": self.tenant_id,
            "external_id": external_id,
            "email": None,
            "phone": None,
            "first_name": None,
            "last_name": None,
            "birthday": None,
            "locale": None,
            "consents": {},
            "status": "active",
            **fields,
            "available": 0,
            "pending": 0,
            "lifetime_earned": 0,
            "debt": 0,
            "last_activity_at": None,
            "created_at": now,
            "updated_at": now,
        }
        row = insert_row_if_absent(self.conn, members, values)
        if row is None:
            return None
        if values["birthday"] is not None:  # set at sign-up: "set or changed" < 30 days before
            self.note_birthdays_set([row._mapping["id"]], now)
        return row._mapping

    def note_birthdays_set(self, member_ids: Sequence[int], now: datetime) -> None:
        """Members just created with a birthday: it counts as set today (a birthday set or
        changed less than 30 days before it earns no bonus that year)."""
        if member_ids:
            self.conn.execute(
                birthday_changes.insert(),
                [
                    {"tenant_id": self.tenant_id, "member_id": m, "changed_on": now.date()}
                    for m in member_ids
                ],
            )

    def update_fields(self, member_id: int, fields: dict[str, Any], now: datetime) -> None:
        stmt = update(members).where(
            and_(members.c.tenant_id == self.tenant_id, members.c.id == member_id)
        )
        if "birthday" in fields:
            self._note_birthday_change(member_id, fields["birthday"], now)
        self.conn.execute(stmt.values(**fields, updated_at=now))

    def _note_birthday_change(self, member_id: int, birthday: Any, now: datetime) -> None:
        """Remember when a birthday changed: a change < 30 days before it earns no bonus (``add``
        records the day a member was created with one the same way)."""
        current = self.conn.execute(
            select(members.c.birthday).where(
                members.c.tenant_id == self.tenant_id, members.c.id == member_id
            )
        ).scalar()
        if current == birthday:
            return
        key = {"tenant_id": self.tenant_id, "member_id": member_id}
        if insert_row_if_absent(self.conn, birthday_changes, {**key, "changed_on": now.date()}):
            return
        self.conn.execute(
            update(birthday_changes)
            .where(
                birthday_changes.c.tenant_id == self.tenant_id,
                birthday_changes.c.member_id == member_id,
            )
            .values(changed_on=now.date())
        )

    def apply_deltas(
        self,
        member_id: int,
        *,
        available: int = 0,
        pending: int = 0,
        lifetime: int = 0,
        debt: int = 0,
        activity_at: datetime | None = None,
    ) -> dict[str, int] | None:
        """Change balances in one conditional statement; the new balances, or None if it would
        overdraw (then nothing changed)."""
        params = {
            "tenant_id": self.tenant_id,
            "member_id": member_id,
            "d_available": available,
            "d_pending": pending,
            "d_lifetime": lifetime,
            "d_debt": debt,
            "activity_at": self.raw.time(activity_at),
        }
        row = self.raw.one(_APPLY, params)
        if row is None:
            return None
        balances = dict(zip(_BALANCE_KEYS, row, strict=True))
        self.latest[member_id] = balances
        return balances

    def page(self, after: int | None, limit: int, filters: dict[str, Any]) -> list[RowMapping]:
        conditions = [members.c.tenant_id == self.tenant_id]
        if after:
            conditions.append(members.c.id > after)
        for name in ("email", "status", "phone"):
            if filters.get(name) is not None:
                conditions.append(members.c[name] == filters[name])
        if filters.get("created_after") is not None:
            conditions.append(members.c.created_at >= filters["created_after"])
        if filters.get("created_before") is not None:
            conditions.append(members.c.created_at < filters["created_before"])
        if filters.get("min_available") is not None:
            conditions.append(members.c.available >= filters["min_available"])
        stmt = select(members).where(and_(*conditions)).order_by(members.c.id).limit(limit)
        return list(self.conn.execute(stmt).mappings())


def tenants_with_benefit_sources(conn: Connection, tenant_id: int | None) -> list[int]:
    """Tenants with a tier ladder or a paid membership plan: those whose members may have
    benefits (a birthday gift); cross-tenant, for daily jobs."""
    ladders = select(tier_ladders.c.tenant_id)
    plans = select(membership_plans.c.tenant_id)
    if tenant_id is not None:
        ladders = ladders.where(tier_ladders.c.tenant_id == tenant_id)
        plans = plans.where(membership_plans.c.tenant_id == tenant_id)
    return sorted(int(t) for t in conn.execute(union(ladders, plans)).scalars())
