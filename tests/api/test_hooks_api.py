"""Store webhooks end to end: connector settings, signed Shopify deliveries, guest claims."""

from __future__ import annotations

import json
from typing import Any

from loyalty.integrations.jws import JwksCache
from tests.api.support import Api, assert_problem, stored_state
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
