"""HTTP tests: POST /v1/carts/evaluate, dry run and checkout holds through order events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from loyalty.services import jobs
from loyalty.store import tables
from tests.api.support import Api, assert_problem, bearer, client_for
from tests.builders import cancel_json, order_paid_json, refund_json
from tests.conftest import NOW


def cart(*lines: tuple[str, int, str], **extra: Any) -> dict[str, Any]:
    return {
        "currency": "PLN",
        "lines": [{"sku": sku, "quantity": q, "unit_price": price} for sku, q, price in lines],
        **extra,
    }


def promotion(api: Api, promotion_id: str, **data: Any) -> None:
    body = {"id": promotion_id, "currency": "PLN", **data}
    response = api.client.post("/v1/promotions", json=body)
    assert response.status_code == 201, response.text


def percent(value: str) -> list[dict[str, Any]]:
    return [{"type": "percent_off", "percent": value}]


def evaluate(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = api.client.post("/v1/carts/evaluate", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def earn(api: Api, member: str, amount: str, order_id: str = "seed") -> None:
    paid = api.event(order_paid_json(f"e-{order_id}", member, order_id, [("x", 1, amount)], NOW))
    assert paid.status_code == 200, paid.text


@pytest.fixture
def shop_api(api: Api) -> Api:
    """A shop where points pay 0.01 PLN each, for at most half an order."""
    response = api.client.put(
        "/v1/program", json={"point_value": "0.01", "points_max_share": "0.5"}
    )
    assert response.status_code == 200, response.text
    return api


# --- dry run --------------------------------------------------------------------------------


def test_a_dry_run_prices_lines_explains_rejections_and_writes_nothing(shop_api: Api) -> None:
    api = shop_api
    promotion(api, "ten", benefits=percent("10"))
    promotion(api, "big", benefits=percent("20"), conditions={"min_subtotal": "500.00"})
    earn(api, "m1", "300")
    before = api.state()
    # when
    body = evaluate(
        api, cart(("a", 1, "10.00"), ("b", 2, "5.00"), member="m1", coupon_codes=["NOPE"])
    )
    # then 10% off 20.00, split over the lines by value
    assert (body["subtotal"], body["discount"], body["total"]) == ("20.00", "2.00", "18.00")
    assert [line["discount"] for line in body["lines"]] == ["1.00", "1.00"]
    assert body["lines"][0]["discounts"] == [{"promotion_id": "ten", "amount": "1.00"}]
    assert [a["promotion_id"] for a in body["applied"]] == ["ten"]
    reasons = {(r["promotion_id"], r["code"], r["reason"]) for r in body["rejected"]}
    assert reasons == {("big", None, "min_subtotal_not_met"), (None, "NOPE", "unknown_code")}
    # points: 18 PLN earns 18; 300 available pay at most half of 18.00 = 900 points
    assert body["points"]["earn"] == 18
    assert body["points"]["available"] == 300
    assert body["points"]["payment"]["max_points"] == 300
    assert "checkout" not in body
    assert api.state() == before


def test_points_to_pay_are_quoted_against_the_max_share(shop_api: Api) -> None:
    api = shop_api
    earn(api, "m1", "5000")
    body = evaluate(api, cart(("a", 1, "30.00"), member="m1", points_to_pay=1500))
    assert body["points"]["payment"] == {
        "point_value": "0.01",
        "max_points": 1500,
        "max_value": "15.00",
        "points": 1500,
        "value": "15.00",
    }
    assert body["points"]["total_after_points"] == "15.00"


def test_a_guest_cart_gets_first_order_promotions(api: Api) -> None:
    promotion(api, "welcome", benefits=percent("15"), conditions={"first_order_only": True})
    body = evaluate(api, cart(("a", 1, "100.00")))
    assert [a["promotion_id"] for a in body["applied"]] == ["welcome"]
    assert body["points"]["payment"] is None


def test_a_promotion_change_is_seen_by_the_next_evaluation(api: Api) -> None:
    promotion(api, "ten", benefits=percent("10"))
    assert evaluate(api, cart(("a", 1, "100.00")))["discount"] == "10.00"
    api.client.patch("/v1/promotions/ten", json={"benefits": percent("25")})
    after = evaluate(api, cart(("a", 1, "100.00")))
    assert after["discount"] == "25.00"
    assert after["applied"][0]["version"] == 2
    api.client.patch("/v1/promotions/ten", json={"active": False})
    assert evaluate(api, cart(("a", 1, "100.00")))["applied"] == []


def test_a_cel_condition_decides_whether_a_promotion_applies(api: Api) -> None:
    expression = 'cart.lines.exists(l, l.category == "shoes") && cart.subtotal >= 50.0'
    promotion(api, "shoes", benefits=percent("10"), conditions={"expression": expression})
    line = {"sku": "s", "quantity": 1, "unit_price": "60.00", "category": "shoes"}
    shoes = evaluate(api, {"currency": "PLN", "lines": [line]})
    assert [a["promotion_id"] for a in shoes["applied"]] == ["shoes"]
    other = evaluate(api, cart(("a", 1, "60.00")))
    assert other["rejected"][0]["reason"] == "expression_false"


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"currency": "PLN", "lines": []}, "lines"),
        (cart(("a", 0, "1.00")), "lines.0.quantity"),
        (cart(("a", 1, "-1.00")), "lines.0.unit_price"),
        (cart(("a", 1, "1.001")), "lines[0].unit_price"),
        (cart(("a", 1, "1.00"), shipping="1.001"), "shipping"),
        (cart(("a", 1, "1.00"), points_to_pay=-1), "points_to_pay"),
        (cart(("a", 1, "1.00"), coupon_codes=[""]), "coupon_codes.0"),
        (cart(("a", 1, "1.00"), extra=True), "extra"),
        ({"lines": [{"sku": "a", "quantity": 1, "unit_price": "1"}]}, "currency"),
    ],
)
def test_an_invalid_cart_is_422(api: Api, body: dict[str, Any], field: str) -> None:
    assert_problem(
        api.client.post("/v1/carts/evaluate", json=body), 422, "validation_failed", field
    )


def test_an_unknown_currency_and_another_currency_are_422(api: Api) -> None:
    unknown = api.client.post("/v1/carts/evaluate", json={**cart(("a", 1, "1")), "currency": "XXX"})
    assert_problem(unknown, 422, "unknown_currency", "currency")
    other = api.client.post("/v1/carts/evaluate", json={**cart(("a", 1, "1")), "currency": "EUR"})
    assert_problem(other, 422, "currency_mismatch", "currency")


def test_paying_with_points_when_the_programme_does_not_is_409(api: Api) -> None:
    earn(api, "m1", "100")
    response = api.client.post(
        "/v1/carts/evaluate", json=cart(("a", 1, "10.00"), member="m1", points_to_pay=10)
    )
    assert_problem(response, 409, "points_payment_disabled", "points_to_pay")


def test_more_points_than_the_member_has_is_409(shop_api: Api) -> None:
    earn(shop_api, "m1", "100")
    response = shop_api.client.post(
        "/v1/carts/evaluate", json=cart(("a", 1, "10.00"), member="m1", points_to_pay=101)
    )
    assert_problem(response, 409, "insufficient_points", "points_to_pay")


def test_more_points_than_the_max_share_is_422(shop_api: Api) -> None:
    earn(shop_api, "m1", "1000")
    response = shop_api.client.post(
        "/v1/carts/evaluate", json=cart(("a", 1, "10.00"), member="m1", points_to_pay=501)
    )
    body = assert_problem(response, 422, "validation_failed", "points_to_pay")
    assert body["max_points"] == 500


def test_a_guest_cannot_pay_with_points(shop_api: Api) -> None:
    response = shop_api.client.post(
        "/v1/carts/evaluate", json=cart(("a", 1, "10.00"), points_to_pay=1)
    )
    assert_problem(response, 409, "insufficient_points", "points_to_pay")


def test_evaluation_needs_a_key_and_holding_needs_a_write_key(api: Api) -> None:
    with client_for(api.shop, headers={}) as anonymous:
        response = anonymous.post("/v1/carts/evaluate", json=cart(("a", 1, "1")))
        assert_problem(response, 401, "unauthenticated")
    with client_for(api.shop, bearer(api.key("read"))) as reader:
        assert reader.post("/v1/carts/evaluate", json=cart(("a", 1, "1"))).status_code == 200
        held = reader.post("/v1/carts/evaluate", json=cart(("a", 1, "1"), checkout_id="c1"))
        assert_problem(held, 403, "forbidden")


# --- checkout holds ---------------------------------------------------------------------------


def single_use(api: Api, code: str = "ONCE") -> None:
    promotion(
        api, "once", trigger="code", codes=[code], benefits=percent("50"), limits={"code_uses": 1}
    )


def test_a_checkout_holds_its_code_and_points_until_the_order_is_paid(shop_api: Api) -> None:
    api = shop_api
    single_use(api)
    earn(api, "m1", "1000")
    # when
    body = evaluate(
        api,
        cart(
            ("a", 1, "40.00"),
            member="m1",
            coupon_codes=["once"],
            points_to_pay=500,
            checkout_id="c1",
        ),
    )
    # then
    assert body["checkout"]["reserved_codes"] == ["ONCE"]
    assert body["checkout"]["reserved_points"] == 500
    assert body["checkout"]["status"] == "reserved"
    assert api.balances("m1")["available"] == 500  # held points cannot be spent elsewhere
    other = evaluate(api, cart(("a", 1, "40.00"), member="m2", coupon_codes=["ONCE"]))
    assert other["applied"] == []
    assert other["rejected"][0]["reason"] == "code_reserved"
    # when the order is paid
    paid = order_paid_json("e-o1", "m1", "o1", [("a", 1, "40.00")], NOW)
    paid["data"]["checkout_id"] = "c1"
    assert api.event(paid).status_code == 200
    # then the code is used and the points stay spent
    code = api.client.get("/v1/promotions/once").json()["usage"]
    assert code["uses"] == 1
    assert code["codes"][0] == {"code": "ONCE", "uses": 1, "reserved": 0, "max_uses": 1}
    again = evaluate(api, cart(("a", 1, "40.00"), member="m2", coupon_codes=["ONCE"]))
    assert again["rejected"][0]["reason"] == "code_used_up"
    assert api.balances("m1")["available"] == 500 + 40
    reheld = api.client.post("/v1/carts/evaluate", json=cart(("a", 1, "1"), checkout_id="c1"))
    assert_problem(reheld, 409, "checkout_closed", "checkout_id")
    api.assert_ledger_clean()


def test_re_evaluating_a_checkout_replaces_its_hold(shop_api: Api) -> None:
    api = shop_api
    single_use(api)
    earn(api, "m1", "1000")
    first = cart(("a", 1, "40.00"), member="m1", coupon_codes=["ONCE"], points_to_pay=500)
    evaluate(api, {**first, "checkout_id": "c1"})
    # when the customer drops the code and pays fewer points
    body = evaluate(api, {**first, "coupon_codes": [], "points_to_pay": 100, "checkout_id": "c1"})
    # then
    assert body["checkout"]["reserved_codes"] == []
    assert body["checkout"]["reserved_points"] == 100
    assert api.balances("m1")["available"] == 900
    usage = api.client.get("/v1/promotions/once").json()["usage"]["codes"][0]
    assert usage["reserved"] == 0
    api.assert_ledger_clean()


def test_cancelling_the_order_before_payment_releases_the_hold(shop_api: Api) -> None:
    api = shop_api
    single_use(api)
    earn(api, "m1", "1000")
    body = cart(("a", 1, "40.00"), member="m1", coupon_codes=["ONCE"], points_to_pay=300)
    evaluate(api, {**body, "checkout_id": "c1"})
    # when
    cancelled = cancel_json("e-c", "o-never-paid", NOW)
    cancelled["data"]["checkout_id"] = "c1"
    response = api.event(cancelled)
    # then
    assert response.status_code == 200, response.text
    assert response.json()["balances"]["available"] == 1000
    assert api.balances("m1")["available"] == 1000
    assert api.client.get("/v1/promotions/once").json()["usage"]["codes"][0]["reserved"] == 0
    kinds = [entry["kind"] for entry in api.ledger("m1")]
    assert kinds[:2] == ["restore", "redeem"]
    api.assert_ledger_clean()


def test_a_full_refund_gives_a_single_use_code_back_when_the_policy_says_so(
    shop_api: Api,
) -> None:
    api = shop_api
    api.client.put("/v1/program", json={"code_refund_policy": "release_on_full_refund"})
    single_use(api)
    evaluate(api, cart(("a", 1, "40.00"), member="m1", coupon_codes=["ONCE"], checkout_id="c1"))
    paid = order_paid_json("e-o1", "m1", "o1", [("a", 1, "20.00")], NOW)
    paid["data"]["checkout_id"] = "c1"
    assert api.event(paid).status_code == 200
    # a partial refund keeps the code used
    api.event(refund_json("e-r1", "o1", "r1", NOW, amount="5.00"))
    assert api.client.get("/v1/promotions/once").json()["usage"]["codes"][0]["uses"] == 1
    # when the rest is refunded
    api.event(refund_json("e-r2", "o1", "r2", NOW, amount="15.00"))
    # then the code works again
    assert api.client.get("/v1/promotions/once").json()["usage"]["codes"][0]["uses"] == 0
    again = evaluate(api, cart(("a", 1, "40.00"), member="m2", coupon_codes=["ONCE"]))
    assert [a["promotion_id"] for a in again["applied"]] == ["once"]


def test_cancelling_a_paid_order_gives_back_its_points_and_code(shop_api: Api) -> None:
    api = shop_api
    single_use(api)
    earn(api, "m1", "1000")
    body = cart(("a", 1, "40.00"), member="m1", coupon_codes=["ONCE"], points_to_pay=200)
    evaluate(api, {**body, "checkout_id": "c1"})
    paid = order_paid_json("e-o1", "m1", "o1", [("a", 1, "20.00")], NOW)
    paid["data"]["checkout_id"] = "c1"
    assert api.event(paid).json()["balances"]["available"] == 800 + 20
    # when the order is cancelled (the store need not repeat the checkout id)
    response = api.event(cancel_json("e-c", "o1", NOW))
    # then the order's points go, the points it was paid with come back, the code works again
    assert response.status_code == 200, response.text
    assert api.balances("m1")["available"] == 1000
    usage = api.client.get("/v1/promotions/once").json()["usage"]
    assert usage["uses"] == 0
    assert usage["codes"][0]["uses"] == 0
    api.assert_ledger_clean()


def test_an_order_in_a_batch_commits_its_checkout(shop_api: Api) -> None:
    api = shop_api
    single_use(api)
    evaluate(api, cart(("a", 1, "40.00"), member="m1", coupon_codes=["ONCE"], checkout_id="c1"))
    plain = order_paid_json("e-o0", "m2", "o0", [("a", 1, "20.00")], NOW)
    paid = order_paid_json("e-o1", "m1", "o1", [("a", 1, "20.00")], NOW)
    paid["data"]["checkout_id"] = "c1"
    # when
    response = api.client.post("/v1/events/batch", json={"events": [plain, paid]})
    # then
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    assert api.client.get("/v1/promotions/once").json()["usage"]["codes"][0]["uses"] == 1


def test_a_paid_order_naming_an_unknown_checkout_still_earns_and_says_why(api: Api) -> None:
    paid = order_paid_json("e-o1", "m1", "o1", [("a", 1, "20.00")], NOW)
    paid["data"]["checkout_id"] = "nope"
    response = api.event(paid)
    assert response.status_code == 200, response.text
    assert response.json()["balances"]["available"] == 20
    assert "checkout nope is not known" in response.json()["note"]


def test_a_blocked_member_cannot_hold_points(shop_api: Api) -> None:
    api = shop_api
    earn(api, "m1", "1000")
    assert api.client.patch("/v1/members/m1", json={"status": "blocked"}).status_code == 200
    before = api.state()
    response = api.client.post(
        "/v1/carts/evaluate",
        json=cart(("a", 1, "40.00"), member="m1", points_to_pay=100, checkout_id="c1"),
    )
    assert_problem(response, 409, "member_blocked", "member")
    assert api.state() == before


def test_a_write_only_key_may_not_evaluate(api: Api) -> None:
    with client_for(api.shop, bearer(api.key("write"))) as writer:
        response = writer.post("/v1/carts/evaluate", json=cart(("a", 1, "1")))
    assert_problem(response, 403, "forbidden")


def test_malformed_json_is_400(api: Api) -> None:
    response = api.client.post(
        "/v1/carts/evaluate", content=b'{"lines": [', headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "malformed_json")


def test_an_order_paid_after_its_hold_expired_still_uses_up_the_code(shop_api: Api) -> None:
    api = shop_api
    single_use(api)
    evaluate(api, cart(("a", 1, "40.00"), member="m1", coupon_codes=["ONCE"], checkout_id="c1"))
    later = NOW + timedelta(minutes=20)
    assert jobs.run_due_jobs(api.shop.db, later, api.shop.tenant_id).checkouts_released == 1
    assert api.client.get("/v1/promotions/once").json()["usage"]["codes"][0]["reserved"] == 0
    # when the order arrives late
    paid = order_paid_json("e-o1", "m1", "o1", [("a", 1, "20.00")], later)
    paid["data"]["checkout_id"] = "c1"
    response = api.event(paid)
    # then the code is counted, so nobody else can use it again
    assert response.status_code == 200, response.text
    assert "after its hold expired" in response.json()["note"]
    usage = api.client.get("/v1/promotions/once").json()["usage"]
    assert usage["codes"][0]["uses"] == 1
    assert usage["uses"] == 1


def test_points_to_earn_come_from_the_earning_rules(api: Api) -> None:
    # given a double-points rule on pets, and a 10 % promotion on everything
    rule = {
        "name": "double pets",
        "trigger": "order.paid",
        "effect": {
            "kind": "points_per_currency",
            "multiplier": "2",
            "lines": {"categories": ["pets"]},
        },
    }
    assert api.client.post("/v1/rules", json=rule).status_code == 201, "rule"
    promotion(api, "ten", benefits=percent("10"))
    body = cart(("dog", 1, "100.00"), ("mug", 1, "50.00"))
    body["lines"][0]["category"] = "pets"
    # when the cart is evaluated, then the rule adds 2 points per unit of discounted pets
    points = evaluate(api, body)["points"]
    assert points["earn"] == 135 + 180  # base on 135.00, plus the rule: 2 per unit on 90.00


# --- the buyer's tier, segments and multipliers ---------------------------------------------

LADDER = {
    "metric": "orders",
    "window": {"kind": "lifetime"},
    "levels": [
        {"id": "silver", "name": "Silver", "threshold": 5},
        {
            "id": "gold",
            "name": "Gold",
            "threshold": 10,
            "benefits": {"earn_multiplier": "1.5"},
        },
    ],
}


def test_tier_and_segment_promotions_apply_to_their_members_only(api: Api) -> None:
    # given a gold-only offer, an offer for the static segment "vip", and three members:
    # ann is gold (set by hand), ben is in the segment, cid is neither
    assert api.client.post("/v1/tiers", json=LADDER).status_code == 201
    for name in ("ann", "ben", "cid"):
        assert api.client.post("/v1/members", json={"external_id": name}).status_code == 201
    assert api.client.put("/v1/members/ann/tier", json={"tier": "gold"}).status_code == 200
    segment = {"id": "vip", "name": "VIP", "kind": "static"}
    assert api.client.post("/v1/segments", json=segment).status_code == 201
    assert api.client.post("/v1/segments/vip/members", json={"members": ["ben"]}).is_success
    promotion(api, "gold", benefits=percent("10"), conditions={"tiers": ["gold"]})
    promotion(api, "vip", benefits=percent("5"), conditions={"segments": ["vip"]})
    promotion(api, "cel", benefits=percent("1"), conditions={"expression": 'member.tier == "gold"'})

    def outcome(member: str) -> tuple[list[str], set[tuple[str, str]]]:
        body = evaluate(api, cart(("a", 1, "100.00"), member=member))
        rejected = {(r["promotion_id"], r["reason"]) for r in body["rejected"]}
        return sorted(a["promotion_id"] for a in body["applied"]), rejected

    # then each offer reaches exactly its audience, and the others say why not
    assert outcome("ann") == (["cel", "gold"], {("vip", "segment_not_eligible")})
    assert outcome("ben") == (
        ["vip"],
        {("gold", "tier_not_eligible"), ("cel", "expression_false")},
    )
    assert outcome("cid")[0] == []


def test_points_to_earn_include_the_tier_and_membership_multipliers(api: Api) -> None:
    # given gold earns x1.5 and a paid plan x1.2: ann is gold, ben has the plan
    assert api.client.post("/v1/tiers", json=LADDER).status_code == 201
    for name in ("ann", "ben", "cid"):
        assert api.client.post("/v1/members", json={"external_id": name}).status_code == 201
    assert api.client.put("/v1/members/ann/tier", json={"tier": "gold"}).status_code == 200
    plan = {
        "name": "Plus",
        "price": "19.99",
        "term": "monthly",
        "benefits": {"earn_multiplier": "1.2"},
    }
    plan_id = api.client.post("/v1/membership-plans", json=plan).json()["id"]
    started = api.client.post("/v1/members/ben/memberships", json={"plan_id": plan_id})
    assert started.status_code == 201, started.text
    # when each prices a 100.00 cart and then pays an order of the same value
    quoted: dict[str, int] = {}
    for name in ("ann", "ben", "cid"):
        quoted[name] = evaluate(api, cart(("a", 1, "100.00"), member=name))["points"]["earn"]
        earn(api, name, "100.00", order_id=f"o-{name}")
    balances = {
        name: sum(api.client.get(f"/v1/members/{name}").json()["balances"][k] for k in kinds)
        for name in ("ann", "ben", "cid")
        for kinds in [("available", "pending")]
    }
    # then the quote is what the order earns
    assert quoted == {"ann": 150, "ben": 120, "cid": 100}
    assert balances == quoted


def _outbox(api: Api, *types: str) -> list[tuple[str, Any]]:
    with api.shop.db.read(api.shop.tenant_id) as uow:
        o = tables.outbox_events.c
        rows = uow.conn.execute(
            select(o.type, o.payload)
            .where(o.tenant_id == api.shop.tenant_id, o.type.in_(types))
            .order_by(o.id)
        ).all()
    return [(t, p) for t, p in rows]


def test_points_held_and_given_back_by_a_checkout_are_announced(shop_api: Api) -> None:
    api = shop_api
    earn(api, "m1", "1000")
    # when a checkout holds 500 points, then is re-evaluated to hold 100
    evaluate(api, cart(("a", 1, "40.00"), member="m1", points_to_pay=500, checkout_id="c1"))
    evaluate(api, cart(("a", 1, "40.00"), member="m1", points_to_pay=100, checkout_id="c1"))
    # then receivers hear of each move with the balances it left
    moves = [
        (t, p["entry"]["points"], p["balances"]["available"])
        for t, p in _outbox(api, "points.spent", "points.restored")
    ]
    assert moves == [
        ("points.spent", -500, 500),
        ("points.restored", 500, 1000),
        ("points.spent", -100, 900),
    ]


def test_free_shipping_of_the_buyers_tier_or_plan_takes_the_shipping(api: Api) -> None:
    # given free shipping for gold, and for the Plus plan; ann is gold, ben has Plus
    ladder = {**LADDER, "levels": [{**LADDER["levels"][1], "benefits": {"free_shipping": True}}]}
    assert api.client.post("/v1/tiers", json=ladder).status_code == 201
    for name in ("ann", "ben", "cid"):
        assert api.client.post("/v1/members", json={"external_id": name}).status_code == 201
    assert api.client.put("/v1/members/ann/tier", json={"tier": "gold"}).status_code == 200
    plan = {"name": "Plus", "price": "9", "term": "monthly", "benefits": {"free_shipping": True}}
    plan_id = api.client.post("/v1/membership-plans", json=plan).json()["id"]
    assert api.client.post("/v1/members/ben/memberships", json={"plan_id": plan_id}).is_success
    # when each prices a cart with 9.99 shipping
    priced = {
        name: evaluate(api, cart(("a", 1, "100.00"), member=name, shipping="9.99"))
        for name in ("ann", "ben", "cid")
    }
    # then ann and ben ship free and are told why; cid pays shipping
    for name in ("ann", "ben"):
        body = priced[name]
        assert (body["shipping_discount"], body["total"]) == ("9.99", "100.00")
        assert body["benefits"] == [{"benefit": "free_shipping", "shipping_discount": "9.99"}]
    assert (priced["cid"]["shipping_discount"], priced["cid"]["total"]) == ("0.00", "109.99")
    assert priced["cid"]["benefits"] == []
