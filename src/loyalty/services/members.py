"""Member use cases: profiles, balances view, history, manual adjustments."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import RowMapping

from loyalty.domain.errors import MemberBlocked, MemberExists, ValidationFailed
from loyalty.domain.ledger import EntryKind
from loyalty.domain.members import MemberStatus, normalise_email, normalise_locale, normalise_phone
from loyalty.domain.tiers.benefits import EffectiveBenefits
from loyalty.services import ledger, tiers
from loyalty.services.context import TenantContext
from loyalty.services.lookup import require_member
from loyalty.services.outbox import emit, emit_effects
from loyalty.services.views import member_summary
from loyalty.store.uow import UnitOfWork

_NORMALISERS = {"email": normalise_email, "phone": normalise_phone, "locale": normalise_locale}


def profile_fields(
    data: dict[str, Any], current_consents: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Normalise the profile fields present in ``data``; consents keep when they last changed."""
    fields: dict[str, Any] = {}
    for name in ("email", "phone", "first_name", "last_name", "birthday", "locale", "status"):
        if name in data:
            value = data[name]
            fields[name] = _NORMALISERS[name](value) if name in _NORMALISERS else value
    if "status" in fields:
        fields["status"] = MemberStatus(fields["status"]).value
    if data.get("consents") is not None:
        consents = dict(current_consents)
        for channel, granted in data["consents"].items():
            previous = consents.get(channel)
            if previous is None or previous["granted"] != granted:
                consents[channel] = {"granted": bool(granted), "at": now.isoformat()}
        fields["consents"] = consents
    return fields


