"""Cart evaluation at checkout, and the codes and points a checkout holds until it is paid.

Without a ``checkout_id`` evaluation is a dry run that writes nothing. With one, the codes of
the applied promotions and the points to pay with are held until ``expires_at``:

- a code's use is held with one conditional statement (``uses + reserved < max_uses``), so two
  checkouts racing for the last use of a code cannot both get it;
- a limited promotion's use (global, per member) and the discount it gives (its budget) are
  held on the promotion's row, locked while they are checked and taken; what open checkouts
  hold counts as taken for every other evaluation, dry runs included, so two open checkouts
  cannot both take the last use or the last of the budget;
- points are taken from the member's lots through the ledger (a ``redeem`` entry), so nothing
  else can spend or expire them meanwhile; releasing gives them back as ``restore`` entries
  with the expiry dates of the lots they came from.

``order.paid`` naming the checkout commits it (held code uses and promotion usage become
used, the points stay spent); ``order.cancelled`` or the expiry job releases it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import RowMapping

from loyalty.domain.errors import (
    CheckoutClosed,
    DomainError,
    InsufficientPoints,
    MemberBlocked,
    PointsPaymentDisabled,
)
from loyalty.domain.ledger import Draw, EntryKind
from loyalty.domain.members import MemberStatus
from loyalty.domain.orders import OrderLine, PaidOrder
from loyalty.domain.program import CodeRefundPolicy, Program
from loyalty.domain.promotions import (
    Cart,
    CartEvaluation,
    CartLine,
    MemberFacts,
    PointsPaymentPolicy,
    Promotion,
    PromotionHolds,
    PromotionSet,
    RejectedPromotion,
    RejectReason,
    UsageFacts,
    check_points_payment,
    evaluate_cart,
    normalize_code,
    quote_points_payment,
)
from loyalty.domain.rewards import (
    Coupon,
    CouponNotFound,
    CouponNotReserved,
    CouponRefusal,
    IllegalCouponTransition,
    RewardNotFound,
    check_coupon,
    promotion_for_reward,
)
from loyalty.domain.rules import ORDER_PAID, evaluate_rules
from loyalty.services import coupons, ledger, tiers
from loyalty.services.context import TenantContext
from loyalty.services.earning import facts_for
from loyalty.services.expressions import cel_check
from loyalty.services.ledger import Effect
from loyalty.services.outbox import emit_effects
from loyalty.services.promotions import Catalogue, Counters, Entry, catalogue
from loyalty.services.rewards import get_reward_model
from loyalty.services.rules import tenant_rules
from loyalty.store.audience import member_audience
from loyalty.store.checkouts import COMMITTED, RELEASED, RESERVED
from loyalty.store.coupons import to_coupon
from loyalty.store.uow import Database, UnitOfWork


@dataclass(frozen=True, slots=True)
class CartRequest:
    member: str | None
    currency: str
    lines: tuple[CartLine, ...]
    shipping: Decimal = Decimal(0)
    codes: tuple[str, ...] = ()
    points_to_pay: int = 0
    checkout_id: str | None = None


@dataclass(frozen=True, slots=True)
class _Held:
    """One promotion's use held by this checkout: the discount (budget) it holds and the
    member whose per-member use it holds (None: a guest, not counted per member)."""

    amount: Decimal
    member_id: int | None


@dataclass(slots=True)
class _Priced:
    evaluation: CartEvaluation
    catalogue: Catalogue
    member: dict[str, Any] | None
    points: dict[str, Any]
    points_to_pay: int
    extra_rejected: list[RejectedPromotion] = field(default_factory=list)
    coupon_codes: frozenset[str] = frozenset()  # entered codes that are issued coupons
    benefits: list[dict[str, str]] = field(default_factory=list)  # the buyer's own, applied


def evaluate(
    db: Database, ctx: TenantContext, request: CartRequest, now: datetime
) -> dict[str, Any]:
    """Price the cart; with a checkout id, also hold its codes and points (one transaction)."""
    if request.checkout_id is None:
        with db.read(ctx.tenant_id) as uow:
            if request.member is None:
                member, first_order = None, True
            else:
                member, has_orders = uow.checkouts.buyer(request.member)
                first_order = member is None or not has_orders
            priced = _price(uow, ctx, request, now, member, first_order=first_order)
            return _body(priced, ctx.program, None)
    return db.run(ctx.tenant_id, lambda uow: reserve(uow, ctx, request, now))


# --- pricing ----------------------------------------------------------------------------------


def _member(uow: UnitOfWork, external_id: str | None, *, lock: bool) -> dict[str, Any] | None:
    if external_id is None:
        return None
    row = uow.members.get_for_event(external_id) if lock else uow.members.get(external_id)
    return None if row is None else dict(row)


def member_facts(
    uow: UnitOfWork,
    member: dict[str, Any] | None,
    promotions: Sequence[Promotion],
    first_order: bool | None = None,
) -> MemberFacts:
    """What promotions know about the buyer: whether this is their first order (read here
    unless the caller read it with the member), their tier and their segments. The tier and
    segments are read only when one of ``promotions`` may ask for them (an audience condition
    or a CEL expression), so a catalogue without such offers pays nothing for them."""
    if member is None:
        return MemberFacts(is_first_order=True)
    member_id = member["id"]
    if first_order is None:
        first_order = not uow.checkouts.member_has_orders(member_id)
    tier, segments = None, frozenset[str]()
    if any(
        p.conditions.tiers or p.conditions.segments or p.conditions.expression for p in promotions
    ):  # as reward visibility reads them
        tier, segments = member_audience(uow.conn, uow.tenant_id, member_id)
    return MemberFacts(tier=tier, is_first_order=first_order, segments=segments)


def points_to_earn(
    uow: UnitOfWork,
    ctx: TenantContext,
    member: dict[str, Any] | None,
    cart: Cart,
    evaluation: CartEvaluation,
    now: datetime,
) -> int:
    """Points the order will earn as priced: the discounted lines (and shipping/tax as the
    programme counts them) through the tenant's earning rules for ``order.paid``, read-only,
    or the programme's base rate when it has none."""
    lines = tuple(
        OrderLine(
            line.sku,
            line.quantity,
            line.unit_price,
            priced.discount,
            line.product_id,
            line.category,
        )
        for line, priced in zip(cart.lines, evaluation.lines, strict=True)
    )
    shipping = evaluation.shipping - evaluation.shipping_discount
    order = PaidOrder("checkout", cart.currency, lines, shipping)
    rules = tenant_rules(uow)
    if rules is None or not rules.has(ORDER_PAID):  # the programme's rate, as order.paid earns
        base = order.earning_base(ctx.program)
        if member is not None:
            base *= tiers.base_multiplier(uow, tiers.load_ladder(uow), member["id"], now)
        return ctx.program.points_for(base)
    facts = facts_for(uow, ctx, rules, member, ORDER_PAID, {}, now, order, lock=False)
    return evaluate_rules(rules.rule_set, facts).points


