"""The events inbox: each store event takes effect exactly once.

An event is claimed by its unique ``(tenant, source, id)`` in the same transaction as its
effects, and its response is stored there too. A retry returns the stored response and changes
nothing; the same id with a different body is a conflict. An event that fails validation
leaves nothing behind, so the store can fix it and send it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from loyalty.domain.errors import (
    CurrencyMismatch,
    DomainError,
    EventConflict,
    RefundConflict,
    UnknownOrder,
    ValidationFailed,
)
from loyalty.domain.events import (
    ActionPerformed,
    CustomerChanged,
    InboundEvent,
    MemberRef,
    MembershipChanged,
    OrderCancelled,
    OrderPaid,
    OrderRefunded,
)
from loyalty.domain.ledger import EntryKind
from loyalty.domain.members import MemberStatus
from loyalty.domain.orders import (
    OrderLine,
    PaidOrder,
    RefundState,
    cashback_reversed_after,
    cashback_to_reverse,
    points_to_reverse,
    refund_by_amount,
    refund_by_lines,
)
from loyalty.domain.program import Program
from loyalty.domain.rules import ORDER_PAID
from loyalty.domain.tiers.benefits import ONE
from loyalty.domain.tiers.ladder import TierLadder
from loyalty.services import checkout, earning, ledger, memberships, referrals, tiers, wallet
from loyalty.services.context import TenantContext
from loyalty.services.ledger import Effect
from loyalty.services.lookup import ensure_member
from loyalty.services.members import profile_fields
from loyalty.services.outbox import emit, emit_effects
from loyalty.services.rules import tenant_rules
from loyalty.services.views import member_summary
from loyalty.store.uow import Database, UnitOfWork


@dataclass(frozen=True, slots=True)
class EventResult:
    body: dict[str, Any]
    replayed: bool = False
    error: DomainError | None = None


def ingest(db: Database, ctx: TenantContext, event: InboundEvent, now: datetime) -> EventResult:
    return db.run(ctx.tenant_id, lambda uow: process(uow, ctx, event, now))


def process(uow: UnitOfWork, ctx: TenantContext, event: InboundEvent, now: datetime) -> EventResult:
    event_pk = uow.inbox.claim(
        event.source, event.event_id, event.type, event.body_hash, event.occurred_at, now
    )
    if event_pk is None:
        return _replay(uow, event)
    body = _dispatch(uow, ctx, event, event_pk, now)
    uow.inbox.set_response(event_pk, body)
    return EventResult(body)


def raise_action(
    uow: UnitOfWork,
    ctx: TenantContext,
    *,
    source: str,
    event_id: str,
    type_: str,
    member: str,
    data: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
) -> EventResult:
    """An action event raised by our own features (a survey answer, a referral that
    qualified) for the earning rules, in the caller's transaction. ``source`` + ``event_id``
    make it earn at most once, whoever raises it again."""
    body = orjson.dumps({"member": member, "data": data}, option=orjson.OPT_SORT_KEYS)
    event = InboundEvent(
        source=source,
        event_id=event_id,
        type=type_,
        occurred_at=occurred_at,
        member=MemberRef(member),
        payload=ActionPerformed(data),
        body_hash=hashlib.sha256(body).hexdigest(),
    )
    return process(uow, ctx, event, now)


def _replay(uow: UnitOfWork, event: InboundEvent) -> EventResult:
    first = uow.inbox.get(event.source, event.event_id)
    assert first is not None
    if first["body_hash"] != event.body_hash:
        raise EventConflict(
            f"event '{event.event_id}' was received before with a different body", field="id"
        )
    return EventResult(first["response"], replayed=True)


def _dispatch(
    uow: UnitOfWork, ctx: TenantContext, event: InboundEvent, event_pk: int, now: datetime
) -> dict[str, Any]:
    payload = event.payload
    effects: list[Effect] = []
    note: str | None = None
    extras: dict[str, Any] = {}
    member: Mapping[Any, Any]
    ladder: TierLadder | None = None
    if isinstance(payload, CustomerChanged):
        member = _customer_changed(uow, event, payload, now)
    elif isinstance(payload, OrderPaid):
        member = _member_for_order(uow, event, now)
        ladder = tiers.load_ladder(uow)  # read once: the base rate's multiplier, then the tier
        effects, note = _order_paid(uow, ctx, event, event_pk, member, payload, now, extras, ladder)
        held = _commit_checkout(uow, payload, member, now)  # what happened to its hold, if any
        note = "; ".join(n for n in (note, held) if n) or None
    elif isinstance(payload, ActionPerformed):
        member = _member_for_action(uow, event, now)
        effects, note = _action(uow, ctx, event, event_pk, member, payload, now, extras)
    elif isinstance(payload, OrderRefunded):
        member, effects, note = _order_refunded(uow, ctx, event, event_pk, payload, now, extras)
    elif isinstance(payload, OrderCancelled):
        if payload.checkout_id is not None and uow.orders.get(payload.order_id) is None:
            return _unpaid_checkout_cancelled(uow, event, payload, now)
        member, effects, note = _order_cancelled(uow, ctx, event_pk, payload, now, extras)
    elif isinstance(payload, MembershipChanged):
        member, note = memberships.apply_event(uow, ctx, event, payload, now)
    else:  # pragma: no cover - the API only builds the payloads above
        raise ValidationFailed(f"unsupported event type {event.type}", field="type")
    referral = referrals.after_event(uow, ctx, event, member, now)
    if isinstance(payload, OrderPaid | OrderRefunded | OrderCancelled) or (
        effects and isinstance(payload, ActionPerformed)  # points earned count for tiers
    ):  # the tier metric moved
        if not isinstance(payload, OrderPaid):
            ladder = tiers.load_ladder(uow)
        tiers.refresh_member_on(uow, ctx, ladder, member["id"], member["external_id"], now)
    balances = uow.members.latest.get(member["id"], member)
    effect_dicts = [e.to_dict() for e in effects]
    body = event_body(event, member["external_id"], effect_dicts, balances, note)
    if referral is not None:
        body["referral"] = referral
    body.update(extras)
    emit_effects(uow, member["external_id"], effect_dicts, body["balances"], now)
    return body


def _commit_checkout(
    uow: UnitOfWork, paid: OrderPaid, member: Mapping[Any, Any], now: datetime
) -> str | None:
    if paid.checkout_id is None:
        return None
    order = uow.orders.get(paid.order.order_id)
    assert order is not None
    return checkout.commit(
        uow, paid.checkout_id, member["id"], order["id"], now, order_id=paid.order.order_id
    )


def _unpaid_checkout_cancelled(
    uow: UnitOfWork, event: InboundEvent, payload: OrderCancelled, now: datetime
) -> dict[str, Any]:
    """An order cancelled before it was paid: only its checkout's hold is let go."""
    assert payload.checkout_id is not None
    held = uow.checkouts.get(payload.checkout_id)
    note = checkout.release(uow, payload.checkout_id, "order cancelled", now)
    member = None if held is None or held["member_id"] is None else held["member_id"]
    row = uow.members.get_by_id(member) if member is not None else None
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "type": event.type,
        "status": "processed",
        "member": None if row is None else row["external_id"],
        "effects": [],
        "note": note or f"checkout {payload.checkout_id} released; order was never paid",
    }
    if row is not None:
        body["balances"] = {
            "available": row["available"],
            "pending": row["pending"],
            "lifetime_earned": row["lifetime_earned"],
        }
    return body


