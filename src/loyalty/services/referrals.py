"""Referral use cases: codes and links, attribution with fraud checks, the friend's first
order, the referrer's points once its return window has passed, and cancellation by refund.

Everything runs inside the caller's unit of work. The referrer's points move only through
``services.ledger``, once per referral: the job locks the referral row and writes it back only
if it is still ``pending``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from loyalty.domain.errors import MemberNotFound, UnknownReferralCode
from loyalty.domain.events import (
    CustomerChanged,
    InboundEvent,
    OrderCancelled,
    OrderPaid,
    OrderRefunded,
    ReferralData,
)
from loyalty.domain.ledger import EntryKind
from loyalty.domain.members import MemberStatus
from loyalty.domain.referrals import (
    CancelWelcomeCoupon,
    Effect,
    GrantReferrerPoints,
    InvalidReferralProgram,
    IssueWelcomeCoupon,
    Party,
    ReferralFacts,
    ReferralProgram,
    ReferralReason,
    ReferralStatus,
    ReverseReferrerPoints,
    address_key,
    attribute,
    mark_rewarded,
    new_referral_code,
    new_welcome_code,
    normalise_code,
    qualify_due,
    record_first_order,
    record_refund,
    referral_link,
)
from loyalty.domain.rewards import RewardNotFound, coupon_promotion_id
from loyalty.services import coupons, ledger, tiers
from loyalty.services._referral_rows import changed_values, new_values, referral_view, to_domain
from loyalty.services.context import TenantContext
from loyalty.services.lookup import ensure_member, require_member
from loyalty.services.members import profile_fields
from loyalty.services.outbox import emit, emit_effects
from loyalty.services.rewards import get_reward_model
from loyalty.store.uow import UnitOfWork

_RANDOM = secrets.SystemRandom()
REFERRAL_REASON = "referral"  # the ledger reason of the referrer's points


# --- settings -----------------------------------------------------------------------------


def load_program(uow: UnitOfWork) -> ReferralProgram:
    settings, _version = uow.referrals.settings()
    return ReferralProgram() if settings is None else ReferralProgram.from_dict(settings)


def get_settings(uow: UnitOfWork) -> dict[str, Any]:
    settings, version = uow.referrals.settings()
    program = ReferralProgram() if settings is None else ReferralProgram.from_dict(settings)
    return {**program.to_dict(), "version": version}


def put_settings(
    uow: UnitOfWork, ctx: TenantContext, data: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Change the given settings (top-level, and inside ``fraud``); the others keep theirs."""
    current = load_program(uow).to_dict()
    merged = {**current, **data}
    if isinstance(data.get("fraud"), Mapping):
        merged["fraud"] = {**current["fraud"], **data["fraud"]}
    program = ReferralProgram.from_dict(merged)
    _check_welcome_benefit(uow, program, data)
    version = uow.referrals.put_settings(program.to_dict(), now)
    uow.audit(ctx.actor, "referral_settings.updated", None, program.to_dict(), now)
    return {**program.to_dict(), "version": version}


def _check_welcome_benefit(
    uow: UnitOfWork, program: ReferralProgram, data: Mapping[str, Any]
) -> None:
    """The welcome benefit being set must exist and work at checkout."""
    if data.get("welcome_promotion_id") is not None:
        row = uow.promotions.get(str(data["welcome_promotion_id"]))
        if row is None:
            raise InvalidReferralProgram(
                f"no promotion '{data['welcome_promotion_id']}'", field="welcome_promotion_id"
            )
        if row["trigger"] != "code":
            raise InvalidReferralProgram(
                "must be a code promotion (an automatic one needs no code)",
                field="welcome_promotion_id",
            )
    reward_id = data.get("welcome_reward_id")
    if reward_id is not None and _reward_promotion(uow, str(reward_id)) is None:
        raise InvalidReferralProgram(
            "must be a reward that is a checkout coupon", field="welcome_reward_id"
        )


def _reward_promotion(uow: UnitOfWork, reward_id: str) -> str | None:
    try:
        return coupon_promotion_id(get_reward_model(uow, reward_id))
    except RewardNotFound:
        return None