def _usage(
    uow: UnitOfWork,
    found: Catalogue,
    counters: Counters,
    member: dict[str, Any] | None,
    own: dict[int, _Held],
) -> dict[str, UsageFacts]:
    """What is left of each limited promotion: uses and budget held by open checkouts count
    as taken, except what this checkout (``own``) holds itself."""
    limited = [entry for entry in found.entries.values() if entry.limits.limited]
    if not limited:
        return {}
    per_member = any(e.limits.uses_per_member is not None for e in limited)
    member_uses = uow.promotions.member_uses(member["id"]) if member and per_member else {}
    usage = {}
    for entry in limited:
        uses, spent, held_uses, held_budget = counters.get(entry.pk, _NO_COUNTS)
        mine = own.get(entry.pk)
        member_used, member_held = member_uses.get(entry.pk, (0, 0))
        if mine is not None:
            held_uses -= 1
            held_budget -= mine.amount
            if member is not None and mine.member_id == member["id"]:
                member_held -= 1
        holds = PromotionHolds(max(held_uses, 0), max(member_held, 0), max(held_budget, Decimal(0)))
        usage[entry.promotion.id] = entry.limits.usage(
            uses, spent, member_used if member else None, held=holds
        )
    return usage


_NO_COUNTS = (0, Decimal(0), 0, Decimal(0))


def _usable_codes(
    uow: UnitOfWork, codes: tuple[str, ...], held: set[str]
) -> tuple[tuple[str, ...], list[RejectedPromotion], list[str]]:
    """Drop entered codes with no use left (``held``: codes this checkout already holds);
    also returns the codes that are no promotion's code (issued coupons, or unknown)."""
    normalised = tuple(dict.fromkeys(normalize_code(code) for code in codes if code.strip()))
    rows = uow.promotions.codes(normalised)
    kept, rejected, other = [], [], []
    for code in normalised:
        row = rows.get(code)
        if row is None:
            other.append(code)
        if row is None or row.max_uses is None:
            kept.append(code)
            continue
        reserved = row.reserved - (1 if code in held else 0)
        if row.uses >= row.max_uses:
            rejected.append(_code_refusal(code, RejectReason.CODE_USED_UP, "has been used up"))
        elif row.uses + reserved >= row.max_uses:
            rejected.append(
                _code_refusal(code, RejectReason.CODE_RESERVED, "is held by another checkout")
            )
        else:
            kept.append(code)
    return tuple(kept), rejected, other


