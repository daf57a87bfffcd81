"""The prefilter of a prepared PromotionSet changes how fast a cart is priced, never the result."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty.domain.promotions import (
    AmountOff,
    BuyXGetY,
    Cart,
    CartLine,
    Conditions,
    FixedPrice,
    FreeShipping,
    MemberFacts,
    PercentOff,
    Promotion,
    PromotionSet,
    RejectReason,
    Target,
    Trigger,
    UsageFacts,
    evaluate_cart,
)
from tests.domain.promotions.builders import NOW, promo

SKUS = [f"sku{i}" for i in range(8)]
CATEGORIES = [f"cat{i}" for i in range(5)]
CODES = ["A", "B", "C"]
D = Decimal

names = st.frozensets(st.sampled_from(SKUS), max_size=3)
categories = st.frozensets(st.sampled_from(CATEGORIES), max_size=2)
money = st.integers(min_value=0, max_value=30_000).map(lambda cents: D(cents) / 100)
prices = st.one_of(
    money,
    st.integers(min_value=0, max_value=300).map(D),  # whole units: another exponent
    st.integers(min_value=0, max_value=3000).map(lambda tenths: D(tenths) / 10),
)
benefits = st.one_of(
    st.builds(
        PercentOff,
        st.sampled_from([D(5), D(10), D(50)]),
        st.sampled_from(list(Target)),
        st.none() | st.just(D("20.00")),
    ),
    st.builds(AmountOff, st.sampled_from([D("5.00"), D("30.00")]), st.sampled_from(list(Target))),
    st.builds(FixedPrice, st.sampled_from([D("0.00"), D("9.99")]), st.none() | st.just(2)),
    st.builds(BuyXGetY, st.integers(1, 2), st.integers(1, 2)),
    st.builds(FreeShipping, st.none() | st.just(D("5.00"))),
)


@st.composite
def conditions(draw: st.DrawFn) -> Conditions:
    return Conditions(
        min_subtotal=draw(st.none() | st.sampled_from([D(0), D(50), D("120.00"), D("400.5")])),
        min_quantity=draw(st.none() | st.integers(1, 6)),
        products=draw(names),
        categories=draw(categories),
        exclude_products=draw(names),
        exclude_categories=draw(categories),
        tiers=draw(st.sampled_from([frozenset(), frozenset({"gold"})])),
    )


@st.composite
def promotion_lists(draw: st.DrawFn) -> list[Promotion]:
    count = draw(st.integers(0, 12))
    promotions = []
    for index in range(count):
        code = draw(st.none() | st.sampled_from(CODES)) if index < len(CODES) else None
        promotion = promo(
            f"p{index}",
            *draw(st.lists(benefits, min_size=1, max_size=2)),
            conditions=draw(conditions()),
            codes=(CODES[index],) if code else (),
            priority=draw(st.integers(0, 3)),
            exclusive=draw(st.booleans()) and draw(st.booleans()),
            combines_with=draw(
                st.none() | st.frozensets(st.sampled_from([f"p{i}" for i in range(count)]))
            ),
            max_discount=draw(st.none() | st.just(D("25.00"))),
        )
        assert (promotion.trigger is Trigger.CODE) == bool(code)
        promotions.append(promotion)
    return promotions


lines = st.builds(
    CartLine,
    sku=st.sampled_from(SKUS),
    quantity=st.integers(1, 4),
    unit_price=prices,
    product_id=st.none() | st.sampled_from(SKUS),
    category=st.none() | st.sampled_from(CATEGORIES),
)
carts = st.builds(
    Cart,
    currency=st.just("PLN"),
    lines=st.lists(lines, min_size=1, max_size=8).map(tuple),
    shipping=st.sampled_from([D(0), D("14.99")]),
    member=st.builds(MemberFacts, tier=st.none() | st.just("gold")),
    codes=st.lists(st.sampled_from([*CODES, "NOPE"]), max_size=3).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(carts, promotion_lists(), st.booleans())
def test_the_prefilter_never_changes_an_evaluation(
    cart: Cart, promotions: list[Promotion], limited: bool
) -> None:
    usage = {p.id: UsageFacts(global_remaining=0) for p in promotions[:1]} if limited else None
    without = evaluate_cart(cart, PromotionSet(promotions, prefilter=False), now=NOW, usage=usage)
    prepared = PromotionSet(promotions)
    assert evaluate_cart(cart, prepared, now=NOW, usage=usage) == without
    assert evaluate_cart(cart, promotions, now=NOW, usage=usage) == without


written = st.sampled_from([D("5"), D("5.0"), D("5.00"), D("0.5"), D("12.30"), D("7"), D("0")])
written_lines = st.builds(
    CartLine,
    sku=st.sampled_from(SKUS),
    quantity=st.integers(1, 4),
    unit_price=written,
    category=st.sampled_from(CATEGORIES),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(written_lines, min_size=1, max_size=6).map(tuple),
    categories,
    st.sampled_from([D(10_000), D("10000.00"), D("9999.5")]),
)
def test_a_short_subtotal_reads_as_the_sum_of_the_lines_not_excluded(
    cart_lines: tuple[CartLine, ...], excluded: frozenset[str], minimum: Decimal
) -> None:
    """The engine takes excluded lines off the cart's total; the message must read exactly as
    summing the other lines would (same digits and decimals, whatever the prices' exponents)."""
    offer = promo(
        "order",
        PercentOff(D(10)),
        conditions=Conditions(min_subtotal=minimum, exclude_categories=excluded),
    )
    result = evaluate_cart(Cart("PLN", cart_lines), [offer], now=NOW)
    allowed = [line for line in cart_lines if line.category not in excluded]
    subtotal = sum((line.unit_price * line.quantity for line in allowed), Decimal(0))
    (rejected,) = result.rejected
    assert rejected.reason is RejectReason.MIN_SUBTOTAL_NOT_MET
    short = minimum - subtotal
    assert rejected.message == (f"add {short} PLN of qualifying items to reach {minimum} PLN")
