"""Earning rules as data: trigger + CEL condition + effect + limits + schedule + stacking.

Pure: no I/O and no clock. Services load rules and the member's counters, build an
``EarningInput`` and call ``evaluate_rules``; the result says, rule by rule, what applied and
why, and what to write (ledger entries with rule id + version, usage, stamps, budgets).
"""

from loyalty.domain.rules.birthday import birthday_bonus_due, birthday_in
from loyalty.domain.rules.conditions import Condition, ConditionResult, compile_condition
from loyalty.domain.rules.effects import (
    EFFECT_KINDS,
    Cashback,
    Effect,
    FixedPoints,
    LineFilter,
    LineMatch,
    Multiplier,
    PointsPerCurrency,
    PointsPerItem,
    StampCard,
    StampPer,
    effect_from_dict,
)
from loyalty.domain.rules.engine import RuleSet, evaluate_rules, usage_keys
from loyalty.domain.rules.facts import (
    EarningInput,
    LineFacts,
    MemberFacts,
    OrderFacts,
    RuleEvent,
    TierFacts,
)
from loyalty.domain.rules.limits import (
    Limits,
    Period,
    PeriodLimit,
    Usage,
    UsageKey,
    period_key,
    period_window,
)
from loyalty.domain.rules.results import (
    EarningResult,
    RewardGrant,
    RuleOutcome,
    StampChange,
    Status,
    UsageIncrement,
)
from loyalty.domain.rules.rule import EarningRule, base_earning_rule
from loyalty.domain.rules.schedule import Schedule, TimeWindow
from loyalty.domain.rules.schema import FieldSpec, ValueKind, variables_for
from loyalty.domain.rules.triggers import ACTION_EVENTS, ORDER_PAID, TRIGGERS, is_trigger

__all__ = [
    "ACTION_EVENTS",
    "EFFECT_KINDS",
    "ORDER_PAID",
    "TRIGGERS",
    "Cashback",
    "Condition",
    "ConditionResult",
    "EarningInput",
    "EarningResult",
    "EarningRule",
    "Effect",
    "FieldSpec",
    "FixedPoints",
    "Limits",
    "LineFacts",
    "LineFilter",
    "LineMatch",
    "MemberFacts",
    "Multiplier",
    "OrderFacts",
    "Period",
    "PeriodLimit",
    "PointsPerCurrency",
    "PointsPerItem",
    "RewardGrant",
    "RuleEvent",
    "RuleOutcome",
    "RuleSet",
    "Schedule",
    "StampCard",
    "StampChange",
    "StampPer",
    "Status",
    "TierFacts",
    "TimeWindow",
    "Usage",
    "UsageIncrement",
    "UsageKey",
    "ValueKind",
    "base_earning_rule",
    "birthday_bonus_due",
    "birthday_in",
    "compile_condition",
    "effect_from_dict",
    "evaluate_rules",
    "is_trigger",
    "period_key",
    "period_window",
    "usage_keys",
    "variables_for",
]
