"""Ledger rules: which lots a spend draws from, and how a reversal is covered.

Earned points live in lots. Spending takes from available lots, soonest-expiring first (lots
that never expire last, older lots first on a tie), and names the lots it drew from so that a
cancellation can give back exactly those points with their own expiry dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from loyalty.domain.errors import InsufficientPoints, ValidationFailed
from loyalty.domain.program import Clawback


class EntryKind(StrEnum):
    EARN = "earn"
    RELEASE = "release"
    REDEEM = "redeem"
    EXPIRE = "expire"
    REVERSE = "reverse"
    ADJUST = "adjust"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    RESTORE = "restore"  # a cancelled spend or a lapsed hold gives points back to their lots


class LotStatus(StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class OpenLot:
    """An available lot with points left in it."""

    lot_id: int
    remaining: int
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Draw:
    lot_id: int
    points: int
    expires_at: datetime | None


def spending_order(lot: OpenLot) -> tuple[bool, datetime | None, int]:
    return (lot.expires_at is None, lot.expires_at, lot.lot_id)


def draw_points(lots: Sequence[OpenLot], points: int) -> list[Draw]:
    """Take ``points`` from ``lots``, soonest-expiring first; all or nothing."""
    if points <= 0:
        raise ValidationFailed("points to spend must be positive", field="points")
    have = sum(lot.remaining for lot in lots)
    if have < points:
        raise InsufficientPoints(
            f"{points} points needed but only {have} available", needed=points, available=have
        )
    return draw_up_to(lots, points)


def draw_up_to(lots: Sequence[OpenLot], points: int) -> list[Draw]:
    """Take as many of ``points`` as the lots hold, soonest-expiring first."""
    draws: list[Draw] = []
    left = points
    for lot in sorted(lots, key=spending_order):
        if left <= 0:
            break
        take = min(left, lot.remaining)
        if take > 0:
            draws.append(Draw(lot.lot_id, take, lot.expires_at))
            left -= take
    return draws


@dataclass(frozen=True, slots=True)
class ReversalPlan:
    """How a reversal of points is covered when some of them were already spent."""

    from_own_lot: int  # from the lot the order earned, if it still holds them
    from_other_lots: int  # from the member's other available points
    debt: int  # owed: a negative balance repaid from future points
    written_off: int  # forgiven: recorded, not taken

    @property
    def taken(self) -> int:
        return self.from_own_lot + self.from_other_lots + self.debt


def plan_reversal(
    points: int, own_remaining: int, other_available: int, policy: Clawback
) -> ReversalPlan:
    own = min(points, own_remaining)
    short = points - own
    if policy is Clawback.WRITE_OFF:
        return ReversalPlan(own, 0, 0, short)
    other = min(short, other_available)
    if policy is Clawback.NEGATIVE_BALANCE:
        return ReversalPlan(own, other, short - other, 0)
    return ReversalPlan(own, other, 0, short - other)


@dataclass(frozen=True, slots=True)
class CreditReversal:
    """How taking back store credit (a refunded order's cashback) is covered when the wallet
    no longer holds it all. Money in a wallet is fungible: what it holds is all there is to
    take, so ``other_points`` and ``write_off`` both take what it holds and forgive the rest,
    and ``negative_balance`` takes it all, leaving the wallet below zero (owed)."""

    taken: Decimal  # leaves the wallet, ``owed`` included
    owed: Decimal  # taken beyond what the wallet held: the balance goes below zero
    written_off: Decimal  # forgiven: recorded, not taken


def plan_credit_reversal(amount: Decimal, balance: Decimal, policy: Clawback) -> CreditReversal:
    held = max(balance, Decimal(0))
    covered = min(amount, held)
    short = amount - covered
    if policy is Clawback.NEGATIVE_BALANCE:
        return CreditReversal(amount, short, Decimal(0))
    return CreditReversal(covered, Decimal(0), short)


def split_draws(draws: Sequence[Draw], owed: Sequence[tuple[int, int]]) -> list[tuple[int, Draw]]:
    """Assign drawn points to the entries that are owed them, oldest entry first.

    Used when points that arrive later settle a negative balance left by a reversal.
    """
    pieces: list[tuple[int, Draw]] = []
    queue = [[entry_id, points] for entry_id, points in owed if points > 0]
    for draw in draws:
        left = draw.points
        while left > 0 and queue:
            entry = queue[0]
            take = min(left, entry[1])
            pieces.append((entry[0], Draw(draw.lot_id, take, draw.expires_at)))
            entry[1] -= take
            left -= take
            if entry[1] == 0:
                queue.pop(0)
    return pieces
