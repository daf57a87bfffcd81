"""Promotions, their codes and usage counters. Counters change with conditional statements."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._upsert import insert_row_if_absent
from loyalty.store.tables import promotion_codes, promotion_member_usage, promotions

_LIVE = promotions.c.deleted_at.is_(None)
# What the hot path reads every request: versions (to check its cache) and counters.
_STATES = select(
    promotions.c.id,
    promotions.c.version,
    promotions.c.uses,
    promotions.c.budget_spent,
).where(promotions.c.tenant_id == bindparam("tenant_id"), _LIVE, promotions.c.active == 1)
_CODES = select(
    promotion_codes.c.code,
    promotion_codes.c.promotion_pk,
    promotion_codes.c.max_uses,
    promotion_codes.c.uses,
    promotion_codes.c.reserved,
).where(
    promotion_codes.c.tenant_id == bindparam("tenant_id"),
    promotion_codes.c.code.in_(bindparam("codes", expanding=True)),
)
_MEMBER_USES = select(promotion_member_usage.c.promotion_pk, promotion_member_usage.c.uses).where(
    promotion_member_usage.c.tenant_id == bindparam("tenant_id"),
    promotion_member_usage.c.member_id == bindparam("member_id"),
)


def _code_update() -> Any:
    return update(promotion_codes).where(
        promotion_codes.c.tenant_id == bindparam("t"), promotion_codes.c.code == bindparam("c")
    )


_RESERVE_CODE = (
    _code_update()
    .values(reserved=promotion_codes.c.reserved + 1)
    .where(
        (promotion_codes.c.max_uses.is_(None))
        | (promotion_codes.c.uses + promotion_codes.c.reserved < promotion_codes.c.max_uses)
    )
)
_UNRESERVE_CODE = (
    _code_update()
    .values(reserved=promotion_codes.c.reserved - 1)
    .where(promotion_codes.c.reserved > 0)
)
_USE_RESERVED_CODE = (
    _code_update()
    .values(reserved=promotion_codes.c.reserved - 1, uses=promotion_codes.c.uses + 1)
    .where(promotion_codes.c.reserved > 0)
)
_USE_CODE = (
    _code_update()
    .values(uses=promotion_codes.c.uses + 1)
    .where(
        (promotion_codes.c.max_uses.is_(None))
        | (promotion_codes.c.uses + promotion_codes.c.reserved < promotion_codes.c.max_uses)
    )
)
_UNUSE_CODE = (
    _code_update().values(uses=promotion_codes.c.uses - 1).where(promotion_codes.c.uses > 0)
)


class PromotionRepository:
    def __init__(self, conn: Connection, tenant_id: int) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._lock = conn.dialect.name == "postgresql"

    # --- promotions ---------------------------------------------------------------------

    def get(self, promotion_id: str, *, lock: bool = False) -> RowMapping | None:
        stmt = select(promotions).where(
            promotions.c.tenant_id == self.tenant_id,
            promotions.c.promotion_id == promotion_id,
            _LIVE,
        )
        if lock and self._lock:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).mappings().first()

    def exists(self, promotion_id: str) -> bool:
        stmt = select(promotions.c.id).where(
            promotions.c.tenant_id == self.tenant_id, promotions.c.promotion_id == promotion_id
        )
        return self.conn.execute(stmt).first() is not None

    def add(self, values: dict[str, Any]) -> int:
        row = {**values, "tenant_id": self.tenant_id, "uses": 0, "budget_spent": Decimal(0)}
        pk = self.conn.execute(insert(promotions).values(**row).returning(promotions.c.id))
        return int(pk.scalar_one())

    def update(self, pk: int, values: dict[str, Any]) -> None:
        self.conn.execute(
            update(promotions)
            .where(promotions.c.tenant_id == self.tenant_id, promotions.c.id == pk)
            .values(**values)
        )

    def page(self, after: int | None, limit: int) -> list[RowMapping]:
        stmt = select(promotions).where(promotions.c.tenant_id == self.tenant_id, _LIVE)
        if after:
            stmt = stmt.where(promotions.c.id > after)
        return list(self.conn.execute(stmt.order_by(promotions.c.id).limit(limit)).mappings())

    def states(self) -> list[Any]:
        """(pk, version, uses, budget_spent) of every active promotion."""
        return list(self.conn.execute(_STATES, {"tenant_id": self.tenant_id}).all())

    def active(self) -> list[RowMapping]:
        stmt = select(promotions).where(
            promotions.c.tenant_id == self.tenant_id, _LIVE, promotions.c.active == 1
        )
        return list(self.conn.execute(stmt).mappings())

    def count_use(self, pk: int, member_id: int | None, discount: Decimal) -> None:
        """One more order used the promotion and got ``discount`` from it (row locked)."""
        stmt = select(promotions.c.uses, promotions.c.budget_spent).where(
            promotions.c.tenant_id == self.tenant_id, promotions.c.id == pk
        )
        if self._lock:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        if row is None:
            return
        self.update(pk, {"uses": row.uses + 1, "budget_spent": row.budget_spent + discount})
        if member_id is not None:
            self._member_uses(pk, member_id, +1)

    def uncount_use(self, pk: int, member_id: int | None) -> None:
        self.conn.execute(
            update(promotions)
            .where(
                promotions.c.tenant_id == self.tenant_id,
                promotions.c.id == pk,
                promotions.c.uses > 0,
            )
            .values(uses=promotions.c.uses - 1)
        )
        if member_id is not None:
            self._member_uses(pk, member_id, -1)

    def _member_uses(self, pk: int, member_id: int, delta: int) -> None:
        key = {"tenant_id": self.tenant_id, "promotion_pk": pk, "member_id": member_id}
        insert_row_if_absent(self.conn, promotion_member_usage, {**key, "uses": 0})
        u = promotion_member_usage.c
        self.conn.execute(
            update(promotion_member_usage)
            .where(
                u.tenant_id == self.tenant_id,
                u.promotion_pk == pk,
                u.member_id == member_id,
                u.uses + delta >= 0,
            )
            .values(uses=u.uses + delta)
        )

    def member_uses(self, member_id: int) -> dict[int, int]:
        params = {"tenant_id": self.tenant_id, "member_id": member_id}
        return {pk: uses for pk, uses in self.conn.execute(_MEMBER_USES, params)}

    # --- codes --------------------------------------------------------------------------

    def codes(self, codes: Iterable[str]) -> dict[str, Any]:
        """code -> (code, promotion_pk, max_uses, uses, reserved) for the codes that exist."""
        wanted = list(codes)
        if not wanted:
            return {}
        rows = self.conn.execute(_CODES, {"tenant_id": self.tenant_id, "codes": wanted})
        return {row.code: row for row in rows}

    def codes_of(self, pk: int) -> list[str]:
        stmt = select(promotion_codes.c.code).where(
            promotion_codes.c.tenant_id == self.tenant_id, promotion_codes.c.promotion_pk == pk
        )
        return sorted(self.conn.execute(stmt).scalars())

    def set_codes(self, pk: int, codes: Iterable[str], max_uses: int | None) -> None:
        """Make ``codes`` the promotion's codes; kept codes keep their counters."""
        wanted = set(codes)
        current = set(self.codes_of(pk))
        gone = current - wanted
        c = promotion_codes.c
        if gone:
            self.conn.execute(
                delete(promotion_codes).where(
                    c.tenant_id == self.tenant_id, c.promotion_pk == pk, c.code.in_(gone)
                )
            )
        if current & wanted:
            self.conn.execute(
                update(promotion_codes)
                .where(c.tenant_id == self.tenant_id, c.promotion_pk == pk)
                .values(max_uses=max_uses)
            )
        for code in sorted(wanted - current):
            self.conn.execute(
                insert(promotion_codes).values(
                    tenant_id=self.tenant_id,
                    code=code,
                    promotion_pk=pk,
                    max_uses=max_uses,
                    uses=0,
                    reserved=0,
                )
            )

    def _code(self, stmt: Any, code: str) -> bool:
        result = self.conn.execute(stmt, {"t": self.tenant_id, "c": code})
        return bool(result.rowcount == 1)

    def reserve_code(self, code: str) -> bool:
        """Hold one use of ``code``; False when its uses are all used or held (atomic)."""
        return self._code(_RESERVE_CODE, code)

    def unreserve_code(self, code: str) -> None:
        self._code(_UNRESERVE_CODE, code)

    def use_reserved_code(self, code: str) -> bool:
        return self._code(_USE_RESERVED_CODE, code)

    def use_code(self, code: str) -> bool:
        """Count a use of ``code`` that held no reservation; False when none is left."""
        return self._code(_USE_CODE, code)

    def unuse_code(self, code: str) -> bool:
        return self._code(_UNUSE_CODE, code)

    def remove_codes(self, pk: int) -> None:
        c = promotion_codes.c
        self.conn.execute(
            delete(promotion_codes).where(c.tenant_id == self.tenant_id, c.promotion_pk == pk)
        )

    def now_deleted(self, pk: int, now: datetime) -> None:
        self.update(pk, {"deleted_at": now, "active": 0, "updated_at": now})
