"""Programme analytics on a real database, against figures computed by hand.

The shop (Europe/Warsaw, UTC+1 in winter, 1 point per PLN, points expire 30 days after they
are earned) sees, in UTC:
- alice joins with o1 (01-10 10:00, 100.00), orders o2 (01-31 23:30 = 02-01 00:30 in Warsaw,
  50.00) and o3 (02-15, 30.00, refunded in full on 02-16); redeems 70 points on 01-20; the
  rest of o1's lot (30) expires on 02-09 10:00.
- bob joins on 01-20 through his imported history h1 (2025-12-05, 80.00, no points) and orders
  o4 (02-10, 40.00).
- carol joins with o5 (02-20, 60.00), cancelled on 02-21.
- guests: g1 (guest@example.com, 01-15, 25.00), g2 (same email, 02-02, 35.00), g3 (no email,
  02-03, 10.00).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from loyalty.analytics.kpis import Granularity
from loyalty.domain.errors import InvalidSettings, ValidationFailed
from loyalty.domain.ledger import EntryKind
from loyalty.domain.program import Program
from loyalty.services import events, jobs, ledger
from loyalty.services import program_analytics as analytics
from loyalty.services.program_analytics import FigureQuery
from loyalty.store.connectors import ConnectorRepository
from tests.builders import cancel, order_paid, refund
from tests.conftest import NOW, Shop


def at(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def pay(
    shop: Shop, n: str, member: str, when: datetime, price: str, loaded: datetime | None = None
) -> None:
    """An order paid at ``when``; ``loaded`` = imported as history (no points) at that time."""
    event = order_paid(f"e-{n}", member, n, [("SKU", 1, price)], when)
    if loaded is not None:
        event = replace(event, payload=replace(event.payload, earn=False))  # type: ignore[arg-type]
    events.ingest(shop.db, shop.ctx, event, loaded or when)


def guest(shop: Shop, n: str, email: str | None, when: datetime, price: str) -> None:
    stored = {
        "event_id": f"e-{n}",
        "occurred_at": when.isoformat(),
        "body_hash": n,
        "order": {
            "order_id": n,
            "currency": "PLN",
            "lines": [{"sku": "SKU", "quantity": 1, "unit_price": price, "discount": "0"}],
            "shipping": "0",
            "tax": "0",
            "total": None,
        },
    }
    with shop.db.transaction(shop.tenant_id) as uow:
        ConnectorRepository(uow.conn, uow.tenant_id).keep_guest_order(
            "shopify", f"e-{n}", email, stored, when
        )


def redeem(shop: Shop, member: str, points: int, when: datetime) -> None:
    with shop.db.transaction(shop.tenant_id) as uow:
        member_id = uow.members.get(member)["id"]
        ledger.spend(uow, member_id, points, kind=EntryKind.REDEEM, reason="reward", now=when)


@pytest.fixture
def history(shop: Shop) -> Shop:
    shop.with_settings(expiry={"kind": "days_after_earn", "days": 30})
    pay(shop, "o1", "alice", at(1, 10), "100.00")
    pay(shop, "h1", "bob", at(12, 5, year=2025), "80.00", loaded=at(1, 20))
    redeem(shop, "alice", 70, at(1, 20, 12))
    pay(shop, "o2", "alice", at(1, 31, 23, 30), "50.00")
    pay(shop, "o4", "bob", at(2, 10), "40.00")
    pay(shop, "o3", "alice", at(2, 15), "30.00")
    events.ingest(shop.db, shop.ctx, refund("r3", "o3", "R3", at(2, 16), amount="30.00"), at(2, 16))
    pay(shop, "o5", "carol", at(2, 20), "60.00")
    events.ingest(shop.db, shop.ctx, cancel("c5", "o5", at(2, 21)), at(2, 21))
    guest(shop, "g1", "guest@example.com", at(1, 15), "25.00")
    guest(shop, "g2", "guest@example.com", at(2, 2), "35.00")
    guest(shop, "g3", None, at(2, 3), "10.00")
    assert jobs.expire_due(shop.db, NOW, shop.tenant_id) == 1
    return shop


def figure(shop: Shop, name: str, **query: Any) -> analytics.Report:
    return analytics.figure(shop.db, shop.ctx, name, FigureQuery(**query), NOW)


JAN_FEB = {"first": date(2026, 1, 1), "last": date(2026, 2, 28)}


def test_members_enrolled_and_active_per_month(history: Shop) -> None:
    report = figure(history, "members", **JAN_FEB)
    assert report.rows == [
        {"period": date(2026, 1, 1), "enrolled": 2, "enrolled_total": 2, "active": 1},
        {"period": date(2026, 2, 1), "enrolled": 1, "enrolled_total": 3, "active": 2},
    ]
    assert report.meta["granularity"] == "month" and report.meta["timezone"] == "Europe/Warsaw"


def test_members_per_week_include_empty_weeks(history: Shop) -> None:
    report = figure(
        history,
        "members",
        first=date(2026, 1, 5),
        last=date(2026, 1, 25),
        granularity=Granularity.WEEK,
    )
    assert [(r["period"], r["enrolled"], r["active"]) for r in report.rows] == [
        (date(2026, 1, 5), 1, 1),  # alice joins and buys on the 10th
        (date(2026, 1, 12), 0, 0),
        (date(2026, 1, 19), 1, 0),  # bob's history was loaded on the 20th
    ]


def test_repeat_purchase_rate_of_members_and_non_members(history: Shop) -> None:
    rows = figure(history, "repeat_purchase", **JAN_FEB).rows
    assert rows == [
        {"group": "member", "customers": 2, "repeat_customers": 1, "repeat_rate": 0.5},
        {"group": "non_member", "customers": 2, "repeat_customers": 1, "repeat_rate": 0.5},
    ]


def test_aov_and_frequency_members_vs_non_members(history: Shop) -> None:
    rows = figure(history, "customer_value", first=date(2025, 12, 1), last=date(2026, 2, 28)).rows
    assert rows == [
        {
            "group": "member",
            "customers": 2,
            "orders": 3,
            "revenue": Decimal("190.00"),
            "aov": Decimal("63.33"),
            "purchase_frequency": 1.5,
        },
        {  # bob's history before he joined, and the two guests
            "group": "non_member",
            "customers": 3,
            "orders": 4,
            "revenue": Decimal("150.00"),
            "aov": Decimal("37.50"),
            "purchase_frequency": 1.3333,
        },
    ]


def test_revenue_from_members_per_month(history: Shop) -> None:
    rows = figure(history, "revenue", **JAN_FEB).rows
    assert rows == [
        {
            "period": date(2026, 1, 1),
            "orders": 2,
            "revenue": Decimal("125.00"),
            "member_orders": 1,
            "member_revenue": Decimal("100.00"),
            "member_revenue_share": 0.8,
        },
        {  # o2 paid at 23:30 UTC on 01-31 is February in Warsaw
            "period": date(2026, 2, 1),
            "orders": 4,
            "revenue": Decimal("135.00"),
            "member_orders": 2,
            "member_revenue": Decimal("90.00"),
            "member_revenue_share": 0.6667,
        },
    ]


def test_retention_cohorts_by_first_order_month(history: Shop) -> None:
    rows = figure(history, "cohorts", first=date(2025, 12, 1), last=date(2026, 2, 28)).rows
    assert [
        (r["cohort"], r["months_since"], r["cohort_size"], r["active"], r["retention"])
        for r in rows
    ] == [
        (date(2025, 12, 1), 0, 1, 1, 1.0),  # bob: history in December ...
        (date(2025, 12, 1), 1, 1, 0, 0.0),
        (date(2025, 12, 1), 2, 1, 1, 1.0),  # ... back in February
        (date(2026, 1, 1), 0, 1, 1, 1.0),  # alice
        (date(2026, 1, 1), 1, 1, 1, 1.0),
    ]


def test_before_and_after_the_launch(history: Shop) -> None:
    history.with_settings(launched_at="2026-02-01T00:00:00+01:00")
    report = figure(history, "launch", **JAN_FEB)
    assert report.meta["launched_on"] == "2026-02-01"
    assert report.rows == [
        {
            "side": "before",
            "days": 31,
            "customers": 2,
            "orders": 2,
            "revenue": Decimal("125.00"),
            "aov": Decimal("62.50"),
            "orders_per_day": 0.0645,
            "revenue_per_day": Decimal("4.03"),
        },
        {
            "side": "after",
            "days": 28,
            "customers": 4,
            "orders": 4,
            "revenue": Decimal("135.00"),
            "aov": Decimal("33.75"),
            "orders_per_day": 0.1429,
            "revenue_per_day": Decimal("4.82"),
        },
    ]


def test_the_launch_defaults_to_the_tenants_creation(history: Shop) -> None:
    report = figure(history, "launch", **JAN_FEB)
    assert report.meta["launched_on"] == "2026-03-02"  # NOW, when the test tenant was made
    assert [(r["side"], r["days"], r["orders"]) for r in report.rows] == [
        ("before", 59, 6),
        ("after", 0, 0),
    ]


def test_points_issued_redeemed_expired_per_month(history: Shop) -> None:
    report = figure(history, "points", **JAN_FEB)
    assert report.rows == [
        {
            "period": date(2026, 1, 1),
            "issued": 100,
            "reversed": 0,
            "redeemed": 70,
            "expired": 0,
            "redemption_rate": 0.7,
            "breakage_rate": 0.0,
        },
        {
            "period": date(2026, 2, 1),
            "issued": 180,  # o2 50 + o4 40 + o3 30 + o5 60
            "reversed": 90,  # o3 refunded, o5 cancelled
            "redeemed": 0,
            "expired": 30,
            "redemption_rate": 0.0,
            "breakage_rate": 0.3333,
        },
    ]
    assert report.meta["totals"] == {
        "issued": 280,
        "reversed": 90,
        "redeemed": 70,
        "expired": 30,
        "redemption_rate": 0.3684,
        "breakage_rate": 0.1579,
    }


def test_liability_uses_breakage_from_history_or_the_setting(history: Shop) -> None:
    # given one point is worth 0.05 PLN; 50 (o2) + 40 (o4) points are outstanding
    history.with_settings(point_value="0.05")
    row = figure(history, "liability").rows[0]
    # then breakage from history is 30 expired / (70 redeemed + 30 expired)
    assert row == {
        "outstanding_points": 90,
        "pending_points": 0,
        "available_points": 90,
        "point_value": Decimal("0.05"),
        "expected_breakage_rate": 0.3,
        "breakage_source": "history",
        "gross_value": Decimal("4.50"),
        "liability": Decimal("3.15"),
    }
    history.with_settings(expected_breakage="0.1")
    row = figure(history, "liability").rows[0]
    assert (row["breakage_source"], row["liability"]) == ("setting", Decimal("4.05"))


def test_liability_without_a_point_value_has_no_money_figure(shop: Shop) -> None:
    row = figure(shop, "liability").rows[0]
    assert (row["outstanding_points"], row["gross_value"], row["liability"]) == (0, None, None)


def test_an_empty_shop_has_zero_rows_not_errors(shop: Shop) -> None:
    for name in set(analytics.FIGURES) - analytics.AS_OF_NOW:
        report = figure(shop, name)
        assert report.meta["from"] == report.meta["to"] == "2026-03-02"
    assert "from" not in figure(shop, "liability").meta
    assert figure(shop, "revenue").rows[0]["revenue"] == Decimal("0.00")


def test_every_figure_at_once(history: Shop) -> None:
    reports = analytics.all_figures(history.db, history.ctx, FigureQuery(**JAN_FEB), NOW)
    assert [r.figure for r in reports] == [
        "members",
        "repeat_purchase",
        "cohorts",
        "customer_value",
        "launch",
        "revenue",
        "points",
        "liability",
    ]


def test_bad_periods_are_refused(shop: Shop) -> None:
    with pytest.raises(ValidationFailed) as error:
        figure(shop, "revenue", first=date(2026, 2, 1), last=date(2026, 1, 1))
    assert error.value.field == "from"
    with pytest.raises(ValidationFailed) as error:
        figure(shop, "revenue", first=date(2000, 1, 1), granularity=Granularity.DAY)
    assert error.value.field == "granularity"
    with pytest.raises(ValidationFailed) as error:
        figure(shop, "customer_value", group_by="tier")
    assert error.value.field == "group_by"


def test_programme_settings_validate_the_analytics_fields() -> None:
    with pytest.raises(InvalidSettings):
        Program.from_dict({"currency": "PLN", "launched_at": "2026-01-01T00:00:00"})
    with pytest.raises(InvalidSettings):
        Program.from_dict({"currency": "PLN", "expected_breakage": "1"})
    with pytest.raises(InvalidSettings):
        Program.from_dict({"currency": "PLN", "point_value": "-0.01"})
    program = Program.from_dict({"currency": "PLN", "launched_at": "2026-01-01T00:00:00+01:00"})
    assert Program.from_dict(program.to_dict()) == program
