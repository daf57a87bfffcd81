"""Evaluate a cart against promotions: a pure, deterministic function of its inputs.

Promotions are tried one at a time, highest ``priority`` first (ties by id). Each is checked
(currency, remaining usage, conditions on the undiscounted cart, stacking with those already
applied) and then priced on what the lines still cost after the promotions before it, so
discounts compound (10% then 10% is 19%) and no line or total can go below zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from loyalty.domain.errors import ValidationFailed
from loyalty.domain.money import quantum
from loyalty.domain.promotions.allocation import ZERO, allocate, floor_money
from loyalty.domain.promotions.benefits import (
    AmountOff,
    Benefit,
    FreeGift,
    FreeShipping,
    PercentOff,
    Target,
)
from loyalty.domain.promotions.cart import Cart
from loyalty.domain.promotions.codes import resolve_codes
from loyalty.domain.promotions.conditions import (
    NO_MATCHING_ITEMS,
    ExpressionCheck,
    LineIndex,
    Selection,
)
from loyalty.domain.promotions.expressions import CelCheck, expression_check
from loyalty.domain.promotions.prepared import Plan, PromotionSet
from loyalty.domain.promotions.pricing import claim
from loyalty.domain.promotions.promotion import Promotion
from loyalty.domain.promotions.reasons import Refusal, RejectReason
from loyalty.domain.promotions.results import (
    AppliedPromotion,
    CartEvaluation,
    GiftLine,
    LineDiscount,
    PricedLine,
    RejectedPromotion,
)
from loyalty.domain.promotions.stacking import Stack
from loyalty.domain.promotions.usage import UsageFacts

_UNLIMITED = UsageFacts()
_NOTHING_LEFT = Refusal(RejectReason.NO_DISCOUNT, "nothing in this cart left to discount")


_Candidate = tuple[Plan, str | None]  # a promotion and the code that brought it in


@dataclass(slots=True)
class _Tally:
    """The cart as priced so far; only a promotion that gives something is written to it."""

    step: Decimal  # the currency's minor unit
    zero: Decimal  # 0 in the currency's exponent
    lines: LineIndex
    could_match: set[str] | None  # see PromotionSet.could_match
    remaining: list[Decimal]
    shipping_left: Decimal
    line_discounts: list[list[LineDiscount]]
    applied: list[AppliedPromotion] = field(default_factory=list)
    stack: Stack = field(default_factory=Stack)
    rejected: list[RejectedPromotion] = field(default_factory=list)

    def reject(self, candidate: _Candidate, refusal: Refusal, *, keep: bool = True) -> None:
        """``keep``: the refusal's text depends on the promotion only (see ``Plan.rejected``)."""
        plan, code = candidate
        self.rejected.append(plan.rejected(code, refusal, keep=keep))


def evaluate_cart(
    cart: Cart,
    promotions: Iterable[Promotion] | PromotionSet,
    *,
    now: datetime,
    usage: Mapping[str, UsageFacts] | None = None,
    coupons: Mapping[str, str] | None = None,
    cel_check: CelCheck | None = None,
) -> CartEvaluation:
    """Price ``cart`` with the active ``promotions`` at ``now``.

    ``usage``: remaining limits per promotion id (missing: unlimited). ``coupons``: codes the
    caller resolved from issued coupons, code -> promotion id, on top of each promotion's own
    ``codes``. Code promotions are considered only when the cart carries one of their codes;
    automatic promotions always are, and the ones that do not apply are reported with why.
    A ``PromotionSet`` prepared once serves many carts; the result is the same either way.
    """
    if now.utcoffset() is None:
        raise ValidationFailed("now must carry a time zone", field="now")
    prepared = promotions if isinstance(promotions, PromotionSet) else PromotionSet(promotions)
    index = LineIndex(cart.lines)
    step = quantum(cart.currency)
    tally = _Tally(
        step=step,
        zero=ZERO.quantize(step),
        lines=index,
        could_match=prepared.could_match(index),
        remaining=list(index.values),
        shipping_left=cart.shipping,
        line_discounts=[[] for _ in cart.lines],
    )
    candidates = _candidates(cart, prepared, coupons or {}, tally)
    check_expression = expression_check(cart, now, cel_check)
    usage = usage or {}
    for candidate in candidates:
        _try(candidate, cart, now, usage.get(candidate[0].id), check_expression, tally)
    return _evaluation(cart, tally)


