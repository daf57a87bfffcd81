"""Profiles over HTTP: refresh on demand, one member's profile, segment counts."""

from __future__ import annotations

from datetime import timedelta

from tests.api.support import Api, assert_problem, bearer
from tests.builders import order_paid_json
from tests.conftest import NOW


def test_refresh_then_read_a_profile_and_the_segment_counts(api: Api) -> None:
    api.event(order_paid_json("e1", "alice", "o1", [("A", 2, "30.00")], NOW - timedelta(days=9)))
    api.event(order_paid_json("e2", "alice", "o2", [("B", 1, "40.00")], NOW - timedelta(days=2)))
    api.event(order_paid_json("e3", "bob", "o3", [("A", 1, "30.00")], NOW - timedelta(days=90)))

    response = api.client.post("/v1/analytics/profiles/refresh")
    assert response.status_code == 200
    assert response.json()["members"] == 2

    alice = api.client.get("/v1/members/alice/profile").json()
    assert (alice["orders"], alice["spend"], alice["days_since_last_order"]) == (2, "100.00", 2)
    counts = api.client.get("/v1/analytics/segments").json()
    assert sum(counts["rfm_segments"].values()) == 2


def test_refresh_as_of_an_earlier_day_leaves_later_orders_out(api: Api) -> None:
    api.event(order_paid_json("e1", "alice", "o1", [("A", 1, "30.00")], NOW - timedelta(days=30)))
    api.event(order_paid_json("e2", "alice", "o2", [("A", 1, "50.00")], NOW - timedelta(days=1)))
    as_of = (NOW - timedelta(days=10)).date().isoformat()
    assert api.client.post(f"/v1/analytics/profiles/refresh?as_of={as_of}").status_code == 200
    alice = api.client.get("/v1/members/alice/profile").json()
    assert (alice["orders"], alice["spend"]) == (1, "30.00")


def test_profile_errors(api: Api) -> None:
    assert_problem(api.client.get("/v1/members/nobody/profile"), 404, "not_found")
    response = api.client.post("/v1/analytics/profiles/refresh?as_of=yesterday")
    assert_problem(response, 422, "validation_failed", "as_of")
    reader = bearer(api.key("read"))
    assert_problem(
        api.client.post("/v1/analytics/profiles/refresh", headers=reader), 403, "forbidden"
    )
