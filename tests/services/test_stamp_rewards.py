"""A completed stamp card issues its reward through the rewards service (SQLite, PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from loyalty.services import events, rewards, rules, wallet
from loyalty.services.checks import check_ledger
from loyalty.store.tables import outbox_events
from tests.builders import event, order_paid_json
from tests.conftest import NOW, Shop


def add_reward(shop: Shop, **data: Any) -> None:
    body = {
        "id": "free-coffee",
        "name": "A free coffee",
        "cost_points": 500,
        "benefit": {"type": "fixed_discount", "amount": "12", "currency": "PLN"},
        **data,
    }
    with shop.db.transaction(shop.tenant_id) as uow:
        rewards.create_reward(uow, body, NOW)


def add_card(shop: Shop, every: int = 2, **effect: Any) -> str:
    data = {
        "name": f"every {every} orders a coffee",
        "trigger": "order.paid",
        "effect": {"kind": "stamp_card", "every": every, "reward_id": "free-coffee", **effect},
    }
    with shop.db.transaction(shop.tenant_id) as uow:
        return str(rules.create_rule(uow, shop.ctx, data, NOW)["id"])


def buy(shop: Shop, n: int, member: str = "m1", quantity: int = 1) -> dict[str, Any]:
    body = order_paid_json(f"e{n}", member, f"o{n}", [("a", quantity, "10")], NOW)
    return events.ingest(shop.db, shop.ctx, event(body), NOW).body


def redemptions(shop: Shop, member: str = "m1") -> list[dict[str, Any]]:
    with shop.db.read(shop.tenant_id) as uow:
        return rewards.list_redemptions(uow, member, None, 50)[0]


def earned_events(shop: Shop) -> list[dict[str, Any]]:
    with shop.db.read(shop.tenant_id) as uow:
        stmt = (
            select(outbox_events.c.payload)
            .where(
                outbox_events.c.tenant_id == shop.tenant_id,
                outbox_events.c.type == "reward.earned",
            )
            .order_by(outbox_events.c.id)
        )
        return list(uow.conn.execute(stmt).scalars())


def test_completing_the_card_issues_the_reward_at_no_points_cost(shop: Shop) -> None:
    # given a coffee (worth 500 points) every second order
    add_reward(shop)
    add_card(shop)
    # when m1 orders twice
    first, second = buy(shop, 1), buy(shop, 2)
    # then the second order issues one coffee: a redemption of 0 points with its own code
    assert "rewards" not in first
    [reward] = second["rewards"]
    [redemption] = redemptions(shop)
    assert (redemption["points"], redemption["status"]) == (0, "completed")
    assert redemption["coupon"] is not None and redemption["entry_id"] is None
    assert reward["status"] == "issued" and reward["issued"] == 1
    assert reward["redemption_ids"] == [redemption["id"]]
    assert reward["coupon_codes"] == [redemption["coupon"]["code"]]
    assert sum(e["points"] for e in second["effects"]) == 10  # the base rate only
    # and the outbox event names the redemption and its code
    [payload] = earned_events(shop)
    assert payload["redemption_ids"] == [redemption["id"]]
    assert payload["coupon_codes"] == [redemption["coupon"]["code"]]
    assert check_ledger(shop.db, shop.tenant_id).ok


def test_a_retried_event_issues_the_reward_once(shop: Shop) -> None:
    add_reward(shop)
    add_card(shop)
    buy(shop, 1)
    first = buy(shop, 2)

    again = buy(shop, 2)

    assert again == first
    assert len(redemptions(shop)) == 1
    assert len(earned_events(shop)) == 1


def test_a_store_credit_reward_pays_into_the_wallet(shop: Shop) -> None:
    add_reward(shop, benefit={"type": "store_credit", "amount": "5", "currency": "PLN"})
    add_card(shop)

    buy(shop, 1)
    buy(shop, 2)

    with shop.db.read(shop.tenant_id) as uow:
        assert wallet.wallet_view(uow, shop.ctx, "m1")["balance"] == "5.00"


def test_per_item_stamps_completing_two_cards_issue_two_rewards(shop: Shop) -> None:
    add_reward(shop)
    add_card(shop, per="item")

    body = buy(shop, 1, quantity=4)

    assert body["rewards"][0]["issued"] == 2
    assert len(redemptions(shop)) == 2


def test_out_of_stock_issues_nothing_records_why_and_the_event_still_earns(shop: Shop) -> None:
    # given one coffee in stock and a card every order
    add_reward(shop, stock=1)
    rule_id = add_card(shop, every=1)
    # when two members complete their cards
    buy(shop, 1, "m1")
    late = buy(shop, 2, "m2")
    # then the second gets no coffee: the response, the outbox event and the rule say why
    [reward] = late["rewards"]
    assert (reward["status"], reward["issued"], reward["redemption_ids"]) == (
        "out_of_stock",
        0,
        [],
    )
    assert sum(e["points"] for e in late["effects"]) == 10
    assert redemptions(shop, "m2") == []
    assert earned_events(shop)[-1]["status"] == "out_of_stock"
    with shop.db.read(shop.tenant_id) as uow:
        failures = rules.get_rule(uow, rule_id)["recent_failures"]
    assert "not issued (out_of_stock)" in failures[0]["error"]


def test_an_unknown_reward_is_recorded_not_fatal(shop: Shop) -> None:
    rule_id = add_card(shop, every=1)

    body = buy(shop, 1)

    assert body["rewards"][0]["status"] == "not_found"
    with shop.db.read(shop.tenant_id) as uow:
        assert rules.get_rule(uow, rule_id)["recent_failures"][0]["error"].startswith(
            "reward free-coffee not issued (not_found)"
        )
