"""HTTP tests: the Idempotency-Key header on write endpoints."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.support import Api, assert_problem
from tests.builders import order_paid_json
from tests.conftest import NOW


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


def earn(api: Api, member: str, amount: str) -> None:
    response = api.event(
        order_paid_json(f"e-{member}", member, f"o-{member}", [("a", 1, amount)], NOW)
    )
    assert response.status_code == 200, response.text


# --- POST /v1/members -------------------------------------------------------------------------


def test_create_member_with_a_key_replays_the_first_response(api: Api) -> None:
    # given
    body = {"external_id": "m1", "email": "ann@example.com"}
    first = api.client.post("/v1/members", json=body, headers=key("create-m1"))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    before = api.state()
    # when the same request is retried (where without the key it would be member_exists)
    again = api.client.post("/v1/members", json=body, headers=key("create-m1"))
    # then
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert api.state() == before


def test_create_member_with_a_used_key_and_another_body_is_a_conflict(api: Api) -> None:
    api.client.post("/v1/members", json={"external_id": "m1"}, headers=key("k"))
    before = api.state()
    response = api.client.post("/v1/members", json={"external_id": "m2"}, headers=key("k"))
    assert_problem(response, 422, "idempotency_key_conflict", "Idempotency-Key")
    assert api.state() == before
    assert_problem(api.client.get("/v1/members/m2"), 404, "member_not_found")


# --- POST /v1/members/{id}/adjustments --------------------------------------------------------


def test_an_adjustment_with_a_key_takes_effect_once(api: Api) -> None:
    # given
    api.client.post("/v1/members", json={"external_id": "m1"})
    body = {"points": 50, "reason": "goodwill"}
    first = api.client.post("/v1/members/m1/adjustments", json=body, headers=key("adj-1"))
    assert first.status_code == 201, first.text
    # when retried twice
    second = api.client.post("/v1/members/m1/adjustments", json=body, headers=key("adj-1"))
    third = api.client.post("/v1/members/m1/adjustments", json=body, headers=key("adj-1"))
    # then
    for again in (second, third):
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
    assert api.balances("m1")["available"] == 50
    assert len(api.ledger("m1")) == 1


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/members/m1/adjustments", {"points": 51, "reason": "goodwill"}),
        ("/v1/members/m1/adjustments", {"points": 50, "reason": "other reason"}),
        ("/v1/members/m2/adjustments", {"points": 50, "reason": "goodwill"}),
    ],
)
def test_an_adjustment_key_reused_for_another_request_is_a_conflict(
    api: Api, path: str, body: dict[str, Any]
) -> None:
    # given
    for member in ("m1", "m2"):
        api.client.post("/v1/members", json={"external_id": member})
    first = api.client.post(
        "/v1/members/m1/adjustments", json={"points": 50, "reason": "goodwill"}, headers=key("k")
    )
    assert first.status_code == 201, first.text
    before = api.state()
    # when
    response = api.client.post(path, json=body, headers=key("k"))
    # then
    assert_problem(response, 422, "idempotency_key_conflict", "Idempotency-Key")
    assert api.state() == before


def test_a_key_is_not_used_up_by_a_request_that_failed(api: Api) -> None:
    # given a spend that fails for want of points
    earn(api, "m1", "10")
    spend = {"points": -30, "reason": "reward"}
    failed = api.client.post("/v1/members/m1/adjustments", json=spend, headers=key("spend-1"))
    assert_problem(failed, 409, "insufficient_points")
    # when the member has enough and the same request is sent again
    earn(api, "m2", "1")  # unrelated activity
    api.client.post("/v1/members/m1/adjustments", json={"points": 25, "reason": "top up"})
    retried = api.client.post("/v1/members/m1/adjustments", json=spend, headers=key("spend-1"))
    # then it runs for real this time
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["balances"]["available"] == 5


def test_a_key_used_on_one_endpoint_cannot_be_reused_on_another(api: Api) -> None:
    api.client.post("/v1/members", json={"external_id": "m1"}, headers=key("shared"))
    before = api.state()
    response = api.client.post(
        "/v1/members/m1/adjustments", json={"points": 5, "reason": "x"}, headers=key("shared")
    )
    assert_problem(response, 422, "idempotency_key_conflict", "Idempotency-Key")
    assert api.state() == before


def test_an_overlong_key_is_rejected(api: Api) -> None:
    before = api.state()
    response = api.client.post("/v1/members", json={"external_id": "m1"}, headers=key("k" * 201))
    assert_problem(response, 422, "validation_failed", "Idempotency-Key")
    assert api.state() == before


# --- other write endpoints --------------------------------------------------------------------


def test_a_transfer_with_a_key_moves_points_once(make_api: Callable[..., Api]) -> None:
    api = make_api(pending_days=0, transfers_enabled=True)
    earn(api, "alice", "50")
    api.client.post("/v1/members", json={"external_id": "bob"})
    body = {"from": "alice", "to": "bob", "points": 20}
    first = api.client.post("/v1/transfers", json=body, headers=key("t-1"))
    again = api.client.post("/v1/transfers", json=body, headers=key("t-1"))
    assert first.status_code == again.status_code == 201, first.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert api.balances("alice")["available"] == 30
    assert api.balances("bob")["available"] == 20


def test_a_patch_with_a_key_replays_its_first_response(api: Api) -> None:
    api.client.post("/v1/members", json={"external_id": "m1"})
    first = api.client.patch("/v1/members/m1", json={"first_name": "Ann"}, headers=key("p"))
    api.client.patch("/v1/members/m1", json={"first_name": "Bea"})
    again = api.client.patch("/v1/members/m1", json={"first_name": "Ann"}, headers=key("p"))
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    # the replay did not write the old name back
    assert api.member("m1")["first_name"] == "Bea"


def test_a_program_change_with_a_key_replays_its_first_response(api: Api) -> None:
    first = api.client.put("/v1/program", json={"pending_days": 7}, headers=key("prog"))
    again = api.client.put("/v1/program", json={"pending_days": 7}, headers=key("prog"))
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert api.client.get("/v1/program").json()["version"] == 2


def test_an_event_with_a_key_takes_effect_once(api: Api) -> None:
    event = order_paid_json("e1", "m1", "o1", [("a", 1, "10")], NOW)
    first = api.event(event, headers=key("ev"))
    again = api.event(event, headers=key("ev"))
    assert first.status_code == again.status_code == 200, first.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert api.balances("m1")["available"] == 10


def test_an_event_retried_under_a_new_key_is_still_a_replay(api: Api) -> None:
    # given an event recorded without a key
    event = order_paid_json("e1", "m1", "o1", [("a", 1, "10")], NOW)
    first = api.event(event)
    before = api.state()["balances"]
    # when it is retried under a fresh Idempotency-Key
    again = api.event(event, headers=key("fresh"))
    # then it is the same replay as without a key
    assert again.status_code == 200, again.text
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    assert api.state()["balances"] == before
