"""Engagement figures over HTTP: reward popularity, tier distribution and movements, referral
conversion and NPS, checked against small hand-computed fixtures (JSON, CSV and Parquet).

Each fixture is built through the API with the clock set to the day of each step. The shop is
in Europe/Warsaw: 2026-01-31T23:30Z is already 1 February there, and each fixture puts one
step on that boundary so that the local-day rule is exercised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from loyalty.services import jobs
from tests.api.support import Api, assert_problem, bearer, client_for
from tests.builders import order_paid_json, refund_json

JAN_FEB = "from=2026-01-01&to=2026-02-28"
BOUNDARY = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)  # 2026-02-01 00:30 in Warsaw


def day(month: int, dom: int, hour: int = 10) -> datetime:
    return datetime(2026, month, dom, hour, tzinfo=UTC)


@contextmanager
def at(api: Api, when: datetime) -> Iterator[TestClient]:
    """A client on the same shop whose clock says ``when``."""
    with client_for(api.shop, now=when) as client:
        yield client


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def rows_of(api: Api, path: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ok(api.client.get(f"/v1/analytics/{path}"))["rows"]
    return rows


# --- reward popularity -------------------------------------------------------------------------


@pytest.fixture
def rewards_api(api: Api) -> Api:
    """Ten-off (a code) redeemed by m1 on 01-10 and 01-20, by m2 on 01-20 (cancelled on 02-15)
    and by m3 on 02-10; m1's first code used. A mug (no code) redeemed by m2 on 02-03 and by m3
    at 2026-02-28T23:30Z (already March in Warsaw). Socks never redeemed."""
    with at(api, day(1, 5)) as c:
        for reward in (
            {"id": "ten-off", "name": "10 PLN off", "cost_points": 100},
            {"id": "mug", "name": "Mug", "cost_points": 200},
            {"id": "socks", "name": "Socks", "cost_points": 50},
        ):
            benefit = {
                "ten-off": {"type": "fixed_discount", "amount": "10", "currency": "PLN"},
                "mug": {"type": "physical_gift", "sku": "MUG"},
                "socks": {"type": "free_product", "sku": "SOCKS", "quantity": 1},
            }[str(reward["id"])]
            ok(c.post("/v1/rewards", json={**reward, "benefit": benefit}), 201)
        for m in ("m1", "m2", "m3"):
            ok(c.post("/v1/members", json={"external_id": m}), 201)
            adjustment = {"points": 1000, "reason": "gift"}
            ok(c.post(f"/v1/members/{m}/adjustments", json=adjustment), 201)
    made: dict[str, Any] = {}
    for name, member, reward, when in (
        ("a", "m1", "ten-off", day(1, 10)),
        ("b", "m1", "ten-off", day(1, 20)),
        ("c", "m2", "ten-off", day(1, 20, 11)),
        ("d", "m2", "mug", day(2, 3)),
        ("e", "m3", "ten-off", day(2, 10)),
        ("f", "m3", "mug", datetime(2026, 2, 28, 23, 30, tzinfo=UTC)),
    ):
        with at(api, when) as c:
            body = {"reward_id": reward}
            made[name] = ok(c.post(f"/v1/members/{member}/redemptions", json=body), 201)
    with at(api, day(2, 15)) as c:
        ok(c.post(f"/v1/redemptions/{made['c']['id']}/cancel"))
        use = {"order_id": "o1", "member": "m1"}
        ok(c.post(f"/v1/coupons/{made['a']['coupon']['code']}/use", json=use), 201)
    return api


def test_reward_popularity_over_january_and_february(rewards_api: Api) -> None:
    body = ok(rewards_api.client.get(f"/v1/analytics/rewards?{JAN_FEB}"))
    assert (body["figure"], body["from"], body["to"], body["redemptions"]) == (
        "rewards",
        "2026-01-01",
        "2026-02-28",
        5,
    )
    assert body["rows"] == [
        {
            "reward_id": "ten-off",
            "name": "10 PLN off",
            "type": "fixed_discount",
            "issued": 4,
            "cancelled": 1,
            "codes_issued": 4,
            "codes_used": 1,
            "points_spent": 300,  # the cancelled redemption gave its 100 back
            "members": 3,
            "share": 0.8,
            "code_use_rate": 0.25,
        },
        {
            "reward_id": "mug",
            "name": "Mug",
            "type": "physical_gift",
            "issued": 1,  # the second mug is a March redemption in Warsaw
            "cancelled": 0,
            "codes_issued": 0,
            "codes_used": 0,
            "points_spent": 200,
            "members": 1,
            "share": 0.2,
            "code_use_rate": None,
        },
        {
            "reward_id": "socks",
            "name": "Socks",
            "type": "free_product",
            "issued": 0,
            "cancelled": 0,
            "codes_issued": 0,
            "codes_used": 0,
            "points_spent": 0,
            "members": 0,
            "share": 0.0,
            "code_use_rate": None,
        },
    ]


def test_reward_popularity_defaults_to_the_whole_history_and_exports(rewards_api: Api) -> None:
    get = rewards_api.client.get
    whole = ok(get("/v1/analytics/rewards"))
    assert (whole["from"], whole["to"]) == ("2026-01-10", "2026-03-02")
    assert [(r["reward_id"], r["issued"], r["share"]) for r in whole["rows"]] == [
        ("ten-off", 4, 0.6667),
        ("mug", 2, 0.3333),
        ("socks", 0, 0.0),
    ]
    response = get(f"/v1/analytics/rewards?{JAN_FEB}&format=csv")
    assert response.headers["content-disposition"] == 'attachment; filename="rewards.csv"'
    first = next(csv.DictReader(io.StringIO(response.text)))
    assert first == {
        "reward_id": "ten-off",
        "name": "10 PLN off",
        "type": "fixed_discount",
        "issued": "4",
        "cancelled": "1",
        "codes_issued": "4",
        "codes_used": "1",
        "points_spent": "300",
        "members": "3",
        "share": "0.8",
        "code_use_rate": "0.25",
    }
    parquet = get(f"/v1/analytics/rewards?{JAN_FEB}&format=parquet")
    frame = pl.read_parquet(io.BytesIO(parquet.content))
    assert frame.schema["issued"] == pl.Int64 and frame.schema["share"] == pl.Float64
    assert frame.select("reward_id", "points_spent").rows() == [
        ("ten-off", 300),
        ("mug", 200),
        ("socks", 0),
    ]


# --- tiers ---------------------------------------------------------------------------------

LADDER: dict[str, Any] = {
    "metric": "points_earned",
    "window": {"kind": "calendar_year"},
    "review": {"grace_days": 14, "max_levels_down": 1},
    "levels": [
        {"id": "silver", "name": "Silver", "threshold": 100},
        {"id": "gold", "name": "Gold", "threshold": 500},
        {"id": "platinum", "name": "Platinum", "threshold": 1000},
    ],
}


def _buy(api: Api, n: int, member: str, amount: str, when: datetime) -> None:
    with at(api, when) as c:
        event = order_paid_json(f"e{n}", member, f"o{n}", [("SKU", 1, amount)], when)
        ok(c.post("/v1/events", json=event))


@pytest.fixture
def tiers_api(api: Api) -> Api:
    """m1 buys 150 on 01-10 (silver), m2 600 on 01-12 (gold), m3 50 on 01-20 (no tier). An
    admin puts m1 on platinum at 2026-01-31T23:30Z (February in Warsaw) and back on silver on
    02-10; m3 buys 100 more on 02-20 (silver)."""
    with at(api, day(1, 5)) as c:
        ok(c.post("/v1/tiers", json=LADDER), 201)
    _buy(api, 1, "m1", "150", day(1, 10))
    _buy(api, 2, "m2", "600", day(1, 12))
    _buy(api, 3, "m3", "50", day(1, 20))
    with at(api, BOUNDARY) as c:
        ok(c.put("/v1/members/m1/tier", json={"tier": "platinum"}))
    with at(api, day(2, 10)) as c:
        ok(c.put("/v1/members/m1/tier", json={"tier": "silver"}))
    _buy(api, 4, "m3", "100", day(2, 20))
    return api


def test_tier_distribution_now_and_as_of_past_days(tiers_api: Api) -> None:
    body = ok(
        tiers_api.client.get(
            "/v1/analytics/tiers?as_of=2026-01-31&as_of=2026-02-05&as_of=2026-01-09"
        )
    )
    table = [
        (r["as_of"], r["source"], r["tier"], r["rank"], r["members"], r["share"])
        for r in body["rows"]
    ]
    assert table == [
        ("2026-03-02", "now", None, -1, 0, 0.0),
        ("2026-03-02", "now", "silver", 0, 2, 0.6667),
        ("2026-03-02", "now", "gold", 1, 1, 0.3333),
        ("2026-03-02", "now", "platinum", 2, 0, 0.0),
        ("2026-01-09", "history", None, -1, 0, None),  # nobody had joined yet
        ("2026-01-09", "history", "silver", 0, 0, None),
        ("2026-01-09", "history", "gold", 1, 0, None),
        ("2026-01-09", "history", "platinum", 2, 0, None),
        ("2026-01-31", "history", None, -1, 1, 0.3333),  # m3
        ("2026-01-31", "history", "silver", 0, 1, 0.3333),  # m1: platinum came at 00:30 local
        ("2026-01-31", "history", "gold", 1, 1, 0.3333),
        ("2026-01-31", "history", "platinum", 2, 0, 0.0),
        ("2026-02-05", "history", None, -1, 1, 0.3333),
        ("2026-02-05", "history", "silver", 0, 0, 0.0),
        ("2026-02-05", "history", "gold", 1, 1, 0.3333),
        ("2026-02-05", "history", "platinum", 2, 1, 0.3333),
    ]
    assert body["rows"][1]["name"] == "Silver"


def test_tier_distribution_from_history_today_agrees_with_now(tiers_api: Api) -> None:
    rows = rows_of(tiers_api, "tiers?as_of=2026-03-02")
    now = [(r["tier"], r["members"]) for r in rows if r["source"] == "now"]
    history = [(r["tier"], r["members"]) for r in rows if r["source"] == "history"]
    assert now == history == [(None, 0), ("silver", 2), ("gold", 1), ("platinum", 0)]


def test_tier_movements_per_month(tiers_api: Api) -> None:
    body = ok(tiers_api.client.get(f"/v1/analytics/tier-movements?{JAN_FEB}"))
    assert body["granularity"] == "month"
    assert [
        (r["period"], r["from_tier"], r["to_tier"], r["direction"], r["changes"])
        for r in body["rows"]
    ] == [
        ("2026-01-01", None, "gold", "upgrade", 1),
        ("2026-01-01", None, "silver", "upgrade", 1),
        ("2026-02-01", None, "silver", "upgrade", 1),
        ("2026-02-01", "silver", "platinum", "upgrade", 1),
        ("2026-02-01", "platinum", "silver", "downgrade", 1),
    ]
    assert body["totals"] == {"upgrade": 4, "downgrade": 1}


def test_tier_movements_as_parquet_by_week(tiers_api: Api) -> None:
    response = tiers_api.client.get(
        "/v1/analytics/tier-movements?from=2026-02-01&to=2026-02-28&granularity=week&format=parquet"
    )
    frame = pl.read_parquet(io.BytesIO(response.content))
    assert frame.schema["period"] == pl.Date
    assert [(str(p), f, t, d, n) for p, f, t, d, n in frame.rows()] == [
        ("2026-01-26", "silver", "platinum", "upgrade", 1),  # Sunday 1 Feb, week of 26 Jan
        ("2026-02-09", "platinum", "silver", "downgrade", 1),
        ("2026-02-16", None, "silver", "upgrade", 1),
    ]


# --- referrals -----------------------------------------------------------------------------


@pytest.fixture
def referrals_api(make_api: Callable[..., Api]) -> Api:
    """A 14-day return window. Anna's code is made on 01-05, Bob's on 01-06. Anna refers f1
    (01-10) and f2 (01-11) and herself (01-12, rejected: self_referral); x1 shares a device with
    Anna and is referred at 2026-01-31T23:30Z (February locally, rejected:
    self_referral_device); Bob refers f3 on 02-02. f1 pays on 01-15 and qualifies (the job runs
    on 02-01); f2 pays on 01-20 and refunds on 01-22 (cancelled); f3 pays on 02-05 (pending)."""
    api = make_api(pending_days=14)
    with at(api, day(1, 5)) as c:
        ok(c.post("/v1/members", json={"external_id": "anna", "first_name": "Anna"}), 201)
        ok(c.post("/v1/members", json={"external_id": "bob", "first_name": "Bob"}), 201)
        device = order_paid_json("p0", "anna", "o0", [("a", 1, "10")], day(1, 5))
        device["data"]["device_hash"] = "dev-anna"
        ok(c.post("/v1/events", json=device))
        anna = ok(c.get("/v1/members/anna/referral"))["code"]
    with at(api, day(1, 6)) as c:
        bob = ok(c.get("/v1/members/bob/referral"))["code"]
    for code, referee, when, extra in (
        (anna, "f1", day(1, 10), {}),
        (anna, "f2", day(1, 11), {}),
        (anna, "anna", day(1, 12), {}),
        (anna, "x1", BOUNDARY, {"device_hash": "dev-anna"}),
        (bob, "f3", day(2, 2), {}),
    ):
        with at(api, when) as c:
            body = {"code": code, "referee": {"external_id": referee}, **extra}
            ok(c.post("/v1/referrals", json=body), 201)
    _buy(api, 11, "f1", "80", day(1, 15))
    _buy(api, 12, "f2", "90", day(1, 20))
    with at(api, day(1, 22)) as c:
        ok(c.post("/v1/events", json=refund_json("r12", "o12", "rf12", day(1, 22), amount="90")))
    jobs.run_due_jobs(api.shop.db, day(2, 1), api.shop.tenant_id)
    _buy(api, 13, "f3", "70", day(2, 5))
    return api


def test_referral_conversion_per_month(referrals_api: Api) -> None:
    body = ok(referrals_api.client.get(f"/v1/analytics/referrals?{JAN_FEB}"))
    assert body["rows"] == [
        {
            "period": "2026-01-01",
            "codes_created": 2,
            "attributed": 3,
            "rejected": 1,
            "signed_up": 2,
            "first_orders": 2,
            "qualified": 1,
            "cancelled": 1,
            "pending": 0,
            "rejection_rate": 0.3333,
            "first_order_rate": 1.0,
            "qualification_rate": 0.5,
        },
        {
            "period": "2026-02-01",
            "codes_created": 0,
            "attributed": 2,
            "rejected": 1,
            "signed_up": 1,
            "first_orders": 1,
            "qualified": 0,
            "cancelled": 0,
            "pending": 1,
            "rejection_rate": 0.5,
            "first_order_rate": 1.0,
            "qualification_rate": 0.0,
        },
    ]
    assert body["totals"] == {
        "codes_created": 2,
        "attributed": 5,
        "rejected": 2,
        "signed_up": 3,
        "first_orders": 3,
        "qualified": 1,
        "cancelled": 1,
        "pending": 1,
        "rejection_rate": 0.4,
        "first_order_rate": 1.0,
        "qualification_rate": 0.3333,
        "rejected_by_reason": {"self_referral": 1, "self_referral_device": 1},
    }


def test_referral_rejections_by_reason_as_csv(referrals_api: Api) -> None:
    response = referrals_api.client.get(f"/v1/analytics/referral-rejections?{JAN_FEB}&format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["period", "reason", "rejected"],
        ["2026-01-01", "self_referral", "1"],
        ["2026-02-01", "self_referral_device", "1"],
    ]


def test_referral_conversion_by_day_keeps_empty_days(referrals_api: Api) -> None:
    rows = rows_of(referrals_api, "referrals?from=2026-01-10&to=2026-01-12&granularity=day")
    assert [(r["period"], r["attributed"], r["rejected"], r["qualified"]) for r in rows] == [
        ("2026-01-10", 1, 0, 1),
        ("2026-01-11", 1, 0, 0),
        ("2026-01-12", 1, 1, 0),
    ]
    assert rows[2]["first_order_rate"] is None  # no friend signed up that day


# --- NPS -----------------------------------------------------------------------------------


@pytest.fixture
def nps_api(api: Api) -> tuple[Api, list[int]]:
    """NPS survey 1: m1 10, m2 9, m3 7, m4 3 in January; m6 10 at 2026-01-31T23:30Z (February
    locally), m5 6, m7 8 in February. NPS survey 2: m1 0 in February. A CSAT survey: m1 5.
    Static segment vip = m1, m2, m5."""
    surveys = [
        ok(api.client.post("/v1/surveys", json={"kind": kind, "question": "?"}), 201)["id"]
        for kind in ("nps", "nps", "csat")
    ]
    for n in range(1, 8):
        ok(api.client.post("/v1/members", json={"external_id": f"m{n}"}), 201)
    answers = [
        (0, "m1", 10, day(1, 10)),
        (0, "m2", 9, day(1, 15)),
        (0, "m3", 7, day(1, 20)),
        (0, "m4", 3, day(1, 25)),
        (0, "m6", 10, BOUNDARY),
        (0, "m5", 6, day(2, 3)),
        (0, "m7", 8, day(2, 10)),
        (1, "m1", 0, day(2, 12)),
        (2, "m1", 5, day(2, 12)),
    ]
    for n, (survey, member, score, when) in enumerate(answers):
        body = {"id": f"r{n}", "member": member, "score": score, "answered_at": when.isoformat()}
        ok(api.client.post(f"/v1/surveys/{surveys[survey]}/responses", json=body), 201)
    ok(api.client.post("/v1/segments", json={"id": "vip", "name": "VIP", "kind": "static"}), 201)
    ok(api.client.post("/v1/segments/vip/members", json={"members": ["m1", "m2", "m5"]}))
    return api, surveys


def _nps_table(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            r["period"],
            r["segment"],
            r["responses"],
            r["promoters"],
            r["passives"],
            r["detractors"],
            r["nps"],
        )
        for r in rows
    ]


def test_nps_per_month_over_every_nps_survey(nps_api: tuple[Api, list[int]]) -> None:
    api, _ = nps_api
    body = ok(api.client.get(f"/v1/analytics/nps?{JAN_FEB}"))
    assert body["survey"] is None
    assert _nps_table(body["rows"]) == [
        ("2026-01-01", None, 4, 2, 1, 1, 25.0),
        ("2026-02-01", None, 4, 1, 1, 2, -25.0),  # the CSAT answer is not counted
    ]
    assert body["totals"] == [
        {
            "segment": None,
            "responses": 8,
            "promoters": 3,
            "passives": 2,
            "detractors": 3,
            "nps": 0.0,
        }
    ]


def test_nps_of_one_survey_per_segment_matches_the_survey_results(
    nps_api: tuple[Api, list[int]],
) -> None:
    api, surveys = nps_api
    survey = surveys[0]
    body = ok(api.client.get(f"/v1/analytics/nps?{JAN_FEB}&survey={survey}&group_by=segment"))
    assert _nps_table(body["rows"]) == [
        ("2026-01-01", None, 4, 2, 1, 1, 25.0),
        ("2026-02-01", None, 3, 1, 1, 1, 0.0),
        ("2026-01-01", "vip", 2, 2, 0, 0, 100.0),
        ("2026-02-01", "vip", 1, 0, 0, 1, -100.0),
    ]
    totals = {t["segment"]: (t["responses"], t["nps"]) for t in body["totals"]}
    assert totals == {None: (7, 14.3), "vip": (3, 33.3)}
    results = ok(api.client.get(f"/v1/surveys/{survey}/results?from=2026-01-01&to=2026-02-28"))
    assert results["overall"]["nps"] == totals[None][1]
    vip = ok(
        api.client.get(f"/v1/surveys/{survey}/results?from=2026-01-01&to=2026-02-28&segment=vip")
    )
    assert vip["overall"]["nps"] == totals["vip"][1]


def test_nps_exports_and_an_empty_period(nps_api: tuple[Api, list[int]]) -> None:
    get = nps_api[0].client.get
    frame = pl.read_parquet(io.BytesIO(get(f"/v1/analytics/nps?{JAN_FEB}&format=parquet").content))
    assert frame.schema["nps"] == pl.Float64 and frame.schema["period"] == pl.Date
    assert frame["nps"].to_list() == [25.0, -25.0]
    text = get("/v1/analytics/nps?from=2025-12-01&to=2025-12-31&format=csv").text
    assert text.splitlines() == [
        "period,segment,responses,promoters,passives,detractors,nps",
        "2025-12-01,,0,0,0,0,",
    ]


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("rewards?from=2026-02-01&to=2026-01-01", 422, "validation_failed", "from"),
        ("tiers?as_of=2026-03-03", 422, "validation_failed", "as_of"),
        ("tiers?as_of=soon", 422, "validation_failed", "as_of.0"),
        ("tier-movements?granularity=year", 422, "validation_failed", "granularity"),
        ("referrals?from=1990-01-01&granularity=day", 422, "validation_failed", "granularity"),
        ("referral-rejections?format=xlsx", 422, "validation_failed", "format"),
        ("nps?group_by=tier", 422, "validation_failed", "group_by"),
        ("nps?survey=424242", 404, "survey_not_found", "survey"),
    ],
)
def test_bad_parameters_are_problems(
    api: Api, query: str, status: int, code: str, field: str
) -> None:
    assert_problem(api.client.get(f"/v1/analytics/{query}"), status, code, field)


def test_a_csat_survey_has_no_nps(nps_api: tuple[Api, list[int]]) -> None:
    api, surveys = nps_api
    csat = surveys[2]
    response = api.client.get(f"/v1/analytics/nps?survey={csat}")
    assert_problem(response, 422, "validation_failed", "survey")


def test_a_read_key_may_read_and_no_key_may_not(api: Api) -> None:
    with client_for(api.shop, headers=bearer(api.key("read"))) as reader:
        for path in ("rewards", "tiers", "tier-movements", "referrals", "nps"):
            assert reader.get(f"/v1/analytics/{path}").status_code == 200
    with client_for(api.shop, headers={}) as anonymous:
        assert_problem(anonymous.get("/v1/analytics/nps"), 401, "unauthenticated")


def test_empty_shop_figures(api: Api) -> None:
    assert rows_of(api, "rewards") == []
    assert rows_of(api, "tiers") == [
        {
            "as_of": "2026-03-02",
            "source": "now",
            "tier": None,
            "name": None,
            "rank": -1,
            "members": 0,
            "share": None,
        }
    ]
    assert rows_of(api, "tier-movements") == []
    referrals = rows_of(api, "referrals")
    assert [(r["period"], r["attributed"]) for r in referrals] == [("2026-03-01", 0)]


def test_another_shop_sees_none_of_these_figures(
    rewards_api: Api, tiers_api: Api, make_api: Callable[..., Api]
) -> None:
    other = make_api(pending_days=0)
    assert rows_of(other, "rewards") == []
    assert [(r["tier"], r["members"]) for r in rows_of(other, "tiers?as_of=2026-02-05")] == [
        (None, 0),
        (None, 0),
    ]
    assert rows_of(other, "tier-movements?from=2026-01-01") == []
