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
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import NamedTuple

from loyalty.domain.program import Rounding

_ROUNDING = {
    Rounding.FLOOR: ROUND_FLOOR,
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.CEILING: ROUND_CEILING,
}
_ZERO = Decimal(0)


class Part(NamedTuple):
    """One base or multiplier rule: ``factor`` is a rate (base) or a multiplier factor.
    (Named tuples: an order builds one per rule that applies; cheaper than any class.)"""

    factor: Decimal
    indices: tuple[int, ...]  # the amounts it applies to, in order
    cap: int | None


class Share(NamedTuple):
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
    """Shares of ``bases`` and ``multipliers`` (same order as given).

    Uncapped rules (the common case) add their values in one pass; the Decimal operations and
    their order are those of ``_add``, so the results are the same to the last digit."""
    values = [_ZERO] * len(amounts)
    exact: list[Decimal] = []
    uncapped_shares: list[Decimal] = []
    for factor, indices, cap in bases:
        factor = factor * tier
        if cap is None:
            share = _ZERO
            for i in indices:
                value = amounts[i] * factor
                share += value
                values[i] += value
            exact.append(share)
            uncapped_shares.append(share)
        else:
            added = [(i, amounts[i] * factor) for i in indices]
            share, uncapped = _add(values, added, cap)
            exact.append(share)
            uncapped_shares.append(uncapped)
    for factor, indices, cap in multipliers:
        uplift = factor - 1
        if cap is None:  # indices are distinct: each value is read before it grows
            share = _ZERO
            for i in indices:
                value = values[i] * uplift
                share += value
                values[i] += value
            exact.append(share)
            uncapped_shares.append(share)
        else:
            added = [(i, values[i] * uplift) for i in indices]
            share, uncapped = _add(values, added, cap)
            exact.append(share)
            uncapped_shares.append(uncapped)
    total = _ZERO
    for share in exact:
        total += share
    points = apportion(exact, round_points(total, rounding))
    shares = [_new(Share, triple) for triple in zip(exact, uncapped_shares, points, strict=True)]
    return shares[: len(bases)], shares[len(bases) :]


_new = tuple.__new__


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
    if left <= 0:
        return points
    remainders = sorted(  # largest remainder first, ties to the earlier share
        [
            (points[index] - share, index)
            for index, share in enumerate(shares)
            if share > points[index]
        ]
    )
    for _, index in remainders[:left]:
        points[index] += 1
    return points