def event_body(
    event: InboundEvent,
    member_external_id: str,
    effects: list[dict[str, Any]],
    balances: Mapping[Any, Any],
    note: str | None,
) -> dict[str, Any]:
    """The response to an event, stored with it and returned again on every retry."""
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "type": event.type,
        "status": "processed",
        "member": member_external_id,
        "effects": effects,
        "balances": {
            "available": balances["available"],
            "pending": balances["pending"],
            "lifetime_earned": balances["lifetime_earned"],
        },
    }
    if note:
        body["note"] = note
    return body


def _profile_from(event: InboundEvent, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    profile = dict(event.member.profile) if event.member else {}
    profile.update(extra or {})
    return profile


def _customer_changed(
    uow: UnitOfWork, event: InboundEvent, payload: CustomerChanged, now: datetime
) -> RowMapping:
    if event.member is None:
        raise ValidationFailed("customer events must name the member", field="member")
    profile = _profile_from(event, payload.profile)
    member, created = ensure_member(
        uow, event.member.external_id, profile_fields(profile, {}, now), now
    )
    if not created:
        fields = profile_fields(profile, member["consents"] or {}, now)
        if fields:
            uow.members.update_fields(member["id"], fields, now)
            updated = uow.members.get_by_id(member["id"]) or member
            change = {"member": member_summary(updated), "changed": sorted(fields)}
            emit(uow, "member.updated", updated["external_id"], change, now)
    return member


FILLABLE = ("email", "phone", "first_name", "last_name", "locale", "birthday")


def _member_for_order(uow: UnitOfWork, event: InboundEvent, now: datetime) -> Mapping[Any, Any]:
    """The ordering member, created on first sight; contact data fills only empty fields."""
    if event.member is None:
        raise ValidationFailed("order.paid must name the member", field="member.external_id")
    member = uow.members.get_for_event(event.member.external_id)
    profile = profile_fields(_profile_from(event), {}, now)
    if member is None:
        created, _ = ensure_member(uow, event.member.external_id, profile, now)
        return created
    missing = {
        k: v for k, v in profile.items() if k in FILLABLE and v is not None and member[k] is None
    }
    if missing:
        uow.members.update_fields(member["id"], missing, now)
    return member


def _order_paid(
    uow: UnitOfWork,
    ctx: TenantContext,
    event: InboundEvent,
    event_pk: int,
    member: Mapping[Any, Any],
    paid: OrderPaid,
    now: datetime,
    extras: dict[str, Any],
    ladder: TierLadder | None,
) -> tuple[list[Effect], str | None]:
    program, order = ctx.program, paid.order
    if order.currency != program.currency:
        raise CurrencyMismatch(
            f"order is in {order.currency} but the programme runs in {program.currency}",
            field="data.currency",
        )
    base = order.earning_base(program)
    blocked = member["status"] == MemberStatus.BLOCKED
    rules = tenant_rules(uow) if paid.earn and not blocked else None
    if rules is not None and not rules.has(ORDER_PAID):
        rules = None  # no custom rule on orders: the programme's rate, as always
    earned_at = min(event.occurred_at, now)
    points, multiplier = 0, ONE
    if paid.earn and not blocked and rules is None:  # the rules apply the multiplier themselves
        multiplier = tiers.base_multiplier(uow, ladder, member["id"], earned_at)
        points = program.points_for(base * multiplier)
    order_pk = uow.orders.add_paid(
        member_id=member["id"],
        order_id=order.order_id,
        currency=order.currency,
        total=order.charged_total,
        shipping=order.shipping,
        tax=order.tax,
        base=base,
        lines=[line_json(line) for line in order.lines],
        points_earned=points,
        paid_at=earned_at,
        now=now,
    )
    if order_pk is None:
        return [], ALREADY_RECORDED.format(order.order_id)
    if blocked:
        return [], "member is blocked: the order is recorded but earns no points"
    if not paid.earn:
        return [], HISTORY_ONLY
    if rules is not None:
        earned = earning.earn(
            uow,
            ctx,
            rules,
            member,
            ORDER_PAID,
            {},
            at=earned_at,
            now=now,
            event_pk=event_pk,
            order=order,
            order_pk=order_pk,
        )
        uow.orders.update(order_pk, points_earned=earned.points)
        extras.update(earned.extras())
        return earned.effects, None if earned.effects or earned.cashback else NOTHING_EARNED
    if points == 0:
        return [], NOTHING_EARNED
    effect, _lot_id = ledger.credit(
        uow,
        ctx,
        member["id"],
        points,
        kind=EntryKind.EARN,
        earned_at=earned_at,
        now=now,
        reason=earn_reason(order, base, program, multiplier),
        order_pk=order_pk,
        event_pk=event_pk,
    )
    return [effect], None


def _member_for_action(uow: UnitOfWork, event: InboundEvent, now: datetime) -> Mapping[Any, Any]:
    if event.member is None:
        raise ValidationFailed(f"{event.type} must name the member", field="member.external_id")
    profile = profile_fields(_profile_from(event), {}, now)
    member = uow.members.get(event.member.external_id, lock=True)
    if member is None:
        member, _ = ensure_member(uow, event.member.external_id, profile, now)
    return member


def _action(
    uow: UnitOfWork,
    ctx: TenantContext,
    event: InboundEvent,
    event_pk: int,
    member: Mapping[Any, Any],
    action: ActionPerformed,
    now: datetime,
    extras: dict[str, Any],
) -> tuple[list[Effect], str | None]:
    """A member's action earns only through the rules on its type."""
    if member["status"] == MemberStatus.BLOCKED:
        return [], "member is blocked: the event is recorded but earns nothing"
    rules = tenant_rules(uow)
    if rules is None or not rules.has(event.type):
        return [], f"no active rule earns on {event.type}"
    at = min(event.occurred_at, now)
    earned = earning.earn(
        uow, ctx, rules, member, event.type, action.data, at=at, now=now, event_pk=event_pk
    )
    extras.update(earned.extras())
    if earned.effects or earned.cashback or earned.rewards:
        return earned.effects, None
    return [], f"no rule on {event.type} applied"


def earn_reason(
    order: PaidOrder, base: Decimal, program: Program, multiplier: Decimal = ONE
) -> str:
    tier = "" if multiplier == ONE else f" x {multiplier} (tier multiplier)"
    return (
        f"order {order.order_id}: {base} {order.currency} x {program.points_per_unit} points"
        f"{tier} ({program.rounding.value})"
    )


ALREADY_RECORDED = "order {} was already recorded; nothing earned again"
NOTHING_EARNED = "the order's base earns no points"
HISTORY_ONLY = "history loaded for analytics: no points"


def line_json(line: OrderLine) -> dict[str, Any]:
    out = {
        "sku": line.sku,
        "quantity": line.quantity,
        "unit_price": str(line.unit_price),
        "discount": str(line.discount),
        "product_id": line.product_id,
        "category": line.category,
    }
    if line.brand is not None:  # stored only when sent, so lines without one read as before
        out["brand"] = line.brand
    return out


def _stored_order(row: RowMapping) -> PaidOrder:
    return PaidOrder(
        row["order_id"],
        row["currency"],
        lines_from_json(row["lines"]),
        row["shipping"],
        row["tax"],
        row["total"],
    )


def lines_from_json(items: list[dict[str, Any]]) -> tuple[OrderLine, ...]:
    return tuple(
        OrderLine(
            sku=item["sku"],
            quantity=item["quantity"],
            unit_price=Decimal(item["unit_price"]),
            discount=Decimal(item["discount"]),
            product_id=item.get("product_id"),
            category=item.get("category"),
            brand=item.get("brand"),
        )
        for item in items
    )


def order_to_json(order: PaidOrder) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "currency": order.currency,
        "lines": [line_json(line) for line in order.lines],
        "shipping": str(order.shipping),
        "tax": str(order.tax),
        "total": None if order.total is None else str(order.total),
    }


