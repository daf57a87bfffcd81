"""What one line benefit is worth on the cart as it stands after earlier promotions.

A benefit states a *claim*: the discount it wants and, per line, the most it may take from that
line (its weight for the proportional split). Percent and amount benefits weigh lines by their
remaining value; fixed price and buy-X-get-Y know the discount of each line and weigh by it, so
that an uncapped claim is allocated back exactly as computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from loyalty.domain.promotions.allocation import ZERO, round_money
from loyalty.domain.promotions.benefits import HUNDRED, AmountOff, BuyXGetY, FixedPrice, PercentOff
from loyalty.domain.promotions.cart import CartLine

LineBenefit = PercentOff | AmountOff | FixedPrice | BuyXGetY


@dataclass(frozen=True, slots=True)
class Claim:
    amount: Decimal
    weights: tuple[tuple[int, Decimal], ...]


def claim(
    benefit: LineBenefit,
    lines: Sequence[CartLine],
    remaining: Sequence[Decimal],
    targets: Sequence[int],
    step: Decimal,
) -> Claim:
    """``remaining[i]``: what line ``i`` still costs; ``targets``: the lines the benefit may touch."""
    if isinstance(benefit, PercentOff):
        return _percent_off(benefit, remaining, targets, step)
    if isinstance(benefit, AmountOff):
        return _amount_off(benefit, remaining, targets)
    if isinstance(benefit, FixedPrice):
        return _fixed_price(benefit, lines, remaining, targets, step)
    return _buy_x_get_y(benefit, lines, remaining, targets, step)


def _values(
    remaining: Sequence[Decimal], targets: Sequence[int]
) -> tuple[tuple[int, Decimal], ...]:
    return tuple((index, remaining[index]) for index in targets if remaining[index] > 0)


def _by_line(weights: list[tuple[int, Decimal]]) -> Claim:
    kept = tuple((index, weight) for index, weight in weights if weight > 0)
    return Claim(sum((weight for _, weight in kept), ZERO), kept)


def _percent_off(
    benefit: PercentOff, remaining: Sequence[Decimal], targets: Sequence[int], step: Decimal
) -> Claim:
    weights = _values(remaining, targets)
    base = sum((weight for _, weight in weights), ZERO)
    amount = round_money(base * benefit.percent / HUNDRED, step)
    if benefit.cap is not None:
        amount = min(amount, benefit.cap)
    return Claim(amount, weights)


def _amount_off(benefit: AmountOff, remaining: Sequence[Decimal], targets: Sequence[int]) -> Claim:
    weights = _values(remaining, targets)
    base = sum((weight for _, weight in weights), ZERO)
    return Claim(min(benefit.amount, base), weights)


def _units_value(remaining: Decimal, units: int, quantity: int, step: Decimal) -> Decimal:
    """What ``units`` of a line of ``quantity`` still cost; all units give the line exactly."""
    if units >= quantity:
        return remaining
    return round_money(remaining * units / quantity, step)


def _fixed_price(
    benefit: FixedPrice,
    lines: Sequence[CartLine],
    remaining: Sequence[Decimal],
    targets: Sequence[int],
    step: Decimal,
) -> Claim:
    """Units at the fixed price in cart order, at most ``max_units`` of them."""
    left = benefit.max_units
    weights = []
    for index in targets:
        quantity = lines[index].quantity
        units = quantity if left is None else min(quantity, left)
        if units == 0:
            break
        value = _units_value(remaining[index], units, quantity, step)
        weights.append((index, max(ZERO, value - benefit.price * units)))
        if left is not None:
            left -= units
    return _by_line(weights)


def _buy_x_get_y(
    benefit: BuyXGetY,
    lines: Sequence[CartLine],
    remaining: Sequence[Decimal],
    targets: Sequence[int],
    step: Decimal,
) -> Claim:
    """For each full group of ``buy + get`` matching units, the ``get`` cheapest are discounted."""
    units = sum(lines[index].quantity for index in targets)
    times = units // (benefit.buy + benefit.get)
    if benefit.max_applications is not None:
        times = min(times, benefit.max_applications)
    left = times * benefit.get
    cheapest_first = sorted(targets, key=lambda i: (remaining[i] / lines[i].quantity, i))
    weights = []
    for index in cheapest_first:
        if left == 0:
            break
        quantity = lines[index].quantity
        taken = min(quantity, left)
        value = _units_value(remaining[index], taken, quantity, step)
        weights.append((index, round_money(value * benefit.percent / HUNDRED, step)))
        left -= taken
    return _by_line(weights)
