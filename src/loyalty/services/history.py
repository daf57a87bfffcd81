"""The history import's writer: orders read from a file, written set-based with tuple rows.

An import chunk is a list of ``HistoryOrder``: the order as read (enough to rebuild its
``order.paid`` event) plus the values of its order, lot and ledger-entry rows, computed where
the file is parsed (a second process for a file, see ``imports.import_order_file``), so the
writer only looks members up, assigns ids and runs one ``executemany`` per table.

The ledger it leaves is the batch path's in history mode (``bulk.process_batch(...,
history=True)``), which is the one-by-one path's: the same orders, lots, entries, balances and
tier refreshes; no webhooks, and no inbox rows except for the events that path sends one by
one (with the outbox muted, see ``bulk``). What that path sends one by one goes one by one
here too (a blocked member, one with a debt to repay, a referral waiting for a first order, a
member earning at a multiplier other than 1, an order in another currency); a tenant with
earning rules, or tiers that multiply, gets exactly ``process_batch`` for the chunk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

import orjson

from loyalty.domain.errors import DomainError
from loyalty.domain.events import InboundEvent, MemberRef, OrderPaid
from loyalty.domain.ledger import LotStatus
from loyalty.domain.members import MemberStatus
from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.services import bulk, events, tiers
from loyalty.services.context import TenantContext
from loyalty.services.events import EventResult
from loyalty.services.ledger import lot_dates
from loyalty.services.members import profile_fields
from loyalty.store._raw import dump_json, sqlite_text
from loyalty.store.bulk import BulkWriter
from loyalty.store.imports import HistoryRows
from loyalty.store.uow import UnitOfWork

IMPORTED = "imported"
ALREADY = "already"
_BLOCKED = MemberStatus.BLOCKED.value


class HistoryOrder(NamedTuple):
    """One order of a history file, ready to write."""

    line: int  # the order's first row in the file
    order_id: str
    customer: str  # the member's external id
    email: str | None  # as read (normalised when the member is looked up)
    occurred_at: datetime
    currency: str
    earn: bool
    # the orders row after its id and member (see ``store.imports.HistoryRows``): order_id,
    # currency, total, shipping, tax, base, lines (JSON), points, paid_at; its shipping, tax
    # and lines rebuild the order when it takes the one-by-one path
    order: tuple[Any, ...]
    # the lot row after its id and member: points, status, earned_at, available_at,
    # expires_at; None when the order earns nothing
    lot: tuple[Any, ...] | None
    # the ledger entry after its id, member, lot and order: points, available delta, pending
    # delta, reason, occurred_at; None when the order earns nothing
    entry: tuple[Any, ...] | None


class Preparer:
    """Builds ``HistoryOrder``s for one import run: the programme, ``now`` and the database's
    kind are fixed, so what an order writes is worked out once per distinct order time and
    once per distinct order value (history files repeat both: the same one-line order, the
    same line, the same instant), and kept in bounded caches."""

    _KEEP = 20_000  # entries per cache, at most

    def __init__(self, ctx: TenantContext, now: datetime, *, earn: bool, sqlite: bool) -> None:
        self.ctx, self.now, self.earn, self.sqlite = ctx, now, earn, sqlite
        self._dates: dict[datetime, tuple[Any, ...]] = {}
        # what ``events.earn_reason`` writes after the order's base and currency
        program = ctx.program
        self._reason = f" x {program.points_per_unit} points ({program.rounding.value})"

    def _time(self, value: datetime | None) -> Any:
        return sqlite_text(value) if self.sqlite and value is not None else value

    def dates(self, occurred_at: datetime) -> tuple[Any, ...]:
        """(earned_at as stored, lot status, available_at, expires_at, available now?)"""
        dates = self._dates.get(occurred_at)
        if dates is None:
            if len(self._dates) >= self._KEEP:
                self._dates.clear()
            earned_at = min(occurred_at, self.now)
            status, available_at, expires_at = lot_dates(self.ctx, earned_at, self.now)
            dates = self._dates[occurred_at] = (
                self._time(earned_at),
                status.value,
                self._time(available_at),
                self._time(expires_at),
                status is LotStatus.AVAILABLE,
            )
        return dates

    def values(self, paid: PaidOrder) -> tuple[Any, ...]:
        """What an order writes that its id, member and time do not change: the orders row
        from currency to points (without the order id), and the entry reason after the id."""
        program = self.ctx.program
        total, base = paid.total_and_base(program)
        points = program.points_for(base) if self.earn else 0
        return (
            paid.currency,
            str(total),
            str(paid.shipping),
            str(paid.tax),
            str(base),
            dump_json([events.line_json(x) for x in paid.lines]),
            points,
            f": {base} {paid.currency}{self._reason}",
        )

    def build(
        self,
        line: int,
        order_id: str,
        customer: str,
        email: str | None,
        occurred_at: datetime,
        dates: tuple[Any, ...],
        values: tuple[Any, ...],
    ) -> HistoryOrder:
        """The rows an order writes when its member earns at the programme's own rate
        (``dates`` and ``values`` as ``dates`` and ``values`` give them)."""
        currency, total, shipping, tax, base, lines, points, reason = values
        earned_at, status, available_at, expires_at, available = dates
        order = (order_id, currency, total, shipping, tax, base, lines, points, earned_at)
        if points <= 0:
            return HistoryOrder(
                line, order_id, customer, email, occurred_at, currency, self.earn, order, None, None
            )
        lot = (points, status, earned_at, available_at, expires_at)
        entry = (
            points,
            points if available else 0,
            0 if available else points,
            f"order {order_id}{reason}",
            earned_at,
        )
        return HistoryOrder(
            line, order_id, customer, email, occurred_at, currency, self.earn, order, lot, entry
        )

    def __call__(
        self, line: int, customer: str, email: str | None, occurred_at: datetime, paid: PaidOrder
    ) -> HistoryOrder:
        """The rows an order writes (``build`` without the caches' help)."""
        return self.build(
            line,
            paid.order_id,
            customer,
            email,
            occurred_at,
            self.dates(occurred_at),
            self.values(paid),
        )


def to_event(order: HistoryOrder) -> InboundEvent:
    """The ``order.paid`` event the import stands for (the one-by-one path takes it)."""
    shipping, tax, lines = order.order[3], order.order[4], orjson.loads(order.order[6])
    paid = PaidOrder(
        order_id=order.order_id,
        currency=order.currency,
        lines=tuple(
            OrderLine(
                x["sku"],
                x["quantity"],
                Decimal(x["unit_price"]),
                Decimal(x["discount"]),
                x["product_id"],
                x["category"],
            )
            for x in lines
        ),
        shipping=Decimal(shipping),
        tax=Decimal(tax),
    )
    earn = order.earn
    digest = hashlib.sha256(repr((order.customer, paid, earn)).encode()).hexdigest()
    return InboundEvent(
        source="import",
        event_id=f"{'import' if earn else 'history'}:{order.order_id}",
        type="order.paid",
        occurred_at=order.occurred_at,
        member=MemberRef(order.customer, {"email": order.email} if order.email else {}),
        payload=OrderPaid(paid, earn=earn),
        body_hash=digest,
    )


def outcome(order: HistoryOrder, result: EventResult) -> str:
    """``IMPORTED``, ``ALREADY`` (the ledger had the order), or why it failed."""
    if result.error is not None:
        return result.error.detail
    if result.replayed or result.body.get("note") == events.ALREADY_RECORDED.format(order.order_id):
        return ALREADY
    return IMPORTED


def write_history(
    uow: UnitOfWork, ctx: TenantContext, orders: Sequence[HistoryOrder], now: datetime
) -> list[str]:
    """Write a chunk of orders in file order; the outcome of each (see ``outcome``)."""
    ladder = tiers.load_ladder(uow)
    if uow.rules.set_version()[1] > 0 or tiers.ladder_multiplies(ladder):
        batch = [to_event(order) for order in orders]
        results = bulk.process_batch(uow, ctx, batch, now, history=True)
        return [outcome(o, r) for o, r in zip(orders, results, strict=True)]
    out: list[str] = [""] * len(orders)
    group: list[int] = []
    for k, order in enumerate(orders):
        if order.currency == ctx.program.currency:
            group.append(k)
            continue
        _write_group(uow, ctx, orders, group, out, now)
        group = []
        out[k] = _single(uow, ctx, order, now)
    _write_group(uow, ctx, orders, group, out, now)
    return out


def _single(uow: UnitOfWork, ctx: TenantContext, order: HistoryOrder, now: datetime) -> str:
    """An order the lean writer leaves to the batch path's history mode (which applies a
    multiplier itself and writes no inbox or outbox rows for it)."""
    (result,) = bulk.process_batch(uow, ctx, [to_event(order)], now, history=True)
    return outcome(order, result)


def _write_group(
    uow: UnitOfWork,
    ctx: TenantContext,
    orders: Sequence[HistoryOrder],
    group: list[int],
    out: list[str],
    now: datetime,
) -> None:
    if not group:
        return
    raw, tenant = uow.raw, uow.tenant_id
    writer = BulkWriter(raw, tenant)
    created = raw.time(now)
    # members: looked up with one statement, the missing ones created with one more; each
    # gets the first good email its orders give (one by one, later orders fill it in)
    emails: dict[str, str | None] = {}
    refused: set[str] = set()
    for k in group:
        order = orders[k]
        email = None
        if order.email is not None:
            try:
                email = profile_fields({"email": order.email}, {}, now)["email"]
            except DomainError:  # the one-by-one path reports it on this order
                refused.add(order.customer)
        if emails.get(order.customer) is None:
            emails[order.customer] = email
    members = writer.member_rows([x for x in emails if x not in refused])
    missing = [x for x in emails if x not in members and x not in refused]
    if missing:
        blank = (None, None, None, None, None, "{}", "active", 0, 0, 0, 0, created, created)
        writer.insert_rows(
            "members",
            [(tenant, x, emails[x], *blank) for x in missing],
        )
        members.update(writer.member_rows(missing))
    careful = set(refused)
    careful |= {x for x, m in members.items() if m[1] == _BLOCKED or m[3] > 0}
    careful |= uow.referrals.awaiting_first_order({x: m[0] for x, m in members.items()})
    ladder = tiers.load_ladder(uow)
    if tiers.may_multiply(uow, ladder):  # tiers that do not multiply; a paid membership may
        for k in group:
            x = orders[k].customer
            if x in careful or x not in members:
                continue
            at = min(orders[k].occurred_at, now)
            if tiers.base_multiplier(uow, ladder, members[x][0], at, checked=True) != 1:
                careful.add(x)
    for x, m in members.items():
        if m[2] is None and emails[x] is not None and x not in missing and x not in careful:
            uow.members.update_fields(m[0], {"email": emails[x]}, now)
    plain: list[int] = []
    for k in group:
        if orders[k].customer in careful:
            out[k] = _single(uow, ctx, orders[k], now)
        else:
            plain.append(k)
    if not plain:
        return
    recorded = writer.recorded_order_ids([orders[k].order_id for k in plain])
    fresh = []
    for k in plain:
        if orders[k].order_id in recorded:
            out[k] = ALREADY
        else:
            out[k] = IMPORTED
            fresh.append(k)
    earning = sum(1 for k in fresh if orders[k].entry is not None)
    order_ids = writer.reserve_ids("orders", len(fresh))
    lot_ids = iter(writer.reserve_ids("lots", earning))
    entry_ids = iter(writer.reserve_ids("ledger_entries", earning))
    order_rows, lot_rows, entry_rows = [], [], []
    deltas: dict[int, list[int]] = {}
    for order_pk, k in zip(order_ids, fresh, strict=True):
        order = orders[k]
        member_id = members[order.customer][0]
        order_rows.append((order_pk, member_id, *order.order))
        entry = order.entry
        if entry is None:
            continue
        lot_id = next(lot_ids)
        lot_rows.append((lot_id, member_id, *order.lot))  # type: ignore[misc]
        entry_rows.append((next(entry_ids), member_id, lot_id, order_pk, *entry))
        points, d_available, d_pending = entry[0], entry[1], entry[2]
        delta = deltas.get(member_id)
        if delta is None:
            deltas[member_id] = [d_available, d_pending, points]
        else:
            delta[0] += d_available
            delta[1] += d_pending
            delta[2] += points
    rows = HistoryRows(raw, tenant, now)
    rows.orders(order_rows)
    rows.lots(lot_rows)
    rows.entries(entry_rows)
    writer.add_balance_rows([(a, p, life, created, m) for m, (a, p, life) in deltas.items()])
    for member_id in deltas:  # balances changed behind the repository's back
        uow.members.latest.pop(member_id, None)
    if ladder is not None:
        ordered = {orders[k].customer for k in plain}
        refreshed = {members[x][0]: x for x in ordered}
        tiers.refresh_members(uow, ctx, refreshed, now, announce=False)  # old orders: no webhook
