"""A prepared PromotionSet keeps, per promotion, the rejection records whose text does not
depend on the cart, and hands them out again: carts priced one after another with one set must
get exactly what each would get from a set of its own."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain.promotions import (
    Cart,
    CartLine,
    Conditions,
    MemberFacts,
    Promotion,
    PromotionSet,
    RejectReason,
    UsageFacts,
    evaluate_cart,
)
from tests.domain.promotions.builders import NOW
from tests.domain.promotions.test_prefilter import carts, promotion_lists

windows = st.sampled_from(
    [
        (None, None),
        (NOW - timedelta(days=3), NOW - timedelta(days=1)),  # ended
        (NOW + timedelta(days=1), NOW + timedelta(days=3)),  # not started
        (NOW - timedelta(days=1), NOW + timedelta(days=1)),  # running
    ]
)


@st.composite
def varied(draw: st.DrawFn) -> list[Promotion]:
    """The prefilter test's promotions, some dated, first-order or segment-only, some in
    another currency."""
    promotions = []
    for promotion in draw(promotion_lists()):
        starts, ends = draw(windows)
        conditions: Conditions = replace(
            promotion.conditions,
            starts_at=starts,
            ends_at=ends,
            first_order_only=draw(st.booleans()),
            segments=draw(st.sampled_from([frozenset(), frozenset({"vip"})])),
        )
        currency = draw(st.sampled_from(["PLN", "PLN", "EUR"]))
        promotions.append(replace(promotion, conditions=conditions, currency=currency))
    return promotions


usages = st.sampled_from(
    [
        UsageFacts(global_remaining=0),
        UsageFacts(global_remaining=0, uses_held=1),
        UsageFacts(member_remaining=0),
        UsageFacts(budget_remaining=Decimal(0)),
        UsageFacts(budget_remaining=None, global_remaining=3),
    ]
)
buyers = st.builds(
    MemberFacts,
    tier=st.none() | st.just("gold"),
    is_first_order=st.booleans(),
    segments=st.sampled_from([frozenset(), frozenset({"vip"})]),
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(carts, buyers), min_size=2, max_size=4),
    varied(),
    st.dictionaries(st.sampled_from([f"p{i}" for i in range(6)]), usages, max_size=3),
)
def test_one_prepared_set_prices_each_cart_as_a_fresh_one_would(
    orders: list[tuple[Cart, MemberFacts]],
    promotions: list[Promotion],
    usage: dict[str, UsageFacts],
) -> None:
    shared = PromotionSet(promotions)
    for cart, buyer in orders:
        cart = replace(cart, member=buyer)
        alone = evaluate_cart(cart, PromotionSet(promotions), now=NOW, usage=usage)
        assert evaluate_cart(cart, shared, now=NOW, usage=usage) == alone
        again = evaluate_cart(cart, shared, now=NOW, usage=usage)
        assert again == alone


def test_a_kept_record_is_the_automatic_promotions_and_a_code_gets_its_own() -> None:
    ended = Conditions(starts_at=NOW - timedelta(days=3), ends_at=NOW - timedelta(days=1))
    automatic = Promotion.from_dict(
        {
            "id": "auto",
            "version": 2,
            "name": "Auto",
            "currency": "PLN",
            "benefits": [{"type": "percent_off", "percent": "5"}],
            "conditions": ended.to_dict(),
        }
    )
    coded = replace(
        automatic, id="coded", name="Coded", trigger=automatic.trigger.CODE, codes=("X",)
    )
    prepared = PromotionSet([automatic, coded])
    cart = Cart("PLN", (CartLine("sku", 1, Decimal("10.00")),), Decimal(0), codes=("x",))
    first = evaluate_cart(cart, prepared, now=NOW)
    second = evaluate_cart(replace(cart, codes=()), prepared, now=NOW)
    by_id = {r.promotion_id: r for r in first.rejected}
    assert by_id["auto"].code is None and by_id["coded"].code == "X"
    assert by_id["auto"].reason is RejectReason.ENDED
    assert by_id["auto"].message == f"ended at {ended.ends_at.isoformat()}"  # type: ignore[union-attr]
    assert by_id["coded"].reason is RejectReason.ENDED
    assert [r.promotion_id for r in second.rejected] == ["auto"]
    assert second.rejected[0] == by_id["auto"]
