"""Store webhooks end to end: connector settings, signed Shopify deliveries, guest claims."""

from __future__ import annotations

from typing import Any

from tests.api.support import Api, assert_problem, stored_state
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
