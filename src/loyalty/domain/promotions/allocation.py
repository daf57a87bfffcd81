"""Splitting a discount over lines in proportion to their value, in the currency's minor units.

Rule: every share but the last is the exact proportional share rounded half-up to the minor
unit; the last eligible line (in cart order, with value > 0) takes the remainder, so the shares
sum to the discount exactly. A share never exceeds its line's value and is never negative: in
the rare case the remainder does not fit on the last line (many tiny lines), what does not fit
moves to the previous line, then the one before, and so on.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

ZERO = Decimal(0)


def round_money(amount: Decimal, step: Decimal) -> Decimal:
    """Half-up to the minor unit ``step`` (0.01 for EUR, 1 for JPY, 0.001 for KWD)."""
    return amount.quantize(step, ROUND_HALF_UP)


def floor_money(amount: Decimal, step: Decimal) -> Decimal:
    return amount.quantize(step, ROUND_FLOOR)


def allocate(
    total: Decimal, weights: Sequence[tuple[int, Decimal]], step: Decimal
) -> dict[int, Decimal]:
    """Shares of ``total`` per line index, proportional to ``weights`` (line values).

    ``total`` and every weight are in minor units and ``0 <= total <= sum(weights)``; the
    result holds only lines with a share above zero.
    """
    lines = [(index, weight) for index, weight in weights if weight > 0]
    whole = sum((weight for _, weight in lines), ZERO)
    if total < 0 or total > whole:
        raise ValueError(f"cannot allocate {total} over lines worth {whole}")
    if total == 0:
        return {}
    total = total.quantize(step)  # so every share reads in the currency's exponent
    # total <= whole and each weight is whole minor units, so no rounded share exceeds its weight
    shares = [(total * weight / whole).quantize(step, ROUND_HALF_UP) for _, weight in lines[:-1]]
    last = total - sum(shares, ZERO)
    shares.append(last)
    if not ZERO <= last <= lines[-1][1]:
        _fit_remainder(shares, [weight for _, weight in lines])
    return {index: share for (index, _), share in zip(lines, shares, strict=True) if share > 0}


def _fit_remainder(shares: list[Decimal], caps: list[Decimal]) -> None:
    """Move what the last share cannot hold (above its cap, or below zero) to earlier lines."""
    last = len(shares) - 1
    excess = shares[last] - caps[last]
    if excess > 0:
        shares[last] = caps[last]
        for position in range(last - 1, -1, -1):
            moved = min(excess, caps[position] - shares[position])
            shares[position] += moved
            excess -= moved
    deficit = -shares[last]
    if deficit > 0:
        shares[last] = ZERO
        for position in range(last - 1, -1, -1):
            moved = min(deficit, shares[position])
            shares[position] -= moved
            deficit -= moved
