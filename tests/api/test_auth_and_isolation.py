"""HTTP tests: API keys, scopes and tenant isolation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from loyalty.services.tenants import revoke_key
from tests.api.support import Api, assert_problem, bearer, client_for
from tests.builders import order_paid_json, refund_json
from tests.conftest import NOW

# Every endpoint that needs a key, with a body that would be valid.
PROTECTED: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/program", None),
    ("PUT", "/v1/program", {"pending_days": 3}),
    ("GET", "/v1/members", None),
    ("POST", "/v1/members", {"external_id": "new"}),
    ("GET", "/v1/members/m1", None),
    ("PATCH", "/v1/members/m1", {"first_name": "Eve"}),
    ("GET", "/v1/members/m1/ledger", None),
    ("POST", "/v1/members/m1/adjustments", {"points": 5, "reason": "x"}),
    ("POST", "/v1/transfers", {"from": "m1", "to": "m2", "points": 1}),
    ("POST", "/v1/events", order_paid_json("e9", "m1", "o9", [("a", 1, "10")], NOW)),
    (
        "POST",
        "/v1/events/batch",
        {"events": [order_paid_json("e9", "m1", "o9", [("a", 1, "10")], NOW)]},
    ),
]
WRITES = [(method, path, body) for method, path, body in PROTECTED if method != "GET"]
READS = [(method, path, body) for method, path, body in PROTECTED if method == "GET"]


def call(client: TestClient, method: str, path: str, body: dict[str, Any] | None) -> Response:
    return client.request(method, path, json=body)


@pytest.fixture
def seeded(make_api: Callable[..., Api]) -> Api:
    """A shop with transfers on, m1 holding 100 points and m2 holding none."""
    api = make_api(pending_days=0, transfers_enabled=True)
    paid = api.event(order_paid_json("e1", "m1", "o1", [("a", 1, "100")], NOW))
    assert paid.status_code == 200, paid.text
    assert api.client.post("/v1/members", json={"external_id": "m2"}).status_code == 201
    return api


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_each_protected_request_succeeds_with_an_admin_key(
    seeded: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    # so that the 401s and 403s below are about the key, not the request
    response = call(seeded.client, method, path, body)
    assert response.status_code in (200, 201), response.text


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_every_endpoint_needs_a_key(
    seeded: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    before = seeded.state()
    with client_for(seeded.shop, headers={}) as anonymous:
        response = call(anonymous, method, path, body)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    assert seeded.state() == before


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "Token lk_abc_def",
        "Bearer not-a-key",
        "Bearer lk_",
        "Bearer lk_nounderscore",
        "Bearer lk_000000000000_unknownsecret",
    ],
)
def test_a_missing_malformed_or_unknown_key_is_unauthenticated(
    seeded: Api, authorization: str
) -> None:
    before = seeded.state()
    with client_for(seeded.shop, headers={"Authorization": authorization}) as client:
        read = client.get("/v1/members/m1")
        write = client.post("/v1/members/m1/adjustments", json={"points": 5, "reason": "x"})
    assert_problem(read, 401, "unauthenticated")
    assert_problem(write, 401, "unauthenticated")
    assert seeded.state() == before


def test_a_known_prefix_with_the_wrong_secret_is_unauthenticated(seeded: Api) -> None:
    # given the real key's prefix with another secret
    prefix = seeded.shop.api_key.split("_")[1]
    forged = f"lk_{prefix}_{'x' * 43}"
    assert forged != seeded.shop.api_key
    with client_for(seeded.shop, bearer(forged)) as client:
        response = client.get("/v1/members/m1")
    assert_problem(response, 401, "unauthenticated")


def test_the_bearer_scheme_is_case_insensitive(seeded: Api) -> None:
    with client_for(seeded.shop, {"Authorization": f"bearer {seeded.shop.api_key}"}) as client:
        assert client.get("/v1/members/m1").status_code == 200


def test_a_revoked_key_stops_working_at_once(seeded: Api) -> None:
    # given a key that works
    key = seeded.key("read", "write")
    with client_for(seeded.shop, bearer(key)) as client:
        assert client.get("/v1/members/m1").status_code == 200
        # when it is revoked
        assert revoke_key(seeded.shop.db, key, NOW) is True
        before = seeded.state()
        read = client.get("/v1/members/m1")
        write = client.post("/v1/members/m1/adjustments", json={"points": 5, "reason": "x"})
    # then
    assert_problem(read, 401, "unauthenticated")
    assert_problem(write, 401, "unauthenticated")
    assert seeded.state() == before
    # and the shop's other keys still work
    assert seeded.client.get("/v1/members/m1").status_code == 200


# --- scopes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_read_only_key_cannot_write(
    seeded: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    before = seeded.state()
    with client_for(seeded.shop, bearer(seeded.key("read"))) as reader:
        response = call(reader, method, path, body)
    problem = assert_problem(response, 403, "forbidden")
    assert "'write'" in problem["detail"] or "'admin'" in problem["detail"]
    assert seeded.state() == before


@pytest.mark.parametrize(("method", "path", "body"), READS)
def test_a_read_only_key_can_read(
    seeded: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    with client_for(seeded.shop, bearer(seeded.key("read"))) as reader:
        assert call(reader, method, path, body).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), READS)
def test_a_write_only_key_cannot_read(
    seeded: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    with client_for(seeded.shop, bearer(seeded.key("write"))) as writer:
        assert_problem(call(writer, method, path, body), 403, "forbidden")


def test_a_write_key_can_write_but_not_change_the_program(seeded: Api) -> None:
    with client_for(seeded.shop, bearer(seeded.key("read", "write"))) as writer:
        adjusted = writer.post("/v1/members/m1/adjustments", json={"points": 5, "reason": "x"})
        assert adjusted.status_code == 201, adjusted.text
        assert_problem(writer.put("/v1/program", json={"pending_days": 3}), 403, "forbidden")
    assert seeded.client.get("/v1/program").json()["pending_days"] == 0
    assert seeded.balances("m1")["available"] == 105


# --- tenant isolation -------------------------------------------------------------------------


@pytest.fixture
def intruder(make_api: Callable[..., Api]) -> Api:
    """Another shop (tenant A) with transfers on and a member of its own."""
    api = make_api(pending_days=0, transfers_enabled=True)
    assert api.client.post("/v1/members", json={"external_id": "a-only"}).status_code == 201
    return api


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/members/m1", None),
        ("GET", "/v1/members/m1/ledger", None),
        ("PATCH", "/v1/members/m1", {"status": "blocked", "email": "evil@example.com"}),
        ("POST", "/v1/members/m1/adjustments", {"points": -100, "reason": "steal"}),
        ("POST", "/v1/members/m1/adjustments", {"points": 1000, "reason": "inflate"}),
    ],
)
def test_another_tenant_cannot_see_or_touch_a_member(
    seeded: Api, intruder: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    # given tenant B (seeded) with m1, and tenant A's key
    before = seeded.state()
    member = seeded.member("m1")
    # when A addresses B's member
    response = call(intruder.client, method, path, body)
    # then it does not exist for A, and B's member is untouched
    assert_problem(response, 404, "member_not_found")
    assert seeded.state() == before
    assert seeded.member("m1") == member


def test_another_tenant_cannot_transfer_a_members_points(seeded: Api, intruder: Api) -> None:
    before = seeded.state()
    response = intruder.client.post(
        "/v1/transfers", json={"from": "m1", "to": "a-only", "points": 50}
    )
    assert_problem(response, 404, "member_not_found")
    assert seeded.state() == before
    assert intruder.balances("a-only")["available"] == 0


def test_another_tenant_cannot_refund_an_order(seeded: Api, intruder: Api) -> None:
    before = seeded.state()
    response = intruder.event(refund_json("r1", "o1", "R1", NOW, amount="100"))
    assert_problem(response, 422, "unknown_order", "data.order_id")
    assert seeded.state() == before
    assert seeded.balances("m1")["available"] == 100


def test_member_lists_show_only_the_tenants_own_members(seeded: Api, intruder: Api) -> None:
    mine = intruder.client.get("/v1/members").json()
    theirs = seeded.client.get("/v1/members").json()
    assert [m["external_id"] for m in mine["items"]] == ["a-only"]
    assert [m["external_id"] for m in theirs["items"]] == ["m1", "m2"]
    # B's m1 holds 100 points, yet A finds no member with any
    with_points = intruder.client.get("/v1/members", params={"min_available": 1}).json()
    assert with_points["items"] == []


def test_tenants_have_separate_member_ids_event_ids_and_idempotency_keys(
    seeded: Api, intruder: Api
) -> None:
    # given B already used member m1, event e1, order o1 and the key "k"
    seeded.client.post(
        "/v1/members/m1/adjustments",
        json={"points": 1, "reason": "b"},
        headers={"Idempotency-Key": "k"},
    )
    before = seeded.state()
    # when A uses the same identifiers
    created = intruder.client.post("/v1/members", json={"external_id": "m1"})
    earned = intruder.event(order_paid_json("e1", "m1", "o1", [("a", 1, "7")], NOW))
    adjusted = intruder.client.post(
        "/v1/members/m1/adjustments",
        json={"points": 1, "reason": "b"},
        headers={"Idempotency-Key": "k"},
    )
    # then each is new to A, not a replay or conflict of B's
    assert created.status_code == 201, created.text
    assert earned.status_code == 200, earned.text
    assert "idempotent-replayed" not in earned.headers
    assert earned.json()["effects"][0]["points"] == 7
    assert adjusted.status_code == 201, adjusted.text
    assert "idempotent-replayed" not in adjusted.headers
    assert intruder.balances("m1")["available"] == 8
    # and B is unchanged
    assert seeded.state() == before
    assert seeded.balances("m1")["available"] == 101


def test_a_program_change_in_one_tenant_leaves_the_other_alone(seeded: Api, intruder: Api) -> None:
    before = seeded.client.get("/v1/program").json()
    assert intruder.client.put("/v1/program", json={"points_per_unit": "10"}).status_code == 200
    assert seeded.client.get("/v1/program").json() == before
    earned = seeded.event(order_paid_json("e2", "m1", "o2", [("a", 1, "10")], NOW))
    assert earned.json()["effects"][0]["points"] == 10
