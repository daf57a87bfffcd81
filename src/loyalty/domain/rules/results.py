"""What an evaluation returns: per rule, whether it applied, why, and what it gave."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from loyalty.domain.money import Money
from loyalty.domain.rules.limits import UsageKey


class Status(StrEnum):
    APPLIED = "applied"
    INACTIVE = "inactive"
    OUTSIDE_SCHEDULE = "outside_schedule"
    CONDITION_NOT_MET = "condition_not_met"
    CONDITION_FAILED = "condition_failed"  # run-time error; the rule is skipped for this event
    LIMIT_REACHED = "limit_reached"
    BUDGET_EXHAUSTED = "budget_exhausted"
    NOTHING_TO_EARN = "nothing_to_earn"
    STOPPED = "stopped"  # an earlier rule stopped further rules
    EXCLUDED = "excluded"  # an exclusive rule applied


@dataclass(frozen=True, slots=True)
class RewardGrant:
    reward_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class StampChange:
    before: int
    after: int
    completed: int  # cards filled by this event


class UsageIncrement(NamedTuple):
    """What one application adds to one member counter (a named tuple: one is built per
    limited rule that applies, per event)."""

    key: UsageKey
    points: int
    times: int = 1


Explanation = str | Callable[[], str]


class RuleOutcome(NamedTuple):
    """One rule's part in one evaluation. ``reason`` is a sentence for people (simulate);
    it is rendered when read, so evaluating events that nobody reads about stays cheap.

    An immutable record (a named tuple: an engine makes one per rule per event, and a frozen
    dataclass costs four times as much to build). Compare results with ``to_dict()``: the
    explanation may be a closure."""

    rule_id: str
    version: int
    name: str
    status: Status
    explanation: Explanation
    points: int = 0
    cashback: Money | None = None
    rewards: tuple[RewardGrant, ...] = ()
    stamps: StampChange | None = None
    usage: tuple[UsageIncrement, ...] = ()
    budget_spent: int = 0

    @property
    def applied(self) -> bool:
        return self.status is Status.APPLIED

    @property
    def reason(self) -> str:
        explanation = self.explanation
        return explanation if isinstance(explanation, str) else explanation()

    def to_dict(self) -> dict[str, object]:
        return {
            "rule_id": self.rule_id,
            "version": self.version,
            "name": self.name,
            "applied": self.applied,
            "status": self.status.value,
            "reason": self.reason,
            "points": self.points,
            "cashback": None
            if self.cashback is None
            else {"amount": str(self.cashback.amount), "currency": self.cashback.currency},
            "rewards": [{"reward_id": r.reward_id, "quantity": r.quantity} for r in self.rewards],
            "stamps": None
            if self.stamps is None
            else {
                "before": self.stamps.before,
                "after": self.stamps.after,
                "completed": self.stamps.completed,
            },
        }


@dataclass(frozen=True, slots=True)
class EarningResult:
    """Outcomes in evaluation order. Points of applied rules become one ledger entry each,
    naming ``rule_id`` and ``version``; ``usage``, ``stamps`` and ``budgets_spent`` are what
    the services write back to the member's counters."""

    outcomes: tuple[RuleOutcome, ...]

    @property
    def applied(self) -> tuple[RuleOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if outcome.applied)

    @property
    def points(self) -> int:
        return sum(outcome.points for outcome in self.outcomes)

    @property
    def cashback(self) -> Money | None:
        amounts = [o.cashback for o in self.outcomes if o.cashback is not None]
        if not amounts:
            return None
        return Money(sum((m.amount for m in amounts), Decimal(0)), amounts[0].currency)

    @property
    def rewards(self) -> tuple[RewardGrant, ...]:
        return tuple(grant for outcome in self.outcomes for grant in outcome.rewards)

    @property
    def usage(self) -> tuple[UsageIncrement, ...]:
        return tuple(increment for outcome in self.outcomes for increment in outcome.usage)

    @property
    def stamps(self) -> Mapping[str, StampChange]:
        return {o.rule_id: o.stamps for o in self.outcomes if o.stamps is not None}

    @property
    def budgets_spent(self) -> Mapping[str, int]:
        return {o.rule_id: o.budget_spent for o in self.outcomes if o.budget_spent}

    def to_dict(self) -> dict[str, object]:
        cashback = self.cashback
        return {
            "points": self.points,
            "cashback": None
            if cashback is None
            else {"amount": str(cashback.amount), "currency": cashback.currency},
            "rules": [outcome.to_dict() for outcome in self.outcomes],
        }
