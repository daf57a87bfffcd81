"""Settling the rules that apply: points, cashback, stamps and rewards, each capped.

Explanations are closures over the numbers, rendered only when someone reads ``reason``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import NamedTuple

from loyalty.domain.money import Money, quantum
from loyalty.domain.rules._combine import Part, Share, combine
from loyalty.domain.rules.effects import (
    Cashback,
    FixedPoints,
    LineFilter,
    Multiplier,
    PointsPerCurrency,
    PointsPerItem,
    StampCard,
)
from loyalty.domain.rules.facts import EarningInput, OrderFacts
from loyalty.domain.rules.limits import Allowance, PeriodClock, UsageKey
from loyalty.domain.rules.results import (
    Explanation,
    RewardGrant,
    RuleOutcome,
    StampChange,
    Status,
    UsageIncrement,
)
from loyalty.domain.rules.rule import EarningRule


@dataclass(slots=True)  # internal and never changed; not frozen, which costs 4x to build
class Selection:
    """What a line filter picks from one order: per-line hits (plus the shipping/tax slot),
    the money and the units."""

    indices: tuple[int, ...]  # the lines it picks (index len(lines): shipping and tax)
    amount: Decimal
    units: int


def select(lines: LineFilter, order: OrderFacts) -> Selection:
    if lines.whole_order:
        every = tuple(range(len(order.lines) + 1))
        return Selection(every, order.earning_base, order.item_count)
    hits: list[int] = []
    amount, units = _ZERO, 0
    include, exclude = lines.include, lines.exclude  # ``LineFilter.matches``, inlined
    skus, products, categories, brands = (
        include.skus,
        include.product_ids,
        include.categories,
        include.brands,
    )
    if exclude.empty and not (skus or products or brands):  # categories only: the common one
        for index, line in enumerate(order.lines):
            if line.category in categories:
                hits.append(index)
                amount += line.net
                units += line.quantity
        return Selection(tuple(hits), amount, units)
    for index, line in enumerate(order.lines):
        if (
            include.empty
            or line.sku in skus
            or line.product_id in products
            or line.category in categories
            or line.brand in brands
        ) and (exclude.empty or not exclude.matches(line)):
            hits.append(index)
            amount += line.net
            units += line.quantity
    return Selection(tuple(hits), amount, units)  # shipping and tax belong to no line


class Pending(NamedTuple):
    """A rule that applies, waiting to be settled with the others (a named tuple: the engine
    builds one per rule that applies, per event)."""

    rule: EarningRule
    allowance: Allowance
    selection: Selection | None = None  # None: the effect reads no order lines
    units: int = 0  # stamps to add, or items to pay points for


_ZERO = Decimal(0)


def outcome(rule: EarningRule, status: Status, explanation: Explanation) -> RuleOutcome:
    """An outcome that gave nothing (``RuleOutcome``'s defaults, the tuple built directly)."""
    return _new(
        RuleOutcome,
        (rule.id, rule.version, rule.name, status, explanation, 0, None, (), None, (), 0),
    )


class Settlement:
    def __init__(self, facts: EarningInput, clock: PeriodClock) -> None:
        self.facts = facts
        self.clock = clock

    def settle(self, pending: Sequence[Pending]) -> dict[str, RuleOutcome]:
        bases: list[Pending] = []
        multipliers: list[Pending] = []
        flat: list[Pending] = []
        for item in pending:
            kind = type(item.rule.effect)
            if kind is PointsPerCurrency:
                bases.append(item)
            elif kind is Multiplier:
                multipliers.append(item)
            else:
                flat.append(item)
        if self.facts.order is None:  # never for rules that pass validation
            bases, multipliers, flat = [], [], list(pending)
        settled = self._combined(bases, multipliers) if bases or multipliers else {}
        for item in flat:
            settled[item.rule.id] = self._flat(item)
        return settled

    def _combined(
        self, bases: Sequence[Pending], multipliers: Sequence[Pending]
    ) -> dict[str, RuleOutcome]:
        order = self.facts.order
        assert order is not None
        amounts = [line.net for line in order.lines]
        amounts.append(order.base_beyond_lines)
        points_per_unit = self.facts.program.points_per_unit
        base_parts: list[Part] = []
        for item in bases:  # the effects are PointsPerCurrency, the selections set
            effect: PointsPerCurrency = item.rule.effect  # type: ignore[assignment]
            rate = points_per_unit if effect.rate is None else effect.rate  # ``_rate``
            selection: Selection = item.selection  # type: ignore[assignment]
            base_parts.append(
                _new(
                    Part,
                    (rate * effect.multiplier, selection.indices, item.allowance.points_left),
                )
            )
        multiplier_parts: list[Part] = []
        for item in multipliers:  # the effects are Multiplier, the selections set
            factor = item.rule.effect.factor  # type: ignore[union-attr]
            selection = item.selection  # type: ignore[assignment]
            cap = item.allowance.points_left
            multiplier_parts.append(_new(Part, (factor, selection.indices, cap)))
        base_shares, multiplier_shares = combine(
            amounts,
            self.facts.tier.multiplier,
            base_parts,
            multiplier_parts,
            self.facts.program.rounding,
        )
        out = {}
        base_text = self._base_text
        for item, share in zip(bases, base_shares, strict=True):
            out[item.rule.id] = self._points(item, share, base_text)
        for item, share in zip(multipliers, multiplier_shares, strict=True):
            out[item.rule.id] = self._multiplier(item, share)
        return out

    def _rate(self, effect: PointsPerCurrency) -> Decimal:
        return self.facts.program.points_per_unit if effect.rate is None else effect.rate

    def _base_text(self, item: Pending, share: Share) -> str:
        """What a per-currency rule earned on, written when someone reads the reason."""
        effect = item.rule.effect
        assert isinstance(effect, PointsPerCurrency) and self.facts.order is not None
        assert item.selection is not None
        currency, rate, tier = self.facts.order.currency, self._rate(effect), self.facts.tier
        amount = item.selection.amount
        text = f"{_count(rate, 'point')} per {currency}"
        if effect.multiplier != 1:
            text += f" x{_num(effect.multiplier)}"
        text += f" on {_money(amount, currency)} ({effect.lines.description})"
        if tier.multiplier != 1:
            text += f" x tier {tier.name + ' ' if tier.name else ''}{_num(tier.multiplier)}"
        return f"{text} = {_num(share.uncapped, 2)}"

    def _multiplier(self, item: Pending, share: Share) -> RuleOutcome:
        effect = item.rule.effect
        assert isinstance(effect, Multiplier)
        where = effect.lines.description
        if share.uncapped <= 0:
            return outcome(
                item.rule, Status.NOTHING_TO_EARN, f"no per-currency points on {where} to multiply"
            )

        def explain(item: Pending, share: Share) -> str:
            factor, added = _num(effect.factor), _num(share.uncapped, 2)
            return f"x{factor} on the points earned on {where}: +{added}"

        return self._points(item, share, explain)

    def _points(
        self, item: Pending, share: Share, text: Callable[[Pending, Share], str]
    ) -> RuleOutcome:
        allowance = item.allowance

        def explain() -> str:
            capped = f", capped at {_num(share.exact)} by {allowance.cap_text()}"
            body = text(item, share) + (capped if share.capped else "")
            if share.points <= 0:
                return f"{body}: 0 points after rounding"
            return f"{body} -> {share.points} points"

        if share.points <= 0:
            return outcome(item.rule, Status.NOTHING_TO_EARN, explain)
        return self._applied(item, explain, share.points)

    def _flat(self, item: Pending) -> RuleOutcome:
        effect = item.rule.effect
        kind = type(effect)
        if kind is FixedPoints:
            assert isinstance(effect, FixedPoints)
            return self._capped(item, effect.points, lambda: f"{effect.points} points")
        if kind is PointsPerItem:
            assert isinstance(effect, PointsPerItem)
            lines, units = effect.lines.description, item.units
            text = f"{effect.points} points x {units} items on {lines}"
            return self._capped(item, effect.points * units, lambda: text)
        if kind is Cashback:
            assert isinstance(effect, Cashback)
            return self._cashback(item, effect)
        assert isinstance(effect, StampCard)
        return self._stamp(item, effect)

    def _capped(
        self,
        item: Pending,
        points: int,
        text: Callable[[], str],
        stamps: StampChange | None = None,
    ) -> RuleOutcome:
        allowance = item.allowance
        left = allowance.points_left
        given = points if left is None else min(points, left)

        def explain() -> str:
            capped = f" = {points}, capped at {left} by {allowance.cap_text()}"
            return text() + (capped if given < points else "") + f" -> {given} points"

        return self._applied(item, explain, given, stamps=stamps)

    def _cashback(self, item: Pending, effect: Cashback) -> RuleOutcome:
        assert self.facts.order is not None and item.selection is not None
        currency, amount = self.facts.order.currency, item.selection.amount
        step = _quantum(currency)
        exact = (amount * effect.percent / 100).quantize(step, ROUND_HALF_UP)
        value = exact
        if effect.max_amount is not None and value > effect.max_amount:
            value = effect.max_amount.quantize(step, ROUND_HALF_UP)

        def explain() -> str:
            text = f"{_num(effect.percent)}% of {_money(amount, currency)}"
            text += f" ({effect.lines.description})"
            if value < exact:
                text += f" = {_money(exact, currency)}, at most {_money(value, currency)}"
            if value <= 0:
                return f"{text}: rounds to nothing"
            return f"{text} -> {_money(value, currency)} cashback"

        if value <= 0:
            return outcome(item.rule, Status.NOTHING_TO_EARN, explain)
        return self._applied(item, explain, 0, cashback=Money(value, currency))

    def _stamp(self, item: Pending, effect: StampCard) -> RuleOutcome:
        before = self.facts.stamps.get(item.rule.id, 0)
        added = item.units
        completed, after = divmod(before + added, effect.every)
        change = StampChange(before, after, completed)

        def explain() -> str:
            text = f"+{_count(added, 'stamp')}: {before + added} of {effect.every}"
            if completed:
                text += f", {_count(completed, 'card')} complete, now {after} of {effect.every}"
            if completed and effect.reward_id is not None:
                text += f" -> reward {effect.reward_id} x{completed}"
            return text

        if completed and effect.points is not None:
            return self._capped(item, effect.points * completed, explain, stamps=change)
        rewards = (
            (RewardGrant(effect.reward_id, completed),) if completed and effect.reward_id else ()
        )
        return self._applied(item, explain, 0, stamps=change, rewards=rewards)

    def _applied(
        self,
        item: Pending,
        explanation: Explanation,
        points: int,
        *,
        cashback: Money | None = None,
        stamps: StampChange | None = None,
        rewards: tuple[RewardGrant, ...] = (),
    ) -> RuleOutcome:
        rule = item.rule
        limits = rule.limits
        per_member = limits.per_member
        if per_member:  # ``Limits.keys``, inline; the tuples built directly (no __new__ frame)
            clock, rule_id = self.clock, rule.id
            usage = tuple(
                [
                    _new(
                        UsageIncrement,
                        (
                            _new(UsageKey, (rule_id, limit.period, clock.key(limit.period))),
                            points,
                            1,
                        ),
                    )
                    for limit in per_member
                ]
            )
        else:
            usage = ()
        return _new(
            RuleOutcome,
            (
                rule.id,
                rule.version,
                rule.name,
                Status.APPLIED,
                explanation,
                points,
                cashback,
                rewards,
                stamps,
                usage,
                points if limits.budget_points is not None else 0,
            ),
        )


_new = tuple.__new__


_quantum = lru_cache(maxsize=64)(quantum)


def _num(value: Decimal | int, places: int | None = None) -> str:
    number = Decimal(value)
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return f"{number.normalize():f}"


def _count(value: Decimal | int, noun: str) -> str:
    return f"{_num(value)} {noun}{'' if value == 1 else 's'}"


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount.quantize(quantum(currency), ROUND_HALF_UP)} {currency}"