_COUPON_REFUSALS: dict[CouponRefusal, tuple[RejectReason, str]] = {
    CouponRefusal.EXPIRED: (RejectReason.COUPON_EXPIRED, "has expired"),
    CouponRefusal.USED: (RejectReason.CODE_USED_UP, "has been used"),
    CouponRefusal.CANCELLED: (RejectReason.COUPON_CANCELLED, "has been cancelled"),
    CouponRefusal.RESERVED: (RejectReason.CODE_RESERVED, "is held by another checkout"),
    CouponRefusal.NOT_OWNED: (RejectReason.COUPON_NOT_OWNED, "belongs to another member"),
    CouponRefusal.MEMBER_REQUIRED: (
        RejectReason.COUPON_MEMBER_REQUIRED,
        "can be used only by a signed-in member",
    ),
    CouponRefusal.USED_BY_MEMBER: (
        RejectReason.COUPON_USED_BY_MEMBER,
        "can be used once per member and this member has used it",
    ),
}


@dataclass(slots=True)
class _Coupons:
    """Entered codes that are issued coupons: code -> promotion id for the engine, the
    promotions derived from rewards that the catalogue does not hold, and the refused ones."""

    by_code: dict[str, str] = field(default_factory=dict)
    derived: dict[str, Promotion] = field(default_factory=dict)
    rejected: list[RejectedPromotion] = field(default_factory=list)


def _issued_coupons(
    uow: UnitOfWork,
    found: Catalogue,
    codes: list[str],
    member: dict[str, Any] | None,
    request: CartRequest,
    now: datetime,
) -> _Coupons:
    out = _Coupons()
    if not codes:
        return out
    for code, row in uow.coupons.get_many(codes).items():
        coupon = to_coupon(row)
        uses = 0
        if member is not None and coupon.once_per_member:
            uses = uow.coupons.member_uses(row, member["id"])
        refusal = check_coupon(
            coupon,
            now,
            member_id=request.member,
            member_uses=uses,
            checkout_id=request.checkout_id,
        )
        if refusal is not None:
            reason, what = _COUPON_REFUSALS[refusal]
            out.rejected.append(_code_refusal(code, reason, what))
            continue
        promotion_id = coupon.promotion_id
        if promotion_id is None:
            out.rejected.append(
                _code_refusal(code, RejectReason.UNKNOWN_CODE, "is not a checkout coupon")
            )
            continue
        if promotion_id not in found.by_id:
            derived = _derived_promotion(uow, coupon)
            if derived is not None:
                out.derived[derived.id] = derived
        out.by_code[code] = promotion_id
    return out


def _derived_promotion(uow: UnitOfWork, coupon: Coupon) -> Promotion | None:
    """The promotion a reward's coupon stands for when the reward carries the benefit itself
    (the reward as it is now, if it is still the version the coupon was issued for)."""
    if coupon.reward_id is None:
        return None
    try:
        reward = get_reward_model(uow, coupon.reward_id)
    except RewardNotFound:
        return None
    promotion = promotion_for_reward(reward)
    return promotion if promotion is not None and promotion.id == coupon.promotion_id else None


def _code_refusal(code: str, reason: RejectReason, what: str) -> RejectedPromotion:
    return RejectedPromotion(None, None, None, code, reason, f"code '{code}' {what}")


def _price(
    uow: UnitOfWork,
    ctx: TenantContext,
    request: CartRequest,
    now: datetime,
    member: dict[str, Any] | None,
    *,
    held_codes: set[str] | None = None,
    held_points: int = 0,
    refused: list[RejectedPromotion] | None = None,
    own: dict[int, _Held] | None = None,
    first_order: bool | None = None,
) -> _Priced:
    """``first_order``: whether this is the buyer's first order, when the caller read it
    with the member (None: read it here)."""
    found, counters = catalogue(uow)
    refused = refused or []
    lost = {r.code for r in refused}
    entered = tuple(code for code in request.codes if normalize_code(code) not in lost)
    codes, rejected, other = _usable_codes(uow, entered, held_codes or set())
    issued = _issued_coupons(uow, found, other, member, request, now)
    refused_coupons = {r.code for r in issued.rejected}
    codes = tuple(code for code in codes if code not in refused_coupons)
    rejected = [*refused, *rejected, *issued.rejected]
    buyer = member_facts(uow, member, (*found.promotions, *issued.derived.values()), first_order)
    cart = Cart(request.currency, request.lines, request.shipping, buyer, codes)
    has_expressions = any(p.conditions.expression for p in found.promotions)
    promotions = found.prepared
    if issued.derived:  # rewards' own promotions, brought in by this cart's coupons
        promotions = PromotionSet((*found.promotions, *issued.derived.values()))
    evaluation = evaluate_cart(
        cart,
        promotions,
        now=now,
        usage=_usage(uow, found, counters, member, own or {}),
        coupons=issued.by_code,
        cel_check=cel_check if has_expressions else None,
    )
    evaluation, benefits = _member_benefits(uow, member, evaluation, now)
    earn = points_to_earn(uow, ctx, member, cart, evaluation, now)
    points = _points(
        ctx.program, cart, evaluation, earn, member, request.points_to_pay, held_points
    )
    return _Priced(
        evaluation,
        found,
        member,
        points,
        request.points_to_pay,
        rejected,
        frozenset(issued.by_code),
        benefits,
    )


