"""The earning engine: which rules apply to one event, what each gives, and why.

``evaluate_rules`` is pure: the same rules and input always give the same result. It runs the
rules for the event's type in priority order (lower first; ties by rule id):

1. a rule that is inactive, outside its schedule, or whose limits or budget are used up does
   not apply (these cheap checks run first, so such rules cost no condition);
2. nor does one whose condition is false or fails at run time (reported, never raised), or
   one with nothing to work on (no matching lines);
3. a rule that applies with ``stop_processing`` stops the rules after it; an ``exclusive``
   rule that applies is then the only one that earns (earlier ones are dropped, later ones
   skipped);
4. the rules that apply are settled: per-currency points and multipliers combine once and are
   rounded once (see ``_combine``), flat effects give what they say, each capped by its
   limits. An application is counted against limits only when it gave something.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from loyalty.domain.errors import ValidationFailed
from loyalty.domain.rules import _cel
from loyalty.domain.rules._fast import Env
from loyalty.domain.rules._settle import Pending, Selection, Settlement, outcome, select
from loyalty.domain.rules.activation import build_activation
from loyalty.domain.rules.conditions import Condition
from loyalty.domain.rules.effects import FixedPoints, LineFilter, PointsPerItem, StampCard, StampPer
from loyalty.domain.rules.facts import EarningInput
from loyalty.domain.rules.limits import Allowance, PeriodClock, UsageKey
from loyalty.domain.rules.results import EarningResult, RuleOutcome, Status
from loyalty.domain.rules.rule import EarningRule

Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Lane:
    """The rules of one trigger, in evaluation order, with their compiled conditions."""

    rules: tuple[EarningRule, ...]
    conditions: tuple[Condition, ...]


class RuleSet:
    """Rules grouped by trigger and sorted once. Build one when a tenant's rules change and
    reuse it: evaluation then costs no sorting and no compiling."""

    def __init__(self, rules: Iterable[EarningRule]) -> None:
        grouped: dict[str, list[EarningRule]] = {}
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValidationFailed(f"rule '{rule.id}' is given twice", field="rules")
            seen.add(rule.id)
            grouped.setdefault(rule.trigger, []).append(rule)
        self._lanes = {trigger: _lane(group) for trigger, group in grouped.items()}

    def for_trigger(self, trigger: str) -> tuple[EarningRule, ...]:
        return self.lane(trigger).rules

    def lane(self, trigger: str) -> _Lane:
        return self._lanes.get(trigger, _EMPTY)


_EMPTY = _Lane((), ())


def _lane(rules: list[EarningRule]) -> _Lane:
    ordered = tuple(sorted(rules, key=lambda rule: (rule.priority, rule.id)))
    return _Lane(ordered, tuple(rule.compiled_condition for rule in ordered))


def usage_keys(
    rules: RuleSet | Iterable[EarningRule], trigger: str, now: datetime, tz: ZoneInfo
) -> tuple[UsageKey, ...]:
    """The member counters an evaluation of a ``trigger`` event at ``now`` may read."""
    clock = PeriodClock(now.astimezone(tz))
    rule_set = rules if isinstance(rules, RuleSet) else RuleSet(rules)
    return tuple(
        key for rule in rule_set.for_trigger(trigger) for key in rule.limits.keys(rule.id, clock)
    )


def evaluate_rules(rules: RuleSet | Iterable[EarningRule], facts: EarningInput) -> EarningResult:
    """What the rules give for one event; writes nothing and never raises for a rule."""
    lane = (rules if isinstance(rules, RuleSet) else RuleSet(rules)).lane(facts.event.type)
    run = _Run(facts)
    states = [run.precheck(rule) for rule in lane.rules]
    run.needs = frozenset(  # only what conditions of rules still in the running read
        path
        for condition, state in zip(lane.conditions, states, strict=True)
        if isinstance(state, Allowance)
        for path in condition.needs
    )
    outcomes: list[RuleOutcome | Pending] = []
    stopper: EarningRule | None = None
    exclusive: Pending | None = None
    for rule, condition, state in zip(lane.rules, lane.conditions, states, strict=True):
        if exclusive is not None:
            outcomes.append(_excluded(rule, exclusive))
        elif stopper is not None:
            reason = f"not evaluated: {_name(stopper)} stops further rules"
            outcomes.append(outcome(rule, Status.STOPPED, reason))
        elif isinstance(state, RuleOutcome):
            outcomes.append(state)
        else:
            verdict = run.check(rule, condition, state)
            outcomes.append(verdict)
            if isinstance(verdict, Pending) and rule.exclusive:
                exclusive = verdict
            elif isinstance(verdict, Pending) and rule.stop_processing:
                stopper = rule
    if exclusive is not None:
        outcomes = [
            _excluded(o.rule, exclusive) if isinstance(o, Pending) and o is not exclusive else o
            for o in outcomes
        ]
    pending = [o for o in outcomes if isinstance(o, Pending)]
    settled = Settlement(facts, run.clock).settle(pending)
    return EarningResult(
        tuple(settled[o.rule.id] if isinstance(o, Pending) else o for o in outcomes)
    )


def _excluded(rule: EarningRule, winner: Pending) -> RuleOutcome:
    return outcome(rule, Status.EXCLUDED, f"excluded: {_name(winner.rule)} is exclusive")


def _name(rule: EarningRule) -> str:
    return f"'{rule.name}' ({rule.id} v{rule.version})"


class _Run:
    """One evaluation: the input, its tenant-local clock, the lazy activation and the line
    selections of each filter (rules often share one)."""

    def __init__(self, facts: EarningInput) -> None:
        self.facts = facts
        self.clock = PeriodClock(facts.now.astimezone(facts.timezone))
        self.needs: frozenset[Path] = frozenset()
        self._bound: _cel.Activation | None = None
        self._env: Env | None = None
        self._selections: dict[int, Selection] = {}

    def precheck(self, rule: EarningRule) -> RuleOutcome | Allowance:
        """The cheap checks, before any condition runs: active, schedule, limits, budget."""
        if not rule.active:
            return outcome(rule, Status.INACTIVE, "rule is inactive")
        schedule, local = rule.schedule, self.clock.local
        if not schedule.is_open(local):
            return outcome(
                rule, Status.OUTSIDE_SCHEDULE, lambda: schedule.closed_reason(local) or ""
            )
        facts = self.facts
        allowance = rule.limits.allowance(rule.id, self.clock, facts.usage, facts.budgets_left)
        if allowance.refusal is not None:
            status = Status.BUDGET_EXHAUSTED if allowance.budget_exhausted else Status.LIMIT_REACHED
            return outcome(rule, status, allowance.refusal)
        return allowance

    def check(
        self, rule: EarningRule, condition: Condition, allowance: Allowance
    ) -> RuleOutcome | Pending:
        if condition.program is not None:
            verdict = self._fast(condition)
            if verdict is None:  # not a simple condition, or one the fast path is unsure of
                if self._bound is None:
                    self._bound = build_activation(self.needs, self.facts)
                result = condition.evaluate(self._bound)
                if result.error is not None:
                    reason = f"condition failed, rule skipped: {result.error}"
                    return outcome(rule, Status.CONDITION_FAILED, reason)
                verdict = result.matched
            if not verdict:
                return outcome(
                    rule, Status.CONDITION_NOT_MET, f"condition not met: {rule.condition}"
                )
        return self._basis(rule, allowance)

    def _fast(self, condition: Condition) -> bool | None:
        """The condition's answer from the fast path; None: ask the CEL library."""
        fast = condition.fast
        if fast is None:
            return None
        env = self._env
        if env is None:
            env = self._env = Env(self.facts)
        try:
            value = fast(env, _NO_SCOPE)
        except Exception:  # Bail, or anything unexpected: the library has the last word
            return None
        return value if value is True or value is False else None

    def _basis(self, rule: EarningRule, allowance: Allowance) -> RuleOutcome | Pending:
        """What the effect works on; a rule with nothing to work on does not apply."""
        effect = rule.effect
        if isinstance(effect, FixedPoints):
            return Pending(rule, allowance)
        order = self.facts.order
        per_order = isinstance(effect, StampCard) and effect.per is StampPer.ORDER
        if per_order and (order is None or effect.lines.whole_order):
            return Pending(rule, allowance, units=1)
        if order is None:  # rules refuse such effects off order.paid; stay safe anyway
            return outcome(rule, Status.NOTHING_TO_EARN, "the event has no order")
        selection = self._selections.get(id(effect.lines))
        if selection is None:
            selection = self._selections[id(effect.lines)] = select(effect.lines, order)
        counts_units = isinstance(effect, (PointsPerItem, StampCard))
        if (selection.units if counts_units else selection.amount) <= 0:
            return outcome(rule, Status.NOTHING_TO_EARN, _nothing(effect.lines))
        return Pending(rule, allowance, selection, 1 if per_order else selection.units)


_NO_SCOPE: dict[str, object] = {}


def _nothing(lines: LineFilter) -> str:
    if lines.whole_order:
        return "the order has nothing to earn on"
    return f"no {lines.description} in the order"
