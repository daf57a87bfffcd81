"""A plain-Python model of the points ledger, for the state-machine test.

It keeps every lot and every member's debt, lifetime points and last activity, and moves them
by the rules of the issue, written out again here without the domain's helpers: spending takes
soonest-expiring lots first (undated last, then by lot id), a reversal takes from the order's
own lot, then as the clawback policy says, points that become available repay a negative
balance first, and the jobs release, expire by date and expire idle members. After every step
the test compares this model with the database, lot by lot and balance by balance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from loyalty.domain.program import Clawback

PENDING, AVAILABLE, EXPIRED = "pending", "available", "expired"
_UNDATED = datetime(1970, 1, 1, tzinfo=UTC)  # placeholder: undated lots sort after dated ones


@dataclass
class ModelLot:
    lot_id: int
    member: str
    amount: int
    remaining: int
    status: str
    available_at: datetime
    expires_at: datetime | None

    def as_row(self) -> tuple[object, ...]:
        return (
            self.lot_id,
            self.member,
            self.amount,
            self.remaining,
            self.status,
            self.available_at,
            self.expires_at,
        )


@dataclass
class ModelMember:
    lifetime: int = 0
    debt: int = 0
    last_activity: datetime | None = None


@dataclass(frozen=True)
class ModelBalances:
    available: int
    pending: int
    lifetime: int
    debt: int


@dataclass(frozen=True)
class Coverage:
    """How the model covered a reversal."""

    from_own_lot: int
    from_other_lots: int
    debt: int
    written_off: int


class NotEnoughPoints(Exception):
    pass


class LedgerModel:
    def __init__(self, members: Iterable[str]) -> None:
        self.lots: dict[int, ModelLot] = {}
        self.members = {m: ModelMember() for m in members}

    @property
    def last_lot_id(self) -> int:
        return max(self.lots, default=0)

    def balances(self, member: str) -> ModelBalances:
        mine = [lot for lot in self.lots.values() if lot.member == member]
        state = self.members[member]
        return ModelBalances(
            available=sum(lot.remaining for lot in mine if lot.status == AVAILABLE) - state.debt,
            pending=sum(lot.remaining for lot in mine if lot.status == PENDING),
            lifetime=state.lifetime,
            debt=state.debt,
        )

    def spendable(self, member: str, *, exclude: int | None = None) -> list[ModelLot]:
        """Available lots with points left, in the order a spend takes them."""
        lots = [
            lot
            for lot in self.lots.values()
            if lot.member == member
            and lot.status == AVAILABLE
            and lot.remaining > 0
            and lot.lot_id != exclude
        ]
        return sorted(
            lots,
            key=lambda lot: (lot.expires_at is None, lot.expires_at or _UNDATED, lot.lot_id),
        )

    # --- movements ------------------------------------------------------------------------

    def credit(
        self,
        member: str,
        lot_id: int,
        points: int,
        *,
        available_at: datetime,
        expires_at: datetime | None,
        now: datetime,
        lifetime: bool,
        settle: bool = True,
    ) -> ModelLot:
        assert lot_id > self.last_lot_id, "lots are numbered in the order they are made"
        status = AVAILABLE if available_at <= now else PENDING
        lot = ModelLot(lot_id, member, points, points, status, available_at, expires_at)
        self.lots[lot_id] = lot
        state = self.members[member]
        if lifetime:
            state.lifetime += points
        state.last_activity = now
        if settle and status == AVAILABLE:
            self.settle(member)
        return lot

    def _take(self, lots: list[ModelLot], points: int) -> list[tuple[ModelLot, int]]:
        taken = []
        for lot in lots:
            if points <= 0:
                break
            take = min(points, lot.remaining)
            lot.remaining -= take
            points -= take
            taken.append((lot, take))
        return taken

    def spend(self, member: str, points: int, now: datetime) -> list[tuple[ModelLot, int]]:
        lots = self.spendable(member)
        if sum(lot.remaining for lot in lots) < points:
            raise NotEnoughPoints
        self.members[member].last_activity = now
        return self._take(lots, points)

    def transfer(
        self, sender: str, receiver: str, points: int, new_lot_ids: list[int], now: datetime
    ) -> tuple[list[tuple[ModelLot, int]], list[ModelLot]]:
        """The receiver gets one lot per sender's lot drawn, with that lot's expiry date.

        Returns the sender's draws and the receiver's new lots."""
        draws = self.spend(sender, points, now)
        assert len(new_lot_ids) == len(draws), (new_lot_ids, draws)
        received = [
            self.credit(
                receiver,
                lot_id,
                take,
                available_at=now,
                expires_at=lot.expires_at,
                now=now,
                lifetime=False,
                settle=False,
            )
            for lot_id, (lot, take) in zip(new_lot_ids, draws, strict=True)
        ]
        self.settle(receiver)
        return draws, received

    def settle(self, member: str) -> int:
        """Repay a negative balance from available points."""
        state = self.members[member]
        if state.debt <= 0:
            return 0
        paid = sum(take for _, take in self._take(self.spendable(member), state.debt))
        state.debt -= paid
        return paid

    def reverse(self, lot_id: int, points: int, policy: Clawback) -> Coverage:
        """Take back ``points`` an order earned into ``lot_id``."""
        own = self.lots[lot_id]
        member = own.member
        others = [] if own.status == PENDING else self.spendable(member, exclude=lot_id)
        from_own = min(points, own.remaining)
        own.remaining -= from_own
        short = points - from_own
        from_others = 0
        if policy is not Clawback.WRITE_OFF:
            from_others = sum(take for _, take in self._take(others, short))
        debt = short - from_others if policy is Clawback.NEGATIVE_BALANCE else 0
        self.members[member].debt += debt
        self.members[member].lifetime -= points
        return Coverage(from_own, from_others, debt, short - from_others - debt)

    # --- jobs -----------------------------------------------------------------------------

    def release_due(self, now: datetime) -> None:
        for lot in self.lots.values():
            if lot.status == PENDING and lot.available_at <= now:
                lot.status = AVAILABLE
        for member in self.members:
            self.settle(member)

    def expire_due(self, now: datetime) -> None:
        for lot in self.lots.values():
            if lot.status == AVAILABLE and lot.expires_at is not None and lot.expires_at <= now:
                lot.remaining, lot.status = 0, EXPIRED

    def expire_idle(self, cutoff: datetime | None) -> None:
        if cutoff is None:
            return
        for member, state in self.members.items():
            if state.last_activity is None or state.last_activity > cutoff:
                continue
            for lot in self.spendable(member):
                lot.remaining, lot.status = 0, EXPIRED
