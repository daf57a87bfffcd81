"""The history writer leaves the ledger the one-by-one path leaves, on a generated file.

The same orders go into two identical shops: one imports the file (``imports.import_orders``,
the history writer, in small chunks and with the parsing in a second process or not), the
other gets each order as its ``order.paid`` event one by one (``events.ingest``). Members,
orders, lots, entries and tier states must be the same, and the ledger check clean.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from loyalty.domain.errors import DomainError
from loyalty.domain.events import InboundEvent, MemberRef, OrderPaid
from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.integrations.files import read_rows
from loyalty.services import events, imports, members, memberships, referrals, tiers
from loyalty.services.checks import check_ledger
from tests.builders import event
from tests.conftest import NOW, Shop

HEADER = (
    "order_id,customer_id,email,ordered_at,currency,sku,quantity,unit_price,discount,shipping\n"
)
# gold multiplies what its members earn; "flat" has tiers that never change what an order earns
LADDERS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "flat": {
        "metric": "points_earned",
        "window": {"kind": "lifetime"},
        "levels": [{"id": "silver", "name": "Silver", "threshold": 50}],
    },
    "multiplying": {
        "metric": "points_earned",
        "window": {"kind": "lifetime"},
        "levels": [
            {"id": "silver", "name": "Silver", "threshold": 50},
            {"id": "gold", "name": "Gold", "threshold": 300, "benefits": {"earn_multiplier": "2"}},
        ],
    },
}


def generated_orders(seed: int, count: int) -> list[dict[str, Any]]:
    """Orders over two years: repeat customers, several lines, discounts, shipping, one order
    in another currency, an email-only customer, a bad email and a blocked member."""
    rng = random.Random(seed)
    customers = [f"c{n}" for n in range(8)] + ["blocked", "ben"]
    orders = []
    for n in range(count):
        at = NOW - timedelta(days=rng.randrange(0, 730), minutes=rng.randrange(0, 1440))
        lines = [
            (f"SKU-{rng.randrange(5)}", rng.randrange(1, 4), f"{rng.randrange(1, 9000) / 100:.2f}")
            for _ in range(rng.randrange(1, 4))
        ]
        orders.append(
            {
                "order_id": f"H{n}",
                "customer_id": rng.choice(customers),
                "email": "",
                "ordered_at": at.strftime("%Y-%m-%d %H:%M:%S"),
                "currency": "PLN",
                "lines": lines,
                "discount": rng.choice(["", "", "0.50"]),
                "shipping": rng.choice(["", "4.99"]),
            }
        )
    orders[3].update(currency="EUR")
    orders[5].update(customer_id="", email="Only.Email@Example.com")
    orders[7].update(customer_id="c1", email="not an email")
    orders[9].update(customer_id="c2", email="c2@example.com")
    return orders


def write_file(path: Path, orders: list[dict[str, Any]]) -> Path:
    rows = []
    for o in orders:
        for sku, quantity, price in o["lines"]:
            rows.append(
                f"{o['order_id']},{o['customer_id']},{o['email']},{o['ordered_at']},"
                f"{o['currency']},{sku},{quantity},{price},{o['discount']},{o['shipping']}\n"
            )
    path.write_text(HEADER + "".join(rows))
    return path


def as_event(shop: Shop, o: dict[str, Any]) -> InboundEvent:
    """The order as the one-by-one path gets it, written independently of the importer."""
    discount = Decimal(o["discount"] or "0")
    lines = tuple(OrderLine(s, q, Decimal(p), discount) for s, q, p in o["lines"])
    paid = PaidOrder(o["order_id"], o["currency"], lines, shipping=Decimal(o["shipping"] or "0"))
    customer = o["customer_id"] or "email:" + o["email"].lower()
    occurred = datetime.strptime(o["ordered_at"], "%Y-%m-%d %H:%M:%S")
    occurred = occurred.replace(tzinfo=shop.ctx.timezone)
    profile = {"email": o["email"]} if o["email"] else {}
    return InboundEvent(
        "import",
        f"import:{o['order_id']}",
        "order.paid",
        occurred,
        MemberRef(customer, profile),
        OrderPaid(paid),
        "reference",
    )


def prepare(shop: Shop, ladder: dict[str, Any] | None) -> None:
    """A blocked member, ben waiting for his first order under a referral, c0 with an order
    already in the ledger (the import must not earn it twice), and the ladder."""
    with shop.db.transaction(shop.tenant_id) as uow:
        members.create_member(uow, shop.ctx, "blocked", {"status": "blocked"}, NOW)
        if ladder is not None:
            tiers.create_tiers(uow, shop.ctx, ladder, NOW)
    with shop.db.transaction(shop.tenant_id) as uow:
        members.create_member(uow, shop.ctx, "anna", {"first_name": "Anna"}, NOW)
        found = referrals.member_referral(uow, "anna", NOW)
    assert found is not None
    anna = found["code"]
    events.ingest(shop.db, shop.ctx, event(_customer("ben-1", "ben", {"referral_code": anna})), NOW)


def _customer(event_id: str, member: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "customer.created",
        "occurred_at": NOW.isoformat(),
        "member": {"external_id": member},
        "data": data,
    }


def snapshot(shop: Shop) -> dict[str, Any]:
    t = {"t": shop.tenant_id}
    queries = {
        "members": """SELECT external_id, email, status, available, pending, lifetime_earned,
            debt, last_activity_at FROM members WHERE tenant_id = :t""",
        "orders": """SELECT o.order_id, m.external_id, o.currency, o.total, o.shipping, o.tax,
            o.base, o.lines, o.points_earned, o.status, o.paid_at FROM orders o
            JOIN members m ON m.id = o.member_id WHERE o.tenant_id = :t""",
        "lots": """SELECT m.external_id, l.amount, l.remaining, l.status, l.earned_at,
            l.available_at, l.expires_at FROM lots l JOIN members m ON m.id = l.member_id
            WHERE l.tenant_id = :t""",
        "entries": """SELECT m.external_id, e.kind, e.points, e.available_delta,
            e.pending_delta, e.lifetime_delta, e.reason, e.occurred_at, o.order_id
            FROM ledger_entries e JOIN members m ON m.id = e.member_id
            LEFT JOIN orders o ON o.id = e.order_pk WHERE e.tenant_id = :t""",
        "tiers": """SELECT m.external_id, s.tier FROM member_tiers s
            JOIN members m ON m.id = s.member_id WHERE s.tenant_id = :t""",
    }
    out: dict[str, Any] = {}
    with shop.db.read(shop.tenant_id) as uow:
        for name, sql in queries.items():
            rows = uow.conn.execute(text(sql), t).all()
            out[name] = sorted((tuple(_plain(v) for v in row) for row in rows), key=repr)
    return out


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, type(None))) else repr(value)


@pytest.mark.parametrize("ladder", list(LADDERS))
@pytest.mark.parametrize(("chunk", "parse_apart"), [(7, False), (2_000, True)])
def test_the_history_writer_leaves_the_ledger_the_one_by_one_path_leaves(
    make_shop: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ladder: str,
    chunk: int,
    parse_apart: bool,
) -> None:
    # given two identical shops with a return window and expiry, and a generated file
    settings = {"pending_days": 14, "expiry": {"kind": "days_after_earn", "days": 365}}
    shops = [make_shop(**settings), make_shop(**settings)]
    orders = generated_orders(seed=7, count=60)
    for shop in shops:
        prepare(shop, LADDERS[ladder])
        first = dataclasses.replace(as_event(shop, orders[0]), event_id="shop:H0")
        events.ingest(shop.db, shop.ctx, first, NOW)
    path = write_file(tmp_path / "history.csv", orders)
    # when one shop imports the file (in chunks of 7 orders, or all in one) and the other
    # gets the orders one by one
    monkeypatch.setattr(imports, "CHUNK", chunk)
    report = imports.import_orders(
        shops[0].db, shops[0].ctx, read_rows(path), NOW, parse_apart=parse_apart
    )
    refused = []
    for o in orders:
        try:
            events.ingest(shops[1].db, shops[1].ctx, as_event(shops[1], o), NOW)
        except DomainError as error:
            refused.append(error.detail)
    # then both ledgers hold the same members, orders, lots, entries and tiers
    assert snapshot(shops[0]) == snapshot(shops[1])
    assert report.already_there == 1
    assert sorted(reason for _, reason in report.errors) == sorted(refused)
    assert report.imported == len(orders) - 1 - len(refused)
    for shop in shops:
        assert check_ledger(shop.db, shop.tenant_id).ok
    # and a second run of the file changes nothing
    before = snapshot(shops[0])
    again = imports.import_orders(shops[0].db, shops[0].ctx, read_rows(path), NOW)
    assert (again.imported, again.already_there) == (0, len(orders) - len(refused))
    assert snapshot(shops[0]) == before


def test_without_tiers_a_paid_membership_multiplies_imported_orders(
    make_shop: Any, tmp_path: Path
) -> None:
    # given two shops without tiers where c1 has a plan earning x2 since ten days ago
    shops = [make_shop(pending_days=0), make_shop(pending_days=0)]
    for shop in shops:
        with shop.db.transaction(shop.tenant_id) as uow:
            members.create_member(uow, shop.ctx, "c1", {}, NOW)
            plan = memberships.create_plan(
                uow,
                shop.ctx,
                {
                    "name": "Plus",
                    "price": "9",
                    "term": "monthly",
                    "benefits": {"earn_multiplier": "2"},
                },
                NOW,
            )
            since = NOW - timedelta(days=10)
            memberships.start_membership(uow, shop.ctx, "c1", plan["id"], "ms1", since, since)
    orders = [
        {
            "order_id": f"H{n}",
            "customer_id": customer,
            "email": "",
            "ordered_at": (NOW - timedelta(days=n)).strftime("%Y-%m-%d %H:%M:%S"),
            "currency": "PLN",
            "lines": [("a", 1, price)],
            "discount": "",
            "shipping": "",
        }
        for n, customer, price in [(1, "c1", "10.99"), (2, "c2", "40.00"), (3, "c1", "33.33")]
    ]
    path = write_file(tmp_path / "history.csv", orders)
    # when one shop imports them and the other gets them one by one
    report = imports.import_orders(shops[0].db, shops[0].ctx, read_rows(path), NOW)
    for o in orders:
        events.ingest(shops[1].db, shops[1].ctx, as_event(shops[1], o), NOW)
    # then c1's imported orders earn twice their base, as one by one
    assert report.imported == 3
    imported = snapshot(shops[0])
    assert sorted(row[1] for row in imported["lots"] if row[0] == "c1") == [21, 66]
    assert imported == snapshot(shops[1])