def _member_benefits(
    uow: UnitOfWork, member: dict[str, Any] | None, evaluation: CartEvaluation, now: datetime
) -> tuple[CartEvaluation, list[dict[str, str]]]:
    """The buyer's tier or paid-membership benefits that price the cart: free shipping takes
    whatever shipping the promotions left. Read only when there is shipping left to take and
    the programme has tiers or memberships at all."""
    left = evaluation.shipping - evaluation.shipping_discount
    if member is None or left <= 0:
        return evaluation, []
    ladder = tiers.load_ladder(uow)
    if not tiers.may_multiply(uow, ladder):  # neither tiers nor memberships: no benefits
        return evaluation, []
    if not tiers.benefits_for(uow, member["id"], now).free_shipping:
        return evaluation, []
    taken = replace(evaluation, shipping_discount=evaluation.shipping)
    return taken, [{"benefit": "free_shipping", "shipping_discount": str(left)}]


def _points(
    program: Program,
    cart: Cart,
    evaluation: CartEvaluation,
    earn: int,
    member: dict[str, Any] | None,
    points_to_pay: int,
    held_points: int,
) -> dict[str, Any]:
    available = (member["available"] if member else 0) + held_points
    out: dict[str, Any] = {"earn": earn, "available": available}
    if program.point_value is None:
        if points_to_pay:
            raise PointsPaymentDisabled(
                "this programme does not take points as payment", field="points_to_pay"
            )
        out["payment"] = None
        return out
    policy = PointsPaymentPolicy(program.point_value, program.points_max_share)
    quote = quote_points_payment(evaluation.total, cart.currency, available, policy)
    if points_to_pay and member is None:
        raise InsufficientPoints("a guest has no points to pay with", field="points_to_pay")
    try:
        value = check_points_payment(quote, points_to_pay)
    except DomainError as exc:
        exc.field = "points_to_pay"
        raise
    out["payment"] = {
        "point_value": str(program.point_value),
        "max_points": quote.max_points,
        "max_value": str(quote.max_value),
        "points": points_to_pay,
        "value": str(value),
    }
    out["total_after_points"] = str(evaluation.total - value)
    return out


def _body(priced: _Priced, program: Program, checkout: dict[str, Any] | None) -> dict[str, Any]:
    e = priced.evaluation
    rejected = [*priced.extra_rejected, *e.rejected]
    body: dict[str, Any] = {
        "currency": e.currency,
        "subtotal": str(e.subtotal),
        "discount": str(e.discount),
        "shipping": str(e.shipping),
        "shipping_discount": str(e.shipping_discount),
        "total": str(e.total),
        "lines": [
            {
                "index": line.index,
                "sku": line.sku,
                "quantity": line.quantity,
                "subtotal": str(line.subtotal),
                "discount": str(line.discount),
                "total": str(line.total),
                "discounts": [
                    {"promotion_id": d.promotion_id, "amount": str(d.amount)}
                    for d in line.discounts
                ],
            }
            for line in e.lines
        ],
        "applied": [
            {
                "promotion_id": a.promotion_id,
                "version": a.version,
                "name": a.name,
                "code": a.code,
                "discount": str(a.discount),
                "shipping_discount": str(a.shipping_discount),
                "gifts": [_gift(g) for g in a.gifts],
            }
            for a in e.applied
        ],
        "rejected": [
            {
                "promotion_id": r.promotion_id,
                "version": r.version,
                "name": r.name,
                "code": r.code,
                "reason": r.reason.value,
                "message": r.message,
            }
            for r in rejected
        ],
        "gifts": [_gift(g) for g in e.gifts],
        "benefits": priced.benefits,
        "points": priced.points,
    }
    if checkout is not None:
        body["checkout"] = checkout
    return body


def _gift(gift: Any) -> dict[str, Any]:
    return {"sku": gift.sku, "quantity": gift.quantity, "product_id": gift.product_id}


# --- holding codes and points -----------------------------------------------------------------