def _candidates(
    cart: Cart, promotions: PromotionSet, coupons: Mapping[str, str], tally: _Tally
) -> list[_Candidate]:
    """Automatic promotions and those the entered codes bring in, in evaluation order."""
    entered = resolve_codes(cart.codes, promotions.by_id, coupons, promotions.codes)
    tally.rejected.extend(entered.rejected)
    codes = entered.by_promotion
    if not codes:
        return [(plan, None) for plan in promotions.plans if plan.automatic]
    return [
        (plan, codes.get(plan.id))
        for plan in promotions.plans
        if plan.automatic or plan.id in codes
    ]


def _try(
    candidate: _Candidate,
    cart: Cart,
    now: datetime,
    usage: UsageFacts | None,  # None: unlimited
    check_expression: ExpressionCheck | None,
    tally: _Tally,
) -> None:
    """Cheap and definitive checks first; the lines are looked at only if the buyer qualifies.
    The plan says which checks apply to the promotion at all; the order and the reasons are
    those of the full check."""
    plan = candidate[0]
    promotion = plan.promotion
    if promotion.currency is not None and promotion.currency != cart.currency:
        tally.reject(candidate, _currency_refusal(promotion, cart))
        return
    if usage is not None:
        refusal = usage.refusal()
        if refusal is not None:
            tally.reject(candidate, refusal)
            return
    if plan.audience is not None:
        refusal = plan.audience.refusal(cart.member, now)
        if refusal is not None:
            tally.reject(candidate, refusal)
            return
    could_match = tally.could_match
    if plan.filters and could_match is not None and plan.id not in could_match:
        tally.reject(candidate, NO_MATCHING_ITEMS)  # what the filters would say, unlooked at
        return
    conditions = promotion.conditions
    lines = conditions.select(tally.lines)
    refusal = conditions.cart_refusal(cart.currency, lines, check_expression)
    if refusal is not None:  # its text may carry the cart's amounts: not kept
        tally.reject(candidate, refusal, keep=refusal is NO_MATCHING_ITEMS)
        return
    refusal = tally.stack.refusal(promotion)
    if refusal is not None:
        tally.reject(candidate, refusal)
    elif not _apply(candidate, cart, lines, usage or _UNLIMITED, tally):
        tally.reject(candidate, _NOTHING_LEFT)


def _currency_refusal(promotion: Promotion, cart: Cart) -> Refusal:
    return Refusal(
        RejectReason.CURRENCY_MISMATCH,
        f"only for orders in {promotion.currency}, this cart is in {cart.currency}",
    )


def _limit(promotion: Promotion, usage: UsageFacts, step: Decimal) -> Decimal | None:
    if usage.budget_remaining is None:
        return promotion.max_discount
    budget = floor_money(usage.budget_remaining, step)
    return budget if promotion.max_discount is None else min(promotion.max_discount, budget)


@dataclass(slots=True)
class _Outcome:
    """What one promotion gives, built benefit by benefit before it is recorded."""

    step: Decimal
    remaining: list[Decimal]  # what each line still costs (the tally's until first written)
    shipping: Decimal  # shipping discount so far, in the currency's exponent (0.00, 0, 0.000)
    left: Decimal | None  # what the promotion may still give (max_discount, budget)
    shares: dict[int, Decimal] = field(default_factory=dict)
    gifts: list[GiftLine] = field(default_factory=list)
    copied: bool = False  # ``remaining`` is this outcome's own list

    def cap(self, amount: Decimal) -> Decimal:
        return amount if self.left is None else min(amount, self.left)

    def give_lines(self, amount: Decimal, shares: dict[int, Decimal]) -> None:
        if shares and not self.copied:  # a promotion that gives nothing leaves the tally be
            self.remaining = list(self.remaining)
            self.copied = True
        for index, share in shares.items():
            self.remaining[index] -= share
            self.shares[index] = self.shares.get(index, ZERO) + share
        self._spend(amount)

    def give_shipping(self, amount: Decimal) -> None:
        self.shipping += amount
        self._spend(amount)

    def _spend(self, amount: Decimal) -> None:
        if self.left is not None:
            self.left -= amount

    @property
    def gives_anything(self) -> bool:
        return bool(self.shares or self.shipping or self.gifts)


