"""HTTP tests: members, their ledger, adjustments and transfers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.api.support import Api, assert_problem, client_for
from tests.builders import order_paid_json
from tests.conftest import NOW


def earn(api: Api, member: str, amount: str, order: str | None = None) -> None:
    """Give ``member`` points by paying an order of ``amount`` PLN (1 point per PLN)."""
    order = order or f"order-{member}-{amount}"
    response = api.event(order_paid_json(f"ev-{order}", member, order, [("sku", 1, amount)], NOW))
    assert response.status_code == 200, response.text


def create(api: Api, external_id: str, **profile: Any) -> dict[str, Any]:
    response = api.client.post("/v1/members", json={"external_id": external_id, **profile})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# --- POST /v1/members -------------------------------------------------------------------------


def test_create_member_normalises_contact_data_and_starts_with_no_points(api: Api) -> None:
    # when
    response = api.client.post(
        "/v1/members",
        json={
            "external_id": "cust-1",
            "email": "  Alice@Example.COM ",
            "phone": "+48 600-100-200",
            "first_name": "Alice",
            "birthday": "1990-05-17",
            "locale": "pl_PL",
            "consents": {"email": True, "sms": False},
        },
    )
    # then
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["external_id"] == "cust-1"
    assert body["email"] == "alice@example.com"
    assert body["phone"] == "+48600100200"
    assert body["birthday"] == "1990-05-17"
    assert body["locale"] == "pl-PL"
    assert body["status"] == "active"
    assert body["consents"] == {
        "email": {"granted": True, "at": NOW.isoformat()},
        "sms": {"granted": False, "at": NOW.isoformat()},
    }
    assert body["created_at"] == NOW.isoformat()
    assert body["balances"] == {
        "available": 0,
        "pending": 0,
        "lifetime_earned": 0,
        "negative_balance": 0,
        "expiring_soon": [],
    }
    assert api.member("cust-1") == body


def test_a_member_may_be_created_blocked(api: Api) -> None:
    assert create(api, "m1", status="blocked")["status"] == "blocked"


def test_creating_an_existing_member_is_a_conflict_and_changes_nothing(api: Api) -> None:
    # given
    create(api, "m1", email="first@example.com")
    before = api.state()
    # when
    response = api.client.post(
        "/v1/members", json={"external_id": "m1", "email": "second@example.com"}
    )
    # then
    assert_problem(response, 409, "member_exists", "external_id")
    assert api.state() == before
    assert api.member("m1")["email"] == "first@example.com"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"external_id": "m1", "email": "not-an-email"}, "email"),
        ({"external_id": "m1", "email": "a@b"}, "email"),
        ({"external_id": "m1", "phone": "12"}, "phone"),
        ({"external_id": "m1", "locale": "Polish"}, "locale"),
        ({"external_id": "m1", "birthday": "17/05/1990"}, "birthday"),
        ({"external_id": "m1", "status": "deleted"}, "status"),
        ({"external_id": "m1", "consents": {"email": "yes please"}}, "consents.email"),
        ({"external_id": "m1", "nickname": "al"}, "nickname"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "x" * 201}, "external_id"),
        ({"email": "a@example.com"}, "external_id"),
    ],
)
def test_invalid_member_is_rejected_and_nothing_is_written(
    api: Api, body: dict[str, Any], field: str
) -> None:
    before = api.state()
    response = api.client.post("/v1/members", json=body)
    assert_problem(response, 422, "validation_failed", field)
    assert api.state() == before


def test_create_member_with_malformed_json_is_a_400(api: Api) -> None:
    before = api.state()
    response = api.client.post(
        "/v1/members",
        content=b'{"external_id": "m1",',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 400, "malformed_json", "body")
    assert api.state() == before


# --- GET /v1/members --------------------------------------------------------------------------


def test_the_next_cursor_walks_every_member_once_in_creation_order(api: Api) -> None:
    # given seven members
    created = [f"m{i}" for i in range(7)]
    for external_id in created:
        create(api, external_id)
    # when walking pages of three
    seen: list[str] = []
    sizes: list[int] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if after is not None:
            params["after"] = after
        response = api.client.get("/v1/members", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        sizes.append(len(page["items"]))
        seen += [item["external_id"] for item in page["items"]]
        after = page["next"]
        if after is None:
            break
    # then
    assert sizes == [3, 3, 1]
    assert seen == created


def test_an_exactly_full_last_page_has_no_next_cursor(api: Api) -> None:
    for external_id in ("a", "b", "c", "d"):
        create(api, external_id)
    first = api.client.get("/v1/members", params={"limit": 2}).json()
    second = api.client.get("/v1/members", params={"limit": 2, "after": first["next"]}).json()
    assert [m["external_id"] for m in second["items"]] == ["c", "d"]
    assert second["next"] is None


def test_list_items_carry_the_profile_and_balances(api: Api) -> None:
    earn(api, "m1", "42")
    items = api.client.get("/v1/members").json()["items"]
    assert len(items) == 1
    assert items[0]["external_id"] == "m1"
    assert items[0]["balances"] == {"available": 42, "pending": 0, "lifetime_earned": 42}


def test_list_filters_by_normalised_email(api: Api) -> None:
    create(api, "m1", email="alice@example.com")
    create(api, "m2", email="bob@example.com")
    response = api.client.get("/v1/members", params={"email": "  ALICE@Example.com "})
    assert response.status_code == 200, response.text
    assert [m["external_id"] for m in response.json()["items"]] == ["m1"]


def test_list_filters_by_status_and_minimum_points(api: Api) -> None:
    create(api, "active-1")
    create(api, "blocked-1", status="blocked")
    create(api, "blocked-2", status="blocked")
    earn(api, "rich", "500")

    def ids(**params: Any) -> list[str]:
        response = api.client.get("/v1/members", params=params)
        assert response.status_code == 200, response.text
        return [m["external_id"] for m in response.json()["items"]]

    assert ids(status="blocked") == ["blocked-1", "blocked-2"]
    assert ids(status="active") == ["active-1", "rich"]
    assert ids(min_available=100) == ["rich"]


def test_filtered_pages_walk_only_matching_members(api: Api) -> None:
    for i in range(5):
        create(api, f"b{i}", status="blocked")
        create(api, f"a{i}")
    first = api.client.get("/v1/members", params={"status": "blocked", "limit": 3}).json()
    second = api.client.get(
        "/v1/members", params={"status": "blocked", "limit": 3, "after": first["next"]}
    ).json()
    assert [m["external_id"] for m in first["items"] + second["items"]] == [
        f"b{i}" for i in range(5)
    ]
    assert second["next"] is None


@pytest.mark.parametrize(
    ("params", "status", "code", "field"),
    [
        ({"after": "not-a-cursor"}, 400, "invalid_cursor", "after"),
        ({"after": "djI6MQ=="}, 400, "invalid_cursor", "after"),  # "v2:1"
        ({"limit": 0}, 422, "validation_failed", "limit"),
        ({"limit": 501}, 422, "validation_failed", "limit"),
        ({"status": "gone"}, 422, "validation_failed", "status"),
        ({"email": "nobody"}, 422, "validation_failed", "email"),
        ({"min_available": "many"}, 422, "validation_failed", "min_available"),
    ],
)
def test_invalid_list_parameters_are_problems(
    api: Api, params: dict[str, Any], status: int, code: str, field: str
) -> None:
    assert_problem(api.client.get("/v1/members", params=params), status, code, field)


# --- GET /v1/members/{id} ---------------------------------------------------------------------


def test_get_unknown_member_is_a_404(api: Api) -> None:
    assert_problem(api.client.get("/v1/members/nobody"), 404, "member_not_found", "external_id")


def test_get_member_lists_points_expiring_soon(make_api: Callable[..., Api]) -> None:
    api = make_api(pending_days=0, expiry={"kind": "days_after_earn", "days": 20})
    earn(api, "m1", "30")
    balances = api.balances("m1")
    assert balances["available"] == 30
    assert balances["expiring_soon"] == [
        {"points": 30, "expires_at": (NOW + timedelta(days=20)).isoformat()}
    ]


# --- PATCH /v1/members/{id} -------------------------------------------------------------------


def test_patch_changes_only_the_given_fields(api: Api) -> None:
    create(api, "m1", email="old@example.com", first_name="Al")
    response = api.client.patch("/v1/members/m1", json={"email": "New@Example.com"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["email"] == "new@example.com"
    assert body["first_name"] == "Al"
    assert api.member("m1") == body


def test_consents_are_stamped_when_they_change_and_kept_when_they_do_not(api: Api) -> None:
    # given consents granted at NOW
    create(api, "m1")
    response = api.client.patch("/v1/members/m1", json={"consents": {"email": True, "sms": True}})
    assert response.status_code == 200, response.text
    assert response.json()["consents"]["email"] == {"granted": True, "at": NOW.isoformat()}
    # when a day later the email consent is restated and the sms one withdrawn
    later = NOW + timedelta(days=1)
    with client_for(api.shop, now=later) as client:
        response = client.patch("/v1/members/m1", json={"consents": {"email": True, "sms": False}})
    # then only the changed consent gets a new timestamp
    assert response.status_code == 200, response.text
    assert response.json()["consents"] == {
        "email": {"granted": True, "at": NOW.isoformat()},
        "sms": {"granted": False, "at": later.isoformat()},
    }
    assert response.json()["updated_at"] == later.isoformat()


def test_a_blocked_member_earns_nothing_and_cannot_spend(api: Api) -> None:
    # given a member with points who is then blocked
    earn(api, "m1", "50", order="o1")
    response = api.client.patch("/v1/members/m1", json={"status": "blocked"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "blocked"
    # when a new order is paid
    paid = api.event(order_paid_json("e2", "m1", "o2", [("a", 1, "100")], NOW))
    # then it is recorded but earns nothing
    assert paid.status_code == 200, paid.text
    assert paid.json()["effects"] == []
    assert "blocked" in paid.json()["note"]
    # and points cannot be spent
    before = api.state()
    spend = api.client.post("/v1/members/m1/adjustments", json={"points": -10, "reason": "x"})
    assert_problem(spend, 409, "member_blocked")
    assert api.state() == before
    assert api.balances("m1")["available"] == 50
    # until the member is unblocked
    assert api.client.patch("/v1/members/m1", json={"status": "active"}).status_code == 200
    spend = api.client.post("/v1/members/m1/adjustments", json={"points": -10, "reason": "x"})
    assert spend.status_code == 201, spend.text


def test_patch_unknown_member_is_a_404_and_creates_nobody(api: Api) -> None:
    before = api.state()
    response = api.client.patch("/v1/members/ghost", json={"first_name": "Casper"})
    assert_problem(response, 404, "member_not_found", "external_id")
    assert api.state() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"status": "deleted"}, "status"),
        ({"external_id": "renamed"}, "external_id"),
    ],
)
def test_invalid_patch_changes_nothing(api: Api, body: dict[str, Any], field: str) -> None:
    create(api, "m1", email="keep@example.com")
    before = api.state()
    member = api.member("m1")
    response = api.client.patch("/v1/members/m1", json=body)
    assert_problem(response, 422, "validation_failed", field)
    assert api.state() == before
    assert api.member("m1") == member


# --- GET /v1/members/{id}/ledger --------------------------------------------------------------


def test_ledger_lists_every_entry_newest_first_with_its_reason(api: Api) -> None:
    # given an earn, a bonus and a spend
    earn(api, "m1", "40", order="o1")
    api.client.post("/v1/members/m1/adjustments", json={"points": 5, "reason": "birthday bonus"})
    api.client.post("/v1/members/m1/adjustments", json={"points": -15, "reason": "coffee"})
    # when
    response = api.client.get("/v1/members/m1/ledger")
    # then
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next"] is None
    items = page["items"]
    assert [(e["kind"], e["points"]) for e in items] == [
        ("adjust", -15),
        ("adjust", 5),
        ("earn", 40),
    ]
    assert [e["reason"] for e in items[:2]] == ["coffee", "birthday bonus"]
    assert "order o1" in items[2]["reason"]
    assert items[2]["order_id"] == "o1"
    assert items[2]["lot"]["status"] == "available"
    assert items[0]["actor"].startswith("key:")
    assert all(e["reason"] for e in items)
    assert sum(e["available_delta"] for e in items) == api.balances("m1")["available"] == 30


def test_ledger_pages_follow_the_cursor_without_gaps_or_repeats(api: Api) -> None:
    # given five entries
    create(api, "m1")
    for points in (1, 2, 3, 4, 5):
        response = api.client.post(
            "/v1/members/m1/adjustments", json={"points": points, "reason": f"r{points}"}
        )
        assert response.status_code == 201, response.text
    # when walking pages of two
    seen: list[int] = []
    sizes: list[int] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if after is not None:
            params["after"] = after
        page = api.client.get("/v1/members/m1/ledger", params=params).json()
        sizes.append(len(page["items"]))
        seen += [e["points"] for e in page["items"]]
        after = page["next"]
        if after is None:
            break
    # then
    assert sizes == [2, 2, 1]
    assert seen == [5, 4, 3, 2, 1]


def test_ledger_of_unknown_member_is_a_404(api: Api) -> None:
    response = api.client.get("/v1/members/ghost/ledger")
    assert_problem(response, 404, "member_not_found", "external_id")


def test_ledger_rejects_a_foreign_cursor(api: Api) -> None:
    create(api, "m1")
    response = api.client.get("/v1/members/m1/ledger", params={"after": "%%%"})
    assert_problem(response, 400, "invalid_cursor", "after")


# --- POST /v1/members/{id}/adjustments --------------------------------------------------------


def test_positive_and_negative_adjustments_move_points(api: Api) -> None:
    create(api, "m1")
    # when
    added = api.client.post("/v1/members/m1/adjustments", json={"points": 50, "reason": "goodwill"})
    taken = api.client.post("/v1/members/m1/adjustments", json={"points": -20, "reason": "gift"})
    # then
    assert added.status_code == 201, added.text
    assert added.json()["effects"][0]["kind"] == "adjust"
    assert added.json()["effects"][0]["points"] == 50
    assert added.json()["balances"]["available"] == 50
    assert taken.status_code == 201, taken.text
    effect = taken.json()["effects"][0]
    assert (effect["points"], effect["available_delta"]) == (-20, -20)
    assert sum(d["points"] for d in effect["meta"]["drawn_from"]) == 20
    assert taken.json()["balances"]["available"] == 30
    # a manual bonus is not lifetime earning
    assert api.balances("m1")["lifetime_earned"] == 0
    api.assert_ledger_clean()


def test_an_adjustment_may_not_overdraw_and_writes_nothing(api: Api) -> None:
    # given 30 points
    earn(api, "m1", "30")
    before = api.state()
    ledger = api.ledger("m1")
    # when
    response = api.client.post("/v1/members/m1/adjustments", json={"points": -31, "reason": "x"})
    # then
    body = assert_problem(response, 409, "insufficient_points")
    assert (body["needed"], body["available"]) == (31, 30)
    assert api.state() == before
    assert api.ledger("m1") == ledger
    assert api.balances("m1")["available"] == 30
    # and exactly the balance may still be spent
    ok = api.client.post("/v1/members/m1/adjustments", json={"points": -30, "reason": "x"})
    assert ok.status_code == 201, ok.text
    assert ok.json()["balances"]["available"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": 0, "reason": "nothing"}, "points"),
        ({"points": 10, "reason": "   "}, "reason"),
        ({"points": 10, "reason": ""}, "reason"),
        ({"points": 10}, "reason"),
        ({"reason": "no points"}, "points"),
        ({"points": 1.5, "reason": "half"}, "points"),
        ({"points": "ten", "reason": "words"}, "points"),
        ({"points": 10_000_001, "reason": "too many"}, "points"),
        ({"points": 10, "reason": "x", "expires": "never"}, "expires"),
    ],
)
def test_invalid_adjustment_is_rejected_and_nothing_is_written(
    api: Api, body: dict[str, Any], field: str
) -> None:
    earn(api, "m1", "30")
    before = api.state()
    response = api.client.post("/v1/members/m1/adjustments", json=body)
    assert_problem(response, 422, "validation_failed", field)
    assert api.state() == before


def test_adjusting_an_unknown_member_is_a_404_and_creates_nobody(api: Api) -> None:
    before = api.state()
    response = api.client.post(
        "/v1/members/ghost/adjustments", json={"points": 10, "reason": "hello"}
    )
    assert_problem(response, 404, "member_not_found", "external_id")
    assert api.state() == before


# --- POST /v1/transfers -----------------------------------------------------------------------


def test_transfers_are_refused_while_disabled(api: Api) -> None:
    earn(api, "alice", "50")
    create(api, "bob")
    before = api.state()
    response = api.client.post("/v1/transfers", json={"from": "alice", "to": "bob", "points": 10})
    assert_problem(response, 409, "transfers_disabled")
    assert api.state() == before


def test_transfers_work_once_enabled_through_the_program(api: Api) -> None:
    # given
    earn(api, "alice", "50")
    create(api, "bob")
    enabled = api.client.put("/v1/program", json={"transfers_enabled": True})
    assert enabled.status_code == 200, enabled.text
    # when
    response = api.client.post(
        "/v1/transfers", json={"from": "alice", "to": "bob", "points": 20, "reason": "gift"}
    )
    # then
    assert response.status_code == 201, response.text
    body = response.json()
    assert [(e["kind"], e["points"]) for e in body["effects"]] == [
        ("transfer_out", -20),
        ("transfer_in", 20),
    ]
    assert body["balances"]["alice"]["available"] == 30
    assert body["balances"]["bob"]["available"] == 20
    assert api.balances("alice")["available"] == 30
    assert api.balances("bob")["available"] == 20
    assert api.ledger("bob")[0]["reason"] == "gift"
    api.assert_ledger_clean()


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"from": "alice", "to": "alice", "points": 5}, 422, "invalid_transfer", "to"),
        ({"from": "alice", "to": "ghost", "points": 5}, 404, "member_not_found", "to"),
        ({"from": "ghost", "to": "bob", "points": 5}, 404, "member_not_found", "external_id"),
        ({"from": "alice", "to": "bob", "points": 51}, 409, "insufficient_points", None),
        ({"from": "alice", "to": "bob", "points": 0}, 422, "validation_failed", "points"),
        ({"from": "alice", "to": "bob", "points": -5}, 422, "validation_failed", "points"),
        ({"sender": "alice", "to": "bob", "points": 5}, 422, "validation_failed", "from"),
    ],
)
def test_failed_transfers_move_nothing(
    make_api: Callable[..., Api],
    body: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    # given alice with 50 points and bob with none, transfers enabled
    api = make_api(pending_days=0, transfers_enabled=True)
    earn(api, "alice", "50")
    create(api, "bob")
    before = api.state()
    # when
    response = api.client.post("/v1/transfers", json=body)
    # then
    assert_problem(response, status, code, field)
    assert api.state() == before


def test_transfer_to_or_from_a_blocked_member_is_refused(make_api: Callable[..., Api]) -> None:
    api = make_api(pending_days=0, transfers_enabled=True)
    earn(api, "alice", "50")
    create(api, "bob", status="blocked")
    before = api.state()
    response = api.client.post("/v1/transfers", json={"from": "alice", "to": "bob", "points": 5})
    assert_problem(response, 409, "member_blocked")
    assert api.state() == before


def test_a_member_reads_their_merged_benefits_without_a_tier_ladder(api: Api) -> None:
    plan = {
        "name": "Plus",
        "price": "19.99",
        "term": "monthly",
        "benefits": {
            "earn_multiplier": "1.2",
            "free_shipping": True,
            "exclusive_rewards": True,
            "early_access_days": 3,
            "birthday_gift": {"points": 50},
            "perks": {"free_returns": "returns cost nothing"},
        },
    }
    plus = api.client.post("/v1/membership-plans", json=plan).json()
    api.client.post("/v1/members", json={"external_id": "m1"})
    assert api.client.get("/v1/members/m1/tier").status_code == 404  # no ladder
    before = api.member("m1")["benefits"]
    assert api.client.post("/v1/members/m1/memberships", json={"plan_id": plus["id"]}).is_success

    body = api.member("m1")

    assert before == {
        "earn_multiplier": "1",
        "free_shipping": False,
        "exclusive_rewards": False,
        "early_access": False,
        "early_access_days": 0,
        "birthday_gifts": [],
        "perks": {},
    }
    assert body["benefits"] == {
        "earn_multiplier": "1.2",
        "free_shipping": True,
        "exclusive_rewards": True,
        "early_access": True,
        "early_access_days": 3,
        "birthday_gifts": [{"points": 50}],
        "perks": {"free_returns": "returns cost nothing"},
    }
    assert body["balances"]["available"] == 0 and body["external_id"] == "m1"