def reserve(
    uow: UnitOfWork, ctx: TenantContext, request: CartRequest, now: datetime
) -> dict[str, Any]:
    """Price the cart and make the checkout hold exactly what this evaluation uses.

    Re-evaluating the same checkout replaces its hold: codes and promotion usage no longer
    applied are let go, new ones are taken, and the points held change to ``points_to_pay``.
    """
    assert request.checkout_id is not None
    _release_expired_holders(uow, request.codes, now, keep=request.checkout_id)
    member = _member(uow, request.member, lock=True)  # members before checkouts, always
    row = uow.checkouts.get(request.checkout_id, lock=True)
    if row is None:
        row = uow.checkouts.add(request.checkout_id, now)
    elif row["status"] != RESERVED:
        raise CheckoutClosed(
            f"checkout '{request.checkout_id}' is already {row['status']}", field="checkout_id"
        )
    if request.member is not None and member is None and request.points_to_pay:
        raise InsufficientPoints("an unknown member has no points to pay with", field="member")
    if member is not None and member["status"] == MemberStatus.BLOCKED and request.points_to_pay:
        raise MemberBlocked(f"member {request.member} is blocked", field="member")
    same_member = member is not None and row["member_id"] == member["id"]
    if row["points"] and not same_member:
        _give_back_points(uow, row, f"checkout {row['checkout_id']} changed member", now)
        row = _reloaded(uow, row)
    held_codes = {item["code"] for item in row["codes"]}
    held_coupons = {item["code"] for item in row["codes"] if item.get("coupon")}
    held_points = row["points"] if same_member else 0
    own = _own_holds(row)
    expires_at = now + timedelta(minutes=ctx.program.checkout_ttl_minutes)
    priced, holding = _price_and_hold(
        uow,
        ctx,
        request,
        now,
        member,
        _Holding(held_codes, held_coupons, held_points, own, expires_at),
    )
    for code in sorted(held_codes - holding.keys()):
        if code in held_coupons:
            _let_go_coupon(uow, code, request.checkout_id, now)
        else:
            uow.promotions.unreserve_code(code)
    _hold_points(uow, row, member, priced.points_to_pay, now)
    row = _reloaded(uow, row)
    applied: list[dict[str, Any]] = []
    for a in priced.evaluation.applied:
        entry = priced.catalogue.by_id.get(a.promotion_id)
        if entry is None:  # derived from a reward's coupon: no counters of its own
            continue
        held = own.get(entry.pk)
        applied.append(
            {
                "promotion_pk": entry.pk,
                "promotion_id": a.promotion_id,
                "discount": str(a.total_discount),
                "held": held is not None,
                "held_member_id": None if held is None else held.member_id,
            }
        )
    codes = [
        {"code": code, "promotion_pk": pk, "coupon": code in held_coupons}
        for code, pk in sorted(holding.items())
    ]
    uow.checkouts.update(
        row["id"],
        member_id=None if member is None else member["id"],
        codes=codes,
        promotions=applied,
        expires_at=expires_at,
        updated_at=now,
    )
    checkout = {
        "checkout_id": request.checkout_id,
        "status": RESERVED,
        "expires_at": expires_at.isoformat(),
        "reserved_codes": sorted(holding),
        "reserved_promotions": sorted(str(a["promotion_id"]) for a in applied if a["held"]),
        "reserved_points": row["points"],
    }
    return _body(priced, ctx.program, checkout)


def _own_holds(row: RowMapping) -> dict[int, _Held]:
    """The promotion usage an open checkout holds, by promotion pk."""
    return {
        item["promotion_pk"]: _Held(Decimal(item["discount"]), item.get("held_member_id"))
        for item in row["promotions"]
        if item.get("held")
    }


def _reloaded(uow: UnitOfWork, row: RowMapping) -> RowMapping:
    fresh = uow.checkouts.get(row["checkout_id"], lock=True)
    assert fresh is not None
    return fresh


_MAX_TRIES = 20


@dataclass(slots=True)
class _Holding:
    """What the checkout holds while it is priced and held again (updated in place)."""

    codes: set[str]  # promotion codes and coupons
    coupons: set[str]  # of ``codes``, the issued coupons
    points: int
    promotions: dict[int, _Held]
    until: datetime


def _price_and_hold(
    uow: UnitOfWork,
    ctx: TenantContext,
    request: CartRequest,
    now: datetime,
    member: dict[str, Any] | None,
    held: _Holding,
) -> tuple[_Priced, dict[str, int | None]]:
    """Price, then take each applied code's use (a promotion code's counter, or an issued
    coupon's hold) and each applied limited promotion's use and budget. A code lost to a
    racing checkout is refused; a promotion whose last use or budget a racing checkout took
    is priced again with what is left (refused if nothing is)."""
    refused: list[RejectedPromotion] = []
    for _ in range(_MAX_TRIES):
        priced = _price(
            uow,
            ctx,
            request,
            now,
            member,
            held_codes=held.codes,
            held_points=held.points,
            refused=refused,
            own=held.promotions,
        )
        holding: dict[str, int | None] = {}
        lost = None
        for applied in priced.evaluation.applied:
            code = applied.code
            if code is None:
                continue
            entry = priced.catalogue.by_id.get(applied.promotion_id)
            if code in priced.coupon_codes:
                taken = _hold_coupon(uow, code, request, member, held.until, now)
                if taken:
                    held.coupons.add(code)
            else:
                taken = code in held.codes or uow.promotions.reserve_code(code)
            if not taken:
                lost = code
                break
            holding[code] = None if entry is None else entry.pk
            held.codes.add(code)
        if lost is not None:
            message = "was taken by another checkout a moment ago"
            refused.append(_code_refusal(lost, RejectReason.CODE_RESERVED, message))
            continue
        if _hold_promotions(uow, priced, member, held.promotions):
            return priced, holding
    raise RuntimeError("checkout could not settle its holds")  # pragma: no cover


