"""HTTP tests: referral codes and links, attribution, list, stats and settings, each 4xx."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from loyalty.services import jobs
from loyalty.store import tables
from tests.api.support import Api, assert_problem, bearer, client_for
from tests.builders import order_paid_json, refund_json
from tests.conftest import NOW

_REFERRAL_TABLES = (tables.referrals, tables.referral_codes, tables.member_signals)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """A shop with a 14-day return window, a referral link base URL, and a welcome code
    worth 20.00 PLN off for 30 days."""
    made = make_api(pending_days=14)
    created = made.client.post("/v1/promotions", json=WELCOME)
    assert created.status_code == 201, created.text
    response = made.client.put(
        "/v1/referrals/settings",
        json={
            "link_base_url": "https://shop.example/join",
            "welcome_promotion_id": "welcome",
            "welcome_valid_days": 30,
        },
    )
    assert response.status_code == 200, response.text
    return made


WELCOME = {
    "id": "welcome",
    "trigger": "code",
    "currency": "PLN",
    "benefits": [{"type": "amount_off", "amount": "20.00"}],
}


def state(api: Api) -> dict[str, Any]:
    with api.shop.db.read(api.shop.tenant_id) as uow:
        counts = {
            table.name: uow.conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.tenant_id == api.shop.tenant_id)
            ).scalar_one()
            for table in _REFERRAL_TABLES
        }
        settings = uow.referrals.settings()
    return {**api.state(), "referrals": counts, "settings": settings}


def member(api: Api, external_id: str, **profile: Any) -> None:
    response = api.client.post("/v1/members", json={"external_id": external_id, **profile})
    assert response.status_code == 201, response.text


def code_of(api: Api, external_id: str) -> str:
    response = api.client.get(f"/v1/members/{external_id}/referral")
    assert response.status_code == 200, response.text
    code: str = response.json()["code"]
    return code


def attribute(api: Api, code: str, referee: str, **extra: Any) -> Any:
    body = {"code": code, "referee": {"external_id": referee}, **extra}
    return api.client.post("/v1/referrals", json=body)


# --- GET /v1/members/{external_id}/referral ---------------------------------------------------


def test_member_referral_is_made_lazily_and_stays_the_same(api: Api) -> None:
    # given
    member(api, "anna", first_name="Anna")

    # when
    first = api.client.get("/v1/members/anna/referral")
    second = api.client.get("/v1/members/anna/referral")

    # then
    assert first.status_code == 200
    body = first.json()
    assert body["code"].startswith("ANNA-")
    assert body["link"] == f"https://shop.example/join?ref={body['code']}"
    assert body["member"] == "anna" and body["enabled"] is True
    assert second.json() == body


def test_member_referral_without_a_base_url_has_no_link(api: Api) -> None:
    member(api, "anna")
    api.client.put("/v1/referrals/settings", json={"link_base_url": None})

    assert api.client.get("/v1/members/anna/referral").json()["link"] is None


def test_member_referral_of_an_unknown_member_is_404(api: Api) -> None:
    before = state(api)

    response = api.client.get("/v1/members/ghost/referral")

    assert_problem(response, 404, "member_not_found", "external_id")
    assert state(api) == before


def test_member_referral_needs_a_key(api: Api) -> None:
    with client_for(api.shop, headers={}) as anonymous:
        assert_problem(anonymous.get("/v1/members/anna/referral"), 401, "unauthenticated")


# --- attribution on events ---------------------------------------------------------------------


def test_referral_code_on_order_paid_runs_to_the_referrers_points(api: Api) -> None:
    # given anna's code on ben's first order
    member(api, "anna")
    code = code_of(api, "anna")
    order = order_paid_json("p1", "ben", "o1", [("a", 1, "100")], NOW)
    order["data"]["referral_code"] = code

    # when
    paid = api.event(order)

    # then ben's referral is pending with a welcome coupon
    assert paid.status_code == 200, paid.text
    referral = paid.json()["referral"]
    assert referral["status"] == "pending" and referral["referrer"] == "anna"
    assert referral["welcome_coupon"]["status"] == "issued"

    # when the window closes and the jobs run
    jobs.run_due_jobs(api.shop.db, NOW + timedelta(days=14), api.shop.tenant_id)

    # then
    assert api.balances("anna")["available"] == 500
    listed = api.client.get("/v1/referrals", params={"referrer": "anna"}).json()["items"]
    assert [r["status"] for r in listed] == ["rewarded"]
    api.assert_ledger_clean()


def test_referral_code_on_customer_created_and_refund_within_the_window(api: Api) -> None:
    member(api, "anna")
    code = code_of(api, "anna")
    signed_up = api.event(
        {
            "id": "c1",
            "type": "customer.created",
            "occurred_at": NOW.isoformat(),
            "member": {"external_id": "ben"},
            "data": {"email": "ben@example.com", "referral_code": code, "device_hash": "d-9"},
        }
    )
    assert signed_up.json()["referral"]["status"] == "pending"
    api.event(order_paid_json("p1", "ben", "o1", [("a", 1, "50")], NOW))

    refunded = api.event(refund_json("r1", "o1", "rf1", NOW + timedelta(days=1), amount="50"))

    assert refunded.json()["referral"]["status"] == "cancelled"
    assert api.member("ben")["email"] == "ben@example.com"


def test_an_invalid_referral_field_on_an_event_is_422_and_writes_nothing(api: Api) -> None:
    before = state(api)
    order = order_paid_json("p1", "ben", "o1", [("a", 1, "100")], NOW)
    order["data"]["shipping_address"] = {"city": "Cluj"}  # no street line

    response = api.event(order)

    assert_problem(response, 422, "validation_failed", "data.shipping_address.line1")
    assert state(api) == before


# --- POST /v1/referrals ----------------------------------------------------------------------


def test_post_referral_attributes_and_a_repeat_returns_it(api: Api) -> None:
    member(api, "anna")
    code = code_of(api, "anna")

    created = attribute(api, code, "ben", ip_hash="ip-2")
    again = attribute(api, code, "ben")

    assert created.status_code == 201
    assert created.json()["status"] == "pending" and created.json()["source"] == "api"
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]


def test_post_referral_that_fails_a_check_is_recorded_as_rejected(api: Api) -> None:
    # given anna's shipping address is known from her own order
    member(api, "anna")
    order = order_paid_json("p0", "anna", "o0", [("a", 1, "10")], NOW)
    order["data"]["shipping_address"] = {"line1": "Main Street 1", "city": "Iasi"}
    api.event(order)
    code = code_of(api, "anna")

    # when a "friend" ships to the same address
    response = attribute(api, code, "ben", shipping_address={"line1": "main st. 1", "city": "IASI"})

    # then
    assert response.status_code == 201
    assert response.json()["status"] == "rejected"
    assert response.json()["reason"] == "self_referral_address"
    rejected = api.client.get("/v1/referrals", params={"status": "rejected"}).json()["items"]
    assert [r["reason"] for r in rejected] == ["self_referral_address"]


def test_post_referral_to_oneself_is_rejected(api: Api) -> None:
    member(api, "anna")

    response = attribute(api, code_of(api, "anna"), "anna")

    assert (response.status_code, response.json()["reason"]) == (201, "self_referral")


def test_post_referral_with_an_idempotency_key_replays(api: Api) -> None:
    member(api, "anna")
    code = code_of(api, "anna")
    body = {"code": code, "referee": {"external_id": "ben"}}
    headers = {"Idempotency-Key": "k-1"}

    first = api.client.post("/v1/referrals", json=body, headers=headers)
    replay = api.client.post("/v1/referrals", json=body, headers=headers)
    other = api.client.post(
        "/v1/referrals", json={**body, "referee": {"external_id": "cleo"}}, headers=headers
    )

    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert_problem(other, 422, "idempotency_key_conflict", "Idempotency-Key")


def test_post_referral_with_an_unknown_code_is_422_and_writes_nothing(api: Api) -> None:
    before = state(api)

    response = attribute(api, "NOPE-1234", "ben", device_hash="d-1")

    assert_problem(response, 422, "unknown_referral_code", "code")
    assert state(api) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"referee": {"external_id": "ben"}}, "code"),
        ({"code": "", "referee": {"external_id": "ben"}}, "code"),
        ({"code": "X"}, "referee"),
        ({"code": "X", "referee": {}}, "referee.external_id"),
        ({"code": "X", "referee": {"external_id": "ben"}, "bonus": 1}, "bonus"),
        ({"code": "X", "referee": {"external_id": "ben", "birthday": "soon"}}, "referee.birthday"),
    ],
)
def test_post_referral_with_a_bad_body_is_422(api: Api, body: dict[str, Any], field: str) -> None:
    before = state(api)

    response = api.client.post("/v1/referrals", json=body)

    assert_problem(response, 422, "validation_failed", field)
    assert state(api) == before


def test_post_referral_with_a_bad_email_is_422_and_writes_nothing(api: Api) -> None:
    member(api, "anna")
    code = code_of(api, "anna")
    before = state(api)

    body = {"code": code, "referee": {"external_id": "ben", "email": "nope"}}
    response = api.client.post("/v1/referrals", json=body)

    assert_problem(response, 422, "validation_failed", "email")
    assert state(api) == before


def test_post_referral_needs_the_write_scope(api: Api) -> None:
    reader = api.key("read")
    with client_for(api.shop, headers=bearer(reader)) as client:
        response = client.post("/v1/referrals", json={"code": "X", "referee": {"external_id": "b"}})

    assert_problem(response, 403, "forbidden")


def test_post_referral_with_malformed_json_is_400(api: Api) -> None:
    response = api.client.post(
        "/v1/referrals", content=b"{", headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 400, "malformed_json")


# --- GET /v1/referrals -----------------------------------------------------------------------


def test_list_referrals_pages_with_a_cursor_and_filters(api: Api) -> None:
    member(api, "anna")
    member(api, "carl")
    anna, carl = code_of(api, "anna"), code_of(api, "carl")
    for friend in ("b1", "b2", "b3"):
        attribute(api, anna, friend)
    attribute(api, carl, "b4")
    attribute(api, carl, "carl")  # rejected: self-referral

    first = api.client.get("/v1/referrals", params={"limit": 2}).json()
    rest = api.client.get("/v1/referrals", params={"limit": 2, "after": first["next"]}).json()
    last = api.client.get("/v1/referrals", params={"limit": 2, "after": rest["next"]}).json()

    assert [r["referee"] for r in first["items"] + rest["items"] + last["items"]] == [
        "b1",
        "b2",
        "b3",
        "b4",
        "carl",
    ]
    assert last["next"] is None
    by_carl = api.client.get("/v1/referrals", params={"referrer": "carl", "status": "pending"})
    assert [r["referee"] for r in by_carl.json()["items"]] == ["b4"]


@pytest.mark.parametrize(
    ("params", "status", "code", "field"),
    [
        ({"status": "lost"}, 422, "validation_failed", "status"),
        ({"limit": 0}, 422, "validation_failed", "limit"),
        ({"limit": 501}, 422, "validation_failed", "limit"),
        ({"after": "not-a-cursor"}, 400, "invalid_cursor", "after"),
        ({"referrer": "ghost"}, 404, "member_not_found", "referrer"),
    ],
)
def test_list_referrals_refuses_bad_parameters(
    api: Api, params: dict[str, Any], status: int, code: str, field: str
) -> None:
    assert_problem(api.client.get("/v1/referrals", params=params), status, code, field)


def test_list_referrals_needs_a_key(api: Api) -> None:
    with client_for(api.shop, headers=bearer("lk_nope")) as client:
        assert_problem(client.get("/v1/referrals"), 401, "unauthenticated")


# --- GET /v1/referrals/stats -----------------------------------------------------------------


def test_stats_per_referrer(api: Api) -> None:
    member(api, "anna")
    code = code_of(api, "anna")
    attribute(api, code, "b1")
    attribute(api, code, "anna")

    everyone = api.client.get("/v1/referrals/stats").json()["items"]
    anna = api.client.get("/v1/referrals/stats", params={"referrer": "anna"}).json()["items"]

    assert everyone == anna
    assert anna[0]["invited"] == 2 and anna[0]["pending"] == 1
    assert anna[0]["rejected_by_reason"] == {"self_referral": 1}
    assert anna[0]["conversion"] == 0.0


def test_stats_of_a_member_without_referrals_are_zero(api: Api) -> None:
    member(api, "zed")

    [zed] = api.client.get("/v1/referrals/stats", params={"referrer": "zed"}).json()["items"]

    assert (zed["referrer"], zed["invited"], zed["conversion"]) == ("zed", 0, 0.0)


def test_stats_of_an_unknown_referrer_is_404(api: Api) -> None:
    response = api.client.get("/v1/referrals/stats", params={"referrer": "ghost"})

    assert_problem(response, 404, "member_not_found", "referrer")


def test_stats_need_a_key(api: Api) -> None:
    with client_for(api.shop, headers={}) as anonymous:
        assert_problem(anonymous.get("/v1/referrals/stats"), 401, "unauthenticated")


# --- GET/PUT /v1/referrals/settings ----------------------------------------------------------


def test_settings_change_only_what_is_given(api: Api) -> None:
    response = api.client.put(
        "/v1/referrals/settings",
        json={"referrer_points": 250, "fraud": {"same_ip": False}},
    )

    assert response.status_code == 200
    body = api.client.get("/v1/referrals/settings").json()
    assert body == response.json()
    assert body["referrer_points"] == 250
    assert body["link_base_url"] == "https://shop.example/join"
    assert body["fraud"]["same_ip"] is False and body["fraud"]["same_email"] is True
    assert body["version"] == 2


def test_settings_inside_fraud_keep_the_ones_not_given(api: Api) -> None:
    caps = [{"window": "week", "max_referrals": 3}]
    api.client.put("/v1/referrals/settings", json={"fraud": {"velocity": caps}})

    api.client.put("/v1/referrals/settings", json={"fraud": {"same_phone": False}})

    fraud = api.client.get("/v1/referrals/settings").json()["fraud"]
    assert fraud["velocity"] == caps and fraud["same_phone"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"referrer_points": -5}, "referrer_points"),
        ({"link_base_url": "javascript:alert(1)"}, "link_base_url"),
        (
            {"fraud": {"velocity": [{"window": "year", "max_referrals": 1}]}},
            "fraud.velocity[0].window",
        ),
        ({"surprise": True}, "surprise"),
    ],
)
def test_invalid_settings_are_422_and_change_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    before = state(api)

    response = api.client.put("/v1/referrals/settings", json=body)

    assert_problem(response, 422, "invalid_settings", field)
    assert state(api) == before


def test_settings_body_must_be_an_object(api: Api) -> None:
    assert_problem(api.client.put("/v1/referrals/settings", json=[1]), 422, "validation_failed")


def test_settings_need_the_admin_scope(api: Api) -> None:
    with client_for(api.shop, headers=bearer(api.key("read", "write"))) as client:
        response = client.put("/v1/referrals/settings", json={"referrer_points": 1})

    assert_problem(response, 403, "forbidden")


def test_settings_read_needs_a_key(api: Api) -> None:
    with client_for(api.shop, headers={}) as anonymous:
        assert_problem(anonymous.get("/v1/referrals/settings"), 401, "unauthenticated")


# --- the friend's welcome code at checkout -----------------------------------------------------


def evaluate(api: Api, member_id: str | None, code: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "currency": "PLN",
        "lines": [{"sku": "a", "quantity": 1, "unit_price": "60.00"}],
        "coupon_codes": [code.lower()],
        **extra,
    }
    if member_id is not None:
        body["member"] = member_id
    response = api.client.post("/v1/carts/evaluate", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def welcome_code_of(api: Api, referee: str) -> dict[str, Any]:
    response = api.client.get(f"/v1/members/{referee}/referral")
    assert response.status_code == 200, response.text
    welcome: dict[str, Any] = response.json()["welcome_coupon"]
    return welcome


def test_the_welcome_code_is_a_coupon_of_the_friend_that_checkout_accepts_once(api: Api) -> None:
    member(api, "anna")
    member(api, "carl")
    first = order_paid_json("p1", "ben", "o1", [("a", 1, "100")], NOW)
    first["data"]["referral_code"] = code_of(api, "anna")
    paid = api.event(first)
    assert paid.status_code == 200, paid.text
    # then ben finds his code on his referral page, valid for 30 days
    welcome = welcome_code_of(api, "ben")
    code = welcome["code"]
    assert welcome["status"] == "issued" and welcome["promotion_id"] == "welcome"
    assert welcome["expires_at"] == (NOW + timedelta(days=30)).isoformat()
    assert paid.json()["referral"]["welcome_coupon"]["code"] == code
    coupon = api.client.get(f"/v1/coupons/{code}").json()
    assert (coupon["member"], coupon["max_uses"]) == ("ben", 1)
    # when ben enters it at checkout it is worth 20.00; nobody else can use it
    mine = evaluate(api, "ben", code)
    assert [(a["promotion_id"], a["code"]) for a in mine["applied"]] == [("welcome", code)]
    assert mine["discount"] == "20.00"
    theirs = evaluate(api, "carl", code)
    assert theirs["applied"] == []
    assert [r["reason"] for r in theirs["rejected"]] == ["coupon_not_owned"]
    # when ben's checkout holds it, his other checkout cannot
    held = evaluate(api, "ben", code, checkout_id="k1")
    assert held["checkout"]["reserved_codes"] == [code]
    other = evaluate(api, "ben", code, checkout_id="k2")
    assert [r["reason"] for r in other["rejected"]] == ["code_reserved"]
    # when the order of the holding checkout is paid
    second = order_paid_json("p2", "ben", "o2", [("a", 1, "40.00")], NOW)
    second["data"]["checkout_id"] = "k1"
    assert api.event(second).status_code == 200
    # then the code is used up
    assert welcome_code_of(api, "ben")["status"] == "used"
    again = evaluate(api, "ben", code)
    assert [r["reason"] for r in again["rejected"]] == ["code_used_up"]


def test_a_replayed_first_order_issues_one_welcome_code(api: Api) -> None:
    member(api, "anna")
    first = order_paid_json("p1", "ben", "o1", [("a", 1, "100")], NOW)
    first["data"]["referral_code"] = code_of(api, "anna")
    assert api.event(first).status_code == 200
    assert api.event(first).status_code == 200
    with api.shop.db.read(api.shop.tenant_id) as uow:
        count = uow.conn.execute(
            select(func.count())
            .select_from(tables.coupons)
            .where(tables.coupons.c.tenant_id == api.shop.tenant_id)
        ).scalar_one()
    assert count == 1


def test_a_refunded_first_order_cancels_the_unused_welcome_code(api: Api) -> None:
    member(api, "anna")
    first = order_paid_json("p1", "ben", "o1", [("a", 1, "100")], NOW)
    first["data"]["referral_code"] = code_of(api, "anna")
    api.event(first)
    code = welcome_code_of(api, "ben")["code"]
    api.event(refund_json("r1", "o1", "rf1", NOW + timedelta(days=2), amount="100"))
    assert welcome_code_of(api, "ben")["status"] == "cancelled"
    refused = evaluate(api, "ben", code)
    assert [r["reason"] for r in refused["rejected"]] == ["coupon_cancelled"]


def test_without_a_welcome_benefit_no_code_is_issued(make_api: Callable[..., Api]) -> None:
    api = make_api(pending_days=14)
    member(api, "anna")
    first = order_paid_json("p1", "ben", "o1", [("a", 1, "100")], NOW)
    first["data"]["referral_code"] = code_of(api, "anna")
    body = api.event(first).json()
    assert body["referral"]["status"] == "pending"
    assert body["referral"]["welcome_coupon"] is None
    assert welcome_code_of_or_none(api, "ben") is None


def welcome_code_of_or_none(api: Api, referee: str) -> Any:
    return api.client.get(f"/v1/members/{referee}/referral").json()["welcome_coupon"]


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"welcome_promotion_id": "nope"}, "welcome_promotion_id"),
        ({"welcome_promotion_id": "auto"}, "welcome_promotion_id"),
        ({"welcome_reward_id": "nope", "welcome_promotion_id": None}, "welcome_reward_id"),
        ({"welcome_reward_id": "r1", "welcome_promotion_id": None}, "welcome_reward_id"),
        ({"welcome_reward_id": "r1"}, "welcome_promotion_id"),
        ({"welcome_valid_days": 0}, "welcome_valid_days"),
    ],
)
def test_an_unusable_welcome_benefit_is_422(api: Api, settings: dict[str, Any], field: str) -> None:
    auto = {**WELCOME, "id": "auto", "trigger": "automatic"}
    assert api.client.post("/v1/promotions", json=auto).status_code == 201
    gift = {
        "id": "r1",
        "name": "Mug",
        "cost_points": 9,
        "benefit": {"type": "physical_gift", "sku": "M"},
    }
    created = api.client.post("/v1/rewards", json=gift)
    assert created.status_code == 201, created.text
    before = state(api)
    response = api.client.put("/v1/referrals/settings", json=settings)
    assert_problem(response, 422, "invalid_settings", field)
    assert state(api) == before


def test_a_welcome_reward_gives_the_code_the_rewards_benefit(api: Api) -> None:
    ten_off = {
        "id": "ten-off",
        "name": "10 PLN off",
        "cost_points": 100,
        "benefit": {"type": "fixed_discount", "amount": "10", "currency": "PLN"},
    }
    assert api.client.post("/v1/rewards", json=ten_off).status_code == 201
    settings = {"welcome_reward_id": "ten-off", "welcome_promotion_id": None}
    assert api.client.put("/v1/referrals/settings", json=settings).status_code == 200
    member(api, "anna")
    first = order_paid_json("p1", "ben", "o1", [("a", 1, "100")], NOW)
    first["data"]["referral_code"] = code_of(api, "anna")
    api.event(first)
    welcome = welcome_code_of(api, "ben")
    assert welcome["reward_id"] == "ten-off"
    body = evaluate(api, "ben", welcome["code"])
    assert [a["promotion_id"] for a in body["applied"]] == ["reward:ten-off:1"]
    assert body["discount"] == "10.00"
