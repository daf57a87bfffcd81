"""Paid membership use cases: plans, and memberships started, renewed, cancelled and expired by
the store's billing events or by API calls. Each change writes a history row and an outbox
event (``membership.started`` ...) in the same transaction."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from loyalty.domain.errors import NotFound, ValidationFailed
from loyalty.domain.events import InboundEvent, MembershipChanged
from loyalty.domain.tiers.membership import (
    Membership,
    MembershipEvent,
    MembershipPlan,
    MembershipStatus,
    cancel,
    expire,
    renew,
    start,
)
from loyalty.services.context import TenantContext
from loyalty.services.lookup import ensure_member, require_member
from loyalty.services.members import profile_fields
from loyalty.services.outbox import emit
from loyalty.store.memberships import MembershipRepository, tenants_with_lapsed
from loyalty.store.uow import Database, UnitOfWork


def _repo(uow: UnitOfWork) -> MembershipRepository:
    return MembershipRepository(uow.conn, uow.tenant_id)


# --- plans --------------------------------------------------------------------------------


def _plan_view(row: Mapping[Any, Any]) -> dict[str, Any]:
    plan = MembershipPlan.from_dict(row["settings"])
    return {
        "id": row["id"],
        **plan.to_dict(),
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def _plan_row(uow: UnitOfWork, plan_id: int, field: str | None = None) -> Mapping[Any, Any]:
    row = _repo(uow).plan(plan_id)
    if row is None:
        raise NotFound(f"no membership plan {plan_id}", field=field)
    return row


def _checked(ctx: TenantContext, data: Mapping[str, Any]) -> MembershipPlan:
    plan = MembershipPlan.from_dict(dict(data))
    if plan.currency != ctx.program.currency:
        raise ValidationFailed(
            f"must be the programme's currency ({ctx.program.currency})", field="currency"
        )
    return plan


def create_plan(
    uow: UnitOfWork, ctx: TenantContext, data: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    plan = _checked(ctx, {"currency": ctx.program.currency, **data})
    plan_id = _repo(uow).add_plan(plan.to_dict(), now)
    uow.audit(ctx.actor, "membership_plan.created", str(plan_id), plan.to_dict(), now)
    return _plan_view(_plan_row(uow, plan_id))


def list_plans(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [_plan_view(row) for row in _repo(uow).plans()]


def get_plan(uow: UnitOfWork, plan_id: int) -> dict[str, Any]:
    return _plan_view(_plan_row(uow, plan_id))


def update_plan(
    uow: UnitOfWork, ctx: TenantContext, plan_id: int, changes: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    """Change a plan; running memberships get the new benefits, their dates stay as they are.
    ``active: false`` retires the plan: no new memberships on it."""
    current = MembershipPlan.from_dict(_plan_row(uow, plan_id)["settings"])
    plan = _checked(ctx, {**current.to_dict(), **changes})
    _repo(uow).put_plan(plan_id, plan.to_dict(), now)
    uow.audit(ctx.actor, "membership_plan.updated", str(plan_id), plan.to_dict(), now)
    return _plan_view(_plan_row(uow, plan_id))


# --- memberships ------------------------------------------------------------------------


def _membership(row: Mapping[Any, Any]) -> Membership:
    return Membership(
        row["membership_id"],
        row["plan_id"],
        MembershipStatus(row["status"]),
        row["started_at"],
        row["ends_at"],
        row["cancelled_at"],
    )


def _view(membership: Membership, now: datetime) -> dict[str, Any]:
    return {
        "id": membership.id,
        "plan_id": membership.plan_id,
        "status": membership.status.value,
        "active": membership.active(now),
        "started_at": membership.started_at.isoformat(),
        "ends_at": membership.ends_at.isoformat(),
        "cancelled_at": None
        if membership.cancelled_at is None
        else membership.cancelled_at.isoformat(),
    }


def _record(
    uow: UnitOfWork,
    pk: int,
    external_id: str,
    event: MembershipEvent,
    before: MembershipStatus | None,
    after: Membership,
    source: str,
    at: datetime,
    now: datetime,
) -> None:
    _repo(uow).add_history(
        {
            "membership_pk": pk,
            "event": event.value,
            "from_status": None if before is None else before.value,
            "to_status": after.status.value,
            "ends_at": after.ends_at,
            "source": source,
            "occurred_at": at,
            "created_at": now,
        }
    )
    emit(uow, event.value, external_id, {"member": external_id, **_view(after, now)}, now)


def start_membership(
    uow: UnitOfWork,
    ctx: TenantContext,
    external_id: str,
    plan_id: int,
    membership_id: str | None,
    at: datetime,
    now: datetime,
    source: str = "api",
) -> dict[str, Any]:
    """Start a membership on an active plan; ``membership_id`` is the store's, or made up."""
    member = require_member(uow, external_id, field="member.external_id")
    row = _plan_row(uow, plan_id, field="plan_id")
    plan = MembershipPlan.from_dict(row["settings"])
    if not plan.active:
        raise ValidationFailed(f"plan {plan_id} is retired", field="plan_id")
    membership_id = membership_id or f"ms_{secrets.token_hex(8)}"
    if _repo(uow).get(membership_id) is not None:
        raise ValidationFailed(f"membership '{membership_id}' exists", field="membership_id")
    membership = start(membership_id, plan_id, plan, at, ctx.timezone)
    pk = _repo(uow).add(
        {
            "membership_id": membership.id,
            "member_id": member["id"],
            "plan_id": plan_id,
            "status": membership.status.value,
            "started_at": membership.started_at,
            "ends_at": membership.ends_at,
            "created_at": now,
            "updated_at": now,
        }
    )
    _record(uow, pk, external_id, MembershipEvent.STARTED, None, membership, source, at, now)
    return _view(membership, now)


