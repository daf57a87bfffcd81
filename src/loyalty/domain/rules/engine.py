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
from loyalty.domain.rules._fast import Env, Fn
from loyalty.domain.rules._settle import (
    Pending,
    Selection,
    Settlement,
    Terms,
    outcome,
    select,
    terms,
)
from loyalty.domain.rules.activation import build_activation
from loyalty.domain.rules.conditions import Condition
from loyalty.domain.rules.effects import (
    ALL_LINES,
    FixedPoints,
    LineFilter,
    PointsPerItem,
    StampCard,
    StampPer,
)
from loyalty.domain.rules.facts import EarningInput
from loyalty.domain.rules.limits import Allowance, PeriodClock, UsageKey
from loyalty.domain.rules.results import EarningResult, RuleOutcome, Status
from loyalty.domain.rules.rule import EarningRule

Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Plan:
    """One rule as evaluation reads it: everything that does not depend on the event, worked
    out once when the rule set is built."""

    rule: EarningRule
    condition: Condition
    conditional: bool  # the rule has a condition
    fast: Fn | None  # the condition as closures; None: it runs in the CEL library
    free: bool  # active, no schedule, no limits or budget: nothing to check before it runs
    weekly: bool  # active, no limits, open on the weekdays ``days`` (checked inline)
    scheduled: bool
    days: frozenset[int] | None  # a schedule of weekdays only: those (checked inline)
    limited: bool  # per-member limits or a budget
    inactive: RuleOutcome  # the outcome of an inactive rule, the same every time
    exclusive: bool
    stop_processing: bool
    halts: bool  # exclusive or stop_processing
    not_met: RuleOutcome  # the outcome when the condition is false, the same every time
    flat: bool  # fixed points: no order lines to look at
    per_order: bool  # a stamp card stamping once per order
    by_lines: bool  # works on the lines its filter selects (neither flat nor once per order)
    whole_order: bool
    counts_units: bool  # the effect works on units (per item, stamps) rather than money
    lines: LineFilter
    nothing: RuleOutcome  # the outcome when no line matches
    terms: Terms  # what settlement reads of the rule


def _plan(rule: EarningRule, fast_conditions: bool) -> _Plan:
    condition = rule.compiled_condition
    effect = rule.effect
    lines = ALL_LINES if isinstance(effect, FixedPoints) else effect.lines
    schedule, limits = rule.schedule, rule.limits
    scheduled = bool(
        schedule.starts_at or schedule.ends_at or schedule.days_of_week or schedule.hours
    )
    limited = limits.budget_points is not None or bool(limits.per_member)
    per_order = isinstance(effect, StampCard) and effect.per is StampPer.ORDER
    days = (
        schedule.days_of_week
        if schedule.days_of_week and not (schedule.starts_at or schedule.ends_at or schedule.hours)
        else None
    )
    return _Plan(
        rule=rule,
        condition=condition,
        conditional=condition.program is not None,
        fast=condition.fast if fast_conditions else None,
        free=rule.active and not scheduled and not limited,
        weekly=rule.active and days is not None and not limited,
        scheduled=scheduled,
        days=days,
        limited=limited,
        inactive=outcome(rule, Status.INACTIVE, "rule is inactive"),
        exclusive=rule.exclusive,
        stop_processing=rule.stop_processing,
        halts=rule.exclusive or rule.stop_processing,
        not_met=outcome(rule, Status.CONDITION_NOT_MET, f"condition not met: {rule.condition}"),
        flat=isinstance(effect, FixedPoints),
        per_order=per_order,
        by_lines=not isinstance(effect, FixedPoints) and not per_order,
        whole_order=lines.whole_order,
        counts_units=isinstance(effect, (PointsPerItem, StampCard)),
        lines=lines,
        nothing=outcome(rule, Status.NOTHING_TO_EARN, _nothing(lines)),
        terms=terms(rule),
    )


@dataclass(frozen=True, slots=True)
class _Lane:
    """The rules of one trigger, in evaluation order, with their compiled conditions."""

    rules: tuple[EarningRule, ...]
    conditions: tuple[Condition, ...]
    plans: tuple[_Plan, ...]
    line_fields: tuple[str, ...] | None = None  # of order.lines, for the fast path (None: all)


