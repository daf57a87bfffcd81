"""A physical gift's fulfilment: pending -> shipped -> delivered, or cancelled."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loyalty.domain.errors import ErrorCode
from loyalty.domain.rewards import (
    Fulfilment,
    FulfilmentStatus,
    IllegalFulfilmentTransition,
    cancel_fulfilment,
    deliver,
    ship,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_a_gift_is_shipped_then_delivered() -> None:
    shipped = ship(Fulfilment(), NOW, carrier="DHL", tracking="123")
    assert shipped.status is FulfilmentStatus.SHIPPED and shipped.tracking == "123"
    delivered = deliver(shipped, NOW)
    assert delivered.status is FulfilmentStatus.DELIVERED and delivered.delivered_at == NOW
    with pytest.raises(IllegalFulfilmentTransition) as caught:
        cancel_fulfilment(delivered, NOW, "lost")
    assert caught.value.code is ErrorCode.FULFILMENT_CONFLICT


def test_only_a_gift_cancelled_before_shipping_refunds_points() -> None:
    assert cancel_fulfilment(Fulfilment(), NOW, "out of stock").refunds_points
    assert not cancel_fulfilment(ship(Fulfilment(), NOW), NOW, "lost").refunds_points


def test_a_pending_gift_cannot_be_delivered_and_a_cancel_needs_a_reason() -> None:
    with pytest.raises(IllegalFulfilmentTransition):
        deliver(Fulfilment(), NOW)
    with pytest.raises(IllegalFulfilmentTransition):
        cancel_fulfilment(Fulfilment(), NOW, " ")
