"""The daily birthdays, in each tenant's time zone: ``member.birthday`` events for the earning
rules, and the birthday gifts of tiers and paid membership plans.

Only tenants with a rule on ``member.birthday``, or with a tier or plan that has a
``birthday_gift``, are looked at. A member is due when their birthday is today (tenant-local;
29 February counts on 28 February in common years), or was at most ``CATCH_UP_DAYS`` ago when
the job was down, and their birthday was not set or changed within 30 days before it.

- With a birthday rule, a due member gets one event through the normal inbox. Its id is
  ``birthday:<member>:<year>``, so however often the job runs, a member earns at most once a
  year.
- With gifts, a due member gets every gift their tier and active paid memberships give that
  day (``merge_benefits`` keeps them all): points as an ``earn`` entry whose reason names the
  tier or plan, a reward through ``rewards.grant_reward`` (a redemption at no points cost,
  exclusive or not). They are recorded in the inbox as ``birthday-gift:<member>:<year>`` in the
  same transaction, so a re-run or a catch-up gives nothing twice. A member with no gift that
  day gets nothing and nothing is recorded.

A tenant with both gets both: the rule's bonus and the gifts are separate benefits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from loyalty.domain.errors import DomainError
from loyalty.domain.events import ActionPerformed, InboundEvent, MemberRef
from loyalty.domain.ledger import EntryKind
from loyalty.domain.members import MemberStatus
from loyalty.domain.rules import birthday_bonus_due, birthday_in
from loyalty.domain.tiers.benefits import BirthdayGift
from loyalty.domain.tiers.membership import MembershipPlan
from loyalty.services import events, ledger, rewards, tiers
from loyalty.services.context import TenantContext
from loyalty.services.lookup import require_member
from loyalty.services.outbox import emit_effects
from loyalty.services.program import load_context
from loyalty.store import rules as rule_sql
from loyalty.store.members import tenants_with_benefit_sources
from loyalty.store.memberships import MembershipRepository
from loyalty.store.uow import Database, UnitOfWork

BIRTHDAY = "member.birthday"
GIFT = "member.birthday_gift"  # the inbox type of a year's gifts (no rule earns on it)
CATCH_UP_DAYS = 3
SOURCE = "system"


def raise_birthdays(db: Database, now: datetime, tenant_id: int | None = None) -> int:
    """Process due birthday events and gifts for every tenant (or one); returns how many were
    new (a member of a tenant with a birthday rule and a gift counts twice)."""
    with db.engine.connect() as conn:
        with_rules = set(rule_sql.tenants_with_rules_on(conn, BIRTHDAY, tenant_id))
        with_sources = set(tenants_with_benefit_sources(conn, tenant_id))
    return sum(
        _tenant(db, tenant, now, tenant in with_rules)
        for tenant in sorted(with_rules | with_sources)
    )


def _tenant(db: Database, tenant_id: int, now: datetime, rule: bool) -> int:
    with db.read(tenant_id) as uow:
        ctx = load_context(uow, "job:birthdays")
        gifts = _gives_gifts(uow)
    if not rule and not gifts:
        return 0
    today = now.astimezone(ctx.timezone).date()
    with db.engine.connect() as conn:
        candidates = rule_sql.members_born_on(conn, tenant_id, _calendar_days(today))
    raised = 0
    for member in candidates:
        day = _celebrated(member["birthday"], member["changed_on"], today)
        if day is None:
            continue
        if rule:
            raised += _raise_event(db, ctx, member, day, now)
        if gifts:
            give = partial(_give_gifts, ctx=ctx, external_id=member["external_id"], day=day)
            raised += db.run(tenant_id, partial(give, now=now))
    return raised


def _raise_event(
    db: Database, ctx: TenantContext, member: Mapping[Any, Any], day: date, now: datetime
) -> int:
    event = _event(member["external_id"], member["birthday"], day, now)
    try:
        result = db.run(ctx.tenant_id, partial(events.process, ctx=ctx, event=event, now=now))
    except DomainError:  # e.g. the birthday changed since this year's event: keep the first
        return 0
    return 0 if result.replayed else 1


# --- gifts of tiers and paid plans ------------------------------------------------------------


def _gives_gifts(uow: UnitOfWork) -> bool:
    """Whether a tier of the ladder or any plan (retired ones still serve running
    memberships) has a birthday gift."""
    ladder = tiers.load_ladder(uow)
    if ladder is not None and any(level.benefits.birthday_gift for level in ladder.levels):
        return True
    plans = MembershipRepository(uow.conn, uow.tenant_id).plans()
    return any(MembershipPlan.from_dict(row["settings"]).benefits.birthday_gift for row in plans)


def _gift_sources(uow: UnitOfWork, member_id: int, now: datetime) -> list[tuple[str, BirthdayGift]]:
    """The member's birthday gifts at ``now``, each with what gives it: the tier they hold,
    then each active plan, in the order ``merge_benefits`` keeps them."""
    ladder = tiers.load_ladder(uow)
    tier, benefits = tiers.standing(uow, member_id, now)
    if not benefits.birthday_gifts:
        return []
    sources: list[tuple[str, BirthdayGift]] = []
    if ladder is not None and tier is not None:
        level = ladder.level(tier)
        if level.benefits.birthday_gift is not None:
            sources.append((f"tier {level.name}", level.benefits.birthday_gift))
    for settings in MembershipRepository(uow.conn, uow.tenant_id).active_plans(member_id, now):
        plan = MembershipPlan.from_dict(settings)
        if plan.benefits.birthday_gift is not None:
            sources.append((f"plan {plan.name}", plan.benefits.birthday_gift))
    return sources


def _give_gifts(
    uow: UnitOfWork, *, ctx: TenantContext, external_id: str, day: date, now: datetime
) -> int:
    """Give the member this year's birthday gifts, once: 1 when given now, else 0."""
    member = require_member(uow, external_id)  # locked: gifts and their record go together
    if member["status"] == MemberStatus.BLOCKED:
        return 0
    sources = _gift_sources(uow, member["id"], now)
    if not sources:
        return 0
    event_id = f"birthday-gift:{external_id}:{day.year}"
    text = f"{GIFT}|{external_id}|{day.year}"
    body_hash = hashlib.sha256(text.encode()).hexdigest()
    event_pk = uow.inbox.claim(SOURCE, event_id, GIFT, body_hash, now, now)
    if event_pk is None:
        return 0  # given before this year (or by a concurrent run)
    effects: list[dict[str, Any]] = []
    given: list[dict[str, Any]] = []
    for label, gift in sources:
        if gift.points is not None:
            effect, _ = ledger.credit(
                uow,
                ctx,
                member["id"],
                gift.points,
                kind=EntryKind.EARN,
                earned_at=now,
                now=now,
                reason=f"birthday gift {day.year} ({label})",
                pending=False,  # nothing to return
                event_pk=event_pk,
                meta={"birthday_gift": label, "celebrated_on": day.isoformat()},
            )
            effects.append(effect.to_dict())
            given.append({"source": label, "points": gift.points, "entry_id": effect.entry_id})
        else:
            assert gift.reward_id is not None
            result = rewards.grant_reward(uow, ctx, member, gift.reward_id, now)
            outcome = {"source": label, "reward_id": gift.reward_id, "status": result["status"]}
            if result["status"] == "issued":
                outcome["redemption_id"] = result["redemption"]["id"]
            else:
                outcome["detail"] = result["detail"]
            given.append(outcome)
    balances = uow.members.latest.get(member["id"]) or {
        key: member[key] for key in ("available", "pending", "lifetime_earned", "debt")
    }
    if effects:
        tiers.refresh_member(uow, ctx, member["id"], external_id, now)  # credits count as earned
        emit_effects(uow, external_id, effects, balances, now)
    body = {
        "event_id": event_id,
        "type": GIFT,
        "status": "processed",
        "member": external_id,
        "celebrated_on": day.isoformat(),
        "gifts": given,
        "effects": effects,
    }
    uow.inbox.set_response(event_pk, body)
    return 1


