"""Each platform's order carries our checkout id and the customer's referral code into
``order.paid``, from the fields the connector names (or the platform's defaults)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from loyalty.domain.connectors import HookOptions, validated
from loyalty.domain.errors import ValidationFailed
from loyalty.domain.events import InboundEvent, OrderPaid, ReferralData
from loyalty.domain.referrals.identity import Address
from loyalty.integrations import _common
from loyalty.integrations.registry import adapter_for
from loyalty.integrations.results import GuestOrder
from tests.integrations.support import SECRET, base64_hmac, hex_hmac, raw

NOW = datetime(2026, 2, 27, 14, 20, tzinfo=UTC)


def paid(item: InboundEvent | GuestOrder) -> OrderPaid:
    event = item.event if isinstance(item, GuestOrder) else item
    assert isinstance(event.payload, OrderPaid)
    return event.payload


def code_of(payload: OrderPaid) -> str | None:
    """The referral code an order carries (its address and IP ride along for the checks)."""
    return None if payload.referral is None else payload.referral.code


def with_fields(name: str, **changes: Any) -> bytes:
    data = json.loads(raw(name))
    data.update(changes)
    return json.dumps(data).encode()


# --- Shopify: note attributes, checkout_token, landing_site ---------------------------------


def shopify(body: bytes, options: HookOptions | None = None) -> OrderPaid:
    sent = {
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Hmac-Sha256": base64_hmac(body),
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    }
    result = adapter_for("shopify").receive(sent, body, [SECRET], now=NOW, options=options)
    (item,) = result.events
    return paid(item)


def test_shopify_takes_the_checkout_token_and_no_referral_by_default() -> None:
    payload = shopify(raw("shopify/orders_paid.json"))
    assert payload.checkout_id == "bd5a8aa1ecd019dd3520ff791ee3a24c"
    assert code_of(payload) is None


def test_shopify_note_attributes_name_the_checkout_and_the_referral_code() -> None:
    body = with_fields(
        "shopify/orders_paid.json",
        note_attributes=[
            {"name": "gift_wrap", "value": "yes"},
            {"name": "loyalty_referral", "value": " ANNA-7Q2K "},
            {"name": "loyalty_checkout_id", "value": "chk_5521"},
        ],
        landing_site="/products/mug?ref=OTHER-1",
    )
    payload = shopify(body)
    assert payload.checkout_id == "chk_5521"  # the explicit attribute wins over the token
    assert code_of(payload) == "ANNA-7Q2K"  # and over the landing site


def test_shopify_reads_the_ref_parameter_of_the_landing_site() -> None:
    body = with_fields(
        "shopify/orders_paid.json",
        landing_site="/products/mug?utm_source=mail&ref=ANNA-7Q2K",
        checkout_token=None,
    )
    payload = shopify(body)
    assert code_of(payload) == "ANNA-7Q2K"
    assert payload.checkout_id == "901414060"  # no token: the numeric checkout id, exactly


def test_shopify_field_names_come_from_the_connector() -> None:
    body = with_fields(
        "shopify/orders_paid.json",
        note_attributes=[
            {"name": "loyalty_referral", "value": "NOT-THIS"},
            {"name": "friend_code", "value": "BEN-22"},
            {"name": "our_checkout", "value": "c-77"},
        ],
        landing_site="https://shop.example/?via=VIA-1",
    )
    options = HookOptions(referral_key="friend_code", checkout_key="our_checkout")
    payload = shopify(body, options)
    assert (payload.checkout_id, code_of(payload)) == ("c-77", "BEN-22")
    only_param = with_fields(
        "shopify/orders_paid.json", landing_site="https://shop.example/?via=VIA-1"
    )
    assert code_of(shopify(only_param, HookOptions(referral_param="via"))) == "VIA-1"


def test_shopify_values_that_cannot_be_codes_are_left_out_not_fatal() -> None:
    body = with_fields(
        "shopify/orders_paid.json",
        note_attributes=[{"name": "loyalty_referral", "value": "X" * 41}],
        landing_site="/?ref=",
    )
    assert code_of(shopify(body)) is None


def test_a_shopify_guest_order_carries_its_referral_code_too() -> None:
    body = with_fields(
        "shopify/orders_paid_guest.json",
        note_attributes=[{"name": "loyalty_referral", "value": "ANNA-7Q2K"}],
    )
    payload = shopify(body)
    assert code_of(payload) == "ANNA-7Q2K"


# --- WooCommerce: meta_data -----------------------------------------------------------------


def woocommerce(body: bytes, options: HookOptions | None = None) -> OrderPaid:
    sent = {
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Signature": base64_hmac(body),
        "X-WC-Webhook-Delivery-ID": "9f0c2d7e",
    }
    result = adapter_for("woocommerce").receive(sent, body, [SECRET], now=NOW, options=options)
    (item,) = result.events
    return paid(item)


def test_woocommerce_reads_the_default_meta_keys() -> None:
    assert woocommerce(raw("woocommerce/order_processing.json")).checkout_id is None
    body = with_fields(
        "woocommerce/order_processing.json",
        meta_data=[
            {"id": 8812, "key": "_wc_order_attribution_source_type", "value": "typein"},
            {"id": 8813, "key": "_loyalty_checkout_id", "value": "wc-cart-4f1e"},
            {"id": 8814, "key": "_loyalty_referral", "value": "ANNA-7Q2K"},
            {"id": 8815, "key": "_loyalty_referral", "value": "LATER-DUPLICATE"},
        ],
    )
    payload = woocommerce(body)
    assert payload.checkout_id == "wc-cart-4f1e"
    assert code_of(payload) == "ANNA-7Q2K"  # the first, as get_meta reads


def test_woocommerce_meta_keys_come_from_the_connector_and_integer_ids_stay_exact() -> None:
    body = with_fields(
        "woocommerce/order_processing.json",
        meta_data=[
            {"id": 1, "key": "_loyalty_referral", "value": "NOT-THIS"},
            {"id": 2, "key": "referral", "value": "BEN-22"},
            {"id": 3, "key": "cart_hash_id", "value": 90071992547409931},
        ],
    )
    options = HookOptions(checkout_key="cart_hash_id", referral_key="referral")
    payload = woocommerce(body, options)
    assert payload.checkout_id == "90071992547409931"
    assert code_of(payload) == "BEN-22"


# --- Saleor: metadata and checkoutId -----------------------------------------------------


def saleor(body: bytes, options: HookOptions | None = None) -> OrderPaid:
    sent = {"Saleor-Event": "order_fully_paid", "Saleor-Signature": hex_hmac(body)}
    result = adapter_for("saleor").receive(sent, body, [SECRET], now=NOW, options=options)
    (item,) = result.events
    return paid(item)


def saleor_order(**changes: Any) -> bytes:
    data = json.loads(raw("saleor/order_fully_paid.json"))
    data["order"].update(changes)
    return json.dumps(data).encode()


def test_saleor_takes_checkout_id_and_the_referral_from_metadata() -> None:
    body = saleor_order(
        checkoutId="Q2hlY2tvdXQ6ZjNlNGIxYjItNmQ0Zi00YzNmLWI3YjEtOTk3YjkyZTc3ZjQx",
        metadata=[{"key": "loyalty_referral", "value": "ANNA-7Q2K"}],
    )
    payload = saleor(body)
    assert payload.checkout_id == "Q2hlY2tvdXQ6ZjNlNGIxYjItNmQ0Zi00YzNmLWI3YjEtOTk3YjkyZTc3ZjQx"
    assert code_of(payload) == "ANNA-7Q2K"


def test_saleor_metadata_keys_come_from_the_connector_and_private_metadata_counts() -> None:
    body = saleor_order(
        checkoutId="Q2hlY2tvdXQ6MQ==",
        metadata=[{"key": "friend", "value": "BEN-22"}],
        privateMetadata=[{"key": "our_checkout", "value": "c-77"}],
    )
    payload = saleor(body, HookOptions(checkout_key="our_checkout", referral_key="friend"))
    assert (payload.checkout_id, payload.referral) == ("c-77", ReferralData(code="BEN-22"))
    plain = saleor(saleor_order())
    assert (plain.checkout_id, plain.referral) == (None, None)


# --- settings -------------------------------------------------------------------------------


def test_settings_are_checked_per_platform() -> None:
    assert validated("saleor", {"api_url": " https://shop.example.com/graphql/ "}).api_url == (
        "https://shop.example.com/graphql/"
    )
    with pytest.raises(ValidationFailed, match="no api_url"):
        validated("shopify", {"api_url": "https://shop.example.com/graphql/"})
    with pytest.raises(ValidationFailed, match="no referral_param"):
        validated("woocommerce", {"referral_param": "ref"})
    with pytest.raises(ValidationFailed, match="http"):
        validated("saleor", {"api_url": "file:///etc/passwd"})
    with pytest.raises(ValidationFailed, match="plain parameter"):
        validated("shopify", {"referral_param": "a b"})
    with pytest.raises(ValidationFailed, match="characters"):
        validated("woocommerce", {"checkout_key": " "})
    with pytest.raises(ValidationFailed, match="no checkout_key"):
        validated("generic", {"checkout_key": "x"})


# --- self-referral signals: shipping address and the buyer's IP, hashed -------------------


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_shopify_order_carries_its_shipping_address_and_hashed_browser_ip() -> None:
    payload = shopify(raw("shopify/orders_paid.json"))
    assert payload.referral == ReferralData(
        ip_hash=sha256("216.191.105.146"),
        shipping_address=Address("Chestnut Street 92", "", "Louisville", "40202", "US"),
    )


def test_shopify_falls_back_to_client_details_and_leaves_out_what_is_not_there() -> None:
    body = with_fields(
        "shopify/orders_paid.json",
        browser_ip=None,
        client_details={"browser_ip": " 2001:DB8:0:0::1 "},
        shipping_address=None,
    )
    payload = shopify(body)
    assert payload.referral == ReferralData(ip_hash=sha256("2001:db8::1"))
    nothing = with_fields(
        "shopify/orders_paid.json",
        browser_ip="not an address",
        shipping_address={"address1": " ", "city": "Louisville"},
    )
    assert shopify(nothing).referral is None


def test_the_ip_hash_is_of_the_canonical_address() -> None:
    assert _common.ip_hash("::ffff:203.0.113.7") == sha256("203.0.113.7")
    assert _common.ip_hash(" 203.0.113.7") == sha256("203.0.113.7")
    assert _common.ip_hash(12345) is None
    assert _common.ip_hash("203.0.113.300") is None


def test_a_woocommerce_order_carries_its_shipping_address_and_hashed_customer_ip() -> None:
    payload = woocommerce(raw("woocommerce/order_processing.json"))
    assert payload.referral == ReferralData(
        ip_hash=sha256("203.0.113.7"),
        shipping_address=Address("969 Market", "", "San Francisco", "94103", "US"),
    )
    unshipped = with_fields(
        "woocommerce/order_processing.json",
        customer_ip_address="",
        shipping={"address_1": "", "city": "", "postcode": "", "country": ""},
    )
    assert woocommerce(unshipped).referral is None


def test_a_saleor_order_carries_the_shipping_address_its_query_asks_for() -> None:
    address = {
        "streetAddress1": "Tęczowa 7",
        "streetAddress2": "m. 3",
        "city": "WROCŁAW",
        "postalCode": "53-601",
        "country": {"code": "PL", "country": "Poland"},
    }
    payload = saleor(saleor_order(shippingAddress=address))
    assert payload.referral == ReferralData(
        shipping_address=Address("Tęczowa 7", "m. 3", "WROCŁAW", "53-601", "PL")
    )


def test_store_addresses_are_cut_to_what_the_events_api_takes() -> None:
    address = _common.shipping_address(
        line1="x" * 400, city="c" * 250, postal_code="1" * 40, country="Poland"
    )
    assert address == Address("x" * 300, "", "c" * 200, "1" * 32, "")
