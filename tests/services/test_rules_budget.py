"""A rule's points budget under concurrent first uses (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import delete, select

from loyalty.services import events, rules
from loyalty.services.checks import check_ledger
from loyalty.store.rules import RuleRepository
from loyalty.store.tables import rule_budgets
from tests.builders import event, order_paid_json
from tests.conftest import NOW, Shop

BUDGET = 100
BONUS = 80


def _budget_rule(shop: Shop) -> int:
    data = {
        "name": "first orders bonus",
        "trigger": "order.paid",
        "effect": {"kind": "fixed_points", "points": BONUS},
        "limits": {"budget_points": BUDGET},
    }
    with shop.db.transaction(shop.tenant_id) as uow:
        return int(rules.create_rule(uow, shop.ctx, data, NOW)["id"])


def _budget_rows(shop: Shop, rule_id: int) -> list[int]:
    with shop.db.read(shop.tenant_id) as uow:
        stmt = select(rule_budgets.c.spent).where(
            rule_budgets.c.tenant_id == shop.tenant_id, rule_budgets.c.rule_id == rule_id
        )
        return [int(spent) for spent in uow.conn.execute(stmt).scalars()]


def test_a_budgeted_rule_has_its_counter_row_from_creation(shop: Shop) -> None:
    rule_id = _budget_rule(shop)

    assert _budget_rows(shop, rule_id) == [0]


@pytest.mark.parametrize("legacy", [False, True], ids=["row-at-creation", "row-missing"])
def test_two_concurrent_first_uses_spend_exactly_the_budget(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, legacy: bool
) -> None:
    # given a rule giving 80 points from a budget of 100, never used yet; ``legacy``: saved
    # before rules had their counter row from creation (the row is missing)
    rule_id = _budget_rule(shop)
    if legacy:
        with shop.db.transaction(shop.tenant_id) as uow:
            uow.conn.execute(delete(rule_budgets).where(rule_budgets.c.rule_id == rule_id))
    # and each transaction, once it has read the budget, waits (up to a second) for the other
    # to have read it too: without a lock both would read "nothing spent" and both earn 80
    read = {"a": threading.Event(), "b": threading.Event()}
    original = RuleRepository.budgets_spent
    local = threading.local()

    def budgets_spent(self: RuleRepository, *args: Any, **kwargs: Any) -> dict[int, int]:
        result = original(self, *args, **kwargs)
        mine = local.name
        read[mine].set()
        read["b" if mine == "a" else "a"].wait(timeout=1)
        return result

    monkeypatch.setattr(RuleRepository, "budgets_spent", budgets_spent)

    def buy(name: str) -> int:
        local.name = name
        ev = event(order_paid_json(f"e-{name}", f"m-{name}", f"o-{name}", [("a", 1, "0")], NOW))
        with shop.db.transaction(shop.tenant_id) as uow:
            body = events.process(uow, shop.ctx, ev, NOW).body
        return sum(e["points"] for e in body["effects"])

    # when two members' first orders race
    with ThreadPoolExecutor(2) as pool:
        given = sorted(pool.map(buy, ["a", "b"]))

    # then exactly the budget was given: 80 to one, the 20 left to the other
    assert given == [BUDGET - BONUS, BONUS]
    assert _budget_rows(shop, rule_id) == [BUDGET]
    assert check_ledger(shop.db, shop.tenant_id).ok