class RuleSet:
    """Rules grouped by trigger and sorted once. Build one when a tenant's rules change and
    reuse it: evaluation then costs no sorting and no compiling.

    ``fast_conditions=False`` runs every condition in the CEL library (the reference the fast
    path is tested against); results are the same either way."""

    def __init__(self, rules: Iterable[EarningRule], *, fast_conditions: bool = True) -> None:
        grouped: dict[str, list[EarningRule]] = {}
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValidationFailed(f"rule '{rule.id}' is given twice", field="rules")
            seen.add(rule.id)
            grouped.setdefault(rule.trigger, []).append(rule)
        self._lanes = {trigger: _lane(group, fast_conditions) for trigger, group in grouped.items()}

    def for_trigger(self, trigger: str) -> tuple[EarningRule, ...]:
        return self.lane(trigger).rules

    def lane(self, trigger: str) -> _Lane:
        return self._lanes.get(trigger, _EMPTY)


_EMPTY = _Lane((), (), ())


def _lane(rules: list[EarningRule], fast_conditions: bool) -> _Lane:
    ordered = tuple(sorted(rules, key=lambda rule: (rule.priority, rule.id)))
    plans = tuple(_plan(rule, fast_conditions) for rule in ordered)
    conditions = tuple(plan.condition for plan in plans)
    return _Lane(ordered, conditions, plans, _line_fields(plans))


def _line_fields(plans: tuple[_Plan, ...]) -> tuple[str, ...] | None:
    """The line fields the fast conditions read: they get order lines with only those, as
    the CEL activation would (a line field a condition does not name is never read)."""
    needs = {path for plan in plans if plan.fast is not None for path in plan.condition.needs}
    if ("order",) in needs or ("order", "lines") in needs:
        return None
    return tuple(sorted({path[2] for path in needs if len(path) == 3 and path[:2] == _LINES}))


_LINES = ("order", "lines")


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
    precheck = run.precheck
    plans = lane.plans
    weekday = run.weekday
    states = run.states = [
        _OPEN
        if plan.free or (plan.weekly and weekday in plan.days)  # type: ignore[operator]
        else precheck(plan)
        for plan in plans
    ]
    run.plans = plans
    outcomes: list[RuleOutcome | Pending] = []
    append, library, basis = outcomes.append, run.library, run.basis
    stopper: EarningRule | None = None
    exclusive: Pending | None = None
    env = Env(facts, lane.line_fields, run.clock.local)  # reads nothing until a condition asks
    order, selections, by_category = facts.order, run.selections, run.by_category
    halted = False  # an exclusive rule applied, or one that stops the rules after it
    at: list[int] = []  # where the rules that apply are in ``outcomes``
    pending: list[Pending] = []  # those rules, to settle
    applies: Pending
    for plan, state in zip(plans, states, strict=True):
        if halted:
            if exclusive is not None:
                append(_excluded(plan.rule, exclusive))
            else:
                reason = f"not evaluated: {_name(stopper)} stops further rules"  # type: ignore[arg-type]
                append(outcome(plan.rule, Status.STOPPED, reason))
            continue
        if state.__class__ is RuleOutcome:
            append(state)
            continue
        if plan.conditional:  # the fast path first (inline: it runs for nearly every rule)
            fast = plan.fast
            value: object = None
            if fast is not None:
                try:
                    value = fast(env, _NO_SCOPE)
                except Exception:  # Bail, or anything unexpected: the library has the last word
                    value = None
            if value is False:
                append(plan.not_met)
                continue
            if value is not True:  # not a simple condition, or one the fast path is unsure of
                verdict = library(plan)
                if verdict is not True:
                    append(plan.not_met if verdict is False else verdict)
                    continue
        if plan.flat:
            applies = _new(Pending, (plan.rule, state, None, 0, plan.terms))
        elif plan.by_lines and order is not None:  # ``basis``, inline for the common case
            selection = selections.get(id(plan.lines))
            if selection is None:
                selection = selections[id(plan.lines)] = select(plan.lines, order, by_category)
            if (selection.units if plan.counts_units else selection.amount) <= 0:
                append(plan.nothing)
                continue
            applies = _new(Pending, (plan.rule, state, selection, selection.units, plan.terms))
        else:
            settles = basis(plan, state)  # type: ignore[arg-type]
            if settles.__class__ is not Pending:
                append(settles)
                continue
            applies = settles
        at.append(len(outcomes))
        pending.append(applies)
        append(applies)
        if plan.halts:
            if plan.exclusive:
                exclusive, halted = applies, True
            else:
                stopper, halted = plan.rule, True
    if exclusive is not None:  # the rules before it that applied are excluded too
        for index, item in zip(at[:-1], pending[:-1], strict=True):
            outcomes[index] = _excluded(item.rule, exclusive)
        at, pending = at[-1:], pending[-1:]
    if at:
        settled = Settlement(facts, run.clock).settle(pending)
        for index, done in zip(at, settled, strict=True):
            outcomes[index] = done
    return EarningResult(tuple(outcomes))  # type: ignore[arg-type]


