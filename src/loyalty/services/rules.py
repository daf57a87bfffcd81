"""Earning rules as data: create, edit (a new version each time), delete, list, simulate.

A tenant's compiled ``RuleSet`` is cached in this process and keyed by the tenant's rule-set
version (``rule_sets.version``, moved on by every change in the same transaction). Reading
that version is one primary-key lookup per event, so another process's edit is seen by the
next event, and a tenant with no rules never builds a rule set at all.

Rule ids are the database ids as text; ``base`` is the programme's own rate, the implicit
first rule on ``order.paid`` (its ledger entries carry no rule id).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import RowMapping

from loyalty.domain.errors import InvalidRule, RuleNotFound
from loyalty.domain.rules import (
    ORDER_PAID,
    EarningRule,
    RuleSet,
    StampCard,
    base_earning_rule,
)
from loyalty.services.context import TenantContext
from loyalty.store.uow import UnitOfWork

BASE_RULE_ID = "base"
_SERVER_FIELDS = ("id", "version")


@dataclass(frozen=True, slots=True)
class TenantRules:
    """One tenant's rules at one version, compiled, with what the services need to look up."""

    version: int
    rule_set: RuleSet
    triggers: frozenset[str]
    budgeted: frozenset[str] = field(default_factory=frozenset)
    stamp_cards: frozenset[str] = field(default_factory=frozenset)
    member_fields: dict[str, frozenset[str]] = field(default_factory=dict)  # per trigger

    def has(self, trigger: str) -> bool:
        return trigger in self.triggers


_cache: dict[tuple[str, int], TenantRules] = {}
_cache_lock = threading.Lock()


def tenant_rules(uow: UnitOfWork) -> TenantRules | None:
    """The tenant's current compiled rules, or None when it has no active rule at all."""
    version, active = uow.rules.set_version()
    if active == 0:
        return None
    cached = _cache.get(uow.cache_key)
    if cached is not None and cached.version == version:
        return cached
    built = _build(version, uow.rules.current())
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[uow.cache_key] = built
    return built


def _build(version: int, rows: list[RowMapping]) -> TenantRules:
    rules = [rule_from_row(row) for row in rows]
    custom_triggers = frozenset(rule.trigger for rule in rules if rule.active)
    if ORDER_PAID in custom_triggers:
        rules.append(base_earning_rule(BASE_RULE_ID, "Programme base rate"))
    rule_set = RuleSet(rules)
    member_fields: dict[str, set[str]] = {}
    for rule in rules:
        for path in rule.compiled_condition.needs:
            if path[0] == "member":
                member_fields.setdefault(rule.trigger, set()).update(path[1:2] or ("*",))
    return TenantRules(
        version=version,
        rule_set=rule_set,
        triggers=custom_triggers,
        budgeted=frozenset(r.id for r in rules if r.limits.budget_points is not None),
        stamp_cards=frozenset(r.id for r in rules if isinstance(r.effect, StampCard)),
        member_fields={k: frozenset(v) for k, v in member_fields.items()},
    )


def rule_from_row(row: RowMapping) -> EarningRule:
    return EarningRule.from_dict({**row["definition"], "id": str(row["id"])})


# --- commands -------------------------------------------------------------------------------


def create_rule(
    uow: UnitOfWork, ctx: TenantContext, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Validate and store a new rule at version 1."""
    _refuse_server_fields(data)
    EarningRule.from_dict({**data, "id": "new"})  # every error before anything is written
    rule_id = uow.rules.add(str(data.get("name", "")), str(data.get("trigger", "")), now)
    rule = EarningRule.from_dict({**data, "id": str(rule_id), "version": 1})
    _save(uow, ctx, rule_id, rule, now)
    uow.audit(ctx.actor, "rule.created", str(rule_id), rule.to_dict(), now)
    return get_rule(uow, str(rule_id))


def update_rule(
    uow: UnitOfWork, ctx: TenantContext, rule_ref: str, changes: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Apply ``changes`` (top-level fields replace the current ones) as the next version."""
    _refuse_server_fields(changes)
    rule_id = _rule_pk(rule_ref)
    row = uow.rules.get(rule_id, lock=True)
    if row is None:
        raise RuleNotFound(f"no rule with id '{rule_ref}'", field="id")
    current = rule_from_row(row)
    merged = {**current.to_dict(), **changes, "version": current.version + 1}
    revised = EarningRule.from_dict(merged)
    if _same(revised, current):
        return get_rule(uow, rule_ref)
    _save(uow, ctx, rule_id, revised, now)
    uow.audit(ctx.actor, "rule.updated", rule_ref, revised.to_dict(), now)
    return get_rule(uow, rule_ref)


def delete_rule(uow: UnitOfWork, ctx: TenantContext, rule_ref: str, now: datetime) -> None:
    rule_id = _rule_pk(rule_ref)
    if uow.rules.get(rule_id, lock=True) is None:
        raise RuleNotFound(f"no rule with id '{rule_ref}'", field="id")
    uow.rules.delete(rule_id, now)
    uow.rules.bump_set_version(now)
    uow.audit(ctx.actor, "rule.deleted", rule_ref, None, now)


def _save(
    uow: UnitOfWork, ctx: TenantContext, rule_id: int, rule: EarningRule, now: datetime
) -> None:
    definition = _definition(rule)
    uow.rules.save_version(rule_id, rule.version, definition, ctx.actor, now)
    if rule.limits.budget_points is not None:
        uow.rules.ensure_budget(rule_id)  # a row for FOR UPDATE to lock from the first use
    uow.rules.bump_set_version(now)


def _definition(rule: EarningRule) -> dict[str, Any]:
    return {k: v for k, v in rule.to_dict().items() if k != "id"}


def _same(a: EarningRule, b: EarningRule) -> bool:
    return {**_definition(a), "version": 0} == {**_definition(b), "version": 0}


def _refuse_server_fields(data: dict[str, Any]) -> None:
    for name in _SERVER_FIELDS:
        if name in data:
            raise InvalidRule(f"'{name}' is set by the server", field=name)


def _rule_pk(rule_ref: str) -> int:
    if not rule_ref.isdigit() or len(rule_ref) > 18:
        raise RuleNotFound(f"no rule with id '{rule_ref}'", field="id")
    return int(rule_ref)


# --- queries --------------------------------------------------------------------------------


def get_rule(uow: UnitOfWork, rule_ref: str) -> dict[str, Any]:
    rule_id = _rule_pk(rule_ref)
    row = uow.rules.get(rule_id)
    if row is None:
        raise RuleNotFound(f"no rule with id '{rule_ref}'", field="id")
    view = rule_view(row)
    view["versions"] = [
        {"version": v["version"], "actor": v["actor"], "created_at": v["created_at"].isoformat()}
        for v in uow.rules.versions(rule_id)
    ]
    view["recent_failures"] = [
        {
            "version": f["rule_version"],
            "event_type": f["event_type"],
            "error": f["error"],
            "at": f["created_at"].isoformat(),
        }
        for f in uow.rules.failures(rule_id)
    ]
    return view


def list_rules(
    uow: UnitOfWork, after: int | None, limit: int, trigger: str | None
) -> tuple[list[dict[str, Any]], int | None]:
    rows = uow.rules.page(after, limit, trigger)
    last = rows[-1]["id"] if len(rows) == limit else None
    return [rule_view(row) for row in rows], last


def rule_view(row: RowMapping) -> dict[str, Any]:
    return {
        **rule_from_row(row).to_dict(),
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }
