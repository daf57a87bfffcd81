"""Tier use cases: the ladder, a member's tier after activity, manual tiers, reviews, benefits.

A member's tier is decided by ``loyalty.domain.tiers.decision`` over their activity, read from
the orders and the ledger for the windows that matter. Every change writes a history row and a
``tier.changed`` outbox event in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from loyalty.domain.errors import InvalidSettings, NotFound
from loyalty.domain.money import Money
from loyalty.domain.tiers.benefits import ONE, Benefits, EffectiveBenefits, merge_benefits
from loyalty.domain.tiers.decision import TierDecision, clear_manual_tier, decide, set_manual_tier
from loyalty.domain.tiers.errors import InvalidTierSettings
from loyalty.domain.tiers.ladder import Metric, TierLadder
from loyalty.domain.tiers.membership import MembershipPlan
from loyalty.domain.tiers.progress import progress
from loyalty.domain.tiers.qualification import Contribution
from loyalty.domain.tiers.status import ManualTier, TierStatus
from loyalty.services.context import TenantContext
from loyalty.services.lookup import require_member
from loyalty.services.outbox import emit
from loyalty.services.program import load_context
from loyalty.store.memberships import MembershipRepository, any_membership
from loyalty.store.tiers import TierRepository, tenants_with_ladders
from loyalty.store.uow import Database, UnitOfWork

HISTORY_SHOWN = 20


def _repo(uow: UnitOfWork) -> TierRepository:
    return TierRepository(uow.conn, uow.tenant_id, uow.raw)


def _no_tiers() -> NotFound:
    return NotFound("the programme has no tiers yet; create them with POST /v1/tiers")


# --- the ladder -------------------------------------------------------------------------


# Parsed ladders by (database, tenant, version, settings). The settings are part of the key
# because a version number can come back: an edit whose transaction rolled back leaves its
# parse here, and the next edit writes the same version with other settings.
_PARSED: dict[tuple[str, int, int, bytes], TierLadder] = {}


def load_ladder(uow: UnitOfWork) -> TierLadder | None:
    """The ladder in force, or None when the programme has no tiers."""
    stored = _repo(uow).ladder()
    if stored is None:
        return None
    settings, version = stored
    key = (
        str(uow.conn.engine.url),
        uow.tenant_id,
        version,
        orjson.dumps(settings, option=orjson.OPT_SORT_KEYS),
    )
    ladder = _PARSED.get(key)
    if ladder is None:
        if len(_PARSED) > 1000:
            _PARSED.clear()
        ladder = _PARSED[key] = TierLadder.from_dict({**settings, "version": version})
    return ladder


def get_tiers(uow: UnitOfWork) -> dict[str, Any]:
    ladder = load_ladder(uow)
    if ladder is None:
        raise _no_tiers()
    return ladder.to_dict()


def create_tiers(
    uow: UnitOfWork, ctx: TenantContext, data: Mapping[Any, Any], now: datetime
) -> dict[str, Any]:
    """The programme's first ladder (version 1); a programme that has one edits it instead."""
    if _repo(uow).ladder() is not None:
        raise InvalidSettings("the programme already has tiers; edit them with PATCH /v1/tiers")
    return _save(uow, ctx, {**data, "version": 1}, now, previous=None)


def update_tiers(
    uow: UnitOfWork, ctx: TenantContext, changes: Mapping[Any, Any], now: datetime
) -> dict[str, Any]:
    """The next version: the given top-level fields replace the current ones. Members holding
    a tier are decided again under it by the next job run (a lower threshold raises them)."""
    current = load_ladder(uow)
    if current is None:
        raise _no_tiers()
    data = {**current.to_dict(), **changes, "version": current.version + 1}
    saved = _save(uow, ctx, data, now, previous=current)
    _repo(uow).recheck_all(now)
    return saved


def _save(
    uow: UnitOfWork,
    ctx: TenantContext,
    data: Mapping[Any, Any],
    now: datetime,
    previous: TierLadder | None,
) -> dict[str, Any]:
    if data.get("metric") == Metric.AMOUNT_SPENT.value and data.get("currency") is None:
        data = {**data, "currency": ctx.program.currency}
    ladder = TierLadder.from_dict(dict(data))
    if ladder.currency is not None and ladder.currency != ctx.program.currency:
        raise InvalidTierSettings(
            f"must be the programme's currency ({ctx.program.currency})", field="currency"
        )
    if previous is not None:
        _refuse_removing_held_tiers(uow, previous, ladder)
    settings = ladder.to_dict()
    del settings["version"]
    _repo(uow).add_ladder(ladder.version, settings, ctx.actor, now)
    uow.audit(ctx.actor, "tiers.updated", None, ladder.to_dict(), now)
    return ladder.to_dict()


