"""HTTP tests: membership plans, a member's memberships, and membership.* events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api.support import Api, assert_problem, bearer, client_for
from tests.conftest import NOW

PLAN: dict[str, Any] = {
    "name": "Plus",
    "price": "19.99",
    "term": "monthly",
    "trial_days": 0,
    "benefits": {"earn_multiplier": "1.2", "free_shipping": True},
}


def plan(api: Api, **changes: Any) -> dict[str, Any]:
    response = api.client.post("/v1/membership-plans", json={**PLAN, **changes})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def member(api: Api, external_id: str = "m1") -> None:
    assert api.client.post("/v1/members", json={"external_id": external_id}).status_code == 201


def membership_event(event_id: str, type_: str, membership_id: str, **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event_id,
        "type": type_,
        "occurred_at": NOW.isoformat(),
        "data": {"membership_id": membership_id, **data},
    }
    if type_ == "membership.started":
        body["member"] = {"external_id": "m1"}
    return body


def memberships(api: Api, external_id: str = "m1") -> list[dict[str, Any]]:
    response = api.client.get(f"/v1/members/{external_id}/memberships")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- plans --------------------------------------------------------------------------------


def test_plan_crud(api: Api) -> None:
    # when
    created = plan(api)
    patched = api.client.patch(
        f"/v1/membership-plans/{created['id']}", json={"price": "24.99", "active": False}
    )

    # then
    assert created["currency"] == "PLN" and created["benefits"]["earn_multiplier"] == "1.2"
    assert patched.status_code == 200
    assert patched.json()["price"] == "24.99" and patched.json()["active"] is False
    assert api.client.get(f"/v1/membership-plans/{created['id']}").json() == patched.json()
    assert [p["id"] for p in api.client.get("/v1/membership-plans").json()["items"]] == [
        created["id"]
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"term": "weekly"}, "term"),
        ({"price": "-1"}, "price"),
        ({"price": "1.999"}, "price"),
        ({"currency": "EUR"}, "currency"),
        ({"currency": "ABC"}, "currency"),
        ({"benefits": {"earn_multiplier": "0"}}, "benefits.earn_multiplier"),
        ({"trial_days": 1000}, "trial_days"),
    ],
)
def test_bad_plans_are_refused(api: Api, change: dict[str, Any], field: str) -> None:
    response = api.client.post("/v1/membership-plans", json={**PLAN, **change})

    body = assert_problem(response, 422, response.json()["code"], field)
    assert body["code"] in ("validation_failed", "unknown_currency")
    assert api.client.get("/v1/membership-plans").json()["items"] == []


def test_plan_errors(api: Api) -> None:
    assert_problem(api.client.get("/v1/membership-plans/99"), 404, "not_found")
    assert_problem(api.client.patch("/v1/membership-plans/99", json={}), 404, "not_found")
    created = plan(api)
    response = api.client.patch(f"/v1/membership-plans/{created['id']}", json={"term": "daily"})
    assert_problem(response, 422, "validation_failed", "term")
    with client_for(api.shop, headers=bearer(api.key("read", "write"))) as client:
        assert_problem(client.post("/v1/membership-plans", json=PLAN), 403, "forbidden")


# --- memberships through the API ---------------------------------------------------------


def test_start_and_cancel_through_the_api(api: Api) -> None:
    # given
    member(api)
    plus = plan(api)

    # when
    started = api.client.post("/v1/members/m1/memberships", json={"plan_id": plus["id"]})
    ms_id = started.json()["id"]
    cancelled = api.client.post(f"/v1/members/m1/memberships/{ms_id}/cancel")

    # then: benefits continue to the end of the paid month
    assert started.status_code == 201 and started.json()["status"] == "active"
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["active"] is True
    assert cancelled.json()["ends_at"] == started.json()["ends_at"]
    [item] = memberships(api)
    assert [h["event"] for h in item["history"]] == ["membership.started", "membership.cancelled"]


def test_cancel_immediately_ends_benefits(api: Api) -> None:
    member(api)
    plus = plan(api)
    api.client.post(
        "/v1/members/m1/memberships", json={"plan_id": plus["id"], "membership_id": "s1"}
    )

    response = api.client.post("/v1/members/m1/memberships/s1/cancel", json={"immediately": True})

    assert response.json()["active"] is False and response.json()["ends_at"] == NOW.isoformat()


def test_start_membership_errors(api: Api) -> None:
    plus = plan(api)
    body = {"plan_id": plus["id"], "membership_id": "s1"}
    response = api.client.post("/v1/members/nobody/memberships", json=body)
    assert_problem(response, 404, "member_not_found")
    member(api)
    missing = api.client.post("/v1/members/m1/memberships", json={"plan_id": 999})
    assert_problem(missing, 404, "not_found", "plan_id")
    assert api.client.post("/v1/members/m1/memberships", json=body).status_code == 201
    again = api.client.post("/v1/members/m1/memberships", json=body)
    assert_problem(again, 422, "validation_failed", "membership_id")
    retired = plan(api, name="Old")
    api.client.patch(f"/v1/membership-plans/{retired['id']}", json={"active": False})
    response = api.client.post("/v1/members/m1/memberships", json={"plan_id": retired["id"]})
    assert_problem(response, 422, "validation_failed", "plan_id")
    assert_problem(api.client.post("/v1/members/m1/memberships", json={}), 422, "validation_failed")
    with client_for(api.shop, headers=bearer(api.key("read"))) as client:
        assert_problem(client.post("/v1/members/m1/memberships", json=body), 403, "forbidden")
    assert len(memberships(api)) == 1


def test_cancel_errors(api: Api) -> None:
    member(api)
    member(api, "m2")
    plus = plan(api)
    api.client.post(
        "/v1/members/m1/memberships", json={"plan_id": plus["id"], "membership_id": "s1"}
    )

    assert_problem(api.client.post("/v1/members/m1/memberships/nope/cancel"), 404, "not_found")
    assert_problem(api.client.post("/v1/members/m2/memberships/s1/cancel"), 404, "not_found")
    api.event(membership_event("x1", "membership.expired", "s1"))
    response = api.client.post("/v1/members/m1/memberships/s1/cancel")
    assert_problem(response, 409, "membership_transition")


def test_get_memberships_of_unknown_member_is_404(api: Api) -> None:
    assert_problem(api.client.get("/v1/members/nobody/memberships"), 404, "member_not_found")


# --- memberships through events ------------------------------------------------------------


def test_billing_events_drive_the_lifecycle_once(api: Api) -> None:
    # given
    plus = plan(api, trial_days=14)
    started = membership_event("b1", "membership.started", "sub_1", plan_id=plus["id"])

    # when: started (twice: a retry), renewed, cancelled
    first = api.event(started)
    retry = api.event(started)
    api.event(membership_event("b2", "membership.renewed", "sub_1"))
    api.event(membership_event("b3", "membership.cancelled", "sub_1"))

    # then
    assert first.status_code == 200, first.text
    assert first.json()["member"] == "m1"
    assert retry.json() == first.json() and retry.headers["Idempotent-Replayed"] == "true"
    [item] = memberships(api)
    assert item["id"] == "sub_1" and item["status"] == "cancelled" and item["active"]
    assert item["ends_at"] == "2026-04-16T11:00:00+00:00"  # 14 days' trial + a month (DST)
    assert [h["event"] for h in item["history"]] == [
        "membership.started",
        "membership.renewed",
        "membership.cancelled",
    ]
    assert [h["source"] for h in item["history"]] == ["event:b1", "event:b2", "event:b3"]


def test_expired_membership_refuses_renewal_and_ends_benefits(api: Api) -> None:
    plus = plan(api)
    api.event(membership_event("b1", "membership.started", "sub_1", plan_id=plus["id"]))
    api.event(membership_event("b2", "membership.expired", "sub_1"))

    response = api.event(membership_event("b3", "membership.renewed", "sub_1"))

    assert_problem(response, 409, "membership_transition")
    [item] = memberships(api)
    assert item["status"] == "expired" and not item["active"]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (membership_event("b9", "membership.renewed", "nope"), 404, "not_found", None),
        (membership_event("b9", "membership.started", "s9"), 422, "validation_failed", None),
        (
            membership_event("b9", "membership.started", "s9", plan_id=999),
            404,
            "not_found",
            "plan_id",
        ),
        (
            {**membership_event("b9", "membership.started", "s9", plan_id=1), "member": None},
            422,
            "validation_failed",
            None,
        ),
    ],
)
def test_bad_membership_events(
    api: Api, body: dict[str, Any], status: int, code: str, field: str | None
) -> None:
    assert_problem(api.event(body), status, code, field)
    counts = api.state()["counts"]
    assert counts["inbox_events"] == counts["memberships"] == counts["members"] == 0


def test_membership_benefits_show_in_the_member_tier_view(api: Api) -> None:
    api.client.post(
        "/v1/tiers",
        json={
            "metric": "orders",
            "window": {"kind": "lifetime"},
            "levels": [{"id": "vip", "name": "VIP", "threshold": 5}],
        },
    )
    plus = plan(api)
    api.event(membership_event("b1", "membership.started", "sub_1", plan_id=plus["id"]))

    body = api.client.get("/v1/members/m1/tier").json()
    with client_for(api.shop, now=NOW + timedelta(days=40)) as later:
        lapsed = later.get("/v1/members/m1/tier").json()

    assert body["tier"] is None and body["benefits"]["earn_multiplier"] == "1.2"
    assert lapsed["benefits"]["earn_multiplier"] == "1"