def _hold_coupon(
    uow: UnitOfWork,
    code: str,
    request: CartRequest,
    member: dict[str, Any] | None,
    until: datetime,
    now: datetime,
) -> bool:
    """Hold one use of an issued coupon for the checkout (again: extend the hold)."""
    assert request.checkout_id is not None
    buyer = None if member is None else request.member
    try:
        coupons.reserve_coupon(uow, code, request.checkout_id, until, buyer, now)
    except IllegalCouponTransition:
        return False
    return True


def _let_go_coupon(uow: UnitOfWork, code: str, checkout_id: str, now: datetime) -> None:
    # its hold may have lapsed and been dropped by the job, or the coupon be gone
    with suppress(CouponNotReserved, CouponNotFound):
        coupons.release_coupon(uow, code, checkout_id, now)


def _hold_promotions(
    uow: UnitOfWork, priced: _Priced, member: dict[str, Any] | None, own: dict[int, _Held]
) -> bool:
    """Make ``own`` hold the applied limited promotions, in promotion order (so that two
    checkouts lock rows in the same order); False when one could not be taken as priced."""
    member_id = None if member is None else int(member["id"])
    wanted: dict[int, Decimal] = {}
    entries: dict[int, Entry] = {}
    for applied in priced.evaluation.applied:
        entry = priced.catalogue.by_id[applied.promotion_id]
        if entry.limits.limited:
            wanted[entry.pk] = applied.total_discount
            entries[entry.pk] = entry
    for pk in sorted(wanted.keys() | own.keys()):
        have = own.get(pk)
        if pk not in wanted:
            assert have is not None
            uow.promotions.unhold(pk, have.member_id, have.amount)
            del own[pk]
            continue
        amount = wanted[pk]
        if have is not None and have.amount == amount and have.member_id == member_id:
            continue
        if not _take(uow, entries[pk], member_id, amount, have):
            return False
        own[pk] = _Held(amount, member_id)
    return True


def _take(
    uow: UnitOfWork, entry: Entry, member_id: int | None, amount: Decimal, have: _Held | None
) -> bool:
    """Hold one use and ``amount`` of budget of a promotion (replacing ``have``, what this
    checkout held of it), checked against the locked counters; False if they no longer
    allow it."""
    row = uow.promotions.counters(entry.pk)
    if row is None:
        return False
    limits = entry.limits
    held_uses = row["reserved_uses"] - (1 if have is not None else 0)
    if limits.uses is not None and row["uses"] + held_uses >= limits.uses:
        return False
    if limits.budget is not None:
        held_budget = row["reserved_budget"] - (have.amount if have is not None else 0)
        if row["budget_spent"] + held_budget + amount > limits.budget:
            return False
    if limits.uses_per_member is not None and member_id is not None:
        used, held = uow.promotions.member_usage(entry.pk, member_id)
        if have is not None and have.member_id == member_id:
            held -= 1
        if used + held >= limits.uses_per_member:
            return False
    previous = None if have is None else (have.member_id, have.amount)
    uow.promotions.hold(row, member_id, amount, previous=previous)
    return True


def _hold_points(
    uow: UnitOfWork, row: RowMapping, member: dict[str, Any] | None, points: int, now: datetime
) -> None:
    if row["points"] == points:
        return
    if row["points"]:
        _give_back_points(uow, row, f"checkout {row['checkout_id']} changed its points", now)
    if points == 0 or member is None:
        return
    effect, draws = ledger.spend(
        uow,
        member["id"],
        points,
        kind=EntryKind.REDEEM,
        reason=f"points paying for checkout {row['checkout_id']}",
        now=now,
        meta={"checkout_id": row["checkout_id"]},
    )
    uow.checkouts.update(
        row["id"],
        points=points,
        hold_entry_id=effect.entry_id,
        draws=[_draw_json(d) for d in draws],
    )
    _announce(uow, member["id"], member["external_id"], [effect], now)


def _announce(
    uow: UnitOfWork, member_id: int, external_id: str, effects: Sequence[Effect], now: datetime
) -> None:
    """``points.spent`` / ``points.restored`` for what a checkout hold moved, as every other
    ledger change announces itself."""
    latest = uow.members.latest.get(member_id) or uow.members.get_by_id(member_id)
    assert latest is not None
    balances = {k: latest[k] for k in ("available", "pending", "lifetime_earned")}
    emit_effects(uow, external_id, [e.to_dict() for e in effects], balances, now)


def _draw_json(draw: Draw) -> dict[str, Any]:
    expires = None if draw.expires_at is None else draw.expires_at.isoformat()
    return {"lot_id": draw.lot_id, "points": draw.points, "expires_at": expires}