def _welcome_promotion(uow: UnitOfWork, effect: IssueWelcomeCoupon) -> str | None:
    if effect.promotion_id is not None:
        return effect.promotion_id
    if effect.reward_id is not None:
        return _reward_promotion(uow, effect.reward_id)
    return None  # pragma: no cover - the programme issues no code without a benefit


# --- codes --------------------------------------------------------------------------------


def member_referral(
    uow: UnitOfWork, external_id: str, now: datetime, *, create: bool = True
) -> dict[str, Any] | None:
    """The member's code and link; the code is made on first request and never changes.
    With ``create=False`` (a read-only unit of work), None when there is no code yet."""
    member = require_member(uow, external_id, lock=False)
    code = uow.referrals.code_of(member["id"])
    if code is None:
        if not create:
            return None
        code = _new_code(uow, member, now)
    program = load_program(uow)
    link = (
        None
        if program.link_base_url is None
        else referral_link(program.link_base_url, code, program.link_param)
    )
    return {
        "member": external_id,
        "code": code,
        "link": link,
        "enabled": program.enabled,
        "welcome_coupon": _welcome_coupon_of(uow, member["id"]),
    }


def _welcome_coupon_of(uow: UnitOfWork, member_id: int) -> dict[str, Any] | None:
    """The welcome coupon this member got as a referred friend, as the coupon stands now."""
    referral = uow.referrals.live_of_referee(member_id)
    if referral is None or referral["welcome_code"] is None:
        return None
    row = uow.coupons.get(referral["welcome_code"])
    if row is None:
        return None
    view = coupons.coupon_view(uow, row)
    return {
        "code": view["code"],
        "status": view["status"],
        "promotion_id": view["promotion_id"],
        "reward_id": view["reward_id"],
        "expires_at": view["expires_at"],
    }


def _new_code(uow: UnitOfWork, member: Mapping[Any, Any], now: datetime) -> str:
    for _ in range(10):
        code = new_referral_code(_RANDOM, name=member["first_name"])
        if uow.referrals.add_code(member["id"], code, now):
            return code
        made_meanwhile = uow.referrals.code_of(member["id"])
        if made_meanwhile is not None:
            return made_meanwhile
    raise RuntimeError("no free referral code after 10 tries")  # pragma: no cover


# --- attribution --------------------------------------------------------------------------


def attribute_explicitly(
    uow: UnitOfWork,
    ctx: TenantContext,
    code: str,
    referee: Mapping[Any, Any],
    data: ReferralData,
    now: datetime,
) -> tuple[int, dict[str, Any]]:
    """``POST /v1/referrals``: 201 and the new referral (pending or rejected with its
    reason), or 200 and the referee's live referral when this code already holds it."""
    member, _created = ensure_member(
        uow, referee["external_id"], profile_fields(dict(referee), {}, now), now
    )
    _record_signals(uow, member["id"], data, now)
    normal = normalise_code(code)
    if uow.referrals.owner_of(normal) is None:
        raise UnknownReferralCode(f"no member has the referral code '{code}'", field="code")
    before = uow.referrals.live_of_referee(member["id"])
    view = _attribute(uow, ctx, member["id"], normal, "api", now)
    same = before is not None and before["id"] == view["id"]
    return (200 if same else 201), view


def after_event(
    uow: UnitOfWork,
    ctx: TenantContext,
    event: InboundEvent,
    member: Mapping[Any, Any],
    now: datetime,
) -> dict[str, Any] | None:
    """The referral side of a store event; what changed, for the event's response."""
    payload = event.payload
    if isinstance(payload, OrderRefunded | OrderCancelled):
        reason = (
            ReferralReason.FIRST_ORDER_REFUNDED
            if isinstance(payload, OrderRefunded)
            else ReferralReason.FIRST_ORDER_CANCELLED
        )
        return _first_order_reversed(uow, ctx, payload.order_id, event.occurred_at, now, reason)
    if member["status"] == MemberStatus.BLOCKED:
        return None
    if isinstance(payload, CustomerChanged):
        data = payload.referral
        if data is None:
            return None
        _record_signals(uow, member["id"], data, now)
        if data.code is None or event.type != "customer.created":
            return None
        return _attribute_by_event(uow, ctx, member["id"], data.code, event.type, now)
    if isinstance(payload, OrderPaid) and payload.earn:
        return _order_paid(uow, ctx, event, payload, member["id"], now)
    return None


