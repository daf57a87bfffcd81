"""Property: line selection through the order's category groups equals the plain loop, and
rules with equal cashback terms on one selection each get what they would alone."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.domain.program import Program
from loyalty.domain.rules import OrderFacts
from loyalty.domain.rules._settle import Selection, select
from loyalty.domain.rules.effects import LineFilter

from .builders import evaluate, order_input, paid_order, rule

CATEGORIES = ("pets", "toys", "food")
PROGRAM = Program(currency="PLN")

order_lines = st.lists(
    st.builds(
        lambda sku, quantity, cents, category: OrderLine(
            sku=sku,
            quantity=quantity,
            unit_price=Decimal(cents).scaleb(-2),
            category=category,
        ),
        st.sampled_from(["A", "B", "C"]),
        st.integers(1, 4),
        st.integers(0, 10**6),
        st.one_of(st.none(), st.sampled_from(CATEGORIES)),
    ),
    max_size=6,
)
filters = st.one_of(
    st.builds(lambda c: {"categories": [c]}, st.sampled_from((*CATEGORIES, "garden"))),
    st.builds(lambda cs: {"categories": cs}, st.lists(st.sampled_from(CATEGORIES), min_size=1)),
    st.builds(
        lambda c: {"categories": [c], "exclude": {"skus": ["A"]}}, st.sampled_from(CATEGORIES)
    ),
    st.just({"skus": ["B"]}),
    st.none(),
)


def plain(selection: Selection) -> tuple[object, ...]:
    return (selection.indices, str(selection.amount), selection.units)


@settings(max_examples=300, deadline=None)
@given(order_lines, st.lists(filters, min_size=1, max_size=5))
def test_selection_by_category_groups_is_the_plain_loop(
    lines: list[OrderLine], data: list[object]
) -> None:
    order = OrderFacts.from_order(PaidOrder("o1", "PLN", tuple(lines)), PROGRAM)
    groups: dict[str | None, Selection] = {}  # shared by every filter of one order
    for item in data:
        lines_filter = LineFilter.from_dict(item)
        assert plain(select(lines_filter, order, groups)) == plain(select(lines_filter, order))


def test_rules_with_the_same_cashback_each_get_it() -> None:
    cashback = {"kind": "cashback", "percent": "2.5", "max_amount": "1.00"}
    rules = [
        rule("c1", priority=1, effect=cashback),
        rule("c2", priority=2, effect={**cashback, "percent": "2.50"}),
        rule("c3", priority=3, effect={**cashback, "max_amount": None}),
    ]
    result = evaluate(rules, order_input(paid_order(_line("99.99", 1))))
    given = {o.rule_id: str(o.cashback.amount) for o in result.outcomes if o.cashback}
    assert given == {"c1": "1.00", "c2": "1.00", "c3": "2.50"}
    assert [o.reason for o in result.outcomes] == [
        "2.5% of 99.99 PLN (the order) = 2.50 PLN, at most 1.00 PLN -> 1.00 PLN cashback",
        "2.5% of 99.99 PLN (the order) = 2.50 PLN, at most 1.00 PLN -> 1.00 PLN cashback",
        "2.5% of 99.99 PLN (the order) -> 2.50 PLN cashback",
    ]


def _line(price: str, quantity: int) -> OrderLine:
    return OrderLine(sku="A", quantity=quantity, unit_price=Decimal(price), category="pets")
