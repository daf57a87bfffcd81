"""HTTP tests: coupon codes (look up, use, expire) and campaign batches with CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from loyalty.services import jobs
from tests.api.support import Api, assert_problem, bearer, client_for
from tests.api.test_rewards_api import member, outbox_types, redeem, reward
from tests.conftest import NOW


def batch(api: Api, **data: Any) -> dict[str, Any]:
    response = api.client.post(
        "/v1/coupon-batches", json={"id": "spring", "count": 3, "promotion_id": "p1", **data}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(api: Api, batch_id: str = "spring") -> list[dict[str, str]]:
    response = api.client.get(f"/v1/coupon-batches/{batch_id}/codes.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


# --- GET /v1/coupons/{code}, POST /v1/coupons/{code}/use ---------------------------------------


def test_using_a_code_is_idempotent_per_order_and_emits_coupon_used(api: Api) -> None:
    member(api, "m1", 100)
    reward(api)
    code = redeem(api, "m1").json()["coupon"]["code"]
    url = f"/v1/coupons/{code}/use"
    # when
    first = api.client.post(url, json={"order_id": "o-1", "member": "m1"})
    again = api.client.post(url, json={"order_id": "o-1", "member": "m1"})
    # then
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["status"] == again.json()["status"] == "used"
    assert first.json()["uses"] == again.json()["uses"] == 1
    assert outbox_types(api).count("coupon.used") == 1
    other = api.client.post(url, json={"order_id": "o-2", "member": "m1"})
    assert assert_problem(other, 409, "coupon_not_usable")["reason"] == "coupon_used"
    looked_up = api.client.get(f"/v1/coupons/{code.lower()}").json()
    assert looked_up["status"] == "used" and looked_up["member"] == "m1"
    assert [(h["from"], h["to"], h["action"]) for h in looked_up["history"]] == [
        ("issued", "used", "use")
    ]


def test_use_refusals(api: Api) -> None:
    member(api, "m1", 100)
    member(api, "m2")
    reward(api)
    code = redeem(api, "m1").json()["coupon"]["code"]
    url = f"/v1/coupons/{code}/use"
    before = api.state()
    not_owned = api.client.post(url, json={"order_id": "o", "member": "m2"})
    assert assert_problem(not_owned, 409, "coupon_not_usable")["reason"] == "coupon_not_owned"
    assert_problem(
        api.client.post(url, json={"order_id": "o", "member": "ghost"}), 404, "member_not_found"
    )
    assert_problem(api.client.post(url, json={}), 422, "validation_failed", "order_id")
    assert_problem(
        api.client.post("/v1/coupons/NOPE/use", json={"order_id": "o"}), 404, "coupon_not_found"
    )
    assert api.state() == before
    assert_problem(api.client.get("/v1/coupons/NOPE"), 404, "coupon_not_found")
    with client_for(api.shop, bearer(api.key("read"))) as reader:
        assert_problem(reader.post(url, json={"order_id": "o"}), 403, "forbidden")


def test_an_expired_code_is_refused_and_marked_by_the_job(api: Api) -> None:
    member(api, "m1", 100)
    reward(api, code_valid_days=1)
    code = redeem(api, "m1").json()["coupon"]["code"]
    later = NOW + timedelta(days=2)
    with client_for(api.shop, now=later) as client:
        refused = client.post(f"/v1/coupons/{code}/use", json={"order_id": "o", "member": "m1"})
        assert assert_problem(refused, 409, "coupon_not_usable")["reason"] == "coupon_expired"
        assert jobs.run_due_jobs(api.shop.db, later, api.shop.tenant_id).coupons_expired == 1
        assert client.get(f"/v1/coupons/{code}").json()["status"] == "expired"


# --- /v1/coupon-batches -------------------------------------------------------------------------


def test_a_batch_issues_unique_codes_exported_as_csv(api: Api) -> None:
    # when
    created = batch(api, prefix="spring", count=50, expires_at="2026-06-01T00:00:00+00:00")
    # then
    assert created["count"] == 50 and created["pattern"].startswith("SPRING-")
    rows = codes(api)
    assert len({r["code"] for r in rows}) == 50
    assert all(r["code"].startswith("SPRING-") and r["status"] == "issued" for r in rows)
    assert rows[0]["expires_at"] == "2026-06-01T00:00:00+00:00"
    coupon = api.client.get(f"/v1/coupons/{rows[0]['code']}").json()
    assert coupon["batch_id"] == "spring" and coupon["promotion_id"] == "p1"
    assert api.client.get("/v1/coupon-batches/spring").json() == created
    listed = api.client.get("/v1/coupon-batches").json()
    assert [b["id"] for b in listed["items"]] == ["spring"]


def test_a_multi_use_batch_code_is_used_once_per_member(api: Api) -> None:
    member(api, "m1")
    member(api, "m2")
    batch(api, count=2, max_uses=10, once_per_member=True)
    first, second = (r["code"] for r in codes(api))
    use = api.client.post
    assert (
        use(f"/v1/coupons/{first}/use", json={"order_id": "a", "member": "m1"}).status_code == 201
    )
    assert (
        use(f"/v1/coupons/{first}/use", json={"order_id": "b", "member": "m2"}).status_code == 201
    )
    again = use(f"/v1/coupons/{second}/use", json={"order_id": "c", "member": "m1"})
    assert assert_problem(again, 409, "coupon_not_usable")["reason"] == "coupon_used_by_member"
    guest = use(f"/v1/coupons/{second}/use", json={"order_id": "d"})
    assert assert_problem(guest, 409, "coupon_not_usable")["reason"] == "coupon_member_required"
    assert codes(api)[0]["uses"] == "2"


def test_a_batch_for_a_reward_applies_the_rewards_promotion(api: Api) -> None:
    reward(api)
    batch(api, id="gift", promotion_id=None, reward_id="ten-off", count=1)
    code = codes(api, "gift")[0]["code"]
    coupon = api.client.get(f"/v1/coupons/{code}").json()
    assert coupon["reward_id"] == "ten-off" and coupon["promotion_id"] == "reward:ten-off:1"


def test_batch_refusals(api: Api) -> None:
    batch(api)
    post = api.client.post
    before = api.state()
    assert_problem(
        post("/v1/coupon-batches", json={"id": "spring", "count": 1, "promotion_id": "p"}),
        409,
        "coupon_batch_exists",
    )
    assert_problem(
        post("/v1/coupon-batches", json={"count": 0, "promotion_id": "p"}),
        422,
        "validation_failed",
        "count",
    )
    assert_problem(
        post("/v1/coupon-batches", json={"count": 1, "promotion_id": "p", "pattern": "A-##"}),
        422,
        "validation_failed",
        "pattern",
    )
    assert_problem(
        post("/v1/coupon-batches", json={"count": 100_001, "promotion_id": "p"}),
        413,
        "batch_too_large",
    )
    assert_problem(
        post("/v1/coupon-batches", json={"count": 1, "reward_id": "nope"}),
        404,
        "reward_not_found",
    )
    assert api.state() == before
    assert_problem(api.client.get("/v1/coupon-batches/nope"), 404, "coupon_batch_not_found")
    assert_problem(
        api.client.get("/v1/coupon-batches/nope/codes.csv"), 404, "coupon_batch_not_found"
    )
    assert_problem(
        api.client.get("/v1/coupon-batches", params={"after": "x"}), 400, "invalid_cursor"
    )
    with client_for(api.shop, bearer(api.key("read", "write"))) as writer:
        assert_problem(
            writer.post("/v1/coupon-batches", json={"count": 1, "promotion_id": "p"}),
            403,
            "forbidden",
        )


def test_a_batch_cannot_hand_out_a_reward_that_is_not_a_checkout_coupon(api: Api) -> None:
    reward(api, id="mug", benefit={"type": "physical_gift", "sku": "MUG"})
    response = api.client.post("/v1/coupon-batches", json={"count": 1, "reward_id": "mug"})
    assert_problem(response, 422, "validation_failed", "reward_id")
