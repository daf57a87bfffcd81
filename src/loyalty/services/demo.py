"""Demo data: a tenant with a few hundred members and months of orders and refunds.

Everything goes through the real event path with the clock set to each event's time, and the
daily jobs run between days, so the demo ledger is exactly what real traffic would produce.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from loyalty.domain.events import InboundEvent, MemberRef, OrderPaid, OrderRefunded
from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.services import events, jobs
from loyalty.services.program import load_context
from loyalty.store.uow import Database

_FIRST = [
    "Anna",
    "Piotr",
    "Maria",
    "Ioana",
    "Olga",
    "Jan",
    "Elena",
    "Tomasz",
    "Ivan",
    "Zofia",
    "Andrei",
    "Kasia",
]
_LAST = [
    "Nowak",
    "Kowalska",
    "Popescu",
    "Ionescu",
    "Ivanova",
    "Smirnov",
    "Wiśniewska",
    "Lewandowski",
]
_CATALOGUE = [
    ("DOG-FOOD-5KG", "pets", Decimal("129.99")),
    ("CAT-LITTER", "pets", Decimal("39.50")),
    ("TEA-GREEN", "grocery", Decimal("18.90")),
    ("COFFEE-BEANS", "grocery", Decimal("54.00")),
    ("MUG-BLUE", "home", Decimal("29.00")),
    ("LAMP-DESK", "home", Decimal("199.00")),
    ("SOCKS-3PK", "fashion", Decimal("24.99")),
    ("SCARF-WOOL", "fashion", Decimal("89.00")),
]


def seed(
    db: Database,
    tenant_id: int,
    now: datetime,
    *,
    members: int = 300,
    days: int = 180,
    seed: int = 7,
) -> int:
    """Replay ``days`` of shop history ending at ``now``; returns the number of events."""
    rng = random.Random(seed)
    start = now - timedelta(days=days)
    plan: list[InboundEvent] = []
    for n in range(members):
        external_id = f"demo-{n:04d}"
        profile = {
            "email": f"customer{n}@example.com",
            "first_name": rng.choice(_FIRST),
            "last_name": rng.choice(_LAST),
            "locale": rng.choice(["pl", "en", "ro", "ru"]),
        }
        joined = start + timedelta(days=rng.uniform(0, days * 0.8))
        moment = joined
        for k in range(max(1, int(rng.expovariate(1 / 3)))):
            if moment >= now:
                break
            order = _order(rng, f"D{n:04d}-{k}")
            ref = MemberRef(external_id, profile)
            plan.append(
                _event(f"paid-{order.order_id}", "order.paid", moment, ref, OrderPaid(order))
            )
            if rng.random() < 0.08:
                when = moment + timedelta(days=rng.uniform(1, 20))
                refund = OrderRefunded(
                    order.order_id, f"R-{order.order_id}", amount=order.charged_total / 2
                )
                if when < now:
                    plan.append(
                        _event(f"refund-{order.order_id}", "order.refunded", when, None, refund)
                    )
            moment += timedelta(days=rng.expovariate(1 / 30))
    plan.sort(key=lambda e: e.occurred_at)
    with db.read(tenant_id) as uow:
        ctx = load_context(uow, actor="demo")
    day = None
    for event in plan:
        if event.occurred_at.date() != day:
            day = event.occurred_at.date()
            jobs.run_due_jobs(db, event.occurred_at, tenant_id)
        events.ingest(db, ctx, event, event.occurred_at)
    jobs.run_due_jobs(db, now, tenant_id)
    return len(plan)


def _order(rng: random.Random, order_id: str) -> PaidOrder:
    lines = []
    for sku, category, price in rng.sample(_CATALOGUE, rng.randint(1, 3)):
        lines.append(
            OrderLine(sku=sku, quantity=rng.randint(1, 3), unit_price=price, category=category)
        )
    return PaidOrder(order_id, "PLN", tuple(lines), shipping=Decimal("14.99"), tax=Decimal(0))


def _event(
    event_id: str, type_: str, at: datetime, member: MemberRef | None, payload: object
) -> InboundEvent:
    return InboundEvent("demo", event_id, type_, at, member, payload, body_hash=event_id)  # type: ignore[arg-type]