def _calendar_days(today: date) -> list[tuple[int, int]]:
    """(month, day) pairs a due birthday can have: the catch-up window, plus 29 February
    whenever 28 February of a common year is in it."""
    out = []
    for back in range(CATCH_UP_DAYS + 1):
        day = today - timedelta(days=back)
        out.append((day.month, day.day))
        if (day.month, day.day) == (2, 28) and birthday_in(date(2000, 2, 29), day.year) == day:
            out.append((2, 29))
    return out


def _celebrated(birthday: date, changed_on: date | None, today: date) -> date | None:
    if not birthday_bonus_due(birthday, changed_on, today, catch_up_days=CATCH_UP_DAYS):
        return None
    for year in (today.year, today.year - 1):
        day = birthday_in(birthday, year)
        if day <= today <= day + timedelta(days=CATCH_UP_DAYS):
            return day
    return None  # pragma: no cover - birthday_bonus_due said it is due


def _event(external_id: str, birthday: date, day: date, now: datetime) -> InboundEvent:
    data: dict[str, Any] = {"birthday": birthday.isoformat(), "celebrated_on": day.isoformat()}
    text = f"{BIRTHDAY}|{external_id}|{day.year}|{birthday.isoformat()}"
    return InboundEvent(
        source=SOURCE,
        event_id=f"birthday:{external_id}:{day.year}",
        type=BIRTHDAY,
        occurred_at=now,
        member=MemberRef(external_id),
        payload=ActionPerformed(data),
        body_hash=hashlib.sha256(text.encode()).hexdigest(),
    )
