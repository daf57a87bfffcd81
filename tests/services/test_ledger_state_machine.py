"""A stateful test of the ledger.

Random sequences of store events (orders paid, refunded by lines or by amount, cancelled,
retried), manual adjustments, transfers and job runs on a clock that moves forward drive the
real services against the real database (SQLite and PostgreSQL). After every step every ledger
invariant must hold (``loyalty check``), and the database must agree with an independent model
(``ledger_model.py``) lot by lot and balance by balance; a model of each order says what it
earned and how much of it may have been reversed.

Each example gets a fresh shop (tenant) with its own programme: a clawback policy, a return
window, an expiry policy, a rate and a rounding mode.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from loyalty.domain.errors import (
    DomainError,
    EventConflict,
    InsufficientPoints,
    RefundConflict,
    RefundExceedsOrder,
    UnknownLine,
)
from loyalty.domain.ledger import LotStatus
from loyalty.domain.program import Clawback, ExpiryKind, Rounding
from loyalty.services import events, jobs, members
from loyalty.services.checks import check_ledger
from loyalty.store.tables import allocations, inbox_events, ledger_entries, lots, orders, refunds
from loyalty.store.tables import members as member_rows
from tests.builders import cancel_json, event, order_paid_json, refund_json
from tests.conftest import NOW, Shop
from tests.services.ledger_model import LedgerModel, ModelBalances, ModelLot

STATS: Counter[str] = Counter()


def note(what: str) -> None:
    STATS[what] += 1


MEMBERS = ("m0", "m1")
SKUS = ("a", "b", "c")

EXPIRY_POLICIES: list[dict[str, Any]] = [
    {"kind": "never"},
    {"kind": "days_after_earn", "days": 7},
    {"kind": "days_after_earn", "days": 30},
    {"kind": "end_of_month_after", "months": 0},
    {"kind": "end_of_month_after", "months": 1},
    {"kind": "end_of_year_after", "months": 0},
    {"kind": "inactivity", "days": 20},
]


# An order: (member, lines of (sku, quantity, unit price in cents, discount %), shipping in
# cents, tax in cents, days the event arrives late).
ORDERS = st.tuples(
    st.sampled_from(MEMBERS),
    st.lists(
        st.tuples(
            st.sampled_from(SKUS),
            st.integers(min_value=1, max_value=4),
            st.integers(min_value=0, max_value=20_000),
            st.sampled_from([0, 0, 0, 10, 33, 100]),
        ),
        min_size=1,
        max_size=3,
        unique_by=lambda line: line[0],
    ),
    st.sampled_from([0, 0, 999, 1500]),
    st.sampled_from([0, 0, 123, 2300]),
    st.sampled_from([0, 0, 0, 3, 20, -1]),  # -1: the store's clock is a day ahead
)
OrderSpec = tuple[str, list[tuple[str, int, int, int]], int, int, int]


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def to_points(base_cents: int, rate: Decimal, rounding: Rounding) -> int:
    """The model's money -> points rule, computed independently of ``Program.points_for``."""
    exact = Fraction(base_cents, 100) * Fraction(str(rate))
    if exact <= 0:
        return 0
    if rounding is Rounding.FLOOR:
        return math.floor(exact)
    if rounding is Rounding.CEILING:
        return math.ceil(exact)
    return half_up(exact)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass
class Line:
    quantity: int
    net_cents: int


@dataclass
class OrderModel:
    """What the store sent for an order and what the ledger may have done with it."""

    order_id: str
    member: str
    lines: dict[str, Line]
    total_cents: int
    earned: int
    reversed: int = 0
    refunded_units: dict[str, int] = field(default_factory=dict)
    refunded_cents: int = 0
    share: Fraction = Fraction(0)  # refunded share of the earning base
    cancelled: bool = False
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)  # refund id -> event json
    lot_id: int | None = None  # the lot its points were earned into

    @property
    def lines_net_cents(self) -> int:
        return sum(line.net_cents for line in self.lines.values())

    def units_left(self, sku: str) -> int:
        return self.lines[sku].quantity - self.refunded_units.get(sku, 0)

    @property
    def money_left(self) -> int:
        return self.total_cents - self.refunded_cents

    def line_money(self, wanted: dict[str, int]) -> int:
        """Money a refund of whole units returns, in minor units: the units' share of the line,
        rounded on the cumulative count so that refunding every unit returns the line exactly."""
        total = 0
        for sku, quantity in wanted.items():
            line = self.lines[sku]
            before = self.refunded_units.get(sku, 0)
            total += self._line_share(line, before + quantity) - self._line_share(line, before)
        return total

    @staticmethod
    def _line_share(line: Line, units: int) -> int:
        return half_up(Fraction(line.net_cents * units, line.quantity))

    @property
    def fully_refunded(self) -> bool:
        return self.cancelled or self.share >= 1


@dataclass(frozen=True)
class Balances:
    available: int
    pending: int
    lifetime: int
    debt: int

    @property
    def total(self) -> int:
        return self.available + self.pending


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, make_shop: Callable[..., Shop]) -> None:
        super().__init__()
        self.shop = make_shop(transfers_enabled=True)
        self.db = self.shop.db
        self.tenant_id = self.shop.tenant_id
        self.now: datetime = NOW
        self.counter = 0
        self.orders: dict[str, OrderModel] = {}
        self.sent: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (event json, first body)
        self.model = LedgerModel(MEMBERS)
        self.debt_allowed = False  # the clawback policy was negative_balance at some point

    # --- set-up ---------------------------------------------------------------------------

    @initialize(
        clawback=st.sampled_from(Clawback),
        pending_days=st.sampled_from([0, 0, 5, 14]),
        expiry=st.sampled_from(EXPIRY_POLICIES),
        rounding=st.sampled_from(Rounding),
        rate=st.sampled_from(["1", "0.1", "2.5", "0.37"]),
        exclude_shipping=st.booleans(),
        exclude_tax=st.booleans(),
        first_orders=st.lists(ORDERS, min_size=1, max_size=3),
    )
    def configure(
        self,
        clawback: Clawback,
        pending_days: int,
        expiry: dict[str, Any],
        rounding: Rounding,
        rate: str,
        exclude_shipping: bool,
        exclude_tax: bool,
        first_orders: list[OrderSpec],
    ) -> None:
        self.shop.with_settings(
            clawback=clawback.value,
            pending_days=pending_days,
            expiry=expiry,
            rounding=rounding.value,
            points_per_unit=rate,
            exclude_shipping=exclude_shipping,
            exclude_tax=exclude_tax,
            transfers_enabled=True,
        )
        self.debt_allowed = clawback is Clawback.NEGATIVE_BALANCE
        with self.db.transaction(self.tenant_id) as uow:
            for external_id in MEMBERS:
                members.create_member(uow, self.shop.ctx, external_id, {}, self.now)
        for spec in first_orders:
            self.place_order(spec)

    # --- helpers --------------------------------------------------------------------------

    @property
    def program(self) -> Any:
        return self.shop.ctx.program

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def send(self, body: dict[str, Any]) -> events.EventResult:
        result = events.ingest(self.db, self.shop.ctx, event(body), self.now)
        if not result.replayed:
            # the response states the member's balances as they are once the event took effect
            b = self.balances()[result.body["member"]]
            assert result.body["balances"] == {
                "available": b.available,
                "pending": b.pending,
                "lifetime_earned": b.lifetime,
            }, (result.body, b)
        return result

    def balances(self) -> dict[str, Balances]:
        with self.db.read(self.tenant_id) as uow:
            rows = uow.conn.execute(
                select(
                    member_rows.c.external_id,
                    member_rows.c.available,
                    member_rows.c.pending,
                    member_rows.c.lifetime_earned,
                    member_rows.c.debt,
                ).where(member_rows.c.tenant_id == self.tenant_id)
            ).all()
        return {r[0]: Balances(r[1], r[2], r[3], r[4]) for r in rows}

    def order_row(self, order_id: str) -> Any:
        with self.db.read(self.tenant_id) as uow:
            return uow.conn.execute(
                select(orders).where(
                    orders.c.tenant_id == self.tenant_id, orders.c.order_id == order_id
                )
            ).one()

    def snapshot(self, *, with_inbox: bool = True) -> tuple[Any, ...]:
        """Everything a failed or replayed request must leave untouched."""
        tid = self.tenant_id
        with self.db.read(tid) as uow:
            conn = uow.conn
            counted = [ledger_entries, lots, allocations, refunds]
            if with_inbox:
                counted.append(inbox_events)
            counts = tuple(
                conn.execute(
                    select(func.count()).select_from(t).where(t.c.tenant_id == tid)
                ).scalar_one()
                for t in counted
            )
            member_state = conn.execute(
                select(
                    member_rows.c.external_id,
                    member_rows.c.available,
                    member_rows.c.pending,
                    member_rows.c.lifetime_earned,
                    member_rows.c.debt,
                    member_rows.c.last_activity_at,
                )
                .where(member_rows.c.tenant_id == tid)
                .order_by(member_rows.c.id)
            ).all()
            lot_state = conn.execute(
                select(lots.c.id, lots.c.remaining, lots.c.status)
                .where(lots.c.tenant_id == tid)
                .order_by(lots.c.id)
            ).all()
            order_state = conn.execute(
                select(
                    orders.c.order_id,
                    orders.c.status,
                    orders.c.refunded_amount,
                    orders.c.refunded_base,
                    orders.c.refunded_quantities,
                    orders.c.points_reversed,
                )
                .where(orders.c.tenant_id == tid)
                .order_by(orders.c.id)
            ).all()
        return (
            counts,
            [tuple(r) for r in member_state],
            [tuple(r) for r in lot_state],
            [tuple(r) for r in order_state],
        )

    def expect_refusal(
        self, error: type[DomainError], action: Callable[[], object], *, with_inbox: bool = True
    ) -> DomainError:
        """``action`` must fail with ``error`` and change nothing at all."""
        before = self.snapshot(with_inbox=with_inbox)
        try:
            action()
        except error as caught:
            after = self.snapshot(with_inbox=with_inbox)
            assert after == before, f"a refused {error.__name__} changed the database"
            return caught
        raise AssertionError(f"expected {error.__name__}")

    def remember(self, body: dict[str, Any], result: events.EventResult) -> None:
        assert not result.replayed
        self.sent.append((body, result.body))

    def new_lot_ids(self) -> list[int]:
        """Ids of the lots made since the model last saw one, in the order they were made."""
        with self.db.read(self.tenant_id) as uow:
            rows = uow.conn.execute(
                select(lots.c.id)
                .where(lots.c.tenant_id == self.tenant_id, lots.c.id > self.model.last_lot_id)
                .order_by(lots.c.id)
            ).all()
        return [r[0] for r in rows]

    def reversing(
        self, model: OrderModel, action: Callable[[], events.EventResult]
    ) -> events.EventResult:
        """Run a refund or cancellation, and take the same points back in the model."""
        row = self.order_row(model.order_id)
        before = self.balances()
        result = action()
        after = self.balances()
        row_after = self.order_row(model.order_id)
        points = row_after.points_reversed - row.points_reversed
        assert 0 <= points <= model.earned - model.reversed, (points, model)
        model.reversed += points
        b, a = before[model.member], after[model.member]
        # the effects reported add up to what the balances did
        effects = result.body["effects"]
        assert sum(e["available_delta"] for e in effects) == a.available - b.available, effects
        assert sum(e["pending_delta"] for e in effects) == a.pending - b.pending, effects
        assert sum(e["points"] for e in effects) == a.total - b.total, effects
        assert len(effects) == (1 if points else 0), effects
        if points:
            assert model.lot_id is not None
            # the model covers the reversal as the clawback policy says; the invariants then
            # compare every lot and balance with the database
            policy = self.program.clawback
            covered = self.model.reverse(model.lot_id, points, policy)
            meta = effects[0].get("meta", {})
            assert meta.get("negative_balance", 0) == covered.debt, (meta, covered)
            assert meta.get("written_off", 0) == covered.written_off, (meta, covered)
            assert meta.get("from_other_points", 0) == covered.from_other_lots, (meta, covered)
            if covered.debt:
                note("reversal left a negative balance")
            if covered.from_other_lots:
                note("reversal took other points")
            if covered.written_off:
                note("reversal wrote points off")
        for other in MEMBERS:
            if other != model.member:
                assert after[other] == before[other]
        return result

    # --- orders ---------------------------------------------------------------------------

    @rule(order=ORDERS)
    def pay(self, order: OrderSpec) -> None:
        self.place_order(order)

    def place_order(self, spec: OrderSpec) -> None:
        member, lines, shipping, tax, lag_days = spec
        order_id = self.next_id("o")
        occurred = self.now - timedelta(days=lag_days)
        body = order_paid_json(
            self.next_id("e"),
            member,
            order_id,
            [(sku, quantity, money(price)) for sku, quantity, price, _ in lines],
            occurred,
            shipping=money(shipping),
            tax=money(tax),
        )
        model_lines: dict[str, Line] = {}
        for json_line, (sku, quantity, price, percent) in zip(
            body["data"]["lines"], lines, strict=True
        ):
            discount = price * quantity * percent // 100
            json_line["discount"] = money(discount)
            model_lines[sku] = Line(quantity, price * quantity - discount)
        lines_net = sum(line.net_cents for line in model_lines.values())
        base = lines_net
        if not self.program.exclude_shipping:
            base += shipping
        if not self.program.exclude_tax:
            base += tax
        earned = to_points(base, self.program.points_per_unit, self.program.rounding)
        before = self.balances()

        result = self.send(body)

        self.remember(body, result)
        order = OrderModel(order_id, member, model_lines, lines_net + shipping + tax, earned)
        self.orders[order_id] = order
        after = self.balances()
        assert [e["points"] for e in result.body["effects"]] == ([earned] if earned else [])
        assert after[member].lifetime - before[member].lifetime == earned
        assert after[member].total - before[member].total == earned
        earned_at = min(occurred, self.now)  # points are never earned in the future
        available_at = earned_at + timedelta(days=self.program.pending_days)
        pending = available_at > self.now
        assert after[member].pending - before[member].pending == (earned if pending else 0)
        new_lots = self.new_lot_ids()
        assert len(new_lots) == (1 if earned else 0), new_lots
        if earned:
            # the lot unlocks when the return window closes and expires as the policy says
            lot = result.body["effects"][0]["lot"]
            expires_at = self.program.expiry.lot_expires_at(available_at, self.shop.ctx.timezone)
            assert lot["status"] == ("pending" if pending else "available")
            assert datetime.fromisoformat(lot["available_at"]) == available_at
            assert (lot["expires_at"] and datetime.fromisoformat(lot["expires_at"])) == expires_at
            order.lot_id = new_lots[0]
            self.model.credit(
                member,
                new_lots[0],
                earned,
                available_at=available_at,
                expires_at=expires_at,
                now=self.now,
                lifetime=True,
            )

    def pick_order(self, data: st.DataObject) -> OrderModel:
        """Mostly an order that can still be refunded; sometimes any order."""
        open_orders = sorted(o for o, m in self.orders.items() if not m.fully_refunded)
        any_order = data.draw(st.integers(min_value=0, max_value=4), label="any order") == 0
        pool = sorted(self.orders) if any_order or not open_orders else open_orders
        return self.orders[data.draw(st.sampled_from(pool), label="order")]

    def pay_again(self, model: OrderModel) -> None:
        """The same order under a new event id earns nothing more."""
        body = order_paid_json(
            self.next_id("e"), model.member, model.order_id, [("a", 1, "999.00")], self.now
        )
        before = self.snapshot(with_inbox=False)
        result = self.send(body)
        assert result.body["effects"] == [] and "already" in result.body["note"]
        assert self.snapshot(with_inbox=False) == before
        self.remember(body, result)

    @precondition(lambda self: self.sent)
    @rule(data=st.data(), kind=st.sampled_from(["same body", "another body", "same order"]))
    def retry(self, data: st.DataObject, kind: str) -> None:
        """A retry with the same id and body returns the first response and changes nothing;
        the same id with another body is a conflict and changes nothing either; the same order
        under a new event id earns nothing more."""
        note(f"retry: {kind}")
        if kind == "same order":
            self.pay_again(self.pick_order(data))
            return
        body, first = data.draw(st.sampled_from(self.sent))
        if kind == "another body":
            changed = {**body, "occurred_at": (self.now + timedelta(seconds=1)).isoformat()}
            self.expect_refusal(EventConflict, lambda: self.send(changed))
            return
        before = self.snapshot()
        result = self.send(body)
        assert result.replayed
        assert result.body == first
        assert self.snapshot() == before

    # --- refunds --------------------------------------------------------------------------

    def refund(self, model: OrderModel, data: dict[str, Any]) -> None:
        """Send a refund the model expects to succeed and update the model."""
        refund_id = self.next_id("R")
        body = refund_json(self.next_id("e"), model.order_id, refund_id, self.now, **data)
        if model.cancelled:
            before = self.snapshot(with_inbox=False)
            result = self.send(body)
            assert result.body["effects"] == [] and "cancelled" in result.body["note"]
            assert self.snapshot(with_inbox=False) == before
            self.remember(body, result)
            return
        result = self.reversing(model, lambda: self.send(body))
        self.remember(body, result)
        model.refunds[refund_id] = body
        note("refund by " + ("lines" if "lines" in data else "amount"))
        if data.get("lines") is not None:
            wanted = dict(data["lines"])
            cents = model.line_money(wanted)
            for sku, quantity in wanted.items():
                model.refunded_units[sku] = model.refunded_units.get(sku, 0) + quantity
            everything = all(model.units_left(sku) == 0 for sku in model.lines)
            if everything:
                model.share = max(model.share, Fraction(1))
            elif model.lines_net_cents > 0:
                model.share += Fraction(cents, model.lines_net_cents)
        else:
            cents = int(Decimal(data["amount"]) * 100)
            if cents == model.money_left:
                model.share = max(model.share, Fraction(1))
            else:
                model.share += Fraction(cents, model.total_cents)
        model.refunded_cents += cents
        if model.fully_refunded and model.earned:
            note(
                "refund in full after partial refunds"
                if len(model.refunds) > 1
                else "refund in full"
            )

    def refused_refund(self, model: OrderModel, data: dict[str, Any]) -> None:
        body = refund_json(self.next_id("e"), model.order_id, self.next_id("R"), self.now, **data)
        self.expect_refusal(RefundExceedsOrder, lambda: self.send(body))
        note("refund refused")

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), unknown_sku=st.sampled_from([False, False, False, False, True]))
    def refund_lines(self, data: st.DataObject, unknown_sku: bool) -> None:
        model = self.pick_order(data)
        if unknown_sku and not model.cancelled:
            body = refund_json(
                self.next_id("e"), model.order_id, self.next_id("R"), self.now, lines=[("zzz", 1)]
            )
            self.expect_refusal(UnknownLine, lambda: self.send(body))
            return
        wanted: dict[str, int] = {}
        for sku, line in model.lines.items():
            quantity = data.draw(st.integers(min_value=0, max_value=line.quantity), label=sku)
            if quantity:
                wanted[sku] = quantity
        if not wanted:
            wanted[next(iter(model.lines))] = 1
        request = {"lines": sorted(wanted.items())}
        too_many = any(quantity > model.units_left(sku) for sku, quantity in wanted.items())
        if model.cancelled:
            self.refund(model, request)
        elif too_many or model.line_money(wanted) > model.money_left:
            self.refused_refund(model, request)
        else:
            self.refund(model, request)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), extra=st.sampled_from([0, 0, 0, 1, 500]))
    def refund_amount(self, data: st.DataObject, extra: int) -> None:
        model = self.pick_order(data)
        left = max(model.money_left, 0)
        cents = data.draw(st.integers(min_value=1, max_value=max(left, 1))) + extra
        request = {"amount": money(cents)}
        if model.cancelled or cents <= model.money_left:
            self.refund(model, request)
        else:
            self.refused_refund(model, request)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), by_lines=st.booleans())
    def refund_the_rest(self, data: st.DataObject, by_lines: bool) -> None:
        """A full refund of whatever is left, by every remaining unit or by the remaining money."""
        model = self.pick_order(data)
        if by_lines:
            wanted = {sku: model.units_left(sku) for sku in model.lines if model.units_left(sku)}
            if not wanted:
                wanted = {next(iter(model.lines)): 1}
            request: dict[str, Any] = {"lines": sorted(wanted.items())}
            fits = all(q <= model.units_left(s) for s, q in wanted.items())
            fits = fits and model.line_money(wanted) <= model.money_left
        else:
            request = {"amount": money(max(model.money_left, 1))}
            fits = model.money_left > 0
        if model.cancelled or fits:
            self.refund(model, request)
        else:
            self.refused_refund(model, request)

    @precondition(lambda self: any(m.refunds for m in self.orders.values()))
    @rule(data=st.data(), same=st.booleans())
    def resend_a_refund_under_a_new_event_id(self, data: st.DataObject, same: bool) -> None:
        """A refund id that was applied is never applied again; other contents conflict."""
        refunded = sorted(oid for oid, m in self.orders.items() if m.refunds)
        model = self.orders[data.draw(st.sampled_from(refunded))]
        refund_id = data.draw(st.sampled_from(sorted(model.refunds)))
        first = model.refunds[refund_id]["data"]
        if "lines" in first:
            lines = [(x["sku"], x["quantity"]) for x in first["lines"]]
            payload: dict[str, Any] = {"lines": lines} if same else {"amount": "0.01"}
        else:
            cents = int(Decimal(first["amount"]) * 100)
            payload = {"amount": money(cents if same else cents + 1)}
        body = refund_json(self.next_id("e"), model.order_id, refund_id, self.now, **payload)
        if not same:
            self.expect_refusal(RefundConflict, lambda: self.send(body))
            return
        before = self.snapshot(with_inbox=False)
        result = self.send(body)
        assert result.body["effects"] == [] and "already" in result.body["note"]
        assert self.snapshot(with_inbox=False) == before
        self.remember(body, result)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), twice=st.booleans())
    def cancel(self, data: st.DataObject, twice: bool) -> None:
        """A cancellation reverses what is left of the order's points, once."""
        model = self.pick_order(data)
        if not model.cancelled:
            lot = self.model.lots.get(model.lot_id) if model.lot_id else None
            before_release = lot is not None and lot.status == "pending"
            body = cancel_json(self.next_id("e"), model.order_id, self.now)
            self.remember(body, self.reversing(model, lambda: self.send(body)))
            model.cancelled = True
            assert model.reversed == model.earned
            if before_release:
                # the pending points are voided: the lot is empty and nothing else was touched
                assert lot is not None and lot.remaining == 0
                note("cancel before release")
            note("cancel")
            if not twice:
                return
        body = cancel_json(self.next_id("e"), model.order_id, self.now)
        before = self.snapshot(with_inbox=False)
        result = self.send(body)
        assert result.body["effects"] == [] and "already" in result.body["note"]
        assert self.snapshot(with_inbox=False) == before
        self.remember(body, result)

    # --- adjustments and transfers ----------------------------------------------------------

    def spendable(self, member: str) -> int:
        return sum(lot.remaining for lot in self.model.spendable(member))

    @staticmethod
    def drawn(effect: dict[str, Any]) -> list[tuple[int, int]]:
        return [(d["lot_id"], d["points"]) for d in effect["meta"]["drawn_from"]]

    @staticmethod
    def model_draws(draws: list[tuple[ModelLot, int]]) -> list[tuple[int, int]]:
        ids = [lot.lot_id for lot, _ in draws]
        if ids != sorted(ids):
            note("spend took a younger lot first (it expires sooner)")
        return [(lot.lot_id, points) for lot, points in draws]

    @rule(member=st.sampled_from(MEMBERS), up=st.booleans(), data=st.data())
    def adjust(self, member: str, up: bool, data: st.DataObject) -> None:
        if up:
            self.adjust_up(member, data.draw(st.integers(min_value=1, max_value=500)))
            return
        before = self.balances()[member]
        have = self.spendable(member)
        points = data.draw(
            st.one_of(
                st.integers(min_value=1, max_value=have + 20),
                # spend everything or half: later refunds of spent points claw back
                st.just(max(have, 1)),
                st.just(max(have // 2, 1)),
            )
        )

        def spend() -> dict[str, Any]:
            with self.db.transaction(self.tenant_id) as uow:
                return members.adjust(uow, self.shop.ctx, member, -points, "redeemed", self.now)

        if points > have:
            caught = self.expect_refusal(InsufficientPoints, spend)
            assert caught.data["needed"] == points
            note("adjustment refused")
            return
        effect = spend()["effects"][0]
        note("adjustment down")
        # a negative adjustment spends like a redemption: soonest-expiring lots first
        assert self.drawn(effect) == self.model_draws(self.model.spend(member, points, self.now))
        after = self.balances()[member]
        assert after == Balances(
            before.available - points, before.pending, before.lifetime, before.debt
        )

    @rule(sender=st.sampled_from(MEMBERS), data=st.data())
    def transfer(self, sender: str, data: st.DataObject) -> None:
        receiver = data.draw(st.sampled_from([m for m in MEMBERS if m != sender]))
        before = self.balances()
        have = self.spendable(sender)
        points = data.draw(
            st.integers(min_value=1, max_value=have)
            if have and data.draw(st.integers(0, 3), label="too many") > 0
            else st.integers(min_value=have + 1, max_value=have + 10)
        )

        def move() -> dict[str, Any]:
            with self.db.transaction(self.tenant_id) as uow:
                return members.transfer(
                    uow, self.shop.ctx, sender, receiver, points, "gift", self.now
                )

        if points > have:
            self.expect_refusal(InsufficientPoints, move)
            note("transfer refused")
            return
        effect = move()["effects"][0]
        draws, received = self.model.transfer(
            sender, receiver, points, self.new_lot_ids(), self.now
        )
        # the sender's lots are drawn soonest-expiring first, and the receiver's new lots keep
        # the expiry dates of the lots they came from (the invariants compare every lot)
        assert self.drawn(effect) == self.model_draws(draws)
        assert [lot.expires_at for lot in received] == [lot.expires_at for lot, _ in draws]
        note("transfer")
        after = self.balances()
        assert after[sender].available == before[sender].available - points
        assert after[receiver].available == before[receiver].available + points
        assert after[receiver].debt == max(0, before[receiver].debt - points)
        assert after[sender].lifetime == before[sender].lifetime
        assert after[receiver].lifetime == before[receiver].lifetime

    def adjust_up(self, member: str, points: int) -> None:
        note("adjustment up")
        before = self.balances()
        with self.db.transaction(self.tenant_id) as uow:
            members.adjust(uow, self.shop.ctx, member, points, "goodwill", self.now)
        (lot_id,) = self.new_lot_ids()
        self.model.credit(
            member,
            lot_id,
            points,
            available_at=self.now,
            expires_at=self.program.expiry.lot_expires_at(self.now, self.shop.ctx.timezone),
            now=self.now,
            lifetime=False,
        )
        after = self.balances()
        assert after[member].available - before[member].available == points
        assert after[member].lifetime == before[member].lifetime
        assert after[member].debt == max(0, before[member].debt - points)

    # --- programme changes ----------------------------------------------------------------

    @rule(
        clawback=st.sampled_from(Clawback),
        pending_days=st.sampled_from([0, 5, 14]),
        expiry=st.sampled_from(EXPIRY_POLICIES),
    )
    def change_programme(
        self, clawback: Clawback, pending_days: int, expiry: dict[str, Any]
    ) -> None:
        """Settings change mid-flight; lots already earned keep their dates."""
        before = self.snapshot()
        self.shop.with_settings(clawback=clawback.value, pending_days=pending_days, expiry=expiry)
        self.debt_allowed = self.debt_allowed or clawback is Clawback.NEGATIVE_BALANCE
        assert self.snapshot() == before

    # --- time -----------------------------------------------------------------------------

    @rule(days=st.integers(min_value=0, max_value=45), hours=st.integers(min_value=0, max_value=23))
    def run_jobs(self, days: int, hours: int) -> None:
        self.now += timedelta(days=days, hours=hours)
        before = self.balances()
        report = jobs.run_due_jobs(self.db, self.now, self.tenant_id)
        for name, count in report.to_dict().items():
            if count:
                note(f"job {name}")
        # release first (repaying any negative balance), then expire by date, then idle members
        self.model.release_due(self.now)
        self.model.expire_due(self.now)
        self.model.expire_idle(self.program.expiry.idle_cutoff(self.now))
        after = self.balances()
        for member in MEMBERS:
            # jobs move points from pending to available and expire them, nothing else
            assert after[member].lifetime == before[member].lifetime
            assert after[member].total <= before[member].total
            assert after[member].pending <= before[member].pending
        self.check_jobs_postconditions()
        # a second run at the same moment finds nothing to do
        snapshot = self.snapshot()
        again = jobs.run_due_jobs(self.db, self.now, self.tenant_id)
        assert again.to_dict() == dict.fromkeys(again.to_dict(), 0)
        assert self.snapshot() == snapshot

    def check_jobs_postconditions(self) -> None:
        tid = self.tenant_id
        with self.db.read(tid) as uow:
            conn = uow.conn
            overdue_pending = conn.execute(
                select(func.count()).where(
                    lots.c.tenant_id == tid,
                    lots.c.status == LotStatus.PENDING,
                    lots.c.available_at <= self.now,
                )
            ).scalar_one()
            overdue_expiry = conn.execute(
                select(func.count()).where(
                    lots.c.tenant_id == tid,
                    lots.c.status == LotStatus.AVAILABLE,
                    lots.c.remaining > 0,
                    lots.c.expires_at <= self.now,
                )
            ).scalar_one()
            idle_points = 0
            expiry = self.program.expiry
            if expiry.kind is ExpiryKind.INACTIVITY:
                assert expiry.days is not None
                cutoff = self.now - timedelta(days=expiry.days)
                idle = select(member_rows.c.id).where(
                    member_rows.c.tenant_id == tid, member_rows.c.last_activity_at <= cutoff
                )
                idle_points = conn.execute(
                    select(func.coalesce(func.sum(lots.c.remaining), 0)).where(
                        lots.c.tenant_id == tid,
                        lots.c.status == LotStatus.AVAILABLE,
                        lots.c.member_id.in_(idle),
                    )
                ).scalar_one()
        assert overdue_pending == 0, "a lot whose return window closed is still pending"
        assert overdue_expiry == 0, "a lot past its expiry date still holds points"
        assert idle_points == 0, "an idle member still holds points after inactivity expiry"

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def ledger_is_consistent(self) -> None:
        report = check_ledger(self.db, self.tenant_id)
        assert report.ok, "\n".join(str(v) for v in report.violations)

    @invariant()
    def balances_are_within_bounds(self) -> None:
        for member, b in self.balances().items():
            assert b.pending >= 0, (member, b)
            assert b.debt >= 0, (member, b)
            assert b.available >= -b.debt, (member, b)
            if b.debt:
                assert self.debt_allowed, (member, b)
                assert b.available == -b.debt, (member, b)
            expected = self.model.balances(member)
            actual = ModelBalances(b.available, b.pending, b.lifetime, b.debt)
            assert actual == expected, (member, actual, expected)

    @invariant()
    def lots_match_the_model(self) -> None:
        with self.db.read(self.tenant_id) as uow:
            rows = uow.conn.execute(
                select(
                    lots.c.id,
                    member_rows.c.external_id,
                    lots.c.amount,
                    lots.c.remaining,
                    lots.c.status,
                    lots.c.available_at,
                    lots.c.expires_at,
                )
                .join(member_rows, member_rows.c.id == lots.c.member_id)
                .where(lots.c.tenant_id == self.tenant_id)
                .order_by(lots.c.id)
            ).all()
        expected = [lot.as_row() for _, lot in sorted(self.model.lots.items())]
        assert [tuple(r) for r in rows] == expected

    @invariant()
    def orders_never_reverse_more_than_they_earned(self) -> None:
        if not self.orders:
            return
        with self.db.read(self.tenant_id) as uow:
            rows = {
                r.order_id: r
                for r in uow.conn.execute(
                    select(
                        orders.c.order_id, orders.c.points_earned, orders.c.points_reversed
                    ).where(orders.c.tenant_id == self.tenant_id)
                )
            }
        for order_id, model in self.orders.items():
            row = rows[order_id]
            assert row.points_earned == model.earned, (order_id, row, model)
            assert row.points_reversed == model.reversed, (order_id, row, model)
            assert 0 <= model.reversed <= model.earned, model
            if model.fully_refunded:
                assert model.reversed == model.earned, (
                    f"order {order_id} was refunded in full but reversed "
                    f"{model.reversed} of {model.earned} points: {model}"
                )
            else:
                # the reversal tracks the refunded share of the base (floored, within a point)
                share = min(model.share, Fraction(1))
                expected = model.earned * share
                slack = Fraction(2 * model.earned, max(model.lines_net_cents, 1)) + Fraction(1, 100)
                assert expected - 1 - slack <= model.reversed <= expected + slack, (
                    order_id,
                    float(expected),
                    model,
                )


def test_ledger_state_machine(make_shop: Callable[..., Shop]) -> None:
    """Runs derandomized examples, so a failure reproduces and CI does not flake.

    ``LOYALTY_STATE_MACHINE_RANDOM=1`` explores new examples instead, and
    ``LOYALTY_STATE_MACHINE_EXAMPLES`` / ``_STEPS`` make a run longer.
    """
    explore = bool(os.environ.get("LOYALTY_STATE_MACHINE_RANDOM"))
    examples = os.environ.get("LOYALTY_STATE_MACHINE_EXAMPLES")
    STATS.clear()
    run_state_machine_as_test(
        lambda: LedgerMachine(make_shop),
        settings=settings(
            max_examples=int(examples or "20"),
            stateful_step_count=int(os.environ.get("LOYALTY_STATE_MACHINE_STEPS", "30")),
            deadline=None,
            derandomize=not explore,
            database=None,
            suppress_health_check=[
                HealthCheck.too_slow,
                HealthCheck.filter_too_much,
                HealthCheck.data_too_large,
            ],
        ),
    )
    # What the run exercised (shown with -s). Not asserted: the fixed examples still shift with
    # the code loaded in the process, since Hypothesis draws on constants found in loaded
    # modules; the service tests pin down each interaction one by one.
    print(dict(STATS))
