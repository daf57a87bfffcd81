"""``event_hash`` (orjson where it is safe) gives exactly ``canonical_hash`` of the event's dump:
the inbox compares it with hashes stored before, so one differing byte would turn a retry into
a conflict."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from loyalty.api.schemas import EventIn, canonical_hash, event_hash

_adapter: TypeAdapter[Any] = TypeAdapter(EventIn)

TRICKY = [
    "plain",
    'quote " inside',
    "back\\slash",
    "tab\there",
    "new\nline",
    "bell\x07",
    "unit\x1f",
    "del\x7f",
    "zażółć",
    "emoji 🎉",
    "/slash/",
    "",
    "~!@#$%^&*()_+{}|:<>?",
]


def _order(text: str, amount: Any) -> dict[str, Any]:
    return {
        "id": f"e-{text}",
        "type": "order.paid",
        "occurred_at": "2026-11-01T10:00:00+02:00",
        "member": {"external_id": f"m-{text}", "first_name": text or None},
        "data": {
            "order_id": f"o-{text}",
            "currency": "PLN",
            "shipping": amount,
            "lines": [{"sku": f"s{text}", "quantity": 3, "unit_price": amount, "category": text}],
            "device_hash": text or None,
        },
    }


def _bodies() -> list[dict[str, Any]]:
    bodies = [_order(t, a) for t in TRICKY for a in ("12.50", 12, 12.5, "0.000001", 1e3)]
    bodies += [
        {
            "id": "c1",
            "type": "customer.updated",
            "occurred_at": "2026-11-01T10:00:00Z",
            "member": {"external_id": "m1"},
            "data": {"email": t + "@x.pl" if t else None, "consents": {"email": True}},
        }
        for t in TRICKY
    ]
    bodies += [
        {
            "id": "r1",
            "type": "order.refunded",
            "occurred_at": "2026-11-01T10:00:00Z",
            "data": {"order_id": "o1", "refund_id": t or "r", "amount": 1.25},
        }
        for t in TRICKY
    ]
    bodies += [
        {
            "id": "a1",
            "type": "custom.review_posted",
            "occurred_at": "2026-11-01T10:00:00Z",
            "member": {"external_id": "m1"},
            "data": {"stars": 4.5, "tiny": 1e-7, "text": t, "huge": 1e16, "n": n},
        }
        for t in TRICKY
        for n in (1, 10**20)
    ]
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(0, 0x250)] + ["🎉", "\u2028"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        bodies.append(_order(text, rng.choice(["1.5", 2, 0.1])))
    valid = []
    for body in bodies:  # some made-up texts are refused (an empty id): those are not hashed
        try:
            _adapter.validate_python(body)
        except ValidationError:
            continue
        valid.append(body)
    assert len(valid) > 300
    return valid


@pytest.mark.parametrize("body", _bodies())
def test_event_hash_is_the_canonical_hash_of_the_dump(body: dict[str, Any]) -> None:
    event = _adapter.validate_python(body)
    expected = canonical_hash(event.model_dump(mode="json", exclude_unset=True))
    assert event_hash(event) == expected
