"""How per-currency points and multipliers combine: once, exactly, then one rounding.

Per line of the order (and one more slot for the shipping and tax the base counts):

    value(line) = sum(rate_r x effect multiplier_r x net(line), for base rules r matching it)
                  x tier multiplier
                  x product(factor_m, for multiplier rules m matching it)

and the order earns ``round(sum(value))`` points with the programme's rounding rule. Nothing
is rounded before that. Each rule gets its exact share of the sum (a base rule its rate
times the tier multiplier; a multiplier rule the uplift it adds, in priority order), and the
rounded total is split into whole points by largest remainder (ties to the earlier rule), so
the entries of one order always add up to exactly the rounded total.

A rule's cap (from its limits or budget) is applied to its exact share before the next
multiplier runs, so campaign multipliers multiply what base rules actually gave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from loyalty.domain.program import Rounding

_ROUNDING = {
    Rounding.FLOOR: ROUND_FLOOR,
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.CEILING: ROUND_CEILING,
}
_ZERO = Decimal(0)


@dataclass(slots=True)  # internal values, not frozen: that costs 4x to build
class Part:
    """One base or multiplier rule: ``factor`` is a rate (base) or a multiplier factor."""

    factor: Decimal
    indices: tuple[int, ...]  # the amounts it applies to, in order
    cap: int | None


@dataclass(slots=True)
class Share:
    exact: Decimal  # after the cap
    uncapped: Decimal
    points: int

    @property
    def capped(self) -> bool:
        return self.exact < self.uncapped


def combine(
    amounts: Sequence[Decimal],
    tier: Decimal,
    bases: Sequence[Part],
    multipliers: Sequence[Part],
    rounding: Rounding,
) -> tuple[list[Share], list[Share]]:
    """Shares of ``bases`` and ``multipliers`` (same order as given)."""
    values = [_ZERO] * len(amounts)
    exact: list[tuple[Decimal, Decimal]] = []
    for part in bases:
        factor = part.factor * tier
        added = [(i, amounts[i] * factor) for i in part.indices]
        exact.append(_add(values, added, part.cap))
    for part in multipliers:
        uplift = part.factor - 1
        added = [(i, values[i] * uplift) for i in part.indices]
        exact.append(_add(values, added, part.cap))
    total = round_points(sum((share for share, _ in exact), _ZERO), rounding)
    points = apportion([share for share, _ in exact], total)
    shares = [Share(e, u, p) for (e, u), p in zip(exact, points, strict=True)]
    return shares[: len(bases)], shares[len(bases) :]


def _add(
    values: list[Decimal], added: list[tuple[int, Decimal]], cap: int | None
) -> tuple[Decimal, Decimal]:
    """Add one rule's per-line values (scaled down to its cap); returns (share, uncapped)."""
    uncapped = _ZERO
    for _, value in added:
        uncapped += value
    if cap is not None and uncapped > cap:
        scale = Decimal(cap) / uncapped
        for index, value in added:
            values[index] += value * scale
        return Decimal(cap), uncapped
    for index, value in added:
        values[index] += value
    return uncapped, uncapped


def round_points(value: Decimal, rounding: Rounding) -> int:
    """The programme's one rounding rule, applied to a points value."""
    if value <= 0:
        return 0
    return int(value.to_integral_value(_ROUNDING[rounding]))


def apportion(shares: Sequence[Decimal], total: int) -> list[int]:
    """Whole points per share adding up to ``total``: floors, then +1 by largest remainder."""
    points = [int(share.to_integral_value(ROUND_FLOOR)) for share in shares]
    left = total - sum(points)
    remainders = sorted(
        (index for index, share in enumerate(shares) if share > points[index]),
        key=lambda index: (points[index] - shares[index], index),
    )
    for index in remainders[: max(left, 0)]:
        points[index] += 1
    return points