def _excluded(rule: EarningRule, winner: Pending) -> RuleOutcome:
    return outcome(rule, Status.EXCLUDED, f"excluded: {_name(winner.rule)} is exclusive")


def _name(rule: EarningRule) -> str:
    return f"'{rule.name}' ({rule.id} v{rule.version})"


_OPEN = Allowance(None)
_new = tuple.__new__  # a named tuple built without its Python-level ``__new__``


class _Run:
    """One evaluation: the input, its tenant-local clock, the lazy values conditions read
    (the fast path's, and the CEL activation when a condition needs the library) and the line
    selections of each filter (rules often share one)."""

    def __init__(self, facts: EarningInput) -> None:
        self.facts = facts
        self.clock = PeriodClock(facts.now.astimezone(facts.timezone))
        self.weekday = self.clock.local.isoweekday()
        self.plans: tuple[_Plan, ...] = ()
        self.states: list[RuleOutcome | Allowance] = []
        self._bound: _cel.Activation | None = None
        self.selections: dict[int, Selection] = {}
        self.by_category: dict[str | None, Selection] = {}  # see ``select``

    def precheck(self, plan: _Plan) -> RuleOutcome | Allowance:
        """The cheap checks, before any condition runs: active, schedule, limits, budget."""
        rule = plan.rule
        if not rule.active:
            return plan.inactive
        schedule, local = rule.schedule, self.clock.local
        if plan.scheduled and (
            self.weekday not in plan.days if plan.days is not None else not schedule.is_open(local)
        ):
            return outcome(
                rule, Status.OUTSIDE_SCHEDULE, lambda: schedule.closed_reason(local) or ""
            )
        if not plan.limited:
            return _OPEN
        facts = self.facts
        allowance = rule.limits.allowance(rule.id, self.clock, facts.usage, facts.budgets_left)
        if allowance.refusal is not None:
            status = Status.BUDGET_EXHAUSTED if allowance.budget_exhausted else Status.LIMIT_REACHED
            return outcome(rule, status, allowance.refusal)
        return allowance

    def library(self, plan: _Plan) -> bool | RuleOutcome:
        """The condition run by the CEL library: its answer, or the outcome of a failure."""
        result = plan.condition.evaluate(self._activation())
        if result.error is not None:
            reason = f"condition failed, rule skipped: {result.error}"
            return outcome(plan.rule, Status.CONDITION_FAILED, reason)
        return result.matched

    def basis(self, plan: _Plan, allowance: Allowance) -> RuleOutcome | Pending:
        """What the effect works on; a rule with nothing to work on does not apply."""
        rule = plan.rule
        if plan.flat:
            return Pending(rule, allowance, None, 0, plan.terms)
        order = self.facts.order
        per_order = plan.per_order
        if per_order and (order is None or plan.whole_order):
            return Pending(rule, allowance, None, 1, plan.terms)
        if order is None:  # rules refuse such effects off order.paid; stay safe anyway
            return outcome(rule, Status.NOTHING_TO_EARN, "the event has no order")
        lines = plan.lines
        selection = self.selections.get(id(lines))
        if selection is None:
            selection = self.selections[id(lines)] = select(lines, order, self.by_category)
        if (selection.units if plan.counts_units else selection.amount) <= 0:
            return plan.nothing
        units = 1 if per_order else selection.units
        return Pending(rule, allowance, selection, units, plan.terms)

    def _activation(self) -> _cel.Activation:
        """The CEL activation, with only what the conditions of rules still in the running
        read (built once, the first time a condition needs the library)."""
        if self._bound is None:
            needs = frozenset(
                path
                for plan, state in zip(self.plans, self.states, strict=True)
                if isinstance(state, Allowance)
                for path in plan.condition.needs
            )
            self._bound = build_activation(needs, self.facts)
        return self._bound


_NO_SCOPE: dict[str, object] = {}


def _nothing(lines: LineFilter) -> str:
    if lines.whole_order:
        return "the order has nothing to earn on"
    return f"no {lines.description} in the order"