def _give_back_points(uow: UnitOfWork, row: RowMapping, reason: str, now: datetime) -> None:
    """The held points go back to the very lots they came from, with their expiry dates."""
    if row["hold_entry_id"] is not None and row["member_id"] is not None:
        uow.members.lock_many([row["member_id"]])
        restored = ledger.restore(
            uow,
            row["member_id"],
            row["hold_entry_id"],
            reason=reason,
            now=now,
            note={"checkout_id": row["checkout_id"]},
        )
        owner = uow.members.get_by_id(row["member_id"])
        assert owner is not None
        _announce(uow, row["member_id"], owner["external_id"], restored, now)
    uow.checkouts.update(row["id"], points=0, hold_entry_id=None, draws=[])


# --- after the order --------------------------------------------------------------------------


def release(uow: UnitOfWork, checkout_id: str, reason: str, now: datetime) -> str | None:
    """Let go of what an open checkout holds; a committed one gives back its points, code
    uses and promotion usage (its order was cancelled). Returns a note for the event
    response."""
    seen = uow.checkouts.get(checkout_id)
    if seen is None:
        return f"checkout {checkout_id} is not known"
    if seen["member_id"] is not None:
        uow.members.lock_many([seen["member_id"]])  # members before checkouts, always
    row = uow.checkouts.get(checkout_id, lock=True)
    assert row is not None
    if row["status"] == RELEASED:
        return f"checkout {checkout_id} was already released"
    committed = row["status"] == COMMITTED
    _give_back_points(uow, row, f"checkout {checkout_id} released: {reason}", now)
    for item in row["codes"]:
        if item.get("coupon"):
            if committed:
                coupons.give_back_use(uow, item["code"], f"checkout {checkout_id}", now)
            else:
                _let_go_coupon(uow, item["code"], checkout_id, now)
        elif committed:
            uow.promotions.unuse_code(item["code"])
        else:
            uow.promotions.unreserve_code(item["code"])
    promotions = row["promotions"]
    if committed:  # what a refund gave back already is not given back again
        every = {item["promotion_pk"] for item in promotions}
        promotions = _give_back_usage(uow, row, uses=every, budgets=every)
    else:
        for pk, held in sorted(_own_holds(row).items()):
            uow.promotions.unhold(pk, held.member_id, held.amount)
        promotions = [{**item, "held": False, "held_member_id": None} for item in promotions]
    # the codes stay on the row, so an order paid after its hold expired still counts them
    codes = [] if committed else row["codes"]
    uow.checkouts.update(
        row["id"],
        status=RELEASED,
        release_reason=reason,
        codes=codes,
        promotions=promotions,
        updated_at=now,
    )
    return None


def commit(
    uow: UnitOfWork,
    checkout_id: str,
    member_id: int,
    order_pk: int,
    now: datetime,
    *,
    order_id: str,
) -> str | None:
    """The order of this checkout was paid: the held code uses and promotion usage become
    used; the held points stay spent. Returns a note when there was nothing to commit."""
    row = uow.checkouts.get(checkout_id, lock=True)
    if row is None:
        return f"checkout {checkout_id} is not known; no codes or points were held"
    if row["status"] == RELEASED and row["release_reason"] == "expired":
        return _commit_late(uow, row, member_id, order_pk, now, order_id)
    if row["status"] != RESERVED:
        return f"checkout {checkout_id} was already {row['status']}; nothing committed"
    lost = []
    for item in row["codes"]:
        if item.get("coupon"):
            if not _use_coupon(uow, item["code"], row, member_id, order_id, now):
                lost.append(item["code"])
        else:
            uow.promotions.use_reserved_code(item["code"])
    for applied in sorted(row["promotions"], key=lambda item: item["promotion_pk"]):
        uow.promotions.count_use(
            applied["promotion_pk"],
            row["member_id"] or member_id,
            Decimal(applied["discount"]),
            held=bool(applied.get("held")),
            held_member_id=applied.get("held_member_id"),
        )
    promotions = [{**item, "held": False, "held_member_id": None} for item in row["promotions"]]
    codes = [item for item in row["codes"] if item["code"] not in lost]
    uow.checkouts.update(
        row["id"],
        status=COMMITTED,
        order_pk=order_pk,
        member_id=row["member_id"] or member_id,  # a guest checkout: the use is the buyer's
        codes=codes,
        promotions=promotions,
        updated_at=now,
    )
    if lost:
        return f"coupon(s) {', '.join(lost)} could not be used: " + "no use was left"
    return None


def _use_coupon(
    uow: UnitOfWork, code: str, row: RowMapping, member_id: int, order_id: str, now: datetime
) -> bool:
    """Spend the coupon's use for the order (the checkout's hold, or a free use if the hold
    lapsed); False when none is left."""
    buyer = uow.members.get_by_id(row["member_id"] or member_id)
    external_id = None if buyer is None else str(buyer["external_id"])
    try:
        coupons.use_coupon(uow, code, order_id, external_id, now, checkout_id=row["checkout_id"])
    except (IllegalCouponTransition, CouponNotFound):
        return False
    return True


