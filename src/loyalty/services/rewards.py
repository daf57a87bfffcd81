"""Rewards catalogue and redemptions: spend points through the ledger, take stock, issue codes.

Redeeming locks the member row first (lock, then check, then write), takes a unit of stock
with one conditional statement (two members racing for the last unit: exactly one wins) and
spends the points soonest-expiring first. Cancelling gives the very same points back to the
very same lots (``ledger.restore``) while the issued code is unused.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from loyalty.domain.errors import MemberBlocked
from loyalty.domain.ledger import EntryKind
from loyalty.domain.members import MemberStatus
from loyalty.domain.rewards import (
    Delivery,
    Fulfilment,
    IllegalCouponTransition,
    IllegalFulfilmentTransition,
    InvalidReward,
    MemberRewardFacts,
    Period,
    RedemptionNotCancellable,
    RedemptionNotFound,
    RedemptionPlan,
    RedemptionRefused,
    RefusalReason,
    Reward,
    RewardExists,
    RewardNotFound,
    RewardOutOfStock,
    StoreCredit,
    StoreCreditUnavailable,
    cancel,
    cancel_fulfilment,
    decide_grant,
    deliver,
    generate_code,
    is_visible,
    period_window,
    redeem,
    reward_coupon,
    ship,
)
from loyalty.domain.rewards.fulfilment import FulfilmentStatus
from loyalty.services import ledger, tiers, wallet
from loyalty.services.context import TenantContext
from loyalty.services.lookup import require_member
from loyalty.services.outbox import emit, emit_effects
from loyalty.store.audience import member_audience
from loyalty.store.coupons import to_coupon
from loyalty.store.uow import UnitOfWork

REDEMPTION_REASON = "redemption"
CANCEL_REASON = "redemption cancelled"

# --- catalogue ------------------------------------------------------------------------------


def create_reward(uow: UnitOfWork, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Add a reward (version 1); its id is the caller's or a generated one."""
    if "version" in data:
        raise InvalidReward("is set by the server", field="version")
    reward = Reward.from_dict({"id": f"rw_{secrets.token_hex(6)}", **data, "version": 1})
    if not uow.rewards.add(reward.id, reward.to_dict(), reward.stock, now):
        raise RewardExists(f"a reward with id '{reward.id}' exists", field="id")
    return reward_view(_require_reward(uow, reward.id))