def _refuse_removing_held_tiers(uow: UnitOfWork, before: TierLadder, after: TierLadder) -> None:
    kept = {level.id for level in after.levels}
    removed = sorted(level.id for level in before.levels if level.id not in kept)
    held = _repo(uow).members_holding(removed)
    if held:
        raise InvalidTierSettings(
            f"{held} member(s) hold tier(s) {', '.join(removed)}; keep the tier ids",
            field="levels",
        )


# --- a member's tier ----------------------------------------------------------------------


def _status(external_id: str, row: Mapping[Any, Any] | None) -> TierStatus:
    if row is None:
        return TierStatus(external_id)
    manual = None
    if row["manual_tier"] is not None:
        manual = ManualTier(
            row["manual_tier"],
            row["manual_until"],
            row["manual_set_at"],
            row["manual_set_by"],
            row["manual_note"] or "",
        )
    return TierStatus(external_id, row["tier"], row["since"], row["review_at"], manual)


def _since(ladder: TierLadder, status: TierStatus, now: datetime, tz: ZoneInfo) -> datetime | None:
    """The earliest activity any window the decision looks at can hold (None: all of it)."""
    starts = [ladder.window.live(now, tz).start]
    if status.review_at is not None:
        starts.append(ladder.window.closing_at(min(status.review_at, now), tz).start)
    if any(start is None for start in starts):
        return None
    return min(start for start in starts if start is not None)


def _facts(
    repo: TierRepository, ladder: TierLadder, member_id: int, since: datetime | None
) -> list[Contribution]:
    if ladder.metric is Metric.POINTS_EARNED:
        return [Contribution(at, points=points) for at, points in repo.points(member_id, since)]
    if ladder.metric is Metric.ORDERS:
        return [Contribution(at, orders=1) for at in repo.orders(member_id, since)]
    assert ladder.currency is not None
    return [
        Contribution(at, spend=Money(amount, ladder.currency))
        for at, amount in repo.spend(member_id, ladder.currency, since)
    ]


def _measured(
    uow: UnitOfWork,
    ladder: TierLadder,
    member_id: int,
    external_id: str,
    now: datetime,
    tz: ZoneInfo,
    *,
    lock: bool = True,
) -> tuple[TierStatus, Mapping[Any, Any] | None, list[Contribution]]:
    repo = _repo(uow)
    row = repo.state(member_id, lock=lock)
    status = _status(external_id, row)
    return status, row, _facts(repo, ladder, member_id, _since(ladder, status, now, tz))


def refresh_member(
    uow: UnitOfWork, ctx: TenantContext, member_id: int, external_id: str, now: datetime
) -> TierDecision | None:
    """Decide the member's tier after activity (or at a review) and store what changed.

    Does nothing when the programme has no tiers. Safe to call any number of times.
    """
    return refresh_member_on(uow, ctx, load_ladder(uow), member_id, external_id, now)


def refresh_member_on(
    uow: UnitOfWork,
    ctx: TenantContext,
    ladder: TierLadder | None,
    member_id: int,
    external_id: str,
    now: datetime,
    *,
    announce: bool = True,
) -> TierDecision | None:
    """``refresh_member`` with the ladder the caller has just read (``load_ladder``);
    ``announce=False``: changes are stored, with their history, but send no ``tier.changed``
    (the history import's lean mode)."""
    if ladder is None:
        return None
    status, row, facts = _measured(uow, ladder, member_id, external_id, now, ctx.timezone)
    decision = decide(ladder, status, facts, now, ctx.timezone)
    _store(uow, ctx, ladder, member_id, row, decision, now, announce=announce)
    return decision


def refresh_members(
    uow: UnitOfWork,
    ctx: TenantContext,
    members: Mapping[int, str],
    now: datetime,
    *,
    announce: bool = True,
) -> None:
    """``refresh_member`` for several members (id -> external id), in id order."""
    ladder = load_ladder(uow) if members else None
    if ladder is not None:
        for member_id in sorted(members):
            refresh_member_on(
                uow, ctx, ladder, member_id, members[member_id], now, announce=announce
            )


def _store(
    uow: UnitOfWork,
    ctx: TenantContext,
    ladder: TierLadder,
    member_id: int,
    row: Mapping[Any, Any] | None,
    decision: TierDecision,
    now: datetime,
    *,
    announce: bool = True,
) -> None:
    status, check_at = decision.status, _check_at(decision)
    unchanged = row is not None and row["check_at"] == check_at
    if status == _status(status.member_id, row) and unchanged and not decision.changes:
        return
    if row is None and status == TierStatus(status.member_id):
        return  # no tier and nothing to look at: keep no row
    manual = status.manual
    _repo(uow).save_state(
        member_id,
        {
            "tier": status.tier,
            "since": status.since,
            "review_at": status.review_at,
            "check_at": check_at,
            "manual_tier": None if manual is None else manual.tier,
            "manual_until": None if manual is None else manual.until,
            "manual_set_at": None if manual is None else manual.set_at,
            "manual_set_by": None if manual is None else manual.set_by,
            "manual_note": None if manual is None else manual.note,
            "ladder_version": ladder.version,
            "updated_at": now,
        },
        exists=row is not None,
    )
    _repo(uow).add_history(
        [
            {
                "member_id": member_id,
                "from_tier": change.from_tier,
                "to_tier": change.to_tier,
                "reason": change.reason.value,
                "effective_at": change.at,
                "ladder_version": change.ladder_version,
                "actor": ctx.actor,
                "created_at": now,
            }
            for change in decision.changes
        ]
    )
    for change in decision.changes if announce else ():
        payload = {"member": status.member_id, **change.to_dict()}
        emit(uow, change.type, status.member_id, payload, now)


def _check_at(decision: TierDecision) -> datetime | None:
    """When the review job must decide again: the review, the end of a grace period (the
    pending drop) or the end of a manual floor, whichever comes first."""
    status = decision.status
    moments = [decision.pending.at if decision.pending else status.review_at]
    if status.manual is not None:
        moments.append(status.manual.until)
    known = [moment for moment in moments if moment is not None]
    return min(known) if known else None


def member_tier(
    uow: UnitOfWork, ctx: TenantContext, external_id: str, now: datetime
) -> dict[str, Any]:
    """The member's tier as of ``now`` (reviews that fell due are applied in the view even
    before the job stores them), progress to the next tier, the next review and benefits."""
    ladder = load_ladder(uow)
    if ladder is None:
        raise _no_tiers()
    member = require_member(uow, external_id, lock=False)
    status, _row, facts = _measured(
        uow, ladder, member["id"], external_id, now, ctx.timezone, lock=False
    )
    decided = decide(ladder, status, facts, now, ctx.timezone).status
    level = None if decided.tier is None else ladder.level(decided.tier)
    view = progress(ladder, decided, facts, now, ctx.timezone)
    return {
        "member": external_id,
        "tier": None if level is None else {"id": level.id, "name": level.name},
        "since": None if decided.since is None else decided.since.isoformat(),
        "manual": _manual_view(decided.manual),
        "ladder_version": ladder.version,
        "progress": view.to_dict(ladder),
        "benefits": _benefits(uow, ladder, decided.tier, member["id"], now).to_dict(),
        "history": [_history_view(r) for r in _repo(uow).history(member["id"], HISTORY_SHOWN)],
    }


def _manual_view(manual: ManualTier | None) -> dict[str, Any] | None:
    if manual is None:
        return None
    return {
        "tier": manual.tier,
        "until": None if manual.until is None else manual.until.isoformat(),
        "set_at": manual.set_at.isoformat(),
        "set_by": manual.set_by,
        "note": manual.note,
    }


def _history_view(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "from_tier": row["from_tier"],
        "to_tier": row["to_tier"],
        "reason": row["reason"],
        "effective_at": row["effective_at"].isoformat(),
        "ladder_version": row["ladder_version"],
    }


def put_member_tier(
    uow: UnitOfWork,
    ctx: TenantContext,
    external_id: str,
    tier: str | None,
    until: datetime | None,
    note: str,
    now: datetime,
) -> dict[str, Any]:
    """An admin sets the member's tier, a floor until ``until``; ``tier=None`` removes the
    floor (the tier stays until the next review measures it)."""
    ladder = load_ladder(uow)
    if ladder is None:
        raise _no_tiers()
    member = require_member(uow, external_id)
    status, row, facts = _measured(uow, ladder, member["id"], external_id, now, ctx.timezone)
    if tier is None:
        settled = decide(ladder, clear_manual_tier(status), facts, now, ctx.timezone)
    else:
        settled = set_manual_tier(
            ladder, status, facts, tier, until, now, ctx.timezone, set_by=ctx.actor, note=note
        )
    _store(uow, ctx, ladder, member["id"], row, settled, now)
    audit = {"tier": tier, "until": None if until is None else until.isoformat(), "note": note}
    uow.audit(ctx.actor, "tier.set", external_id, audit, now)
    return member_tier(uow, ctx, external_id, now)


