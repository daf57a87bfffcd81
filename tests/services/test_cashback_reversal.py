"""Refunds and cancellations take back the cashback an order credited (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from loyalty.domain.errors import InsufficientCredit
from loyalty.services import events, rules, wallet
from loyalty.services.checks import check_ledger
from tests.builders import cancel_json, event, order_paid_json, refund_json
from tests.conftest import NOW, Shop


def _cashback(shop: Shop, percent: str = "10") -> str:
    data = {
        "name": f"{percent}% back",
        "trigger": "order.paid",
        "effect": {"kind": "cashback", "percent": percent},
    }
    with shop.db.transaction(shop.tenant_id) as uow:
        return str(rules.create_rule(uow, shop.ctx, data, NOW)["id"])


def send(shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
    return events.ingest(shop.db, shop.ctx, event(body), NOW).body


def buy(shop: Shop, order_id: str, lines: list[tuple[str, int, str]], member: str = "m1") -> Any:
    return send(shop, order_paid_json(f"pay-{order_id}", member, order_id, lines, NOW))


def refund(shop: Shop, n: int, order_id: str, **how: Any) -> dict[str, Any]:
    return send(shop, refund_json(f"ev-r{n}", order_id, f"R{n}", NOW, **how))


def view(shop: Shop, member: str = "m1") -> dict[str, Any]:
    with shop.db.read(shop.tenant_id) as uow:
        return wallet.wallet_view(uow, shop.ctx, member)


def taken(body: dict[str, Any]) -> list[str]:
    return [entry["amount"] for entry in body.get("cashback", [])]


def test_partial_refunds_take_back_the_refunded_share_and_the_last_the_remainder(
    shop: Shop,
) -> None:
    # given 10% cashback on an order of 100.00 (10.00 credited)
    rule_id = _cashback(shop)
    assert [e["amount"] for e in buy(shop, "o1", [("a", 1, "100")])["cashback"]] == ["10.00"]
    # when it is refunded in three parts of a third
    bodies = [
        refund(shop, 1, "o1", amount="33.33"),
        refund(shop, 2, "o1", amount="33.33"),
        refund(shop, 3, "o1", amount="33.34"),
    ]
    # then each takes its share, half-up to the cent, and the last exactly what was left
    assert [taken(b) for b in bodies] == [["-3.33"], ["-3.34"], ["-3.33"]]
    assert view(shop)["balance"] == "0.00"
    first = bodies[0]["cashback"][0]
    assert first["kind"] == "reverse" and first["rule"]["id"] == rule_id
    assert first["meta"]["amount"] == "3.33" and "clawback" not in first["meta"]
    assert check_ledger(shop.db, shop.tenant_id).ok


def test_a_refund_is_taken_back_once_whatever_is_retried(shop: Shop) -> None:
    _cashback(shop)
    buy(shop, "o1", [("a", 1, "100")])
    body = refund(shop, 1, "o1", amount="50")

    retried = refund(shop, 1, "o1", amount="50")  # the same event again
    again = send(shop, refund_json("ev-other", "o1", "R1", NOW, amount="50"))  # same refund id

    assert taken(body) == ["-5.00"]
    assert retried == body
    assert "cashback" not in again and "already applied" in again["note"]
    assert view(shop)["balance"] == "5.00"
    assert [e["kind"] for e in view(shop)["entries"]] == ["reverse", "credit"]


def test_refunds_by_line_and_a_cancellation_take_back_everything_credited(shop: Shop) -> None:
    # given 10% back on 60.00 + 2 x 20.00 (10.00), from two rules (5% each)
    _cashback(shop, "5")
    _cashback(shop, "5")
    buy(shop, "o1", [("a", 1, "60"), ("b", 2, "20")])
    assert view(shop)["balance"] == "10.00"
    # when one unit of b is refunded, then the order is cancelled
    by_line = refund(shop, 1, "o1", lines=[("b", 1)])
    cancelled = send(shop, cancel_json("ev-c", "o1", NOW))
    # then the line's share (20% of the base) goes first, per rule, and the rest at the cancel
    assert taken(by_line) == ["-1.00", "-1.00"]
    assert taken(cancelled) == ["-4.00", "-4.00"]
    assert view(shop)["balance"] == "0.00"
    assert send(shop, cancel_json("ev-c2", "o1", NOW)).get("cashback") is None


def test_a_refund_after_a_full_refund_takes_nothing_more(shop: Shop) -> None:
    _cashback(shop)
    buy(shop, "o1", [("a", 3, "10.01")])  # 30.03 -> 3.00 credited (half-up)
    refund(shop, 1, "o1", lines=[("a", 3)])
    cancelled = send(shop, cancel_json("ev-c", "o1", NOW))

    assert "cashback" not in cancelled
    assert view(shop)["balance"] == "0.00"


def _spent(shop: Shop, amount: str) -> None:
    with shop.db.transaction(shop.tenant_id) as uow:
        wallet.spend(uow, shop.ctx, "m1", Decimal(amount), "checkout-1", NOW)


@pytest.mark.parametrize(
    ("policy", "balance", "meta"),
    [
        ("negative_balance", "-8.00", {"clawback": "negative_balance", "owed": "8.00"}),
        ("other_points", "0.00", {"clawback": "other_points", "written_off": "8.00"}),
        ("write_off", "0.00", {"clawback": "write_off", "written_off": "8.00"}),
    ],
)
def test_cashback_already_spent_follows_the_clawback_policy(
    shop: Shop, policy: str, balance: str, meta: dict[str, str]
) -> None:
    # given 10.00 cashback of which the member spent 8.00
    shop.with_settings(clawback=policy)
    _cashback(shop)
    buy(shop, "o1", [("a", 1, "100")])
    _spent(shop, "8.00")
    # when the whole order is refunded
    body = refund(shop, 1, "o1", amount="100")
    # then the wallet gives what it holds; the policy decides the rest
    entry = body["cashback"][0]
    assert view(shop)["balance"] == entry["balance_after"] == balance
    assert {k: v for k, v in entry["meta"].items() if k in meta} == meta
    assert entry["meta"]["amount"] == "10.00"
    assert entry["amount"] == ("-10.00" if policy == "negative_balance" else "-2.00")


def test_a_wallet_that_owes_cannot_spend_and_later_cashback_repays_it(shop: Shop) -> None:
    # given a wallet 8.00 below zero after a refund (negative_balance, the default)
    _cashback(shop)
    buy(shop, "o1", [("a", 1, "100")])
    _spent(shop, "8.00")
    refund(shop, 1, "o1", amount="100")
    # then nothing can be spent, and the next cashback repays the debt first
    with pytest.raises(InsufficientCredit), shop.db.transaction(shop.tenant_id) as uow:
        wallet.spend(uow, shop.ctx, "m1", Decimal("0.01"), "checkout-2", NOW)
    buy(shop, "o2", [("a", 1, "100")])
    assert view(shop)["balance"] == "2.00"