def update_reward(
    uow: UnitOfWork, reward_id: str, changes: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """A new version of the reward with ``changes`` applied to its top-level fields.

    Codes already issued keep what they were bought with; ``stock`` counts units ever
    redeemable, so it cannot drop below the units already taken.
    """
    row = _require_reward(uow, reward_id, lock=True)
    for name in ("id", "version"):
        if name in changes:
            raise InvalidReward("cannot be changed", field=name)
    reward = Reward.from_dict({**row["data"], **changes, "version": row["version"] + 1})
    taken = _units_taken(uow, row)
    if reward.stock is not None and reward.stock < taken:
        raise InvalidReward(
            f"{taken} units are redeemed already; stock must be at least that", field="stock"
        )
    left = None if reward.stock is None else reward.stock - taken
    uow.rewards.replace(row["id"], reward.to_dict(), reward.stock, left, now)
    return reward_view(_require_reward(uow, reward_id))


def get_reward(uow: UnitOfWork, reward_id: str) -> dict[str, Any]:
    return reward_view(_require_reward(uow, reward_id))


def get_reward_model(uow: UnitOfWork, reward_id: str) -> Reward:
    return Reward.from_dict(_require_reward(uow, reward_id)["data"])


def list_rewards(
    uow: UnitOfWork,
    after: int | None,
    limit: int,
    type_: str | None,
    *,
    member: str | None = None,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of the catalogue; with ``member``, only what that member may redeem at ``now``
    (enabled, in its window, visible to the member's tier and segments and, when
    ``exclusive``, to a member whose tier or active paid plan grants ``exclusive_rewards``)."""
    rows = uow.rewards.page(after, limit + 1, type_)
    last = rows[limit - 1]["id"] if len(rows) > limit else None
    rows = rows[:limit]
    if member is not None:
        assert now is not None
        found = require_member(uow, member, lock=False, field="member")
        tier, segments = member_audience(uow.conn, uow.tenant_id, found["id"])
        offered = [(r, Reward.from_dict(r["data"])) for r in rows]
        exclusive = any(reward.exclusive for _, reward in offered) and _exclusive_access(
            uow, found["id"], now
        )
        rows = [
            r
            for r, reward in offered
            if reward.is_active(now) and is_visible(reward, tier, segments, exclusive)
        ]
    return [reward_view(r) for r in rows], last


def _exclusive_access(uow: UnitOfWork, member_id: int, now: datetime) -> bool:
    """Whether the member's tier or an active paid membership grants exclusive rewards."""
    return tiers.benefits_for(uow, member_id, now).exclusive_rewards


def reward_view(row: RowMapping) -> dict[str, Any]:
    return {
        **row["data"],
        "stock_left": row["stock_left"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def _require_reward(uow: UnitOfWork, reward_id: str, *, lock: bool = False) -> RowMapping:
    row = uow.rewards.get(reward_id, lock=lock)
    if row is None:
        raise RewardNotFound(f"no reward with id '{reward_id}'", field="reward_id")
    return row


def _units_taken(uow: UnitOfWork, row: RowMapping) -> int:
    if row["stock"] is not None:
        return int(row["stock"] - row["stock_left"])
    return uow.redemptions.count_since_any(row["reward_id"])


# --- redeeming ------------------------------------------------------------------------------


def redeem_reward(
    uow: UnitOfWork, ctx: TenantContext, external_id: str, reward_id: str, now: datetime
) -> dict[str, Any]:
    """Redeem a reward for a member: spend its points, take stock, issue its code."""
    member = require_member(uow, external_id)
    if member["status"] == MemberStatus.BLOCKED:
        raise MemberBlocked(f"member {external_id} is blocked")
    row = _require_reward(uow, reward_id)
    reward = Reward.from_dict(row["data"])
    facts = _facts(uow, ctx, member, reward, now)
    plan = redeem(reward, facts, stock_left=row["stock_left"], now=now, tz=ctx.timezone)
    view, effects = _issue(uow, ctx, member, row, reward, plan, now)
    balances = uow.members.latest.get(member["id"]) or _balances(member)
    emit_effects(uow, external_id, effects, balances, now)
    emit(uow, "reward.redeemed", external_id, {"redemption": view}, now)
    if view["coupon"] is not None:
        emit(uow, "coupon.issued", external_id, {"coupon": view["coupon"]}, now)
    return view


def grant_reward(
    uow: UnitOfWork,
    ctx: TenantContext,
    member: Mapping[Any, Any],
    reward_id: str,
    now: datetime,
) -> dict[str, Any]:
    """Give ``member`` a reward they earned (a completed stamp card), at no points cost, in the
    caller's transaction: a redemption of 0 points that takes stock and issues the code, the
    store credit or the gift exactly as ``redeem_reward`` does.

    Returns ``{"status": "issued", "redemption": ...}``, or, when the reward cannot be given
    (``not_found``, ``inactive``, ``out_of_stock``, ``store_credit_unavailable``), that status
    and a ``detail``, having written nothing. Idempotency is the caller's: the event inbox
    runs an event's effects once.
    """
    row = uow.rewards.get(reward_id)
    if row is None:
        return {"status": "not_found", "detail": f"no reward with id '{reward_id}'"}
    reward = Reward.from_dict(row["data"])
    decision = decide_grant(reward, stock_left=row["stock_left"], now=now)
    if isinstance(decision, RedemptionRefused):
        return {"status": decision.reason.value, "detail": decision.message}
    try:
        with uow.savepoint():  # a refusal met half-way leaves nothing behind
            view, _ = _issue(uow, ctx, member, row, reward, decision, now)
    except RewardOutOfStock as error:  # the last unit went to a concurrent redemption
        return {"status": RefusalReason.OUT_OF_STOCK.value, "detail": error.detail}
    except StoreCreditUnavailable as error:
        return {"status": "store_credit_unavailable", "detail": error.detail}
    if view["coupon"] is not None:
        emit(uow, "coupon.issued", member["external_id"], {"coupon": view["coupon"]}, now)
    return {"status": "issued", "redemption": view}


def _issue(
    uow: UnitOfWork,
    ctx: TenantContext,
    member: Mapping[Any, Any],
    row: RowMapping,
    reward: Reward,
    plan: RedemptionPlan,
    now: datetime,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Carry out ``plan`` for the locked ``member``: take a unit of stock, record the
    redemption, spend its points, issue its code or store credit. The view and ledger effects."""
    if plan.takes_stock and not uow.rewards.take_unit(row["id"]):
        raise RewardOutOfStock(
            "the last unit of this reward was just taken", field="reward_id", reward_id=reward.id
        )
    pk = uow.redemptions.add(
        member_id=member["id"],
        reward_id=reward.id,
        reward_version=reward.version,
        reward=reward.to_dict(),
        points=plan.points,
        status="completed",
        fulfilment=_fulfilment_dict(Fulfilment()) if plan.delivery is Delivery.SHIPMENT else None,
        created_at=now,
    )
    effects: list[dict[str, Any]] = []
    values: dict[str, Any] = {}
    if plan.points > 0:
        effect, _ = ledger.spend(
            uow,
            member["id"],
            plan.points,
            kind=EntryKind.REDEEM,
            reason=REDEMPTION_REASON,
            now=now,
            meta={"redemption_id": pk, "reward_id": reward.id},
        )
        effects.append(effect.to_dict())
        values["entry_id"] = effect.entry_id
    if reward.issues_code:
        coupon = reward_coupon(reward, plan, _fresh_code(uow), member["external_id"], now)
        uow.coupons.add_many(
            [
                {
                    "code": coupon.code,
                    "member_id": member["id"],
                    "reward_id": reward.id,
                    "redemption_id": pk,
                    "promotion_id": coupon.promotion_id,
                    "expires_at": coupon.expires_at,
                }
            ],
            now,
        )
        values["coupon_code"] = coupon.code
    if isinstance(reward.benefit, StoreCredit):
        _credit_wallet(
            uow,
            ctx,
            member["id"],
            reward.benefit,
            REDEMPTION_REASON,
            f"redemption:{pk}",
            now,
        )
    if values:
        uow.redemptions.update(pk, **values)
    return _redemption_view(uow, pk), effects


def _credit_wallet(
    uow: UnitOfWork,
    ctx: TenantContext,
    member_id: int,
    credit: StoreCredit,
    reason: str,
    reference: str,
    now: datetime,
) -> dict[str, Any]:
    """Money into the member's store wallet, which holds the programme's currency only."""
    if credit.currency != ctx.program.currency:
        raise StoreCreditUnavailable(
            f"store credit in {credit.currency} cannot go into a wallet kept in "
            f"{ctx.program.currency}",
            field="reward_id",
            amount=str(credit.amount),
            reference=reference,
        )
    return wallet.credit(uow, ctx, member_id, credit.amount, reason, reference, now)


def _facts(
    uow: UnitOfWork, ctx: TenantContext, member: RowMapping, reward: Reward, now: datetime
) -> MemberRewardFacts:
    tier: str | None = None
    segments: frozenset[str] = frozenset()
    if reward.visibility.tiers is not None or reward.visibility.segments is not None:
        tier, segments = member_audience(uow.conn, uow.tenant_id, member["id"])
    counts: dict[Period, int] = {}
    for limit in reward.limits:
        window = period_window(limit.period, now, ctx.timezone)
        start, end = window if window is not None else (None, None)
        counts[limit.period] = uow.redemptions.count_since(member["id"], reward.id, start, end)
    return MemberRewardFacts(
        available_points=member["available"],
        tier=tier,
        segments=segments,
        redemptions=counts,
        exclusive_rewards=reward.exclusive and _exclusive_access(uow, member["id"], now),
    )


def _fresh_code(uow: UnitOfWork) -> str:
    """A code no coupon of the tenant has (with 60 random bits a retry is a curiosity)."""
    while True:
        code = generate_code(secrets.SystemRandom())
        if not uow.coupons.taken([code]):
            return code


# --- reading and cancelling -----------------------------------------------------------------


def list_redemptions(
    uow: UnitOfWork, external_id: str, before: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    member = require_member(uow, external_id, lock=False)
    rows = uow.redemptions.of_member(member["id"], before, limit + 1)
    last = rows[limit - 1]["id"] if len(rows) > limit else None
    rows = rows[:limit]
    return [_redemption_view(uow, r["id"], r) for r in rows], last


def get_redemption(uow: UnitOfWork, pk: int) -> dict[str, Any]:
    return _redemption_view(uow, pk)


def cancel_redemption(
    uow: UnitOfWork, ctx: TenantContext, pk: int, now: datetime
) -> dict[str, Any]:
    """Undo a redemption whose code is unused (or whose gift has not shipped): the points go
    back to the lots they came from with their expiry dates, the unit back to stock."""
    found = _require_redemption(uow, pk)
    uow.members.lock_many([found["member_id"]])
    row = _require_redemption(uow, pk)  # re-read under the lock
    if row["status"] == "cancelled":
        raise RedemptionNotCancellable(
            "this redemption is cancelled already", field="id", reason="already_cancelled"
        )
    reward = Reward.from_dict(row["reward"])
    values: dict[str, Any] = {"status": "cancelled", "cancelled_at": now}
    if reward.issues_code:
        _cancel_code(uow, row["coupon_code"], now)
    elif reward.delivery is Delivery.SHIPMENT:
        values["fulfilment"] = _cancel_gift(row["fulfilment"], now)
    else:
        raise RedemptionNotCancellable(
            f"a {reward.type.value} redemption has been paid out and cannot be undone",
            field="id",
            reason="not_reversible",
        )
    effects: list[dict[str, Any]] = []
    if row["entry_id"] is not None:
        restored = ledger.restore(
            uow,
            row["member_id"],
            row["entry_id"],
            reason=CANCEL_REASON,
            now=now,
            note={"redemption_id": pk},
        )
        effects = [e.to_dict() for e in restored]
        values["restore_entry_id"] = restored[0].entry_id
    if reward.stock is not None:
        uow.rewards.return_unit(reward.id)
    uow.redemptions.update(pk, **values)
    view = _redemption_view(uow, pk)
    balances = uow.members.latest.get(row["member_id"])
    if balances is not None:
        emit_effects(uow, row["member_external_id"], effects, balances, now)
    return view


def _cancel_code(uow: UnitOfWork, code: str, now: datetime) -> None:
    coupon_row = uow.coupons.get(code, lock=True)
    assert coupon_row is not None
    try:
        cancelled = cancel(to_coupon(coupon_row), now, unused_only=True)
    except IllegalCouponTransition as exc:
        raise RedemptionNotCancellable(
            f"the code of this redemption {exc.detail.split(' ', 2)[-1]}",
            field="id",
            reason=exc.reason,
        ) from None
    uow.coupons.save(coupon_row, cancelled, "cancel", now, reason=CANCEL_REASON)


def _cancel_gift(data: dict[str, Any], now: datetime) -> dict[str, Any]:
    fulfilment = _fulfilment(data)
    if fulfilment.status is not FulfilmentStatus.PENDING:
        raise RedemptionNotCancellable(
            f"the gift is {fulfilment.status.value}; only a pending gift can be cancelled",
            field="id",
            reason=f"gift_{fulfilment.status.value}",
        )
    return _fulfilment_dict(cancel_fulfilment(fulfilment, now, CANCEL_REASON))


def _require_redemption(uow: UnitOfWork, pk: int) -> RowMapping:
    row = uow.redemptions.get(pk)
    if row is None:
        raise RedemptionNotFound(f"no redemption with id {pk}", field="id")
    return row


def _redemption_view(uow: UnitOfWork, pk: int, row: RowMapping | None = None) -> dict[str, Any]:
    row = row or _require_redemption(uow, pk)
    coupon = None
    if row["coupon_code"] is not None:
        coupon_row = uow.coupons.get(row["coupon_code"])
        assert coupon_row is not None
        coupon = {
            "code": coupon_row["code"],
            "status": coupon_row["status"],
            "expires_at": _iso(coupon_row["expires_at"]),
        }
    return {
        "id": row["id"],
        "member": row["member_external_id"],
        "reward_id": row["reward_id"],
        "reward_version": row["reward_version"],
        "reward": row["reward"],
        "points": row["points"],
        "status": row["status"],
        "coupon": coupon,
        "fulfilment": row["fulfilment"],
        "entry_id": row["entry_id"],
        "restore_entry_id": row["restore_entry_id"],
        "created_at": row["created_at"].isoformat(),
        "cancelled_at": _iso(row["cancelled_at"]),
    }


def _fulfilment(data: dict[str, Any]) -> Fulfilment:
    return Fulfilment(
        status=FulfilmentStatus(data["status"]),
        carrier=data.get("carrier"),
        tracking=data.get("tracking"),
        shipped_at=_time(data.get("shipped_at")),
        delivered_at=_time(data.get("delivered_at")),
        cancelled_at=_time(data.get("cancelled_at")),
        cancel_reason=data.get("cancel_reason"),
    )


def _fulfilment_dict(fulfilment: Fulfilment) -> dict[str, Any]:
    return {
        "status": fulfilment.status.value,
        "carrier": fulfilment.carrier,
        "tracking": fulfilment.tracking,
        "shipped_at": _iso(fulfilment.shipped_at),
        "delivered_at": _iso(fulfilment.delivered_at),
        "cancelled_at": _iso(fulfilment.cancelled_at),
        "cancel_reason": fulfilment.cancel_reason,
    }


def _balances(member: RowMapping) -> dict[str, int]:
    return {k: member[k] for k in ("available", "pending", "lifetime_earned", "debt")}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def update_fulfilment(
    uow: UnitOfWork,
    pk: int,
    status: str,
    now: datetime,
    *,
    carrier: str | None = None,
    tracking: str | None = None,
) -> dict[str, Any]:
    """Move a physical gift along: ``shipped`` (with carrier and tracking), then ``delivered``.

    A pending gift is called off with ``cancel_redemption``, which also returns the points.
    """
    row = _require_redemption(uow, pk)
    if row["fulfilment"] is None:
        raise IllegalFulfilmentTransition(
            "only a physical gift has a fulfilment", field="id", fulfilment_status="none"
        )
    if row["status"] == "cancelled":
        raise IllegalFulfilmentTransition(
            "this redemption is cancelled", field="id", fulfilment_status="cancelled"
        )
    fulfilment = _fulfilment(row["fulfilment"])
    if status == FulfilmentStatus.SHIPPED:
        fulfilment = ship(fulfilment, now, carrier=carrier, tracking=tracking)
    elif status == FulfilmentStatus.DELIVERED:
        fulfilment = deliver(fulfilment, now)
    else:
        raise IllegalFulfilmentTransition(
            "set 'shipped' or 'delivered'; cancel a pending gift through its redemption",
            field="status",
            fulfilment_status=fulfilment.status.value,
        )
    uow.redemptions.update(pk, fulfilment=_fulfilment_dict(fulfilment))
    return _redemption_view(uow, pk)
