"""What an event would earn, rule by rule, without writing anything."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty.domain.errors import CurrencyMismatch, ValidationFailed
from loyalty.domain.events import ActionPerformed, InboundEvent, OrderPaid
from loyalty.domain.rules import ORDER_PAID, RuleSet, base_earning_rule, evaluate_rules
from loyalty.services.context import TenantContext
from loyalty.services.earning import facts_for
from loyalty.services.rules import BASE_RULE_ID, TenantRules, tenant_rules
from loyalty.store.uow import UnitOfWork


def simulate(
    uow: UnitOfWork, ctx: TenantContext, event: InboundEvent, now: datetime
) -> dict[str, Any]:
    """Evaluate ``event`` against the tenant's current rules and the member's counters as
    they are now; an unknown member is evaluated as a new one. Nothing is written."""
    payload = event.payload
    if isinstance(payload, OrderPaid):
        order, data = payload.order, {}
        if order.currency != ctx.program.currency:
            raise CurrencyMismatch(
                f"order is in {order.currency} but the programme runs in {ctx.program.currency}",
                field="data.currency",
            )
    elif isinstance(payload, ActionPerformed):
        order, data = None, payload.data
    else:
        raise ValidationFailed(
            f"{event.type} earns nothing; simulate order.paid or an action event", field="type"
        )
    rules = _rules(uow, event.type)
    member = uow.members.get(event.member.external_id) if event.member else None
    at = min(event.occurred_at, now)
    facts = facts_for(uow, ctx, rules, member, event.type, data, at, order, lock=False)
    result = evaluate_rules(rules.rule_set, facts)
    return {
        "event_type": event.type,
        "member": event.member.external_id if event.member else None,
        "member_known": member is not None,
        "rules_version": rules.version,
        **result.to_dict(),
    }


def _rules(uow: UnitOfWork, event_type: str) -> TenantRules:
    rules = tenant_rules(uow)
    if rules is not None and rules.has(event_type):
        return rules
    base = [base_earning_rule(BASE_RULE_ID, "Programme base rate")]
    version = 0 if rules is None else rules.version
    return TenantRules(version, RuleSet(base if event_type == ORDER_PAID else []), frozenset())
