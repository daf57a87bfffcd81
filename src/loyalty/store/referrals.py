"""Referral codes, referrals, their settings and the contact signals the fraud checks compare."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.orm import aliased

from loyalty.store._raw import RawRunner, RawStatement
from loyalty.store._upsert import insert_row_if_absent
from loyalty.store.tables import (
    member_signals,
    members,
    orders,
    referral_codes,
    referral_settings,
    referrals,
)

_REFERRER = aliased(members, name="referrer")
_REFEREE = aliased(members, name="referee")


# Asked for every paid order, so a prebuilt statement on the DBAPI cursor (store/_raw.py).
_AWAITING_FIRST_ORDER = RawStatement(
    """SELECT id FROM referrals WHERE tenant_id = :tenant_id AND referee_id = :referee_id
    AND status = 'pending' AND first_order_id IS NULL LIMIT 1"""
)


_ANY_AWAITING = RawStatement(
    """SELECT 1 FROM referrals WHERE tenant_id = :tenant_id AND status = 'pending'
    AND first_order_id IS NULL LIMIT 1"""
)


@lru_cache(maxsize=256)
def _awaiting_first_order_of_many(count: int) -> RawStatement:
    names = ", ".join(f":r{i}" for i in range(count))
    return RawStatement(
        f"""SELECT referee_id FROM referrals WHERE tenant_id = :tenant_id AND status = 'pending'
        AND first_order_id IS NULL AND referee_id IN ({names})"""
    )


class ReferralRepository:
    def __init__(self, conn: Connection, tenant_id: int, raw: RawRunner | None = None) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.raw = raw or RawRunner(conn)
        self._lock = conn.dialect.name == "postgresql"

    # --- settings -------------------------------------------------------------------------

    def settings(self) -> tuple[dict[str, Any] | None, int]:
        """The stored settings and their version; (None, 0) before the first change."""
        stmt = select(referral_settings.c.settings, referral_settings.c.version).where(
            referral_settings.c.tenant_id == self.tenant_id
        )
        row = self.conn.execute(stmt).first()
        return (None, 0) if row is None else (row.settings, row.version)

    def put_settings(self, settings: dict[str, Any], now: datetime) -> int:
        stmt = (
            update(referral_settings)
            .where(referral_settings.c.tenant_id == self.tenant_id)
            .values(settings=settings, version=referral_settings.c.version + 1, updated_at=now)
            .returning(referral_settings.c.version)
        )
        version = self.conn.execute(stmt).scalar()
        if version is not None:
            return int(version)
        values = {"tenant_id": self.tenant_id, "settings": settings, "version": 1}
        if insert_row_if_absent(self.conn, referral_settings, {**values, "updated_at": now}):
            return 1
        return self.put_settings(settings, now)  # created meanwhile by a concurrent request

    # --- codes ----------------------------------------------------------------------------

    def code_of(self, member_id: int) -> str | None:
        stmt = select(referral_codes.c.code).where(
            referral_codes.c.tenant_id == self.tenant_id, referral_codes.c.member_id == member_id
        )
        return self.conn.execute(stmt).scalar()

    def add_code(self, member_id: int, code: str, now: datetime) -> bool:
        """False when the member already has a code or another member holds this one."""
        row = insert_row_if_absent(
            self.conn,
            referral_codes,
            {"tenant_id": self.tenant_id, "member_id": member_id, "code": code, "created_at": now},
        )
        return row is not None

    def owner_of(self, code: str) -> int | None:
        stmt = select(referral_codes.c.member_id).where(
            referral_codes.c.tenant_id == self.tenant_id, referral_codes.c.code == code
        )
        return self.conn.execute(stmt).scalar()

    # --- signals --------------------------------------------------------------------------

    def add_signals(
        self, member_id: int, signals: Iterable[tuple[str, str]], now: datetime
    ) -> None:
        for kind, value in signals:
            insert_row_if_absent(
                self.conn,
                member_signals,
                {
                    "tenant_id": self.tenant_id,
                    "member_id": member_id,
                    "kind": kind,
                    "value": value,
                    "seen_at": now,
                },
            )

    def signals(self, member_id: int) -> dict[str, frozenset[str]]:
        stmt = select(member_signals.c.kind, member_signals.c.value).where(
            member_signals.c.tenant_id == self.tenant_id, member_signals.c.member_id == member_id
        )
        found: dict[str, set[str]] = {}
        for kind, value in self.conn.execute(stmt):
            found.setdefault(kind, set()).add(value)
        return {kind: frozenset(values) for kind, values in found.items()}

    def paid_orders_before(self, member_id: int, excluding: str | None = None) -> int:
        """The member's recorded orders, other than ``excluding`` (the order being paid)."""
        stmt = select(func.count()).where(
            orders.c.tenant_id == self.tenant_id, orders.c.member_id == member_id
        )
        if excluding is not None:
            stmt = stmt.where(orders.c.order_id != excluding)
        return int(self.conn.execute(stmt).scalar_one())

    # --- referrals ------------------------------------------------------------------------

    def add(self, values: dict[str, Any]) -> int:
        stmt = referrals.insert().values(tenant_id=self.tenant_id, **values)
        return int(self.conn.execute(stmt.returning(referrals.c.id)).scalar_one())

    def update(self, referral_id: int, values: dict[str, Any], *, status: str) -> bool:
        """Write ``values`` if the referral still has ``status`` (the one it was read with)."""
        stmt = (
            update(referrals)
            .where(
                referrals.c.tenant_id == self.tenant_id,
                referrals.c.id == referral_id,
                referrals.c.status == status,
            )
            .values(**values)
        )
        return self.conn.execute(stmt).rowcount == 1

    def get(self, referral_id: int, *, lock: bool = False) -> RowMapping | None:
        stmt = self._view().where(referrals.c.id == referral_id)
        if lock and self._lock:
            stmt = stmt.with_for_update(of=referrals)
        return self.conn.execute(stmt).mappings().first()

    def live_of_referee(self, referee_id: int, *, lock: bool = False) -> RowMapping | None:
        """The referee's referral that is not rejected (at most one is live), or None."""
        stmt = (
            self._view()
            .where(referrals.c.referee_id == referee_id, referrals.c.status != "rejected")
            .order_by(referrals.c.id)
            .limit(1)
        )
        if lock and self._lock:
            stmt = stmt.with_for_update(of=referrals)
        return self.conn.execute(stmt).mappings().first()

    def awaiting_first_order_of(self, referee_id: int) -> int | None:
        """The id of the referee's pending referral that waits for a first order (cheap: the
        order hot path asks this for every order)."""
        row = self.raw.one(
            _AWAITING_FIRST_ORDER, {"tenant_id": self.tenant_id, "referee_id": referee_id}
        )
        return None if row is None else int(row[0])

    def awaiting_first_order(self, member_ids: Mapping[str, int]) -> set[str]:
        """The keys of the members (key -> member id) whose pending referral still waits for
        a first order. Raw statements: the batch path, every group of single events and every
        history chunk ask this; one cheap query when the tenant has no such referral at all."""
        if not member_ids or self.raw.one(_ANY_AWAITING, {"tenant_id": self.tenant_id}) is None:
            return set()
        by_id = {member_id: key for key, member_id in member_ids.items()}
        params: dict[str, Any] = {"tenant_id": self.tenant_id}
        params.update((f"r{i}", referee_id) for i, referee_id in enumerate(by_id))
        rows = self.raw.execute(_awaiting_first_order_of_many(len(by_id)), params).fetchall()
        return {by_id[int(row[0])] for row in rows}

    def of_first_order(self, order_id: str) -> RowMapping | None:
        stmt = self._view().where(referrals.c.first_order_id == order_id).limit(1)
        if self._lock:
            stmt = stmt.with_for_update(of=referrals)
        return self.conn.execute(stmt).mappings().first()

    def recent_of_referrer(self, referrer_id: int, since: datetime) -> list[datetime]:
        """When the referrer's referrals that were not rejected were attributed."""
        stmt = select(referrals.c.attributed_at).where(
            referrals.c.tenant_id == self.tenant_id,
            referrals.c.referrer_id == referrer_id,
            referrals.c.attributed_at > since,
            referrals.c.status != "rejected",
        )
        return list(self.conn.execute(stmt).scalars())

    def page(
        self, after: int | None, limit: int, *, status: str | None, referrer_id: int | None
    ) -> list[RowMapping]:
        stmt = self._view().order_by(referrals.c.id).limit(limit)
        if after is not None:
            stmt = stmt.where(referrals.c.id > after)
        if status is not None:
            stmt = stmt.where(referrals.c.status == status)
        if referrer_id is not None:
            stmt = stmt.where(referrals.c.referrer_id == referrer_id)
        return list(self.conn.execute(stmt).mappings())

    def counts(self, referrer_id: int | None) -> list[tuple[int, str, str, str | None, int]]:
        """(referrer id, referrer external id, status, reason, count) groups."""
        stmt = (
            select(
                referrals.c.referrer_id,
                _REFERRER.c.external_id,
                referrals.c.status,
                referrals.c.reason,
                func.count(),
            )
            .join(_REFERRER, _REFERRER.c.id == referrals.c.referrer_id)
            .where(referrals.c.tenant_id == self.tenant_id)
            .group_by(
                referrals.c.referrer_id,
                _REFERRER.c.external_id,
                referrals.c.status,
                referrals.c.reason,
            )
            .order_by(referrals.c.referrer_id)
        )
        if referrer_id is not None:
            stmt = stmt.where(referrals.c.referrer_id == referrer_id)
        return [tuple(row) for row in self.conn.execute(stmt)]  # type: ignore[misc]

    def _view(self) -> Any:
        return (
            select(
                referrals,
                _REFERRER.c.external_id.label("referrer_external_id"),
                _REFEREE.c.external_id.label("referee_external_id"),
            )
            .join(_REFERRER, and_(_REFERRER.c.id == referrals.c.referrer_id))
            .join(_REFEREE, and_(_REFEREE.c.id == referrals.c.referee_id))
            .where(referrals.c.tenant_id == self.tenant_id)
        )


def due_referrals(
    conn: Connection, now: datetime, limit: int, tenant_id: int | None = None
) -> list[tuple[int, int]]:
    """(tenant id, referral id) of pending referrals whose first order cleared its window."""
    stmt = (
        select(referrals.c.tenant_id, referrals.c.id)
        .where(
            referrals.c.status == "pending",
            referrals.c.qualifies_at.is_not(None),
            referrals.c.qualifies_at <= now,
        )
        .order_by(referrals.c.qualifies_at, referrals.c.id)
        .limit(limit)
    )
    if tenant_id is not None:
        stmt = stmt.where(referrals.c.tenant_id == tenant_id)
    return [(row.tenant_id, row.id) for row in conn.execute(stmt)]
