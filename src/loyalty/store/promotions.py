"""Promotions, their codes and usage counters. Counters change with conditional statements."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import bindparam, case, delete, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from loyalty.store._raw import RawRunner, RawStatement
from loyalty.store._upsert import insert_row_if_absent
from loyalty.store.tables import promotion_codes, promotion_member_usage, promotions

_LIVE = promotions.c.deleted_at.is_(None)
# What the hot path reads every request: versions (to check its cache) and counters; on the
# connection's own cursor, as the event path's statements are (no SQLAlchemy per call).
_STATES = RawStatement(
    """SELECT id, version, uses, budget_spent, reserved_uses, reserved_budget FROM promotions
    WHERE tenant_id = :tenant_id AND deleted_at IS NULL AND active = 1"""
)


class CodeRow(NamedTuple):
    code: str
    promotion_pk: int
    max_uses: int | None
    uses: int
    reserved: int


@lru_cache(maxsize=32)
def _codes_statement(count: int) -> RawStatement:
    """The lookup of ``count`` entered codes (checkout reads them on every evaluation)."""
    wanted = ", ".join(f":c{i}" for i in range(count))
    return RawStatement(
        f"""SELECT code, promotion_pk, max_uses, uses, reserved FROM promotion_codes
        WHERE tenant_id = :tenant_id AND code IN ({wanted})"""
    )


_MEMBER_USES = select(
    promotion_member_usage.c.promotion_pk,
    promotion_member_usage.c.uses,
    promotion_member_usage.c.reserved,
).where(
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
    def __init__(self, conn: Connection, tenant_id: int, raw: RawRunner | None = None) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.raw = raw or RawRunner(conn)
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
        """(pk, version, uses, budget_spent, reserved_uses, reserved_budget) of every active
        promotion; the two amounts as the driver gives them (``Decimal(...)`` of either is the
        amount), since most callers need the counters of a few promotions only."""
        rows: list[Any] = self.raw.execute(_STATES, {"tenant_id": self.tenant_id}).fetchall()
        return rows

    def active(self) -> list[RowMapping]:
        stmt = select(promotions).where(
            promotions.c.tenant_id == self.tenant_id, _LIVE, promotions.c.active == 1
        )
        return list(self.conn.execute(stmt).mappings())

    def counters(self, pk: int) -> RowMapping | None:
        """The promotion's limits and counters, its row locked (PostgreSQL) until commit.

        Every change to a promotion's counters goes through this lock first, so reading
        what is left and taking it cannot interleave with another checkout. (Money is stored
        as text, so the checks are made here rather than in a conditional UPDATE.)"""
        p = promotions.c
        stmt = select(
            p.id,
            p.usage_limit,
            p.usage_limit_per_member,
            p.budget,
            p.uses,
            p.budget_spent,
            p.reserved_uses,
            p.reserved_budget,
        ).where(p.tenant_id == self.tenant_id, p.id == pk)
        if self._lock:
            stmt = stmt.with_for_update()
        return self.conn.execute(stmt).mappings().first()

    def member_usage(self, pk: int, member_id: int) -> tuple[int, int]:
        """(uses, reserved) of one member for one promotion."""
        u = promotion_member_usage.c
        row = self.conn.execute(
            select(u.uses, u.reserved).where(
                u.tenant_id == self.tenant_id, u.promotion_pk == pk, u.member_id == member_id
            )
        ).first()
        return (0, 0) if row is None else (int(row.uses), int(row.reserved))

    def hold(
        self,
        counters: RowMapping,
        member_id: int | None,
        amount: Decimal,
        *,
        previous: tuple[int | None, Decimal] | None = None,
    ) -> None:
        """An open checkout holds one use, ``amount`` of budget and (``member_id``) one of the
        member's uses; ``previous``: (member, amount) it held before, now replaced. The row
        from ``counters`` must still be locked."""
        uses = counters["reserved_uses"] + (0 if previous is not None else 1)
        budget = counters["reserved_budget"] + amount
        old_member = None
        if previous is not None:
            old_member, old_amount = previous
            budget -= old_amount
        self.update(
            counters["id"],
            {"reserved_uses": uses, "reserved_budget": max(budget, Decimal(0))},
        )
        if previous is not None and old_member == member_id:
            return
        if old_member is not None:
            self._member_usage(counters["id"], old_member, reserved=-1)
        if member_id is not None:
            self._member_usage(counters["id"], member_id, reserved=+1)

    def unhold(self, pk: int, member_id: int | None, amount: Decimal) -> None:
        """Let go of one held use and ``amount`` of held budget (never below zero)."""
        row = self.counters(pk)
        if row is None:
            return
        self.update(
            pk,
            {
                "reserved_uses": max(row["reserved_uses"] - 1, 0),
                "reserved_budget": max(row["reserved_budget"] - amount, Decimal(0)),
            },
        )
        if member_id is not None:
            self._member_usage(pk, member_id, reserved=-1)

    def count_use(
        self,
        pk: int,
        member_id: int | None,
        discount: Decimal,
        *,
        held: bool = False,
        held_member_id: int | None = None,
    ) -> None:
        """One more order used the promotion and got ``discount`` from it (row locked).
        ``held``: the use and ``discount`` of budget were held by the order's checkout (and
        one use of ``held_member_id``) and turn from held into used."""
        row = self.counters(pk)
        if row is None:
            return
        values: dict[str, Any] = {
            "uses": row["uses"] + 1,
            "budget_spent": row["budget_spent"] + discount,
        }
        if held:
            values["reserved_uses"] = max(row["reserved_uses"] - 1, 0)
            values["reserved_budget"] = max(row["reserved_budget"] - discount, Decimal(0))
        self.update(pk, values)
        if held and held_member_id is not None and held_member_id != member_id:
            self._member_usage(pk, held_member_id, reserved=-1)
        if member_id is not None:
            let_go = -1 if held and held_member_id == member_id else 0
            self._member_usage(pk, member_id, uses=+1, reserved=let_go)

    def uncount_use(
        self,
        pk: int,
        member_id: int | None,
        discount: Decimal = Decimal(0),
        *,
        use: bool = True,
    ) -> None:
        """An order's use of the promotion is given back, with the ``discount`` it spent
        (``use=False``: only the budget, its use was given back before)."""
        row = self.counters(pk)
        if row is None:
            return
        values: dict[str, Any] = {
            "budget_spent": max(row["budget_spent"] - discount, Decimal(0)),
        }
        if use:
            values["uses"] = max(row["uses"] - 1, 0)
        self.update(pk, values)
        if use and member_id is not None:
            self._member_usage(pk, member_id, uses=-1)

    def _member_usage(self, pk: int, member_id: int, *, uses: int = 0, reserved: int = 0) -> None:
        key = {"tenant_id": self.tenant_id, "promotion_pk": pk, "member_id": member_id}
        insert_row_if_absent(self.conn, promotion_member_usage, {**key, "uses": 0, "reserved": 0})
        u = promotion_member_usage.c
        values: dict[str, Any] = {}
        if uses:
            values["uses"] = case((u.uses + uses >= 0, u.uses + uses), else_=0)
        if reserved:
            values["reserved"] = case((u.reserved + reserved >= 0, u.reserved + reserved), else_=0)
        if not values:
            return
        self.conn.execute(
            update(promotion_member_usage)
            .where(u.tenant_id == self.tenant_id, u.promotion_pk == pk, u.member_id == member_id)
            .values(**values)
        )

    def member_uses(self, member_id: int) -> dict[int, tuple[int, int]]:
        """promotion pk -> (uses, held by open checkouts) of one member."""
        params = {"tenant_id": self.tenant_id, "member_id": member_id}
        return {pk: (uses, held) for pk, uses, held in self.conn.execute(_MEMBER_USES, params)}

    # --- codes --------------------------------------------------------------------------

    def codes(self, codes: Iterable[str]) -> dict[str, CodeRow]:
        """code -> (code, promotion_pk, max_uses, uses, reserved) for the codes that exist."""
        wanted = list(codes)
        if not wanted:
            return {}
        params: dict[str, Any] = {f"c{i}": code for i, code in enumerate(wanted)}
        params["tenant_id"] = self.tenant_id
        rows = self.raw.execute(_codes_statement(len(wanted)), params).fetchall()
        return {row[0]: CodeRow(*row) for row in rows}

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