def _commit_late(
    uow: UnitOfWork, row: RowMapping, member_id: int, order_pk: int, now: datetime, order_id: str
) -> str:
    """The order was paid after the hold ran out: count what is still free to count. (The
    store gave the discount already, so promotion usage is counted even past its limit.)"""
    counted: list[dict[str, Any]] = []
    lost: list[dict[str, Any]] = []
    for item in row["codes"]:
        if item.get("coupon"):
            used = _use_coupon(uow, item["code"], row, member_id, order_id, now)
        else:
            used = uow.promotions.use_code(item["code"])
        (counted if used else lost).append(item)
    for applied in sorted(row["promotions"], key=lambda item: item["promotion_pk"]):
        uow.promotions.count_use(
            applied["promotion_pk"], row["member_id"] or member_id, Decimal(applied["discount"])
        )
    uow.checkouts.update(
        row["id"],
        status=COMMITTED,
        order_pk=order_pk,
        member_id=row["member_id"] or member_id,  # a guest checkout: the use is the buyer's
        codes=counted,
        updated_at=now,
    )
    note = f"checkout {row['checkout_id']} was paid after its hold expired; its points stayed"
    note += " with the member"
    if lost:
        note += "; code(s) " + ", ".join(i["code"] for i in lost) + " had no use left to count"
    return note


def refunded(uow: UnitOfWork, program: Program, order_pk: int, full: bool, now: datetime) -> None:
    """A refund gives the order's limited codes back when the programme's policy says so,
    with the use of their promotions, and, once the order is fully refunded, the budget
    they spent (also when an earlier partial refund gave the code back)."""
    policy = program.code_refund_policy
    if policy is CodeRefundPolicy.KEEP or (
        policy is CodeRefundPolicy.RELEASE_ON_FULL_REFUND and not full
    ):
        return
    row = uow.checkouts.of_order(order_pk)
    if row is None or row["status"] != COMMITTED:
        return
    uses: set[int] = set()
    for item in row["codes"]:
        if item.get("coupon"):
            coupons.give_back_use(uow, item["code"], f"checkout {row['checkout_id']}", now)
        else:
            uow.promotions.unuse_code(item["code"])
        if item["promotion_pk"] is not None:
            uses.add(item["promotion_pk"])
    # on a committed checkout a returned use is a code a refund gave back, now or before
    returned = uses | {item["promotion_pk"] for item in row["promotions"] if item.get(_USE)}
    budgets = returned if full else set()
    if not uses and not budgets:
        return
    promotions = _give_back_usage(uow, row, uses=uses, budgets=budgets)
    uow.checkouts.update(row["id"], codes=[], promotions=promotions, release_reason="refund")


_USE = "use_returned"  # the promotion's use was given back (by a refund or the cancellation)
_BUDGET = "budget_returned"  # the budget its discount spent was given back


def _give_back_usage(
    uow: UnitOfWork, row: RowMapping, *, uses: set[int], budgets: set[int]
) -> list[dict[str, Any]]:
    """Give back the use (promotions in ``uses``) and the spent budget (in ``budgets``) of a
    committed checkout's promotions, each at most once: the checkout's promotions record
    what was given back, so a refund followed by the cancellation (or a retry) gives back
    only the rest. Returns the promotions with that record brought up to date."""
    out = {item["promotion_pk"]: dict(item) for item in row["promotions"]}
    for pk, item in sorted(out.items()):  # promotion rows locked in promotion order
        use = pk in uses and not item.get(_USE)
        budget = pk in budgets and not item.get(_BUDGET)
        if not use and not budget:
            continue
        discount = Decimal(item["discount"]) if budget else Decimal(0)
        uow.promotions.uncount_use(pk, row["member_id"], discount, use=use)
        item[_USE] = bool(item.get(_USE)) or use
        item[_BUDGET] = bool(item.get(_BUDGET)) or budget
    return [out[item["promotion_pk"]] for item in row["promotions"]]


def release_due(uow: UnitOfWork, now: datetime) -> int:
    """Release this tenant's checkouts whose hold ran out; returns how many."""
    due = uow.checkouts.due(now)
    for checkout_id, _codes, _promotions in due:
        release(uow, checkout_id, "expired", now)
    return len(due)


def _release_expired_holders(
    uow: UnitOfWork, codes: tuple[str, ...], now: datetime, *, keep: str
) -> None:
    """Let go of expired holds on the entered codes and on promotion usage now, rather than
    when the job next runs (``keep``: the checkout being evaluated, which renews its own)."""
    wanted = {normalize_code(code) for code in codes}
    for checkout_id, held_codes, promotions in uow.checkouts.due(now):
        if checkout_id == keep:
            continue
        holds_usage = any(item.get("held") for item in promotions)
        if holds_usage or wanted & {item["code"] for item in held_codes}:
            release(uow, checkout_id, "expired", now)