def order_from_json(data: dict[str, Any]) -> PaidOrder:
    total = data.get("total")
    return PaidOrder(
        data["order_id"],
        data["currency"],
        lines_from_json(data["lines"]),
        Decimal(data["shipping"]),
        Decimal(data["tax"]),
        None if total is None else Decimal(total),
    )


def _require_order(uow: UnitOfWork, order_id: str) -> RowMapping:
    order = uow.orders.get(order_id, lock=True)
    if order is None:
        raise UnknownOrder(f"no paid order '{order_id}' is known", field="data.order_id")
    return order


def _order_refunded(
    uow: UnitOfWork,
    ctx: TenantContext,
    event: InboundEvent,
    event_pk: int,
    payload: OrderRefunded,
    now: datetime,
    extras: dict[str, Any],
) -> tuple[RowMapping, list[Effect], str | None]:
    order = _require_order(uow, payload.order_id)
    member = uow.members.get_by_id(order["member_id"], lock=True)
    assert member is not None
    previous = uow.orders.get_refund(order["id"], payload.refund_id)
    if previous is not None:
        if previous["request_hash"] != _refund_hash(payload):
            raise RefundConflict(
                f"refund '{payload.refund_id}' was recorded with other contents",
                field="data.refund_id",
            )
        return member, [], f"refund {payload.refund_id} was already applied"
    if order["status"] == "cancelled":
        return (
            member,
            [],
            f"order {payload.order_id} is cancelled; its points were already taken back",
        )
    state = RefundState(
        order["refunded_amount"], order["refunded_base"], order["refunded_quantities"]
    )
    paid = _stored_order(order)
    if payload.lines is not None:
        value = refund_by_lines(paid, order["base"], state, payload.lines)
    else:
        assert payload.amount is not None
        value = refund_by_amount(paid, order["base"], state, payload.amount)
    points = points_to_reverse(order["points_earned"], order["base"], state.base, value.base)
    points = min(points, order["points_earned"] - order["points_reversed"])
    effects = _reverse_order_points(
        uow,
        ctx,
        member["id"],
        order["id"],
        points,
        reason=f"refund {payload.refund_id} of order {payload.order_id}: {value.amount} {order['currency']}",
        now=now,
        refund_id=payload.refund_id,
        event_pk=event_pk,
    )
    cashback = _reverse_cashback(
        uow,
        ctx,
        member["id"],
        order,
        lambda credited: cashback_to_reverse(
            credited, order["base"], state.base, value.base, order["currency"]
        ),
        reason=f"refund {payload.refund_id} of order {payload.order_id}: cashback taken back",
        reference=f"refund:{_short(payload.refund_id)}",
        now=now,
        event_pk=event_pk,
    )
    if cashback:
        extras["cashback"] = cashback
    quantities = dict(state.quantities)
    for sku, quantity in value.quantities.items():
        quantities[sku] = quantities.get(sku, 0) + quantity
    refunded_amount = state.amount + value.amount
    uow.orders.add_refund(
        order["id"],
        payload.refund_id,
        now,
        request_hash=_refund_hash(payload),
        amount=value.amount,
        base=value.base,
        points_reversed=points,
    )
    uow.orders.update(
        order["id"],
        refunded_amount=refunded_amount,
        refunded_base=state.base + value.base,
        refunded_quantities=quantities,
        points_reversed=order["points_reversed"] + points,
        status="refunded" if refunded_amount >= order["total"] else "partially_refunded",
    )
    checkout.refunded(
        uow, ctx.program, order["id"], full=refunded_amount >= order["total"], now=now
    )
    return member, effects, None