def _order_paid(
    uow: UnitOfWork,
    ctx: TenantContext,
    event: InboundEvent,
    payload: OrderPaid,
    member_id: int,
    now: datetime,
) -> dict[str, Any] | None:
    order_id, data = payload.order.order_id, payload.referral
    attributed = None
    if data is not None:
        _record_signals(uow, member_id, data, now)
        if data.code is not None:
            attributed = _attribute_by_event(
                uow, ctx, member_id, data.code, event.type, now, order_id=order_id
            )
    paid_at = min(event.occurred_at, now)
    return _first_order(uow, ctx, member_id, order_id, paid_at, now) or attributed


def _attribute_by_event(
    uow: UnitOfWork,
    ctx: TenantContext,
    referee_id: int,
    code: str,
    source: str,
    now: datetime,
    *,
    order_id: str | None = None,
) -> dict[str, Any]:
    """An unknown code on an event does not fail the event: the answer says it was ignored."""
    normal = normalise_code(code)
    if uow.referrals.owner_of(normal) is None:
        return {"status": "ignored", "reason": "unknown_referral_code", "code": normal}
    return _attribute(uow, ctx, referee_id, normal, source, now, order_id=order_id)


def _attribute(
    uow: UnitOfWork,
    ctx: TenantContext,
    referee_id: int,
    code: str,
    source: str,
    now: datetime,
    *,
    order_id: str | None = None,
) -> dict[str, Any]:
    referrer_id = uow.referrals.owner_of(code)
    assert referrer_id is not None
    existing = uow.referrals.live_of_referee(referee_id, lock=True)
    if existing is not None and existing["referrer_id"] == referrer_id:
        return referral_view(existing)  # the same attribution sent again
    program = load_program(uow)
    referrer = uow.members.get_by_id(referrer_id, lock=True)
    referee = uow.members.get_by_id(referee_id)
    assert referrer is not None and referee is not None
    since = now - program.fraud.lookback
    facts = ReferralFacts(
        _party(uow, referrer),
        _party(uow, referee),
        referee_prior_orders=uow.referrals.paid_orders_before(referee_id, excluding=order_id),
        referee_member_since=referee["created_at"],
        referrer_recent=tuple(uow.referrals.recent_of_referrer(referrer_id, since)),
    )
    change = attribute(
        program,
        facts,
        code,
        now,
        welcome_code=new_welcome_code(_RANDOM),
        existing=None if existing is None else to_domain(existing),
    )
    referral_id = uow.referrals.add(new_values(change.referral, source, now))
    return _applied(uow, ctx, referral_id, change.effects, now)


def _party(uow: UnitOfWork, member: Mapping[Any, Any]) -> Party:
    signals = uow.referrals.signals(member["id"])
    return Party(
        str(member["id"]),
        email=member["email"],
        phone=member["phone"],
        address_keys=signals.get("address", frozenset()),
        device_hashes=signals.get("device", frozenset()),
        ip_hashes=signals.get("ip", frozenset()),
    )


def _record_signals(uow: UnitOfWork, member_id: int, data: ReferralData, now: datetime) -> None:
    signals = [("device", data.device_hash), ("ip", data.ip_hash)]
    if data.shipping_address is not None:
        signals.append(("address", address_key(data.shipping_address)))
    uow.referrals.add_signals(member_id, [(k, v) for k, v in signals if v], now)


# --- the friend's first order and its return window ---------------------------------------


def _first_order(
    uow: UnitOfWork,
    ctx: TenantContext,
    referee_id: int,
    order_id: str,
    paid_at: datetime,
    now: datetime,
) -> dict[str, Any] | None:
    referral_id = uow.referrals.awaiting_first_order_of(referee_id)
    row = None if referral_id is None else uow.referrals.get(referral_id, lock=True)
    if row is None or row["status"] != ReferralStatus.PENDING or row["first_order_id"]:
        return None
    change = record_first_order(
        load_program(uow),
        to_domain(row),
        order_id,
        paid_at,
        return_window=timedelta(days=ctx.program.pending_days),
        welcome_code=new_welcome_code(_RANDOM),
    )
    uow.referrals.update(row["id"], changed_values(change.referral, now), status=row["status"])
    return _applied(uow, ctx, row["id"], change.effects, now)


