"""Store webhooks end to end: connector settings, signed Shopify deliveries, guest claims."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from loyalty.integrations import generic
from loyalty.integrations.jws import JwksCache
from loyalty.services import jobs
from tests.api.support import Api, assert_problem, stored_state
from tests.conftest import NOW
from tests.integrations.jwks_server import closed_port, jwk, jwks_server, new_key, sign
from tests.integrations.support import OLD_SECRET, SECRET, base64_hmac, raw

WEBHOOK_ID = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"


def shopify(
    api: Api, topic: str, body: bytes, *, secret: str = SECRET, delivery: str = WEBHOOK_ID
) -> Any:
    tenant = _tenant_name(api)
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64_hmac(body, secret),
        "X-Shopify-Webhook-Id": delivery,
        "X-Shopify-Shop-Domain": "bobs-store.myshopify.com",
        "X-Shopify-Triggered-At": "2026-02-27T15:16:05.123Z",
        "Content-Type": "application/json",
    }
    return api.client.post(f"/hooks/{tenant}/shopify", content=body, headers=headers)


def _tenant_name(api: Api) -> str:
    with api.shop.db.admin(read_only=True) as admin:
        for tenant in admin.list_tenants():
            if tenant["id"] == api.shop.tenant_id:
                return str(tenant["name"])
    raise AssertionError("tenant not found")


def connect(api: Api, **settings: Any) -> None:
    body = {"secrets": [SECRET, OLD_SECRET], **settings}
    response = api.client.put("/v1/connectors/shopify", json=body)
    assert response.status_code == 200, response.text


def test_a_signed_paid_order_earns_and_a_redelivery_changes_nothing(make_api: Any) -> None:
    api = make_api(currency="USD", pending_days=0)
    connect(api)
    response = shopify(api, "orders/paid", raw("shopify/orders_paid.json"))
    assert response.status_code == 200, response.text
    member = "115310627314723954"  # a 64-bit id, exactly
    earned = api.balances(member)["available"]
    assert earned > 0
    again = shopify(api, "orders/paid", raw("shopify/orders_paid.json"))
    assert again.status_code == 200 and again.json()["events"][0]["replayed"] is True
    assert api.balances(member)["available"] == earned
    # a partial refund takes back part of it
    refund = shopify(
        api, "refunds/create", raw("shopify/refunds_create_partial.json"), delivery="r-1"
    )
    assert refund.status_code == 200, refund.text
    assert 0 <= api.balances(member)["available"] < earned
    api.assert_ledger_clean()


def test_a_bad_or_missing_signature_is_refused_and_writes_nothing(make_api: Any) -> None:
    api = make_api(currency="USD", pending_days=0)
    connect(api)
    before = stored_state(api.shop)
    bad = shopify(api, "orders/paid", raw("shopify/orders_paid.json"), secret="not-the-secret")
    assert_problem(bad, 401, "unauthenticated", "signature")
    assert stored_state(api.shop) == before
    old = shopify(api, "orders/paid", raw("shopify/orders_paid.json"), secret=OLD_SECRET)
    assert old.status_code == 200  # the previous secret still works during rotation


def test_hooks_for_unknown_tenants_platforms_or_disabled_connectors_are_404(make_api: Any) -> None:
    api = make_api(currency="USD")
    body = raw("shopify/orders_paid.json")
    assert shopify(api, "orders/paid", body).status_code == 404  # not configured yet
    connect(api, enabled=False)
    assert shopify(api, "orders/paid", body).status_code == 404
    assert api.client.post("/hooks/nobody/shopify", content=body).status_code == 404
    assert_problem(
        api.client.put("/v1/connectors/magento", json={"secrets": [SECRET]}), 404, "not_found"
    )


def test_guest_orders_wait_and_are_claimed_by_the_member_with_that_email(make_api: Any) -> None:
    api = make_api(currency="EUR", pending_days=0)  # the guest checkout was in EUR
    connect(api, guest_matching=False)
    response = shopify(api, "orders/paid", raw("shopify/orders_paid_guest.json"), delivery="g-1")
    assert response.json()["events"][0]["status"] == "unmatched guest order"
    created = api.client.post(
        "/v1/members", json={"external_id": "g1", "email": "guest.shopper@example.com"}
    )
    assert created.status_code == 201
    claim = api.client.post("/v1/members/g1/claim-orders")
    assert claim.status_code == 200
    assert len(claim.json()["claimed"]) == 1
    assert api.balances("g1")["available"] > 0
    # claiming again finds nothing new
    assert api.client.post("/v1/members/g1/claim-orders").json()["claimed"] == []


def test_an_event_that_cannot_apply_is_reported_not_retried(make_api: Any) -> None:
    api = make_api(currency="USD", pending_days=0)
    connect(api)
    # a refund of an order this programme never saw
    response = shopify(
        api, "refunds/create", raw("shopify/refunds_create_partial.json"), delivery="r-9"
    )
    assert response.status_code == 200, response.text
    assert response.json()["events"][0] | {"detail": ""} == {
        "event_id": "r-9",
        "status": "rejected",
        "code": "unknown_order",
        "detail": "",
    }


def test_connector_settings_never_show_secrets(make_api: Any) -> None:
    api = make_api(currency="USD")
    connect(api)
    shown = api.client.get("/v1/connectors/shopify").json()
    assert shown["enabled"] is True and SECRET not in str(shown)
    short = api.client.put("/v1/connectors/shopify", json={"secrets": ["short"]})
    assert_problem(short, 422, "validation_failed", "secrets")


# --- Saleor signed with a JWS (no secret), keys from the configured instance ----------------


def saleor_jws(api: Api, body: bytes, signature: str, api_url: str) -> Any:
    headers = {
        "Saleor-Event": "order_fully_paid",
        "Saleor-Domain": "127.0.0.1",
        "Saleor-Api-Url": api_url,
        "Saleor-Signature": signature,
        "Content-Type": "application/json",
    }
    return api.client.post(f"/hooks/{_tenant_name(api)}/saleor", content=body, headers=headers)


def test_a_saleor_jws_delivery_is_checked_against_the_configured_jwks(make_api: Any) -> None:
    api = make_api(currency="PLN", pending_days=0)
    key = new_key()
    body = raw("saleor/order_fully_paid.json")
    with jwks_server(jwk(key, "1")) as server:
        put = api.client.put("/v1/connectors/saleor", json={"api_url": server.api_url})
        assert put.status_code == 200, put.text
        assert put.json()["jwks_url"] == server.jwks_url
        before = stored_state(api.shop)
        # a tampered body: 401, nothing written
        tampered = body.replace(b'"quantity": 2', b'"quantity": 9')
        bad = saleor_jws(api, tampered, sign(body, key), server.api_url)
        assert_problem(bad, 401, "unauthenticated", "signature")
        assert stored_state(api.shop) == before
        # signed as Saleor signs: processed, and the member earns
        good = saleor_jws(api, body, sign(body, key), server.api_url)
        assert good.status_code == 200, good.text
        assert good.json()["status"] == "processed"
        assert api.balances("VXNlcjoxMjM=")["available"] > 0
        assert server.requests == ["/.well-known/jwks.json"]


def test_a_saleor_jwks_that_cannot_be_fetched_is_a_503_and_writes_nothing(
    make_api: Any,
) -> None:
    api = make_api(currency="PLN", pending_days=0)
    api_url = f"http://127.0.0.1:{closed_port()}/graphql/"
    assert api.client.put("/v1/connectors/saleor", json={"api_url": api_url}).status_code == 200
    before = stored_state(api.shop)
    body = raw("saleor/order_fully_paid.json")
    response = saleor_jws(api, body, sign(body, new_key()), api_url)
    assert_problem(response, 503, "signing_keys_unavailable", "signature")
    assert response.headers["Retry-After"] == "60"
    assert stored_state(api.shop) == before


def test_a_trickling_saleor_jwks_is_a_503_at_the_deadline_and_writes_nothing(
    make_api: Any,
) -> None:
    api = make_api(currency="PLN", pending_days=0)
    api.client.app.state.jwks = JwksCache(timeout=1.0)  # the app's own deadline is 5 s
    key = new_key()
    body = raw("saleor/order_fully_paid.json")
    with jwks_server(jwk(key, "1")) as slow:
        slow.mode = "trickle"  # a byte every 50 ms: 30 s for the whole body
        put = api.client.put("/v1/connectors/saleor", json={"api_url": slow.api_url})
        assert put.status_code == 200, put.text
        before = stored_state(api.shop)
        response = saleor_jws(api, body, sign(body, key), slow.api_url)
        assert_problem(response, 503, "signing_keys_unavailable", "signature")
        assert "within 1 s" in response.json()["detail"]
        assert response.headers["Retry-After"] == "60"
        assert stored_state(api.shop) == before


def test_saleor_needs_a_secret_or_an_api_url_and_others_take_no_api_url(make_api: Any) -> None:
    api = make_api(currency="USD")
    assert_problem(api.client.put("/v1/connectors/saleor", json={}), 422, "validation_failed")
    shopify_url = {"secrets": [SECRET], "api_url": "https://shop.example.com/graphql/"}
    assert_problem(
        api.client.put("/v1/connectors/shopify", json=shopify_url), 422, "validation_failed"
    )
    assert_problem(api.client.put("/v1/connectors/woocommerce", json={}), 422, "validation_failed")


def test_connector_field_names_are_stored_and_shown_with_their_defaults(make_api: Any) -> None:
    api = make_api(currency="USD")
    connect(api, referral_key="friend_code")
    shown = api.client.get("/v1/connectors/shopify").json()
    assert shown["referral_key"] == "friend_code"
    assert shown["checkout_key"] == "loyalty_checkout_id"
    assert shown["referral_param"] == "ref"


def test_a_referral_code_on_a_shopify_order_attributes_the_buyer(make_api: Any) -> None:
    api = make_api(currency="USD", pending_days=0)
    settings = {"link_base_url": "https://shop.example/join"}
    assert api.client.put("/v1/referrals/settings", json=settings).status_code == 200
    assert api.client.post("/v1/members", json={"external_id": "anna"}).status_code == 201
    code = api.client.get("/v1/members/anna/referral").json()["code"]
    connect(api)
    body = json.loads(raw("shopify/orders_paid.json"))
    body["landing_site"] = f"/products/mug?ref={code.lower()}"
    response = shopify(api, "orders/paid", json.dumps(body).encode())
    assert response.status_code == 200, response.text
    (event,) = response.json()["events"]
    assert event["referral"]["status"] in ("pending", "completed"), event
    referrals = api.client.get("/v1/referrals").json()
    assert [item["referee"] for item in referrals["items"]] == ["115310627314723954"]


# --- the generic connector takes what POST /v1/events takes ----------------------------------


def generic_hook(api: Api, envelope: dict[str, Any]) -> Any:
    body = json.dumps(envelope).encode()
    headers = {
        "Loyalty-Signature": generic.signature_header(body, SECRET, int(NOW.timestamp())),
        "Content-Type": "application/json",
    }
    return api.client.post(f"/hooks/{_tenant_name(api)}/generic", content=body, headers=headers)


def generic_event(
    event_id: str, type_: str, data: dict[str, Any], member: str | None = "m1"
) -> dict[str, Any]:
    envelope: dict[str, Any] = {"id": event_id, "type": type_, "occurred_at": NOW.isoformat()}
    if member is not None:
        envelope["member"] = {"external_id": member}
    return envelope | {"data": data}


def generic_order(event_id: str, order_id: str, amount: str, **data: Any) -> dict[str, Any]:
    lines = [{"sku": "a", "quantity": 1, "unit_price": amount}]
    return generic_event(
        event_id, "order.paid", {"order_id": order_id, "currency": "PLN", "lines": lines, **data}
    )


def points_shop(make_api: Any) -> Api:
    """Points pay 0.01 PLN each, for at most half an order; m1 has 1000 of them."""
    api = make_api(pending_days=0)
    program = {"point_value": "0.01", "points_max_share": "0.5"}
    assert api.client.put("/v1/program", json=program).status_code == 200
    connected = api.client.put("/v1/connectors/generic", json={"secrets": [SECRET]})
    assert connected.status_code == 200, connected.text
    seed = generic_hook(api, generic_order("e-seed", "seed", "1000"))
    assert seed.status_code == 200, seed.text
    assert api.balances("m1")["available"] == 1000
    return api


def hold(api: Api, checkout_id: str, points: int) -> None:
    cart = {
        "currency": "PLN",
        "lines": [{"sku": "a", "quantity": 1, "unit_price": "40.00"}],
        "member": "m1",
        "points_to_pay": points,
        "checkout_id": checkout_id,
    }
    response = api.client.post("/v1/carts/evaluate", json=cart)
    assert response.status_code == 200, response.text
    assert response.json()["checkout"]["reserved_points"] == points


def test_a_generic_paid_order_commits_its_checkout_and_its_cancellation_gives_it_back(
    make_api: Any,
) -> None:
    api = points_shop(make_api)
    hold(api, "c1", 200)
    # when the order that used the held points is paid through the generic hook
    paid = generic_hook(api, generic_order("e-o1", "o1", "20.00", checkout_id="c1"))
    # then the hold is committed: the expiry job has nothing left to release
    assert paid.status_code == 200, paid.text
    assert paid.json()["events"][0]["balances"]["available"] == 800 + 20
    later = NOW + timedelta(minutes=20)
    assert jobs.run_due_jobs(api.shop.db, later, api.shop.tenant_id).checkouts_released == 0
    assert api.balances("m1")["available"] == 820
    # and cancelling the order gives back the points it was paid with, and takes its own
    cancel = generic_event("e-x1", "order.cancelled", {"order_id": "o1", "checkout_id": "c1"})
    assert generic_hook(api, cancel).status_code == 200
    assert api.balances("m1")["available"] == 1000
    api.assert_ledger_clean()


def test_a_generic_cancellation_of_an_unpaid_checkout_releases_its_hold(make_api: Any) -> None:
    api = points_shop(make_api)
    hold(api, "c2", 300)
    assert api.balances("m1")["available"] == 700
    cancel = generic_event(
        "e-x2", "order.cancelled", {"order_id": "o-never-paid", "checkout_id": "c2"}
    )
    response = generic_hook(api, cancel)
    assert response.status_code == 200, response.text
    assert api.balances("m1")["available"] == 1000
    api.assert_ledger_clean()


def test_a_generic_action_event_earns_by_its_rule(make_api: Any) -> None:
    api = make_api(pending_days=0)
    assert api.client.put("/v1/connectors/generic", json={"secrets": [SECRET]}).status_code == 200
    rule = {
        "name": "reviews",
        "trigger": "review.approved",
        "effect": {"kind": "fixed_points", "points": 25},
    }
    assert api.client.post("/v1/rules", json=rule).status_code == 201
    # when
    response = generic_hook(api, generic_event("e-r1", "review.approved", {"stars": 5}))
    again = generic_hook(api, generic_event("e-r1", "review.approved", {"stars": 5}))
    # then
    assert response.status_code == 200, response.text
    assert response.json()["events"][0]["status"] != "rejected"
    assert again.json()["events"][0]["replayed"] is True
    assert api.balances("m1")["available"] == 25


# --- referral signals and guest orders -------------------------------------------------------


def test_a_shopify_friend_shipping_to_the_referrers_address_is_a_self_referral(
    make_api: Any,
) -> None:
    api = make_api(currency="USD", pending_days=0)
    connect(api)
    # anna's own order makes her a member and records her shipping address
    anna = "115310627314723954"
    assert shopify(api, "orders/paid", raw("shopify/orders_paid.json")).status_code == 200
    code = api.client.get(f"/v1/members/{anna}/referral").json()["code"]
    # when a "friend" orders with her code, shipping to the same address spelled otherwise
    body = json.loads(raw("shopify/orders_paid.json"))
    body["id"] = 820982911946154999
    body["customer"] = body["customer"] | {"id": 2071, "email": "ben@example.net", "phone": None}
    body["email"] = body["contact_email"] = "ben@example.net"
    body["phone"] = "+48600100200"
    body["browser_ip"] = "198.51.100.20"
    body["shipping_address"] = body["shipping_address"] | {"address1": "chestnut st. 92"}
    body["note_attributes"] = [{"name": "loyalty_referral", "value": code}]
    response = shopify(api, "orders/paid", json.dumps(body).encode(), delivery="friend-1")
    # then
    assert response.status_code == 200, response.text
    (event,) = response.json()["events"]
    assert event["referral"]["status"] == "rejected", event
    assert event["referral"]["reason"] == "self_referral_address"
    rejected = api.client.get("/v1/referrals", params={"status": "rejected"}).json()["items"]
    assert [(r["referee"], r["reason"]) for r in rejected] == [("2071", "self_referral_address")]


def test_a_claimed_guest_order_commits_its_checkout_and_attributes_its_referral(
    make_api: Any,
) -> None:
    api = points_shop(make_api)
    assert api.client.post("/v1/members", json={"external_id": "g1"}).status_code == 201
    code = api.client.get("/v1/members/m1/referral").json()["code"]
    # the guest's checkout holds a single-use code
    promotion = {
        "id": "once",
        "currency": "PLN",
        "trigger": "code",
        "codes": ["ONCE"],
        "benefits": [{"type": "percent_off", "percent": "50"}],
        "limits": {"code_uses": 1},
    }
    assert api.client.post("/v1/promotions", json=promotion).status_code == 201
    cart = {
        "currency": "PLN",
        "lines": [{"sku": "a", "quantity": 1, "unit_price": "40.00"}],
        "coupon_codes": ["ONCE"],
        "checkout_id": "guest-c1",
    }
    assert api.client.post("/v1/carts/evaluate", json=cart).status_code == 200
    guest = generic_order("e-g1", "g-o1", "20.00", checkout_id="guest-c1", referral_code=code)
    guest["member"] = {"email": "Guest@Example.com"}
    kept = generic_hook(api, guest)
    assert kept.json()["events"][0]["status"] == "unmatched guest order", kept.text
    # when the guest becomes a member and claims the order
    assert (
        api.client.patch("/v1/members/g1", json={"email": "guest@example.com"}).status_code == 200
    )
    claim = api.client.post("/v1/members/g1/claim-orders")
    # then the order's checkout is committed and the referral attributed
    assert claim.status_code == 200, claim.text
    assert [c["order_id"] for c in claim.json()["claimed"]] == ["g-o1"]
    usage = api.client.get("/v1/promotions/once").json()["usage"]["codes"][0]
    assert (usage["uses"], usage["reserved"]) == (1, 0)
    referrals = api.client.get("/v1/referrals").json()["items"]
    assert [(r["referrer"], r["referee"]) for r in referrals] == [("m1", "g1")]