def create_member(
    uow: UnitOfWork, ctx: TenantContext, external_id: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    if not external_id:
        raise ValidationFailed("external_id is required", field="external_id")
    fields = profile_fields(data, {}, now)
    member = uow.members.add(external_id, fields, now)
    if member is None:
        raise MemberExists(f"a member with external id '{external_id}' exists", field="external_id")
    emit(uow, "member.created", external_id, {"member": member_summary(member)}, now)
    return member_view(uow, ctx, member, now)


def update_member(
    uow: UnitOfWork, ctx: TenantContext, external_id: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    member = require_member(uow, external_id)
    fields = profile_fields(data, member["consents"] or {}, now)
    if fields:
        uow.members.update_fields(member["id"], fields, now)
        member = require_member(uow, external_id, lock=False)
        payload = {"member": member_summary(member), "changed": sorted(fields)}
        emit(uow, "member.updated", external_id, payload, now)
    return member_view(uow, ctx, member, now)


def get_member(
    uow: UnitOfWork, ctx: TenantContext, external_id: str, now: datetime
) -> dict[str, Any]:
    return member_view(uow, ctx, require_member(uow, external_id, lock=False), now)


def benefits_view(benefits: EffectiveBenefits) -> dict[str, Any]:
    """Merged benefits for other parts and the store: the flags, the early-access window
    (``early_access`` and its ``early_access_days``), the birthday gifts and the perks."""
    return {**benefits.to_dict(), "early_access": benefits.early_access}


def balances(
    uow: UnitOfWork, ctx: TenantContext, member: RowMapping, now: datetime
) -> dict[str, Any]:
    until = now + timedelta(days=ctx.program.expiring_soon_days)
    expiring = uow.ledger.expiring(member["id"], now, until)
    return {
        "available": member["available"],
        "pending": member["pending"],
        "lifetime_earned": member["lifetime_earned"],
        "negative_balance": member["debt"],
        "expiring_soon": [{"points": p, "expires_at": at.isoformat()} for p, at in expiring],
    }


def member_view(
    uow: UnitOfWork, ctx: TenantContext, member: RowMapping, now: datetime
) -> dict[str, Any]:
    """The member's profile, balances and ``benefits``: what the tier they hold and every
    active paid membership give them at ``now``, merged (with or without a tier ladder)."""
    return {
        **member_summary(member),
        "balances": balances(uow, ctx, member, now),
        "benefits": benefits_view(tiers.benefits_for(uow, member["id"], now)),
    }


def list_members(
    uow: UnitOfWork, after: int | None, limit: int, filters: dict[str, Any]
) -> tuple[list[dict[str, Any]], int | None]:
    if "email" in filters:
        filters = {**filters, "email": normalise_email(filters["email"])}
    rows = uow.members.page(after, limit + 1, filters)
    page = rows[:limit]
    items = [
        {
            **member_summary(r),
            "balances": {
                "available": r["available"],
                "pending": r["pending"],
                "lifetime_earned": r["lifetime_earned"],
            },
        }
        for r in page
    ]
    return items, page[-1]["id"] if len(rows) > limit else None


def history(
    uow: UnitOfWork, external_id: str, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    member = require_member(uow, external_id, lock=False)
    rows = uow.ledger.entries(member["id"], after, limit + 1)
    items = [_entry_view(r) for r in rows[:limit]]
    return items, rows[limit - 1]["id"] if len(rows) > limit else None


def _entry_view(row: RowMapping) -> dict[str, Any]:
    view: dict[str, Any] = {
        "entry_id": row["id"],
        "kind": row["kind"],
        "points": row["points"],
        "available_delta": row["available_delta"],
        "pending_delta": row["pending_delta"],
        "reason": row["reason"],
        "occurred_at": row["occurred_at"].isoformat(),
        "recorded_at": row["created_at"].isoformat(),
    }
    for name in ("actor", "refund_id", "rule_id", "rule_version", "meta"):
        if row[name] is not None:
            view[name] = row[name]
    if row["order_external_id"] is not None:
        view["order_id"] = row["order_external_id"]
    if row["lot_id"] is not None and row["kind"] in (
        EntryKind.EARN,
        EntryKind.ADJUST,
        EntryKind.TRANSFER_IN,
    ):
        view["lot"] = {
            "status": row["lot_status"],
            "available_at": row["available_at"].isoformat(),
            "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
        }
    return view


def adjust(
    uow: UnitOfWork, ctx: TenantContext, external_id: str, points: int, reason: str, now: datetime
) -> dict[str, Any]:
    """A manual correction with a reason; a negative one spends like a redemption."""
    if points == 0:
        raise ValidationFailed("points must not be zero", field="points")
    if not reason.strip():
        raise ValidationFailed("a reason is required", field="reason")
    member = require_member(uow, external_id)
    if member["status"] == MemberStatus.BLOCKED and points < 0:
        raise MemberBlocked(f"member {external_id} is blocked")
    if points > 0:
        effect, _ = ledger.credit(
            uow,
            ctx,
            member["id"],
            points,
            kind=EntryKind.ADJUST,
            earned_at=now,
            now=now,
            reason=reason,
            pending=False,
            lifetime=False,
            actor=ctx.actor,
        )
    else:
        effect, _ = ledger.spend(
            uow,
            member["id"],
            -points,
            kind=EntryKind.ADJUST,
            reason=reason,
            now=now,
            actor=ctx.actor,
        )
    uow.audit(ctx.actor, "points.adjusted", external_id, {"points": points, "reason": reason}, now)
    tiers.refresh_member(uow, ctx, member["id"], external_id, now)  # credits count as earned
    member = require_member(uow, external_id, lock=False)
    view = balances(uow, ctx, member, now)
    emit_effects(uow, external_id, [effect.to_dict()], view, now)
    return {"effects": [effect.to_dict()], "balances": view}


def transfer(
    uow: UnitOfWork,
    ctx: TenantContext,
    sender: str,
    receiver: str,
    points: int,
    reason: str,
    now: datetime,
) -> dict[str, Any]:
    out_effect, in_effect = ledger.transfer(
        uow, ctx, sender, receiver, points, reason=reason, now=now
    )
    uow.audit(ctx.actor, "points.transferred", sender, {"to": receiver, "points": points}, now)
    views = {
        sender: balances(uow, ctx, require_member(uow, sender, lock=False), now),
        receiver: balances(uow, ctx, require_member(uow, receiver, lock=False), now),
    }
    emit_effects(uow, sender, [out_effect.to_dict()], views[sender], now)
    emit_effects(uow, receiver, [in_effect.to_dict()], views[receiver], now)
    return {"effects": [out_effect.to_dict(), in_effect.to_dict()], "balances": views}