def _apply(
    candidate: _Candidate,
    cart: Cart,
    lines: Selection,
    usage: UsageFacts,
    tally: _Tally,
) -> bool:
    """Price the promotion's benefits in order; record it if it gives anything at all.

    ``lines``: the lines not excluded, and those matching the filters.
    """
    step = tally.step
    outcome = _Outcome(
        step=step,
        remaining=tally.remaining,
        shipping=tally.zero,
        left=_limit(candidate[0].promotion, usage, step),
    )
    promotion = candidate[0].promotion
    promotion_id = promotion.id
    for benefit in promotion.benefits:
        _give(benefit, promotion_id, cart, lines, tally.shipping_left, outcome)
    if not outcome.gives_anything:
        return False
    _record(candidate, outcome, tally)
    return True


def _give(
    benefit: Benefit,
    promotion_id: str,
    cart: Cart,
    lines: Selection,
    shipping_left: Decimal,
    outcome: _Outcome,
) -> None:
    if isinstance(benefit, FreeGift):
        outcome.gifts.append(
            GiftLine(benefit.sku, benefit.quantity, benefit.product_id, promotion_id)
        )
    elif isinstance(benefit, FreeShipping):
        amount = shipping_left - outcome.shipping
        if benefit.cap is not None:
            amount = min(amount, benefit.cap)
        outcome.give_shipping(outcome.cap(amount))
    else:
        targets = lines.allowed if _order_wide(benefit) else lines.matched
        wanted = claim(benefit, cart.lines, outcome.remaining, targets, outcome.step)
        amount = outcome.cap(wanted.amount)
        outcome.give_lines(amount, allocate(amount, wanted.weights, outcome.step))


def _order_wide(benefit: Benefit) -> bool:
    return isinstance(benefit, PercentOff | AmountOff) and benefit.target is Target.ORDER


def _record(candidate: _Candidate, outcome: _Outcome, tally: _Tally) -> None:
    promotion = candidate[0].promotion
    code = candidate[1]
    tally.remaining = outcome.remaining
    tally.shipping_left -= outcome.shipping
    for index in sorted(outcome.shares):
        tally.line_discounts[index].append(LineDiscount(promotion.id, outcome.shares[index]))
    tally.stack.add(promotion)
    tally.applied.append(
        AppliedPromotion(
            promotion.id,
            promotion.version,
            promotion.name,
            code,
            sum(outcome.shares.values(), ZERO.quantize(outcome.shipping)),
            outcome.shipping,
            tuple(outcome.gifts),
        )
    )


def _evaluation(cart: Cart, tally: _Tally) -> CartEvaluation:
    values = tally.lines.values
    lines = tuple(
        PricedLine(
            index,
            line.sku,
            line.quantity,
            values[index],
            values[index] - tally.remaining[index],
            tuple(tally.line_discounts[index]),
        )
        for index, line in enumerate(cart.lines)
    )
    return CartEvaluation(
        currency=cart.currency,
        lines=lines,
        applied=tuple(tally.applied),
        rejected=tuple(tally.rejected),
        gifts=tuple(gift for applied in tally.applied for gift in applied.gifts),
        subtotal=tally.lines.total_value,
        discount=sum((line.discount for line in lines), tally.zero),
        shipping=cart.shipping,
        shipping_discount=cart.shipping - tally.shipping_left,
    )
