"""Tier ladders (versioned), member tier state, tier history, and the activity tiers measure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._raw import RawRunner, RawStatement
from loyalty.store.tables import (
    member_tiers,
    members,
    tier_history,
    tier_ladders,
)

# The statements every order event runs (see ``store/_raw.py`` for why they are raw SQL).
_LATEST = RawStatement(
    "SELECT version, settings FROM tier_ladders WHERE tenant_id = :tenant_id "
    "ORDER BY version DESC LIMIT 1"
)
_STATE_KEYS = (
    "tier",
    "since",
    "review_at",
    "check_at",
    "manual_tier",
    "manual_until",
    "manual_set_at",
    "manual_set_by",
    "manual_note",
)
_TIMES = ("since", "review_at", "check_at", "manual_until", "manual_set_at")
_STATE = RawStatement(
    f"SELECT {', '.join(_STATE_KEYS)} FROM member_tiers "
    "WHERE tenant_id = :tenant_id AND member_id = :member_id"
)
_STATE_LOCKED = RawStatement(_STATE.sql + " FOR UPDATE")
_POINTS = RawStatement(
    """SELECT occurred_at, CASE WHEN lifetime_delta <> 0 THEN lifetime_delta ELSE points END
    FROM ledger_entries WHERE tenant_id = :tenant_id AND member_id = :member_id
    AND (lifetime_delta <> 0 OR (kind = 'adjust' AND points > 0)) AND occurred_at >= :since"""
)
_PAID = RawStatement(
    """SELECT paid_at, total FROM orders WHERE tenant_id = :tenant_id AND member_id = :member_id
    AND currency = :currency AND status <> 'cancelled' AND paid_at >= :since"""
)
_REFUNDED = RawStatement(
    """SELECT r.created_at, r.amount FROM refunds r JOIN orders o ON o.id = r.order_pk
    WHERE o.tenant_id = :tenant_id AND o.member_id = :member_id AND o.currency = :currency
    AND o.status <> 'cancelled' AND r.created_at >= :since"""
)
_ORDERS = RawStatement(
    """SELECT paid_at FROM orders WHERE tenant_id = :tenant_id AND member_id = :member_id
    AND status <> 'cancelled' AND paid_at >= :since"""
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SAVED = (*_STATE_KEYS, "ladder_version", "updated_at")
_UPDATE_STATE = RawStatement(
    f"UPDATE member_tiers SET {', '.join(f'{k} = :{k}' for k in _SAVED)} "
    "WHERE tenant_id = :tenant_id AND member_id = :member_id"
)
_INSERT_STATE = RawStatement(
    f"INSERT INTO member_tiers (tenant_id, member_id, {', '.join(_SAVED)}) "
    f"VALUES (:tenant_id, :member_id, {', '.join(f':{k}' for k in _SAVED)})"
)
_HISTORY_KEYS = (
    "member_id",
    "from_tier",
    "to_tier",
    "reason",
    "effective_at",
    "ladder_version",
    "actor",
    "created_at",
)
_INSERT_HISTORY = RawStatement(
    f"INSERT INTO tier_history (tenant_id, {', '.join(_HISTORY_KEYS)}) "
    f"VALUES (:tenant_id, {', '.join(f':{k}' for k in _HISTORY_KEYS)})"
)


class TierRepository:
    def __init__(self, conn: Connection, tenant_id: int, raw: RawRunner) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.raw = raw
        self._lock = conn.dialect.name == "postgresql"

    # --- the ladder ---------------------------------------------------------------------

    def ladder(self) -> tuple[dict[str, Any], int] | None:
        """The ladder in force (the highest version) and its version."""
        row = self.raw.one(_LATEST, {"tenant_id": self.tenant_id})
        if row is None:
            return None
        settings = orjson.loads(row[1]) if isinstance(row[1], str | bytes) else row[1]
        return settings, int(row[0])

    def add_ladder(self, version: int, settings: dict[str, Any], actor: str, now: datetime) -> None:
        self.conn.execute(
            insert(tier_ladders).values(
                tenant_id=self.tenant_id,
                version=version,
                settings=settings,
                actor=actor,
                created_at=now,
            )
        )

    def members_holding(self, tier_ids: Iterable[str]) -> int:
        """How many members hold (or have a manual floor on) one of ``tier_ids``."""
        ids = list(tier_ids)
        if not ids:
            return 0
        stmt = select(func.count()).where(
            member_tiers.c.tenant_id == self.tenant_id,
            or_(member_tiers.c.tier.in_(ids), member_tiers.c.manual_tier.in_(ids)),
        )
        return int(self.conn.execute(stmt).scalar_one())

    # --- member state -------------------------------------------------------------------

    def state(self, member_id: int, *, lock: bool = False) -> dict[str, Any] | None:
        """The member's tier row; ``lock`` holds it (PostgreSQL) for the transaction."""
        stmt = _STATE_LOCKED if lock and self._lock else _STATE
        row = self.raw.one(stmt, {"tenant_id": self.tenant_id, "member_id": member_id})
        if row is None:
            return None
        state = dict(zip(_STATE_KEYS, row, strict=True))
        for key in _TIMES:
            state[key] = self.raw.read_time(state[key])
        return state

    def save_state(self, member_id: int, values: dict[str, Any], exists: bool) -> None:
        """Write the member's tier row (``values`` holds every saved column)."""
        params = {"tenant_id": self.tenant_id, "member_id": member_id}
        for key in _SAVED:
            value = values[key]
            params[key] = self.raw.time(value) if isinstance(value, datetime) else value
        self.raw.execute(_UPDATE_STATE if exists else _INSERT_STATE, params)

    def recheck_all(self, now: datetime) -> None:
        """Make every member with a tier row due for the review job (after a ladder edit)."""
        self.conn.execute(
            update(member_tiers)
            .where(member_tiers.c.tenant_id == self.tenant_id)
            .values(check_at=now)
        )

    def due(self, now: datetime, after: int, limit: int) -> list[tuple[int, str]]:
        """Members (id, external id) whose review, grace period or manual floor has come due,
        by member id after ``after``."""
        stmt = (
            select(member_tiers.c.member_id, members.c.external_id)
            .join(members, members.c.id == member_tiers.c.member_id)
            .where(
                member_tiers.c.tenant_id == self.tenant_id,
                member_tiers.c.check_at <= now,
                member_tiers.c.member_id > after,
            )
            .order_by(member_tiers.c.member_id)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in self.conn.execute(stmt)]

    # --- history ------------------------------------------------------------------------

    def add_history(self, rows: Sequence[dict[str, Any]]) -> None:
        self.raw.executemany(
            _INSERT_HISTORY,
            [
                {
                    "tenant_id": self.tenant_id,
                    **row,
                    "effective_at": self.raw.time(row["effective_at"]),
                    "created_at": self.raw.time(row["created_at"]),
                }
                for row in rows
            ],
        )

    def history(self, member_id: int, limit: int) -> list[RowMapping]:
        stmt = (
            select(tier_history)
            .where(
                tier_history.c.tenant_id == self.tenant_id, tier_history.c.member_id == member_id
            )
            .order_by(tier_history.c.id.desc())
            .limit(limit)
        )
        return list(self.conn.execute(stmt).mappings())

    # --- activity the metric is measured on ---------------------------------------------

    def _params(self, member_id: int, since: datetime | None, **extra: Any) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "member_id": member_id,
            "since": self.raw.time(since or _EPOCH),
            **extra,
        }

    def points(self, member_id: int, since: datetime | None) -> list[tuple[datetime, int]]:
        """Points earned (+) and reversed (-), and positive manual adjustments, by date."""
        rows = self.raw.execute(_POINTS, self._params(member_id, since)).fetchall()
        return [(self._time(at), int(points)) for at, points in rows]

    def spend(
        self, member_id: int, currency: str, since: datetime | None
    ) -> list[tuple[datetime, Decimal]]:
        """Paid order totals (+) and refunds (-), by date; cancelled orders do not count."""
        params = self._params(member_id, since, currency=currency)
        facts = [
            (self._time(at), Decimal(total))
            for at, total in self.raw.execute(_PAID, params).fetchall()
        ]
        facts += [
            (self._time(at), -Decimal(amount))
            for at, amount in self.raw.execute(_REFUNDED, params).fetchall()
        ]
        return facts

    def orders(self, member_id: int, since: datetime | None) -> list[datetime]:
        """When each paid order that was not cancelled was paid."""
        rows = self.raw.execute(_ORDERS, self._params(member_id, since)).fetchall()
        return [self._time(row[0]) for row in rows]

    def _time(self, value: Any) -> datetime:
        moment = self.raw.read_time(value)
        assert moment is not None
        return moment


def tenants_with_ladders(conn: Connection, tenant_id: int | None) -> list[int]:
    stmt = select(tier_ladders.c.tenant_id).distinct()
    if tenant_id is not None:
        stmt = stmt.where(tier_ladders.c.tenant_id == tenant_id)
    return list(conn.execute(stmt).scalars())
