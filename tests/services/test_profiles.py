"""Customer profiles on a real database: hand-made orders, and the Online Retail archive."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from loyalty.integrations.files import read_rows
from loyalty.services import events, imports, profiles
from tests.builders import event as to_event
from tests.builders import order_paid_json, refund_json
from tests.conftest import NOW, Shop

RETAIL = (
    Path(__file__).parents[2]
    / ".."
    / "shared"
    / "datasets"
    / "online-retail"
    / "online-retail.csv.gz"
)


def send(shop: Shop, body: dict[str, Any]) -> None:
    events.ingest(shop.db, shop.ctx, to_event(body), NOW)


def order(
    n: int, member: str, days_ago: int, lines: list[tuple[str, int, str, str]]
) -> dict[str, Any]:
    body = order_paid_json(
        f"e{n}",
        member,
        f"o{n}",
        [(s, q, p) for s, q, p, _ in lines],
        NOW - timedelta(days=days_ago),
    )
    for line, (_, _, _, category) in zip(body["data"]["lines"], lines, strict=True):
        line["category"] = category
    return body


def view(shop: Shop, member: str) -> dict[str, Any]:
    with shop.db.read(shop.tenant_id) as uow:
        return profiles.profile_view(uow, member)


def test_profile_facts_from_orders_and_refunds(shop: Shop) -> None:
    # given alice bought pets food twice and a lamp once, and half of one order came back
    send(shop, order(1, "alice", 40, [("DOG", 2, "50.00", "pets"), ("LAMP", 1, "20.00", "home")]))
    send(shop, order(2, "alice", 10, [("CAT", 1, "30.00", "pets")]))
    send(shop, refund_json("r2", "o2", "R2", NOW, amount="15.00"))
    send(shop, order(3, "bob", 100, [("MUG", 1, "12.00", "home")]))
    # when the profiles are refreshed
    report = profiles.refresh_profiles(shop.db, shop.ctx, NOW)
    # then the facts are right
    assert report.members == 2 and report.predictions is False  # too few repeat buyers
    alice = view(shop, "alice")
    assert (alice["orders"], alice["spend"], alice["aov"]) == (2, "135.00", "67.50")
    assert alice["favourite_category"] == "pets"
    assert alice["category_shares"] == {"home": 0.1333, "pets": 0.8667}
    local_today = NOW.astimezone(shop.ctx.timezone).date()
    assert alice["last_order_at"] == (local_today - timedelta(days=10)).isoformat()
    assert alice["days_since_last_order"] == 10
    assert alice["predicted_clv_12m"] is None
    bob = view(shop, "bob")
    assert bob["rfm_recency"] < alice["rfm_recency"] and bob["lifecycle_stage"] in (
        "at_risk",
        "lapsed",
    )


def shopper_days(rng: random.Random) -> list[int]:
    """Days-ago of one shopper's orders, drawn the way BG/NBD assumes shoppers behave."""
    rate, dropout = rng.gammavariate(2.0, 1 / 60), rng.betavariate(1.0, 3.0)
    days = [rng.randint(150, 360)]
    while True:
        day = days[-1] - rng.expovariate(rate)
        if day < 1:
            break
        days.append(int(day))
        if rng.random() < dropout:
            break
    return sorted(set(days), reverse=True)


def test_predictions_need_enough_repeat_buyers(shop: Shop) -> None:
    # given 120 shoppers whose habits follow the model's own story
    rng = random.Random(7)
    n, counts = 0, {}
    for customer in range(120):
        days = shopper_days(rng)
        counts[f"c{customer}"] = len(days)
        usual = rng.gammavariate(3.0, 15.0)  # each shopper has a typical basket
        for days_ago in days:
            n += 1
            price = f"{usual * rng.uniform(0.7, 1.3) + 5:.2f}"
            send(shop, order(n, f"c{customer}", days_ago, [("A", 1, price, "x")]))
    # when the profiles are refreshed, the models are fitted and used
    report = profiles.refresh_profiles(shop.db, shop.ctx, NOW)
    assert report.predictions is True
    best = max(counts, key=lambda m: (counts[m], m))
    once = min(m for m, c in counts.items() if c == 1)
    loyal, single = view(shop, best), view(shop, once)
    assert loyal["predicted_orders_12m"] > single["predicted_orders_12m"] >= 0
    assert 0 <= single["probability_alive"] <= 1
    assert float(loyal["predicted_clv_12m"]) > 0
    with shop.db.read(shop.tenant_id) as uow:
        segments = profiles.segments_view(uow)
    assert sum(segments["rfm_segments"].values()) == 120
    assert sum(segments["lifecycle_stages"].values()) == 120


def test_a_member_without_orders_has_no_profile(shop: Shop) -> None:
    from loyalty.domain.errors import NotFound

    with pytest.raises(NotFound), shop.db.read(shop.tenant_id) as uow:
        profiles.profile_view(uow, "nobody")


@pytest.mark.slow
def test_online_retail_archive(make_shop: Any, database_url: str) -> None:
    if not RETAIL.exists():
        pytest.skip("../shared/datasets/online-retail is not here")
    if not database_url.startswith("sqlite"):
        pytest.skip("the half-million-row import runs once, on SQLite")
    shop = make_shop(currency="GBP", timezone="Europe/London")
    mapping = {
        "order_id": "InvoiceNo",
        "customer_id": "CustomerID",
        "ordered_at": "InvoiceDate",
        "sku": "StockCode",
        "quantity": "Quantity",
        "unit_price": "UnitPrice",
    }
    imports.import_orders(shop.db, shop.ctx, read_rows(RETAIL), NOW, mapping=mapping, earn=False)
    report = profiles.refresh_profiles(shop.db, shop.ctx, NOW, as_of=date(2011, 12, 10))
    assert report.members == 4338 and report.predictions
    # customer 12347: seven invoices, 4,310.00 spent, a recent regular
    known = view(shop, "12347")
    assert (known["orders"], known["spend"]) == (7, "4310.00")
    assert known["rfm_segment"] == "Champions" and known["lifecycle_stage"] == "active"
    with shop.db.read(shop.tenant_id) as uow:
        counts = profiles.segments_view(uow)
    assert all(n > 0 for n in counts["rfm_segments"].values())  # ties handled: every segment used


def test_the_daily_refresh_runs_once_per_local_day(shop: Shop) -> None:
    # given a shop with one order and no profiles yet
    send(shop, order(1, "alice", 3, [("DOG", 1, "50.00", "pets")]))

    # when the scheduler's pass runs twice the same day, then once the next day
    def daily(now: datetime) -> int:
        return profiles.refresh_daily(shop.db, now, shop.tenant_id)

    assert daily(NOW) == 1
    assert daily(NOW + timedelta(minutes=5)) == 0
    assert view(shop, "alice")["days_since_last_order"] == 3
    assert daily(NOW + timedelta(days=1)) == 1
    # then the profile moved on with the calendar
    assert view(shop, "alice")["days_since_last_order"] == 4