def _short(refund_id: str) -> str:
    """A refund id short enough for a wallet reference (a long one by its digest)."""
    return refund_id if len(refund_id) <= 100 else hashlib.sha256(refund_id.encode()).hexdigest()


def _refund_hash(payload: OrderRefunded) -> str:
    text = repr(
        (
            sorted(payload.lines) if payload.lines else None,
            str(payload.amount) if payload.amount is not None else None,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _order_cancelled(
    uow: UnitOfWork,
    ctx: TenantContext,
    event_pk: int,
    payload: OrderCancelled,
    now: datetime,
    extras: dict[str, Any],
) -> tuple[RowMapping, list[Effect], str | None]:
    order = _require_order(uow, payload.order_id)
    member = uow.members.get_by_id(order["member_id"], lock=True)
    assert member is not None
    if order["status"] == "cancelled":
        return member, [], f"order {payload.order_id} was already cancelled"
    points = order["points_earned"] - order["points_reversed"]
    effects = _reverse_order_points(
        uow,
        ctx,
        member["id"],
        order["id"],
        points,
        reason=f"order {payload.order_id} cancelled",
        now=now,
        event_pk=event_pk,
    )
    cashback = _reverse_cashback(
        uow,
        ctx,
        member["id"],
        order,
        lambda credited: (
            credited
            - cashback_reversed_after(
                credited, order["base"], order["refunded_base"], order["currency"]
            )
        ),
        reason=f"order {payload.order_id} cancelled: cashback taken back",
        reference="cancel",
        now=now,
        event_pk=event_pk,
    )
    if cashback:
        extras["cashback"] = cashback
    uow.orders.update(
        order["id"],
        status="cancelled",
        points_reversed=order["points_reversed"] + points,
        refunded_base=order["base"],
    )
    held = uow.checkouts.of_order(order["id"])
    checkout_id = payload.checkout_id or (held["checkout_id"] if held else None)
    if checkout_id is not None:
        checkout.release(uow, checkout_id, "order cancelled", now)
    return member, effects, None


def _reverse_cashback(
    uow: UnitOfWork,
    ctx: TenantContext,
    member_id: int,
    order: RowMapping,
    share: Callable[[Decimal], Decimal],
    *,
    reason: str,
    reference: str,
    now: datetime,
    event_pk: int,
) -> list[dict[str, Any]]:
    """Take back the part ``share`` gives of each cashback credit the order received (one per
    rule), as wallet entries that name the rule; the wallet follows the clawback policy."""
    out = []
    for credit in uow.wallet.cashback_of_order(member_id, order["id"]):
        amount = share(credit["amount"])
        if amount <= 0:
            continue
        out.append(
            wallet.reverse_cashback(
                uow,
                ctx,
                member_id,
                credit,
                amount,
                reason,
                f"order:{order['id']}:{reference}:entry:{credit['id']}",
                now,
                event_pk=event_pk,
            )
        )
    return out


def _reverse_order_points(
    uow: UnitOfWork,
    ctx: TenantContext,
    member_id: int,
    order_pk: int,
    points: int,
    *,
    reason: str,
    now: datetime,
    **entry: Any,
) -> list[Effect]:
    """Take back ``points`` of an order. An order earned through several rules has one lot per
    rule; each gives back its share (largest remainder), naming its rule."""
    lots = uow.ledger.earn_lots_of_order(order_pk) if points > 0 else []
    if not lots:
        return []
    total = sum(lot.amount for lot in lots)
    shares = [points * lot.amount // total for lot in lots]
    by_remainder = sorted(range(len(lots)), key=lambda i: (-(points * lots[i].amount % total), i))
    for index in by_remainder[: points - sum(shares)]:
        shares[index] += 1
    return [
        ledger.reverse(
            uow,
            ctx,
            member_id,
            lot.lot_id,
            share,
            reason=reason,
            now=now,
            order_pk=order_pk,
            rule_id=lot.rule_id,
            rule_version=lot.rule_version,
            **entry,
        )
        for lot, share in zip(lots, shares, strict=True)
        if share > 0
    ]
