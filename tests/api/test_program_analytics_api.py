"""Programme analytics over HTTP: JSON, CSV and Parquet exports, and every refusal.

Alice buys on 01-10 (100.00) and 02-05 (50.00), bob on 02-07 (40.00); both join when their
first order arrives (NOW). One point per PLN, worth 0.10 PLN; the programme launched on 02-01.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest

from tests.api.support import Api, assert_problem, bearer, client_for
from tests.builders import order_paid_json

JAN_FEB = "from=2026-01-01&to=2026-02-28"


@pytest.fixture
def shop_api(api: Api) -> Api:
    for n, member, day, price in (
        (1, "alice", datetime(2026, 1, 10, 10, tzinfo=UTC), "100.00"),
        (2, "alice", datetime(2026, 2, 5, 10, tzinfo=UTC), "50.00"),
        (3, "bob", datetime(2026, 2, 7, 10, tzinfo=UTC), "40.00"),
    ):
        body = order_paid_json(f"e{n}", member, f"o{n}", [("SKU", 1, price)], day)
        assert api.event(body).status_code == 200
    settings = {"point_value": "0.10", "launched_at": "2026-02-01T00:00:00+01:00"}
    assert api.client.put("/v1/program", json=settings).status_code == 200
    return api


def test_revenue_as_json(shop_api: Api) -> None:
    response = shop_api.client.get(f"/v1/analytics/revenue?{JAN_FEB}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert {
        k: body[k] for k in ("figure", "currency", "timezone", "from", "to", "granularity")
    } == {
        "figure": "revenue",
        "currency": "PLN",
        "timezone": "Europe/Warsaw",
        "from": "2026-01-01",
        "to": "2026-02-28",
        "granularity": "month",
    }
    assert body["rows"] == [
        {
            "period": "2026-01-01",
            "orders": 1,
            "revenue": "100.00",
            "member_orders": 1,
            "member_revenue": "100.00",
            "member_revenue_share": 1.0,
        },
        {
            "period": "2026-02-01",
            "orders": 2,
            "revenue": "90.00",
            "member_orders": 2,
            "member_revenue": "90.00",
            "member_revenue_share": 1.0,
        },
    ]


def test_revenue_as_csv(shop_api: Api) -> None:
    response = shop_api.client.get(f"/v1/analytics/revenue?{JAN_FEB}&granularity=week&format=csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="revenue.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "period",
        "orders",
        "revenue",
        "member_orders",
        "member_revenue",
        "member_revenue_share",
    ]
    assert len(rows) == 9  # ISO weeks from 2025-12-29 to 2026-02-23
    by_week = {row["period"]: (row["orders"], row["revenue"]) for row in rows}
    assert by_week["2026-01-05"] == ("1", "100.00")
    assert by_week["2026-02-02"] == ("2", "90.00")
    assert by_week["2026-01-12"] == ("0", "0.00")


def test_customer_value_as_parquet(shop_api: Api) -> None:
    response = shop_api.client.get(f"/v1/analytics/customer-value?{JAN_FEB}&format=parquet")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    frame = pl.read_parquet(io.BytesIO(response.content))
    assert frame.schema["revenue"] == pl.Decimal(38, 2)
    assert frame.to_dicts() == [
        {
            "group": "member",
            "customers": 2,
            "orders": 3,
            "revenue": Decimal("190.00"),
            "aov": Decimal("63.33"),
            "purchase_frequency": 1.5,
        },
        {
            "group": "non_member",
            "customers": 0,
            "orders": 0,
            "revenue": Decimal("0.00"),
            "aov": None,
            "purchase_frequency": None,
        },
    ]


def test_cohorts_as_parquet_keep_dates_and_counts(shop_api: Api) -> None:
    response = shop_api.client.get(f"/v1/analytics/cohorts?{JAN_FEB}&format=parquet")
    frame = pl.read_parquet(io.BytesIO(response.content))
    assert frame.schema["cohort"] == pl.Date
    assert frame.select("months_since", "cohort_size", "active", "retention").rows() == [
        (0, 1, 1, 1.0),  # alice, January
        (1, 1, 1, 1.0),
        (0, 1, 1, 1.0),  # bob, February
    ]


def test_members_repeat_purchase_launch_points_and_liability(shop_api: Api) -> None:
    get = shop_api.client.get
    members = get(f"/v1/analytics/members?{JAN_FEB}").json()["rows"]
    assert [(r["period"], r["enrolled"], r["active"]) for r in members] == [
        ("2026-01-01", 0, 1),  # alice's January order earned points: a member order
        ("2026-02-01", 0, 2),
    ]
    repeat = get(f"/v1/analytics/repeat-purchase?{JAN_FEB}").json()["rows"][0]
    assert (repeat["customers"], repeat["repeat_customers"], repeat["repeat_rate"]) == (2, 1, 0.5)
    launch = get(f"/v1/analytics/launch?{JAN_FEB}").json()
    assert launch["launched_on"] == "2026-02-01"
    assert [(r["side"], r["orders"], r["revenue"]) for r in launch["rows"]] == [
        ("before", 1, "100.00"),
        ("after", 2, "90.00"),
    ]
    points = get(f"/v1/analytics/points?{JAN_FEB}").json()
    assert [(r["issued"], r["redeemed"]) for r in points["rows"]] == [(100, 0), (90, 0)]
    assert points["totals"]["redemption_rate"] == 0.0
    liability = get("/v1/analytics/liability").json()["rows"][0]
    assert liability == {
        "outstanding_points": 190,
        "pending_points": 0,
        "available_points": 190,
        "point_value": "0.10",
        "expected_breakage_rate": 0.0,
        "breakage_source": "history",
        "gross_value": "19.00",
        "liability": "19.00",
    }
    csv_text = get("/v1/analytics/liability?format=csv").text
    assert csv_text.splitlines()[1] == "190,0,190,0.10,0.0,history,19.00,19.00"


def test_a_read_key_may_read_the_figures(shop_api: Api) -> None:
    with client_for(shop_api.shop, headers=bearer(shop_api.key("read"))) as reader:
        assert reader.get("/v1/analytics/points").status_code == 200


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("revenue?from=2026-02-01&to=2026-01-01", "validation_failed", "from"),
        ("revenue?from=yesterday", "validation_failed", "from"),
        ("revenue?to=2026-13-01", "validation_failed", "to"),
        ("revenue?granularity=year", "validation_failed", "granularity"),
        ("members?from=1990-01-01&granularity=day", "validation_failed", "granularity"),
        ("points?format=xlsx", "validation_failed", "format"),
        ("customer-value?group_by=tier", "validation_failed", "group_by"),
    ],
)
def test_bad_parameters_are_problems(shop_api: Api, query: str, code: str, field: str) -> None:
    assert_problem(shop_api.client.get(f"/v1/analytics/{query}"), 422, code, field)


def test_figures_need_a_key(shop_api: Api) -> None:
    with client_for(shop_api.shop, headers={}) as anonymous:
        assert_problem(anonymous.get("/v1/analytics/revenue"), 401, "unauthenticated")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"launched_at": "2026-02-01T00:00:00"}, "launched_at"),
        ({"point_value": "-1"}, "point_value"),
        ({"expected_breakage": "1"}, "expected_breakage"),
    ],
)
def test_bad_analytics_settings_are_refused(api: Api, body: dict[str, str], field: str) -> None:
    assert_problem(api.client.put("/v1/program", json=body), 422, "validation_failed", field)
    assert api.client.get("/v1/program").json()["version"] == 1


def test_analytics_settings_round_trip(api: Api) -> None:
    body = {
        "launched_at": "2026-02-01T00:00:00+01:00",
        "point_value": "0.01",
        "expected_breakage": "0.2",
    }
    program = api.client.put("/v1/program", json=body).json()
    assert {k: program[k] for k in body} == body
