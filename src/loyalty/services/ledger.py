"""Point movements. Each function runs inside the caller's unit of work with the member locked.

Lock, then check, then write: the member row is locked (PostgreSQL ``FOR UPDATE``; SQLite holds
the database lock from ``BEGIN IMMEDIATE``), lots are read and drawn conditionally, and the
cached balances change in one conditional statement that a database CHECK backs up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loyalty.domain.errors import (
    InsufficientPoints,
    InvalidTransfer,
    MemberBlocked,
    TransfersDisabled,
)
from loyalty.domain.ledger import (
    Draw,
    EntryKind,
    LotStatus,
    draw_points,
    draw_up_to,
    plan_reversal,
    split_draws,
)
from loyalty.domain.members import MemberStatus
from loyalty.services.context import TenantContext
from loyalty.services.lookup import require_member
from loyalty.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Effect:
    """One ledger entry as the API reports it."""

    entry_id: int
    kind: str
    points: int
    reason: str
    available_delta: int
    pending_delta: int
    lot: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "entry_id": self.entry_id,
            "kind": self.kind,
            "points": self.points,
            "available_delta": self.available_delta,
            "pending_delta": self.pending_delta,
            "reason": self.reason,
        }
        if self.lot:
            out["lot"] = self.lot
        if self.meta:
            out["meta"] = self.meta
        return out


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def lot_dates(
    ctx: TenantContext, earned_at: datetime, now: datetime, *, pending: bool = True
) -> tuple[LotStatus, datetime, datetime | None]:
    """A new lot's status, when it becomes available and when it expires."""
    available_at = ctx.program.available_at(earned_at) if pending else earned_at
    expires_at = ctx.program.expiry.lot_expires_at(available_at, ctx.timezone)
    status = LotStatus.AVAILABLE if available_at <= now else LotStatus.PENDING
    return status, available_at, expires_at


def lot_view(
    status: LotStatus, available_at: datetime, expires_at: datetime | None
) -> dict[str, Any]:
    return {
        "status": status.value,
        "available_at": _iso(available_at),
        "expires_at": _iso(expires_at),
    }


def credit(
    uow: UnitOfWork,
    ctx: TenantContext,
    member_id: int,
    points: int,
    *,
    kind: EntryKind,
    earned_at: datetime,
    now: datetime,
    reason: str,
    pending: bool = True,
    lifetime: bool = True,
    **entry: Any,
) -> tuple[Effect, int]:
    """Add a lot of ``points``: pending until the return window closes, then available."""
    status, available_at, expires_at = lot_dates(ctx, earned_at, now, pending=pending)
    is_available = status is LotStatus.AVAILABLE
    delta_available, delta_pending = (points, 0) if is_available else (0, points)
    lot_id = uow.ledger.add_lot(
        member_id=member_id,
        amount=points,
        status=status,
        earned_at=earned_at,
        available_at=available_at,
        expires_at=expires_at,
    )
    entry_id = uow.ledger.add_entry(
        member_id=member_id,
        kind=kind,
        points=points,
        available_delta=delta_available,
        pending_delta=delta_pending,
        lifetime_delta=points if lifetime else 0,
        lot_id=lot_id,
        reason=reason,
        occurred_at=earned_at,
        created_at=now,
        **entry,
    )
    balances = uow.members.apply_deltas(
        member_id,
        available=delta_available,
        pending=delta_pending,
        lifetime=points if lifetime else 0,
        activity_at=now,
    )
    if is_available and balances is not None and balances["debt"] > 0:
        settle_debt(uow, member_id)
    lot = lot_view(status, available_at, expires_at)
    return Effect(entry_id, kind, points, reason, delta_available, delta_pending, lot), lot_id


def spend(
    uow: UnitOfWork,
    member_id: int,
    points: int,
    *,
    kind: EntryKind,
    reason: str,
    now: datetime,
    **entry: Any,
) -> tuple[Effect, list[Draw]]:
    """Take ``points`` from available lots, soonest-expiring first; never overdraws."""
    draws = draw_points(uow.ledger.open_lots(member_id), points)
    entry_id = uow.ledger.add_entry(
        member_id=member_id,
        kind=kind,
        points=-points,
        available_delta=-points,
        pending_delta=0,
        reason=reason,
        occurred_at=now,
        created_at=now,
        **entry,
    )
    uow.ledger.draw(entry_id, draws)
    if not uow.members.apply_deltas(member_id, available=-points, activity_at=now):
        raise InsufficientPoints(f"{points} points needed", needed=points)
    drawn = [
        {"lot_id": d.lot_id, "points": d.points, "expires_at": _iso(d.expires_at)} for d in draws
    ]
    effect = Effect(entry_id, kind, -points, reason, -points, 0, meta={"drawn_from": drawn})
    return effect, draws


def restore(
    uow: UnitOfWork,
    member_id: int,
    draws: list[Draw],
    *,
    reason: str,
    now: datetime,
    **entry: Any,
) -> list[Effect]:
    """Give back points a spend took: one new lot per lot drawn, with that lot's expiry date.

    A lot whose date has passed meanwhile comes back already due, and the expiry job takes it.
    """
    effects = []
    for d in draws:
        lot_id = uow.ledger.add_lot(
            member_id=member_id,
            amount=d.points,
            status=LotStatus.AVAILABLE,
            earned_at=now,
            available_at=now,
            expires_at=d.expires_at,
        )
        entry_id = uow.ledger.add_entry(
            member_id=member_id,
            kind=EntryKind.RESTORE,
            points=d.points,
            available_delta=d.points,
            pending_delta=0,
            lot_id=lot_id,
            reason=reason,
            occurred_at=now,
            created_at=now,
            **entry,
        )
        effects.append(Effect(entry_id, EntryKind.RESTORE, d.points, reason, d.points, 0))
    total = sum(d.points for d in draws)
    balances = uow.members.apply_deltas(member_id, available=total, activity_at=now)
    if balances is not None and balances["debt"] > 0:
        settle_debt(uow, member_id)
    return effects


