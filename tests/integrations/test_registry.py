from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loyalty.domain.errors import NotFound
from loyalty.domain.events import InboundEvent
from loyalty.integrations import generic
from loyalty.integrations.errors import SignatureInvalid
from loyalty.integrations.registry import ADAPTERS, adapter_for
from tests.integrations.support import SECRET, base64_hmac, hex_hmac, raw

NOW = datetime(2026, 2, 27, 14, 20, tzinfo=UTC)


def test_every_platform_has_an_adapter_named_as_its_event_source() -> None:
    assert sorted(ADAPTERS) == ["generic", "saleor", "shopify", "woocommerce"]
    assert all(adapter.platform == name for name, adapter in ADAPTERS.items())


def test_receive_verifies_then_maps() -> None:
    body = raw("shopify/orders_paid.json")
    sent = {
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Hmac-Sha256": base64_hmac(body),
        "X-Shopify-Webhook-Id": "w-1",
    }
    result = adapter_for("Shopify").receive(sent, body, [SECRET], now=NOW)
    (event,) = result.events
    assert isinstance(event, InboundEvent)
    assert (event.source, event.event_id) == ("shopify", "w-1")


def test_receive_never_parses_an_unsigned_body() -> None:
    # given a body that is not even JSON, with a wrong signature
    sent = {"Saleor-Event": "order_fully_paid", "Saleor-Signature": hex_hmac(b"other")}
    # then the signature fails first
    with pytest.raises(SignatureInvalid):
        adapter_for("saleor").receive(sent, b"{", [SECRET], now=NOW)


def test_the_generic_adapter_gets_the_clock() -> None:
    body = raw("generic/order_paid.json")
    sent = {"Loyalty-Signature": generic.signature_header(body, SECRET, int(NOW.timestamp()))}
    adapter = adapter_for("generic")
    assert adapter.receive(sent, body, [SECRET], now=NOW).events
    with pytest.raises(SignatureInvalid, match="old"):
        adapter.receive(sent, body, [SECRET], now=NOW.replace(hour=15))


def test_the_woocommerce_ping_gets_through_receive() -> None:
    result = adapter_for("woocommerce").receive({}, b"webhook_id=12", [SECRET], now=NOW)
    assert result.ignored == "WooCommerce ping for webhook 12"


def test_an_unknown_platform_is_not_found() -> None:
    with pytest.raises(NotFound, match="magento"):
        adapter_for("magento")
