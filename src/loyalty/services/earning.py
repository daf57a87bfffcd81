"""Earning through the rules for one event: load the member's counters, evaluate, write.

Writes, in the event's transaction: one ledger entry per rule that gave points (naming the
rule id and version; the programme's base rate names none), a wallet credit per cashback,
the usage, budget and stamp counters, and per reward a stamp card completes, the reward itself
(``rewards.grant_reward``: a redemption at no points cost, with its code or store credit) and a
``reward.earned`` outbox row naming the redemption; a reward that cannot be issued (out of
stock, no longer offered, unknown) is not, and the row says why. A failure row is written for
each rule whose condition failed at run time, or whose reward could not be issued (the rule is
skipped; the event still succeeds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loyalty.domain.ledger import EntryKind
from loyalty.domain.orders import PaidOrder
from loyalty.domain.rules import (
    EarningInput,
    EarningResult,
    MemberFacts,
    OrderFacts,
    RuleEvent,
    RuleOutcome,
    Status,
    TierFacts,
    Usage,
    UsageKey,
    evaluate_rules,
    usage_keys,
)
from loyalty.services import ledger, rewards, tiers, wallet
from loyalty.services.context import TenantContext
from loyalty.services.ledger import Effect
from loyalty.services.outbox import emit
from loyalty.services.rules import BASE_RULE_ID, TenantRules
from loyalty.services.segments import member_segments
from loyalty.store.uow import UnitOfWork

_REASON_LIMIT = 500


@dataclass
class Earned:
    """What one event earned through the rules, as the event response reports it."""

    result: EarningResult
    effects: list[Effect] = field(default_factory=list)
    cashback: list[dict[str, Any]] = field(default_factory=list)
    rewards: list[dict[str, Any]] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(effect.points for effect in self.effects)

    def extras(self) -> dict[str, Any]:
        """Response fields beyond the ledger effects: cashback, rewards and the rules."""
        out: dict[str, Any] = {
            "rules": [_brief(o) for o in self.result.outcomes if o.status is not Status.INACTIVE]
        }
        if self.cashback:
            out["cashback"] = self.cashback
        if self.rewards:
            out["rewards"] = self.rewards
        return out


def facts_for(
    uow: UnitOfWork,
    ctx: TenantContext,
    rules: TenantRules,
    member: Mapping[Any, Any] | None,
    event_type: str,
    data: Mapping[str, Any],
    at: datetime,
    order: PaidOrder | None = None,
    *,
    lock: bool = True,
) -> EarningInput:
    """The engine's input for ``member`` (None: someone not yet a member, for simulate).
    ``lock``: lock the budget rows read (False in read-only transactions)."""
    member_id = None if member is None else member["id"]
    tier, benefits = (None, None) if member_id is None else tiers.standing(uow, member_id, at)
    return EarningInput(
        event=RuleEvent(event_type, data),
        now=at,
        timezone=ctx.timezone,
        program=ctx.program,
        member=_member_facts(uow, rules, member, event_type, at, tier),
        tier=TierFacts() if benefits is None else TierFacts(tier, benefits.earn_multiplier),
        segments=frozenset() if member_id is None else frozenset(member_segments(uow, member_id)),
        order=None if order is None else OrderFacts.from_order(order, ctx.program),
        usage=_usage(uow, rules, member_id, event_type, at, ctx),
        budgets_left=_budgets_left(uow, rules, event_type, lock),
        stamps=_stamps(uow, rules, member_id, event_type),
    )


def earn(
    uow: UnitOfWork,
    ctx: TenantContext,
    rules: TenantRules,
    member: Mapping[Any, Any],
    event_type: str,
    data: Mapping[str, Any],
    *,
    at: datetime,
    now: datetime,
    event_pk: int | None,
    order: PaidOrder | None = None,
    order_pk: int | None = None,
) -> Earned:
    """Evaluate the rules for one event of ``member`` and write what they give."""
    facts = facts_for(uow, ctx, rules, member, event_type, data, at, order)
    result = evaluate_rules(rules.rule_set, facts)
    earned = Earned(result)
    for outcome in result.outcomes:
        if outcome.status is Status.CONDITION_FAILED and outcome.rule_id != BASE_RULE_ID:
            uow.rules.record_failure(
                int(outcome.rule_id), outcome.version, event_pk, event_type, outcome.reason, now
            )
        if outcome.applied:
            _write(uow, ctx, earned, outcome, member, at, now, event_pk, order_pk, event_type)
    return earned


def _write(
    uow: UnitOfWork,
    ctx: TenantContext,
    earned: Earned,
    outcome: RuleOutcome,
    member: Mapping[Any, Any],
    at: datetime,
    now: datetime,
    event_pk: int | None,
    order_pk: int | None,
    event_type: str,
) -> None:
    rule_pk = None if outcome.rule_id == BASE_RULE_ID else int(outcome.rule_id)
    label = f"{outcome.name} (rule {outcome.rule_id} v{outcome.version})"
    if outcome.points > 0:
        effect, _lot = ledger.credit(
            uow,
            ctx,
            member["id"],
            outcome.points,
            kind=EntryKind.EARN,
            earned_at=at,
            now=now,
            reason=f"{label}: {outcome.reason}"[:_REASON_LIMIT],
            pending=order_pk is not None,  # action bonuses cannot be returned
            order_pk=order_pk,
            event_pk=event_pk,
            rule_id=rule_pk,
            rule_version=None if rule_pk is None else outcome.version,
        )
        earned.effects.append(effect)
    if outcome.cashback is not None and rule_pk is not None:
        entry = wallet.credit_from_rule(
            uow,
            ctx,
            member["id"],
            outcome.cashback.amount,
            f"{label}: {outcome.reason}",
            f"event:{event_pk}:rule:{rule_pk}",
            now,
            rule_id=rule_pk,
            rule_version=outcome.version,
            event_pk=event_pk,
            order_pk=order_pk,
        )
        earned.cashback.append(entry)
    if rule_pk is not None:
        _counters(uow, outcome, member["id"], rule_pk, now)
    for grant in outcome.rewards:
        reward = _grant(uow, ctx, member, grant.reward_id, grant.quantity, now)
        reward = {"rule_id": outcome.rule_id, **reward}
        if reward["status"] != "issued" and rule_pk is not None:
            error = f"reward {grant.reward_id} not issued ({reward['status']}): {reward['detail']}"
            uow.rules.record_failure(rule_pk, outcome.version, event_pk, event_type, error, now)
        earned.rewards.append(reward)
        payload = {"member": member["external_id"], **reward, "event_type": event_type}
        emit(uow, "reward.earned", member["external_id"], payload, now)


def _grant(
    uow: UnitOfWork,
    ctx: TenantContext,
    member: Mapping[Any, Any],
    reward_id: str,
    quantity: int,
    now: datetime,
) -> dict[str, Any]:
    """Issue ``quantity`` of a reward a stamp card completed, through the rewards service (a
    redemption at no points cost). Stops at the first unit that cannot be issued (out of
    stock, no longer offered, unknown): the status says which, ``issued`` how many were."""
    redemptions: list[int] = []
    coupons: list[str] = []
    refused: dict[str, Any] | None = None
    for _ in range(quantity):
        result = rewards.grant_reward(uow, ctx, member, reward_id, now)
        if result["status"] != "issued":
            refused = result
            break
        redemptions.append(result["redemption"]["id"])
        if result["redemption"]["coupon"] is not None:
            coupons.append(result["redemption"]["coupon"]["code"])
    out: dict[str, Any] = {
        "reward_id": reward_id,
        "quantity": quantity,
        "status": "issued" if refused is None else refused["status"],
        "issued": len(redemptions),
        "redemption_ids": redemptions,
        "coupon_codes": coupons,
    }
    if refused is not None:
        out["detail"] = refused["detail"]
    return out


def _counters(
    uow: UnitOfWork, outcome: RuleOutcome, member_id: int, rule_pk: int, now: datetime
) -> None:
    for increment in outcome.usage:
        key = increment.key
        uow.rules.add_usage(
            member_id, rule_pk, key.period.value, key.key, increment.points, increment.times
        )
    if outcome.budget_spent:
        uow.rules.spend_budget(rule_pk, outcome.budget_spent)
    if outcome.stamps is not None:
        stamps = outcome.stamps
        uow.rules.set_stamps(member_id, rule_pk, stamps.after, stamps.completed, now)


def _brief(outcome: RuleOutcome) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule_id": outcome.rule_id,
        "version": outcome.version,
        "status": outcome.status.value,
        "points": outcome.points,
    }
    if outcome.cashback is not None:
        out["cashback"] = str(outcome.cashback.amount)
    return out


# --- loading what the engine reads ------------------------------------------------------------


def _member_facts(
    uow: UnitOfWork,
    rules: TenantRules,
    member: Mapping[Any, Any] | None,
    event_type: str,
    at: datetime,
    tier: str | None,
) -> MemberFacts:
    if member is None:
        return MemberFacts()
    wanted = rules.member_fields.get(event_type, frozenset())
    row: Mapping[Any, Any] = member
    if wanted & {"days_since_signup", "*"} and "created_at" not in member:
        row = uow.members.get_by_id(member["id"]) or member
    created = row.get("created_at")
    orders = 0
    if wanted & {"orders_count", "*"}:
        orders = uow.rules.member_order_count(member["id"])
    return MemberFacts(
        tier=tier,
        status=str(member.get("status") or "active"),
        lifetime_earned=int(member.get("lifetime_earned") or 0),
        orders_count=orders,
        days_since_signup=max((at - created).days, 0) if created is not None else 0,
        birthday=member.get("birthday"),
        locale=member.get("locale"),
    )


def _usage(
    uow: UnitOfWork,
    rules: TenantRules,
    member_id: int | None,
    event_type: str,
    at: datetime,
    ctx: TenantContext,
) -> dict[UsageKey, Usage]:
    keys = usage_keys(rules.rule_set, event_type, at, ctx.timezone)
    if member_id is None or not keys:
        return {}
    by_pk = {(int(k.rule_id), k.period.value, k.key): k for k in keys}
    stored = uow.rules.usage(member_id, by_pk)
    return {by_pk[pk]: Usage(points, times) for pk, (points, times) in stored.items()}


def _budgets_left(
    uow: UnitOfWork, rules: TenantRules, event_type: str, lock: bool
) -> dict[str, int]:
    lane = [r for r in rules.rule_set.for_trigger(event_type) if r.id in rules.budgeted]
    if not lane:
        return {}
    spent = uow.rules.budgets_spent((int(r.id) for r in lane), lock=lock)
    return {
        r.id: (r.limits.budget_points or 0) - spent.get(int(r.id), 0)
        for r in lane
        if int(r.id) in spent
    }


def _stamps(
    uow: UnitOfWork, rules: TenantRules, member_id: int | None, event_type: str
) -> dict[str, int]:
    if member_id is None:
        return {}
    ids = [int(r.id) for r in rules.rule_set.for_trigger(event_type) if r.id in rules.stamp_cards]
    return {str(k): v for k, v in uow.rules.stamps(member_id, ids).items()}