def change_membership(
    uow: UnitOfWork,
    ctx: TenantContext,
    membership_id: str,
    event: MembershipEvent,
    at: datetime,
    now: datetime,
    *,
    source: str = "api",
    immediately: bool = False,
    member_external_id: str | None = None,
) -> dict[str, Any]:
    """Renew, cancel or expire a membership (``event`` says which)."""
    repo = _repo(uow)
    row = repo.get(membership_id, lock=True)
    if row is None:
        raise NotFound(f"no membership '{membership_id}'", field="membership_id")
    member = uow.members.get_by_id(row["member_id"])
    assert member is not None
    if member_external_id is not None and member["external_id"] != member_external_id:
        raise NotFound(
            f"member '{member_external_id}' has no membership '{membership_id}'",
            field="membership_id",
        )
    before = _membership(row)
    after = _apply(uow, ctx, before, event, at, immediately)
    repo.update(
        row["id"],
        {
            "status": after.status.value,
            "ends_at": after.ends_at,
            "cancelled_at": after.cancelled_at,
            "updated_at": now,
        },
    )
    _record(uow, row["id"], member["external_id"], event, before.status, after, source, at, now)
    return _view(after, now)


def _apply(
    uow: UnitOfWork,
    ctx: TenantContext,
    membership: Membership,
    event: MembershipEvent,
    at: datetime,
    immediately: bool,
) -> Membership:
    if event is MembershipEvent.RENEWED:
        settings = _plan_row(uow, membership.plan_id)["settings"]
        return renew(membership, MembershipPlan.from_dict(settings), at, ctx.timezone)
    if event is MembershipEvent.CANCELLED:
        return cancel(membership, at, immediately=immediately)
    if event is MembershipEvent.EXPIRED:
        return expire(membership, at)
    raise ValidationFailed(f"{event.value} cannot change a membership", field="type")


def member_memberships(uow: UnitOfWork, external_id: str, now: datetime) -> dict[str, Any]:
    """The member's memberships, newest first, each with its history."""
    member = require_member(uow, external_id, lock=False)
    rows = _repo(uow).of_member(member["id"])
    history: dict[int, list[dict[str, Any]]] = {row["id"]: [] for row in rows}
    for entry in _repo(uow).history(list(history)):
        history[entry["membership_pk"]].append(
            {
                "event": entry["event"],
                "from_status": entry["from_status"],
                "to_status": entry["to_status"],
                "ends_at": entry["ends_at"].isoformat(),
                "source": entry["source"],
                "occurred_at": entry["occurred_at"].isoformat(),
            }
        )
    return {
        "member": external_id,
        "items": [{**_view(_membership(row), now), "history": history[row["id"]]} for row in rows],
    }


def expire_lapsed(db: Database, now: datetime, tenant_id: int | None = None) -> int:
    """Mark memberships whose term ran out as expired, dated when they ran out. Idempotent."""
    with db.engine.connect() as conn:
        tenants = tenants_with_lapsed(conn, now, tenant_id)
    expired = 0
    for tenant in tenants:
        while True:
            with db.transaction(tenant) as uow:
                rows = _repo(uow).lapsed(now, 200)
                for row in rows:
                    _expire_row(uow, row, now)
            expired += len(rows)
            if len(rows) < 200:
                break
    return expired


def _expire_row(uow: UnitOfWork, row: Mapping[Any, Any], now: datetime) -> None:
    before = _membership(row)
    after = expire(before, before.ends_at)
    _repo(uow).update(row["id"], {"status": after.status.value, "updated_at": now})
    member = uow.members.get_by_id(row["member_id"])
    assert member is not None
    _record(
        uow,
        row["id"],
        member["external_id"],
        MembershipEvent.EXPIRED,
        before.status,
        after,
        "term-ended",
        before.ends_at,
        now,
    )


def apply_event(
    uow: UnitOfWork, ctx: TenantContext, event: InboundEvent, data: MembershipChanged, now: datetime
) -> tuple[Mapping[Any, Any], str]:
    """A billing event from the store: the member it concerns and a note for the response.

    Runs inside the events inbox, so a retried event id changes nothing twice.
    """
    at = min(event.occurred_at, now)
    kind = MembershipEvent(event.type)
    if kind is MembershipEvent.STARTED:
        assert event.member is not None and data.plan_id is not None
        fields = profile_fields(dict(event.member.profile), {}, now)
        member, _ = ensure_member(uow, event.member.external_id, fields, now)
        view = start_membership(
            uow,
            ctx,
            member["external_id"],
            data.plan_id,
            data.membership_id,
            at,
            now,
            source=f"event:{event.event_id}",
        )
    else:
        row = _repo(uow).get(data.membership_id)
        if row is None:
            raise NotFound(f"no membership '{data.membership_id}'", field="data.membership_id")
        found = uow.members.get_by_id(row["member_id"])
        assert found is not None
        member = found
        view = change_membership(
            uow,
            ctx,
            data.membership_id,
            kind,
            at,
            now,
            source=f"event:{event.event_id}",
            immediately=data.immediately,
            member_external_id=None if event.member is None else event.member.external_id,
        )
    return member, f"membership {view['id']} is {view['status']} until {view['ends_at']}"