def _first_order_reversed(
    uow: UnitOfWork,
    ctx: TenantContext,
    order_id: str,
    at: datetime,
    now: datetime,
    reason: ReferralReason,
) -> dict[str, Any] | None:
    row = uow.referrals.of_first_order(order_id)
    if row is None:
        return None
    order = uow.orders.get(order_id)
    full = order is None or order["status"] in ("refunded", "cancelled")
    referral = to_domain(row)
    change = record_refund(load_program(uow), referral, order_id, at, full=full, reason=reason)
    if change.referral == referral:
        return None
    uow.referrals.update(row["id"], changed_values(change.referral, now), status=row["status"])
    return _applied(uow, ctx, row["id"], change.effects, now)


def _applied(
    uow: UnitOfWork,
    ctx: TenantContext,
    referral_id: int,
    effects: tuple[Effect, ...],
    now: datetime,
) -> dict[str, Any]:
    """Carry out a step's effects (the grant is the job's) and return the referral's view."""
    row = uow.referrals.get(referral_id)
    assert row is not None
    for effect in effects:
        if isinstance(effect, IssueWelcomeCoupon):
            _issue_welcome(uow, row, effect, now)
        elif isinstance(effect, CancelWelcomeCoupon):
            # a code already used (or held by a live checkout) stays as it is
            coupons.withdraw_coupon(uow, effect.code, f"referral {referral_id} cancelled", now)
        elif isinstance(effect, ReverseReferrerPoints):
            _reverse_points(uow, ctx, row, effect.points, now)
    return referral_view(row)


def _issue_welcome(
    uow: UnitOfWork, row: Mapping[Any, Any], effect: IssueWelcomeCoupon, now: datetime
) -> None:
    """The friend's single-use welcome code, theirs alone, worth the welcome benefit. The
    referral row (locked by the caller) records the code once, so a retry issues nothing."""
    expires_at = None
    if effect.valid_days is not None:
        expires_at = now + timedelta(days=effect.valid_days)
    view = coupons.issue_coupon(
        uow,
        effect.code,
        member_pk=int(row["referee_id"]),
        promotion_id=_welcome_promotion(uow, effect),
        reward_id=effect.reward_id,
        now=now,
        expires_at=expires_at,
    )
    coupon = {**view, "source": "referral", "referral_id": row["id"]}
    emit(uow, "coupon.issued", row["referee_external_id"], {"coupon": coupon}, now)


def _reverse_points(
    uow: UnitOfWork, ctx: TenantContext, row: Mapping[Any, Any], points: int, now: datetime
) -> None:
    lot_id = row["reward_lot_id"]
    if lot_id is None:  # the referrer was blocked when it qualified: nothing was given
        return
    member = uow.members.get_by_id(row["referrer_id"], lock=True)
    assert member is not None
    effect = ledger.reverse(
        uow,
        ctx,
        member["id"],
        lot_id,
        points,
        reason=f"{REFERRAL_REASON} {row['id']} cancelled: {row['reason']}",
        now=now,
    )
    emit_effects(uow, member["external_id"], [effect.to_dict()], _balances(uow, member), now)


def _balances(uow: UnitOfWork, member: Mapping[Any, Any]) -> dict[str, int]:
    latest = uow.members.latest.get(member["id"], member)
    return {key: latest[key] for key in ("available", "pending", "lifetime_earned")}