# --- reviews ----------------------------------------------------------------------------


def review_due(db: Database, now: datetime, tenant_id: int | None = None, chunk: int = 200) -> int:
    """Apply reviews, ends of grace periods and ends of manual floors that came due; returns
    the number of tier changes. One short transaction per chunk of members.

    Catch-up safe and idempotent: deciding moves a member's ``check_at`` forward, so a second
    run finds nothing, and a review missed while the job was down is dated when it was due.
    """
    with db.engine.connect() as conn:
        tenants = tenants_with_ladders(conn, tenant_id)
    changes = 0
    for tenant in tenants:
        changes += _review_tenant(db, tenant, now, chunk)
    return changes


def _review_tenant(db: Database, tenant_id: int, now: datetime, chunk: int) -> int:
    changes, after = 0, 0
    while True:
        with db.transaction(tenant_id) as uow:
            due = _repo(uow).due(now, after, chunk)
            ctx = load_context(uow, actor="tier-review")
            for member_id, external_id in due:
                decision = refresh_member(uow, ctx, member_id, external_id, now)
                changes += 0 if decision is None else len(decision.changes)
        if len(due) < chunk:
            return changes
        after = due[-1][0]


# --- benefits -----------------------------------------------------------------------------


def standing(
    uow: UnitOfWork, member_id: int, now: datetime
) -> tuple[str | None, EffectiveBenefits]:
    """The tier id the member holds now (manual floors included), or None, and what they get
    at ``now``: their tier's benefits merged with every active paid membership's (see
    ``loyalty.domain.tiers.benefits.merge_benefits``). One read of the member's tier row."""
    ladder = load_ladder(uow)
    row = _repo(uow).state(member_id)
    tier = None if row is None else row["tier"]
    return tier, _benefits(uow, ladder, tier, member_id, now)


def may_multiply(uow: UnitOfWork, ladder: TierLadder | None) -> bool:
    """Whether anything can multiply what an order earns at the programme's own rate: a tier
    ladder, or a paid membership (even without tiers). One cheap probe without tiers."""
    return ladder is not None or any_membership(uow.raw, uow.tenant_id)


def base_multiplier(
    uow: UnitOfWork,
    ladder: TierLadder | None,
    member_id: int,
    now: datetime,
    *,
    checked: bool = False,
) -> Decimal:
    """The earn multiplier on the programme's own rate when the tenant has no earning rule
    on orders (the rules apply it themselves): the member's, as ``standing`` gives it (their
    tier's and their active paid memberships'). 1 when neither can apply, at the cost of one
    probe (none when the caller already asked ``may_multiply``: ``checked``)."""
    if not checked and not may_multiply(uow, ladder):
        return ONE
    tier = None
    if ladder is not None:
        row = _repo(uow).state(member_id)
        tier = None if row is None else row["tier"]
    return _benefits(uow, ladder, tier, member_id, now).earn_multiplier


def ladder_multiplies(ladder: TierLadder | None) -> bool:
    """Whether reaching a tier can change what an order earns (a level multiplier is not 1)."""
    return ladder is not None and any(
        level.benefits.earn_multiplier != ONE for level in ladder.levels
    )


def benefits_for(uow: UnitOfWork, member_id: int, now: datetime) -> EffectiveBenefits:
    """What the member gets at ``now`` (see ``standing``)."""
    return standing(uow, member_id, now)[1]


def _benefits(
    uow: UnitOfWork, ladder: TierLadder | None, tier: str | None, member_id: int, now: datetime
) -> EffectiveBenefits:
    sources: list[Benefits] = []
    if ladder is not None and tier is not None:
        sources.append(ladder.level(tier).benefits)
    plans = MembershipRepository(uow.conn, uow.tenant_id).active_plans(member_id, now)
    sources += [MembershipPlan.from_dict(settings).benefits for settings in plans]
    return merge_benefits(sources)
