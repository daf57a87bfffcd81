"""HTTP tests: the rewards catalogue, redemptions and their cancellation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from loyalty.store.tables import outbox_events
from tests.api.support import Api, assert_problem, bearer, client_for
from tests.conftest import NOW

TEN_OFF = {
    "id": "ten-off",
    "name": "10 PLN off",
    "cost_points": 100,
    "benefit": {"type": "fixed_discount", "amount": "10", "currency": "PLN"},
}


def member(api: Api, external_id: str, points: int = 0, **profile: Any) -> None:
    response = api.client.post("/v1/members", json={"external_id": external_id, **profile})
    assert response.status_code == 201, response.text
    if points:
        response = api.client.post(
            f"/v1/members/{external_id}/adjustments", json={"points": points, "reason": "gift"}
        )
        assert response.status_code == 201, response.text


def reward(api: Api, **data: Any) -> dict[str, Any]:
    response = api.client.post("/v1/rewards", json={**TEN_OFF, **data})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def redeem(api: Api, external_id: str, reward_id: str = "ten-off", **kwargs: Any) -> Any:
    return api.client.post(
        f"/v1/members/{external_id}/redemptions", json={"reward_id": reward_id}, **kwargs
    )


def outbox_types(api: Api) -> list[str]:
    with api.shop.db.read(api.shop.tenant_id) as uow:
        return list(
            uow.conn.execute(
                select(outbox_events.c.type)
                .where(outbox_events.c.tenant_id == api.shop.tenant_id)
                .order_by(outbox_events.c.id)
            ).scalars()
        )


# --- POST/GET/PATCH /v1/rewards ----------------------------------------------------------------

ALL_TYPES = [
    {"type": "fixed_discount", "amount": "10", "currency": "PLN"},
    {"type": "percent_discount", "percent": "15", "cap": "50", "currency": "PLN"},
    {"type": "free_shipping"},
    {"type": "free_product", "sku": "SOCKS", "quantity": 2},
    {"type": "store_credit", "amount": "25", "currency": "PLN"},
    {"type": "physical_gift", "sku": "MUG"},
    {"type": "charity_donation", "charity": "wosp", "amount": "5", "currency": "PLN"},
    {"type": "early_access", "access": "spring-drop"},
]


@pytest.mark.parametrize("benefit", ALL_TYPES, ids=lambda b: b["type"])
def test_every_reward_type_can_be_created_and_read_back(api: Api, benefit: dict[str, Any]) -> None:
    # when
    created = reward(
        api,
        id=f"r-{benefit['type']}",
        benefit=benefit,
        stock=5,
        limits=[{"period": "month", "max_redemptions": 2}],
        visibility={"tiers": ["gold"], "segments": ["vip"]},
    )
    # then
    assert created["version"] == 1 and created["stock"] == 5 and created["stock_left"] == 5
    assert created["benefit"]["type"] == benefit["type"]
    fetched = api.client.get(f"/v1/rewards/r-{benefit['type']}").json()
    assert fetched == created


def test_a_reward_without_an_id_gets_one(api: Api) -> None:
    body = {k: v for k, v in TEN_OFF.items() if k != "id"}
    response = api.client.post("/v1/rewards", json=body)
    assert response.status_code == 201
    assert response.json()["id"].startswith("rw_")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**TEN_OFF, "benefit": {"type": "lottery"}}, "benefit.type"),
        ({**TEN_OFF, "benefit": {"type": "percent_discount", "percent": "150"}}, "benefit.percent"),
        ({**TEN_OFF, "cost_points": -1}, "cost_points"),
        (
            {**TEN_OFF, "limits": [{"period": "fortnight", "max_redemptions": 1}]},
            "limits[0].period",
        ),
        ({**TEN_OFF, "visibility": {"tiers": []}}, "visibility.tiers"),
        ({**TEN_OFF, "version": 3}, "version"),
        ({**TEN_OFF, "colour": "red"}, "colour"),
    ],
)
def test_invalid_rewards_are_refused_with_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    before = api.state()
    response = api.client.post("/v1/rewards", json=body)
    assert_problem(response, 422, "validation_failed", field)
    assert api.state() == before


def test_a_reward_body_must_be_an_object(api: Api) -> None:
    assert_problem(api.client.post("/v1/rewards", json=[1]), 422, "validation_failed")


def test_a_taken_reward_id_is_a_conflict(api: Api) -> None:
    reward(api)
    assert_problem(api.client.post("/v1/rewards", json=TEN_OFF), 409, "reward_exists", "id")


def test_catalogue_writes_need_the_admin_scope(api: Api) -> None:
    with client_for(api.shop, bearer(api.key("read", "write"))) as client:
        assert_problem(client.post("/v1/rewards", json=TEN_OFF), 403, "forbidden")
    with client_for(api.shop, {}) as anonymous:
        assert_problem(anonymous.get("/v1/rewards"), 401, "unauthenticated")


def test_list_rewards_pages_and_filters_by_type(api: Api) -> None:
    for index in range(3):
        reward(api, id=f"r{index}")
    reward(api, id="mug", benefit={"type": "physical_gift", "sku": "MUG"})
    first = api.client.get("/v1/rewards", params={"limit": 2}).json()
    second = api.client.get("/v1/rewards", params={"limit": 2, "after": first["next"]}).json()
    assert [r["id"] for r in first["items"] + second["items"]] == ["r0", "r1", "r2", "mug"]
    assert second["next"] is None
    gifts = api.client.get("/v1/rewards", params={"type": "physical_gift"}).json()
    assert [r["id"] for r in gifts["items"]] == ["mug"]
    assert_problem(api.client.get("/v1/rewards", params={"after": "nope"}), 400, "invalid_cursor")
    assert_problem(api.client.get("/v1/rewards", params={"type": "x"}), 422, "validation_failed")


def test_get_an_unknown_reward_is_404(api: Api) -> None:
    assert_problem(api.client.get("/v1/rewards/nope"), 404, "reward_not_found")


def test_patch_makes_a_new_version_and_keeps_the_units_taken(api: Api) -> None:
    member(api, "m1", 1000)
    reward(api, stock=3)
    assert redeem(api, "m1").status_code == 201
    # when
    response = api.client.patch("/v1/rewards/ten-off", json={"cost_points": 150, "stock": 10})
    # then
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["version"], body["cost_points"], body["stock"], body["stock_left"]) == (
        2,
        150,
        10,
        9,
    )
    redemptions = api.client.get("/v1/members/m1/redemptions").json()["items"]
    assert redemptions[0]["reward_version"] == 1 and redemptions[0]["points"] == 100
    assert redeem(api, "m1").json()["points"] == 150
    page = api.client.get("/v1/members/m1/redemptions", params={"limit": 1}).json()
    rest = api.client.get(
        "/v1/members/m1/redemptions", params={"limit": 1, "after": page["next"]}
    ).json()
    assert [r["points"] for r in page["items"] + rest["items"]] == [150, 100]
    assert rest["next"] is None


def test_patch_refusals(api: Api) -> None:
    member(api, "m1", 1000)
    reward(api, stock=2)
    redeem(api, "m1")
    redeem(api, "m1")
    patch = api.client.patch
    assert_problem(
        patch("/v1/rewards/ten-off", json={"stock": 1}), 422, "validation_failed", "stock"
    )
    assert_problem(patch("/v1/rewards/ten-off", json={"id": "x"}), 422, "validation_failed", "id")
    assert_problem(
        patch("/v1/rewards/ten-off", json={"benefit": {"type": "free_shipping", "cap": "-1"}}),
        422,
        "validation_failed",
    )
    assert_problem(patch("/v1/rewards/nope", json={"stock": 1}), 404, "reward_not_found")


# --- POST/GET /v1/members/{external_id}/redemptions --------------------------------------------


def test_redeeming_spends_points_issues_a_code_and_emits_events(api: Api) -> None:
    member(api, "m1", 250)
    reward(api, stock=10, code_valid_days=30)
    # when
    response = redeem(api, "m1")
    # then
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["member"] == "m1" and body["points"] == 100 and body["status"] == "completed"
    code = body["coupon"]["code"]
    assert len(code.replace("-", "")) == 12
    assert api.balances("m1")["available"] == 150
    assert api.client.get("/v1/rewards/ten-off").json()["stock_left"] == 9
    spend = api.ledger("m1")[0]
    assert (spend["kind"], spend["points"], spend["reason"]) == ("redeem", -100, "redemption")
    assert outbox_types(api)[-3:] == ["points.spent", "reward.redeemed", "coupon.issued"]
    coupon = api.client.get(f"/v1/coupons/{code}").json()
    assert (coupon["status"], coupon["member"], coupon["reward_id"]) == ("issued", "m1", "ten-off")
    listed = api.client.get("/v1/members/m1/redemptions").json()
    assert [r["id"] for r in listed["items"]] == [body["id"]] and listed["next"] is None
    assert api.client.get(f"/v1/redemptions/{body['id']}").json() == body
    api.assert_ledger_clean()


def test_a_retried_redemption_with_the_same_key_spends_once(api: Api) -> None:
    member(api, "m1", 250)
    reward(api)
    headers = {"Idempotency-Key": "redeem-1"}
    first = redeem(api, "m1", headers=headers)
    again = redeem(api, "m1", headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert api.balances("m1")["available"] == 150
    other = redeem(api, "m1", "other", headers=headers)
    assert_problem(other, 422, "idempotency_key_conflict")


def test_each_refused_redemption_has_its_code_and_writes_nothing(api: Api) -> None:
    member(api, "poor", 10)
    member(api, "rich", 10_000)
    member(api, "blocked", 500, status="blocked")
    reward(api)
    reward(api, id="gone", stock=0)
    reward(api, id="off", enabled=False)
    reward(api, id="gold-only", visibility={"tiers": ["gold"]})
    reward(api, id="daily", limits=[{"period": "day", "max_redemptions": 1}])
    reward(api, id="credit", benefit={"type": "store_credit", "amount": "5", "currency": "EUR"})
    assert redeem(api, "rich", "daily").status_code == 201
    before = api.state()
    cases = [
        ("poor", "ten-off", 409, "insufficient_points"),
        ("rich", "gone", 409, "reward_out_of_stock"),
        ("rich", "off", 409, "reward_inactive"),
        ("rich", "gold-only", 409, "reward_not_visible"),
        ("rich", "daily", 409, "redemption_limit_reached"),
        ("rich", "credit", 409, "store_credit_unavailable"),
        ("blocked", "ten-off", 409, "member_blocked"),
        ("ghost", "ten-off", 404, "member_not_found"),
        ("rich", "nope", 404, "reward_not_found"),
    ]
    for who, what, status, code in cases:
        assert_problem(redeem(api, who, what), status, code)
    assert api.state() == before
    bad = api.client.post("/v1/members/rich/redemptions", json={})
    assert_problem(bad, 422, "validation_failed", "reward_id")
    assert_problem(api.client.get("/v1/members/ghost/redemptions"), 404, "member_not_found")
    assert_problem(api.client.get("/v1/redemptions/999999"), 404, "redemption_not_found")


# --- POST /v1/redemptions/{id}/cancel and /fulfilment -------------------------------------------


def test_cancel_returns_the_points_once_and_refuses_a_used_code(api: Api) -> None:
    member(api, "m1", 300)
    reward(api, stock=1)
    first = redeem(api, "m1").json()
    # when
    response = api.client.post(f"/v1/redemptions/{first['id']}/cancel")
    # then
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["coupon"]["status"] == "cancelled"
    assert api.balances("m1")["available"] == 300
    assert api.client.get("/v1/rewards/ten-off").json()["stock_left"] == 1
    assert api.ledger("m1")[0]["kind"] == "restore"
    again = api.client.post(f"/v1/redemptions/{first['id']}/cancel")
    assert assert_problem(again, 409, "redemption_not_cancellable")["reason"] == "already_cancelled"
    # and a used code keeps its points spent
    second = redeem(api, "m1").json()
    used = api.client.post(
        f"/v1/coupons/{second['coupon']['code']}/use", json={"order_id": "o1", "member": "m1"}
    )
    assert used.status_code == 201, used.text
    refused = api.client.post(f"/v1/redemptions/{second['id']}/cancel")
    assert assert_problem(refused, 409, "redemption_not_cancellable")["reason"] == "coupon_used"
    assert api.balances("m1")["available"] == 200
    assert_problem(api.client.post("/v1/redemptions/424242/cancel"), 404, "redemption_not_found")
    api.assert_ledger_clean()


def test_a_gift_is_shipped_then_delivered(api: Api) -> None:
    member(api, "m1", 300)
    reward(api, id="mug", benefit={"type": "physical_gift", "sku": "MUG"})
    reward(api)
    gift = redeem(api, "m1", "mug").json()
    url = f"/v1/redemptions/{gift['id']}/fulfilment"
    assert gift["fulfilment"]["status"] == "pending"
    shipped = api.client.post(url, json={"status": "shipped", "carrier": "DHL", "tracking": "T"})
    assert shipped.status_code == 200 and shipped.json()["fulfilment"]["carrier"] == "DHL"
    delivered = api.client.post(url, json={"status": "delivered"})
    assert delivered.json()["fulfilment"]["status"] == "delivered"
    assert_problem(api.client.post(url, json={"status": "shipped"}), 409, "fulfilment_conflict")
    assert_problem(api.client.post(url, json={"status": "lost"}), 422, "validation_failed")
    coupon = redeem(api, "m1").json()
    not_gift = api.client.post(
        f"/v1/redemptions/{coupon['id']}/fulfilment", json={"status": "shipped"}
    )
    assert_problem(not_gift, 409, "fulfilment_conflict")
    assert_problem(
        api.client.post("/v1/redemptions/99999/fulfilment", json={"status": "shipped"}),
        404,
        "redemption_not_found",
    )


def test_redeeming_needs_the_write_scope(api: Api) -> None:
    member(api, "m1", 300)
    reward(api)
    with client_for(api.shop, bearer(api.key("read"))) as reader:
        assert_problem(
            reader.post("/v1/members/m1/redemptions", json={"reward_id": "ten-off"}),
            403,
            "forbidden",
        )
        assert reader.get("/v1/members/m1/redemptions").status_code == 200


def test_the_clock_is_the_apps(api: Api) -> None:
    member(api, "m1", 300)
    reward(api, code_valid_days=2)
    body = redeem(api, "m1").json()
    assert body["created_at"] == NOW.isoformat()


def test_listing_for_a_member_keeps_what_the_member_may_redeem_now(api: Api) -> None:
    member(api, "m1")
    reward(api)
    reward(api, id="off", enabled=False)
    reward(api, id="gold-only", visibility={"tiers": ["gold"]})
    reward(api, id="later", active_from="2030-01-01T00:00:00+00:00")
    listed = api.client.get("/v1/rewards", params={"member": "m1"}).json()
    assert [r["id"] for r in listed["items"]] == ["ten-off"]
    assert len(api.client.get("/v1/rewards").json()["items"]) == 4
    unknown = api.client.get("/v1/rewards", params={"member": "ghost"})
    assert_problem(unknown, 404, "member_not_found", "member")


# --- exclusive rewards ---------------------------------------------------------------------------

EXCLUSIVE_PLAN = {
    "name": "Club",
    "price": "9.99",
    "term": "monthly",
    "benefits": {"exclusive_rewards": True},
}


def test_an_exclusive_reward_is_offered_only_to_members_whose_benefits_grant_it(api: Api) -> None:
    # given an exclusive reward, an ordinary one, and a plan granting exclusive rewards
    reward(api, id="vip-box", exclusive=True)
    reward(api)
    club = api.client.post("/v1/membership-plans", json=EXCLUSIVE_PLAN).json()
    member(api, "plain", points=500)
    member(api, "club", points=500)
    started = api.client.post("/v1/members/club/memberships", json={"plan_id": club["id"]})
    assert started.status_code == 201, started.text

    def offered(external_id: str) -> list[str]:
        page = api.client.get("/v1/rewards", params={"member": external_id}).json()
        return [item["id"] for item in page["items"]]

    # then only the club member sees and may redeem it
    assert api.client.get("/v1/rewards/vip-box").json()["exclusive"] is True
    assert api.client.get("/v1/rewards/ten-off").json()["exclusive"] is False
    assert offered("plain") == ["ten-off"]
    assert sorted(offered("club")) == ["ten-off", "vip-box"]
    refused = assert_problem(redeem(api, "plain", "vip-box"), 409, "reward_exclusive", "reward_id")
    assert refused["reason"] == "exclusive"
    assert redeem(api, "club", "vip-box").status_code == 201
    assert api.member("plain")["balances"]["available"] == 500


def test_a_tier_granting_exclusive_rewards_opens_them_and_ending_the_plan_closes_them(
    api: Api,
) -> None:
    ladder = {
        "metric": "points_earned",
        "window": {"kind": "lifetime"},
        "levels": [
            {"id": "silver", "name": "Silver", "threshold": 100},
            {
                "id": "gold",
                "name": "Gold",
                "threshold": 1000,
                "benefits": {"exclusive_rewards": True},
            },
        ],
    }
    response = api.client.post("/v1/tiers", json=ladder)
    assert response.status_code == 201, response.text
    reward(api, id="vip-box", exclusive=True)
    member(api, "gold", points=1000)  # the adjustment counts as earned: Gold
    member(api, "club", points=300)  # Silver, which grants nothing exclusive
    club = api.client.post("/v1/membership-plans", json=EXCLUSIVE_PLAN).json()
    body = {"plan_id": club["id"], "membership_id": "s1"}
    assert api.client.post("/v1/members/club/memberships", json=body).status_code == 201

    assert api.client.get("/v1/members/gold/tier").json()["tier"]["id"] == "gold"
    assert redeem(api, "gold", "vip-box").status_code == 201
    assert redeem(api, "club", "vip-box").status_code == 201
    cancel = api.client.post("/v1/members/club/memberships/s1/cancel", json={"immediately": True})
    assert cancel.status_code == 200, cancel.text
    assert_problem(redeem(api, "club", "vip-box"), 409, "reward_exclusive")