def qualify(uow: UnitOfWork, ctx: TenantContext, referral_id: int, now: datetime) -> bool:
    """Qualify one due referral and give the referrer their points (at most once)."""
    row = uow.referrals.get(referral_id, lock=True)
    if row is None or row["status"] != ReferralStatus.PENDING:
        return False
    change = qualify_due(load_program(uow), to_domain(row), now)
    referral = change.referral
    if referral.status is not ReferralStatus.QUALIFIED:
        return False
    referrer = uow.members.get_by_id(row["referrer_id"], lock=True)
    assert referrer is not None
    values = changed_values(referral, now)
    grant = next((e for e in change.effects if isinstance(e, GrantReferrerPoints)), None)
    if grant is not None and referrer["status"] != MemberStatus.BLOCKED:
        assert referral.qualified_at is not None
        effect, lot_id = ledger.credit(
            uow,
            ctx,
            referrer["id"],
            grant.points,
            kind=EntryKind.EARN,
            earned_at=referral.qualified_at,
            now=now,
            reason=REFERRAL_REASON,
            pending=False,
            meta={"referral_id": referral_id, "referee": row["referee_external_id"]},
        )
        values = changed_values(mark_rewarded(referral, now), now)
        values |= {"reward_lot_id": lot_id, "reward_entry_id": effect.entry_id}
        balances = _balances(uow, referrer)
        emit_effects(uow, referrer["external_id"], [effect.to_dict()], balances, now)
        tiers.refresh_member(uow, ctx, referrer["id"], referrer["external_id"], now)
    if not uow.referrals.update(referral_id, values, status=row["status"]):
        raise RuntimeError(f"referral {referral_id} changed while it was locked")
    done = uow.referrals.get(referral_id)
    assert done is not None
    emit(uow, "referral.completed", referrer["external_id"], {"referral": referral_view(done)}, now)
    if referrer["status"] != MemberStatus.BLOCKED:
        _earn_for_referral(uow, ctx, referrer["external_id"], done, now)
    return True


def _earn_for_referral(
    uow: UnitOfWork, ctx: TenantContext, referrer: str, referral: Any, now: datetime
) -> None:
    """The referrer's ``referral.completed`` action for the earning rules (on top of the
    programme's referral points), once per referral."""
    from loyalty.services import events  # events calls into this module on every order

    events.raise_action(
        uow,
        ctx,
        source="referral",
        event_id=str(referral["id"]),
        type_="referral.completed",
        member=referrer,
        data={"referral_id": referral["id"], "referee": referral["referee_external_id"]},
        occurred_at=referral["qualified_at"] or now,
        now=now,
    )


# --- reading ------------------------------------------------------------------------------


def list_referrals(
    uow: UnitOfWork, after: int | None, limit: int, status: str | None, referrer: str | None
) -> tuple[list[dict[str, Any]], int | None]:
    referrer_id = None if referrer is None else _member_id(uow, referrer)
    rows = uow.referrals.page(after, limit + 1, status=status, referrer_id=referrer_id)
    items = [referral_view(row) for row in rows[:limit]]
    return items, (rows[limit - 1]["id"] if len(rows) > limit else None)


def stats(uow: UnitOfWork, referrer: str | None) -> dict[str, Any]:
    """Per referrer: invited, pending, qualified (incl. rewarded), rewarded, cancelled,
    rejected by reason, and conversion = qualified / (invited - rejected)."""
    referrer_id = None if referrer is None else _member_id(uow, referrer)
    per: dict[str, dict[str, Any]] = {}
    for _id, external_id, status, reason, count in uow.referrals.counts(referrer_id):
        item = per.setdefault(external_id, _empty_stats(external_id))
        item["invited"] += count
        item[status] += count
        if status == ReferralStatus.REJECTED:
            by_reason = item["rejected_by_reason"]
            by_reason[reason] = by_reason.get(reason, 0) + count
    items = [_finish_stats(item) for item in per.values()]
    if referrer is not None and not items:
        items = [_finish_stats(_empty_stats(referrer))]
    return {"items": items}


def _empty_stats(external_id: str) -> dict[str, Any]:
    counts = dict.fromkeys((s.value for s in ReferralStatus), 0)
    return {"referrer": external_id, "invited": 0, **counts, "rejected_by_reason": {}}


def _finish_stats(item: dict[str, Any]) -> dict[str, Any]:
    reached = item.pop("qualified") + item["rewarded"]
    considered = item["invited"] - item["rejected"]
    conversion = round(reached / considered, 4) if considered else 0.0
    return {**item, "qualified": reached, "conversion": conversion}


def _member_id(uow: UnitOfWork, external_id: str) -> int:
    member = uow.members.get(external_id)
    if member is None:
        raise MemberNotFound(f"no member with external id '{external_id}'", field="referrer")
    return int(member["id"])