def reverse(
    uow: UnitOfWork,
    ctx: TenantContext,
    member_id: int,
    lot_id: int,
    points: int,
    *,
    reason: str,
    now: datetime,
    **entry: Any,
) -> Effect:
    """Take back ``points`` earned into ``lot_id``; what was spent follows the clawback policy."""
    lot = uow.ledger.lot(lot_id)
    assert lot is not None
    own_pending = lot["status"] == LotStatus.PENDING
    others = [] if own_pending else uow.ledger.open_lots(member_id, exclude=lot_id)
    plan = plan_reversal(
        points, lot["remaining"], sum(o.remaining for o in others), ctx.program.clawback
    )
    draws = [Draw(lot_id, plan.from_own_lot, lot["expires_at"])] if plan.from_own_lot else []
    draws += draw_up_to(others, plan.from_other_lots)
    from_pending = plan.from_own_lot if own_pending else 0
    from_available = plan.taken - from_pending
    meta: dict[str, Any] = {}
    if plan.taken != plan.from_own_lot or plan.written_off:
        meta["clawback"] = ctx.program.clawback.value
    if plan.from_other_lots:
        meta["from_other_points"] = plan.from_other_lots
    if plan.debt:
        meta["negative_balance"] = plan.debt
    if plan.written_off:
        meta["written_off"] = plan.written_off
    entry_id = uow.ledger.add_entry(
        member_id=member_id,
        kind=EntryKind.REVERSE,
        points=-plan.taken,
        available_delta=-from_available,
        pending_delta=-from_pending,
        lifetime_delta=-points,
        lot_id=lot_id,
        reason=reason,
        meta=meta or None,
        occurred_at=now,
        created_at=now,
        **entry,
    )
    uow.ledger.draw(entry_id, draws)
    ok = uow.members.apply_deltas(
        member_id,
        available=-from_available,
        pending=-from_pending,
        lifetime=-points,
        debt=plan.debt,
    )
    if not ok:
        raise RuntimeError("reversal would break the balance invariant")
    return Effect(
        entry_id, EntryKind.REVERSE, -plan.taken, reason, -from_available, -from_pending, meta=meta
    )


def settle_debt(uow: UnitOfWork, member_id: int) -> int:
    """Repay a negative balance from points that have become available; returns points used."""
    member = uow.members.get_by_id(member_id)
    if member is None or member["debt"] <= 0:
        return 0
    draws = draw_up_to(uow.ledger.open_lots(member_id), member["debt"])
    settled = sum(d.points for d in draws)
    if settled == 0:
        return 0
    for entry_id, piece in split_draws(draws, uow.ledger.entries_with_unsettled_debt(member_id)):
        uow.ledger.draw(entry_id, [piece])
    uow.members.apply_deltas(member_id, debt=-settled)
    return settled


def transfer(
    uow: UnitOfWork,
    ctx: TenantContext,
    sender_external_id: str,
    receiver_external_id: str,
    points: int,
    *,
    reason: str,
    now: datetime,
) -> tuple[Effect, Effect]:
    """Move points between members; the receiver's lots keep the sender's expiry dates."""
    if not ctx.program.transfers_enabled:
        raise TransfersDisabled("this programme does not allow transfers between members")
    if sender_external_id == receiver_external_id:
        raise InvalidTransfer("a member cannot transfer points to themselves", field="to")
    sender = require_member(uow, sender_external_id)
    receiver = require_member(uow, receiver_external_id, field="to")
    uow.members.lock_many([sender["id"], receiver["id"]])
    for member in (sender, receiver):
        if member["status"] == MemberStatus.BLOCKED:
            raise MemberBlocked(f"member {member['external_id']} is blocked")
    out_effect, draws = spend(
        uow,
        sender["id"],
        points,
        kind=EntryKind.TRANSFER_OUT,
        reason=reason,
        now=now,
        meta={"to": receiver_external_id},
    )
    received = []
    for d in draws:
        lot_id = uow.ledger.add_lot(
            member_id=receiver["id"],
            amount=d.points,
            status=LotStatus.AVAILABLE,
            earned_at=now,
            available_at=now,
            expires_at=d.expires_at,
        )
        # One entry per lot received, so every credit entry names exactly one lot.
        received.append(
            uow.ledger.add_entry(
                member_id=receiver["id"],
                kind=EntryKind.TRANSFER_IN,
                points=d.points,
                available_delta=d.points,
                pending_delta=0,
                lot_id=lot_id,
                reason=reason,
                meta={"from": sender_external_id},
                occurred_at=now,
                created_at=now,
            )
        )
    balances = uow.members.apply_deltas(receiver["id"], available=points, activity_at=now)
    if balances is not None and balances["debt"] > 0:
        settle_debt(uow, receiver["id"])
    in_effect = Effect(
        received[0],
        EntryKind.TRANSFER_IN,
        points,
        reason,
        points,
        0,
        meta={"from": sender_external_id, "entries": received},
    )
    return out_effect, in_effect
