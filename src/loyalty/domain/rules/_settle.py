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
from loyalty.domain.rules.limits import Allowance, PeriodClock, PeriodLimit, UsageKey
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


def select(
    lines: LineFilter, order: OrderFacts, by_category: dict[str | None, Selection] | None = None
) -> Selection:
    """What ``lines`` picks from ``order``. ``by_category``: an empty dict, or one that
    ``by_categories`` filled for this order (a filter of one category then costs a look-up).
    """
    if lines.whole_order:
        every = tuple(range(len(order.lines) + 1))
        return Selection(every, order.earning_base, order.item_count)
    include, exclude = lines.include, lines.exclude
    if (
        by_category is not None
        and len(include.categories) == 1
        and exclude.empty
        and not (include.skus or include.product_ids or include.brands)
    ):
        if not by_category:
            by_categories(order, by_category)
        (category,) = include.categories
        return by_category.get(category, _NOTHING)
    hits: list[int] = []
    amount, units = _ZERO, 0
    # ``LineFilter.matches``, inlined
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


BASE, MULTIPLIER, FIXED, PER_ITEM, CASHBACK, STAMP = range(6)  # ``Terms.kind``
_KINDS = {
    PointsPerCurrency: BASE,
    Multiplier: MULTIPLIER,
    FixedPoints: FIXED,
    PointsPerItem: PER_ITEM,
    Cashback: CASHBACK,
    StampCard: STAMP,
}


@dataclass(frozen=True, slots=True)
class Terms:
    """What settling a rule reads of it, worked out once per rule set: its effect's kind, the
    head of its outcome (id, version, name), its member limits, whether it has a budget, and
    for a per-currency rule with its own rate, rate x effect multiplier."""

    kind: int
    head: tuple[str, int, str]
    per_member: tuple[PeriodLimit, ...]
    budgeted: bool
    factor: Decimal | None


def terms(rule: EarningRule) -> Terms:
    effect = rule.effect
    factor = None
    if isinstance(effect, PointsPerCurrency) and effect.rate is not None:
        factor = effect.rate * effect.multiplier  # as ``_combined`` would per event
    limits = rule.limits
    return Terms(
        _KINDS[type(effect)],
        (rule.id, rule.version, rule.name),
        limits.per_member,
        limits.budget_points is not None,
        factor,
    )


def by_categories(order: OrderFacts, into: dict[str | None, Selection]) -> None:
    """``select`` of a one-category filter, for every category of the order at once (the
    same additions in the same order as ``select``'s loop)."""
    into[None] = _NOTHING  # filled (no filter names the category None)
    for index, line in enumerate(order.lines):
        category = line.category
        if category is None:  # a filter's categories are strings: such lines never match
            continue
        found = into.get(category)
        if found is None:
            into[category] = Selection((index,), _ZERO + line.net, line.quantity)
        else:
            found.indices += (index,)
            found.amount += line.net
            found.units += line.quantity


class Pending(NamedTuple):
    """A rule that applies, waiting to be settled with the others (a named tuple: the engine
    builds one per rule that applies, per event)."""

    rule: EarningRule
    allowance: Allowance
    selection: Selection | None  # None: the effect reads no order lines
    units: int  # stamps to add, or items to pay points for
    terms: Terms


_ZERO = Decimal(0)
_NOTHING = Selection((), _ZERO, 0)


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
        # Cashback by (percent, most, selection): rules with the same terms on the same lines
        # get the same money, worked out once.
        self._cashbacks: dict[tuple[Decimal, Decimal | None, int], tuple[Decimal, Money]] = {}

    def settle(self, pending: Sequence[Pending]) -> list[RuleOutcome]:
        """The outcomes of ``pending``, in its order."""
        out: list[RuleOutcome] = []
        append = out.append
        combined: list[int] = []
        flat = self._flat
        if self.facts.order is None:  # never for rules that pass validation
            return [flat(item) for item in pending]
        for item in pending:
            if item.terms.kind <= MULTIPLIER:
                combined.append(len(out))
                append(None)  # type: ignore[arg-type]  # filled below
            else:
                append(flat(item))
        if combined:
            for position, settled in zip(
                combined, self._combined([pending[at] for at in combined]), strict=True
            ):
                out[position] = settled
        return out

    def _combined(self, pending: Sequence[Pending]) -> list[RuleOutcome]:
        """Per-currency rules and multipliers (in ``pending``'s order), combined."""
        order = self.facts.order
        assert order is not None
        amounts = [line.net for line in order.lines]
        amounts.append(order.base_beyond_lines)
        points_per_unit = self.facts.program.points_per_unit
        base_parts: list[Part] = []
        multiplier_parts: list[Part] = []
        bases: list[Pending] = []
        multipliers: list[Pending] = []
        for item in pending:  # the selections are set
            selection: Selection = item.selection  # type: ignore[assignment]
            terms = item.terms
            if terms.kind is BASE:
                factor = terms.factor
                if factor is None:  # the programme's rate (``_rate``)
                    factor = points_per_unit * item.rule.effect.multiplier  # type: ignore[union-attr]
                cap = item.allowance.points_left
                base_parts.append(_new(Part, (factor, selection.indices, cap)))
                bases.append(item)
            else:
                factor = item.rule.effect.factor  # type: ignore[union-attr]
                cap = item.allowance.points_left
                multiplier_parts.append(_new(Part, (factor, selection.indices, cap)))
                multipliers.append(item)
        base_shares, multiplier_shares = combine(
            amounts,
            self.facts.tier.multiplier,
            base_parts,
            multiplier_parts,
            self.facts.program.rounding,
        )
        base_text, points, multiplier = self._base_text, self._points, self._multiplier
        settled_bases = iter(
            [points(item, share, base_text) for item, share in zip(bases, base_shares, strict=True)]
        )
        settled_multipliers = iter(
            [
                multiplier(item, share)
                for item, share in zip(multipliers, multiplier_shares, strict=True)
            ]
        )
        return [
            next(settled_bases) if item.terms.kind is BASE else next(settled_multipliers)
            for item in pending
        ]

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
        return self._applied(item, explain, share.points, None, None, ())

    def _flat(self, item: Pending) -> RuleOutcome:
        effect = item.rule.effect
        kind = item.terms.kind
        if kind is FIXED:
            assert isinstance(effect, FixedPoints)
            points = effect.points
            return self._capped(item, points, lambda: f"{points} points", None)
        if kind is PER_ITEM:
            assert isinstance(effect, PointsPerItem)
            lines, units = effect.lines.description, item.units
            text = f"{effect.points} points x {units} items on {lines}"
            return self._capped(item, effect.points * units, lambda: text, None)
        if kind is CASHBACK:
            return self._cashback(item, effect)  # type: ignore[arg-type]
        assert isinstance(effect, StampCard)
        return self._stamp(item, effect)

    def _capped(
        self,
        item: Pending,
        points: int,
        text: Callable[[], str],
        stamps: StampChange | None,
    ) -> RuleOutcome:
        allowance = item.allowance
        left = allowance.points_left
        given = points if left is None or points <= left else left

        def explain() -> str:
            capped = f" = {points}, capped at {left} by {allowance.cap_text()}"
            return text() + (capped if given < points else "") + f" -> {given} points"

        return self._applied(item, explain, given, None, stamps, ())

    def _cashback(self, item: Pending, effect: Cashback) -> RuleOutcome:
        order, selection = self.facts.order, item.selection
        assert order is not None and selection is not None
        currency, amount = order.currency, selection.amount
        percent, most = effect.percent, effect.max_amount
        key = (percent, most, id(selection))
        known = self._cashbacks.get(key)
        if known is None:
            step = _quantum(currency)
            exact = (amount * percent / 100).quantize(step, ROUND_HALF_UP)
            value = exact
            if most is not None and value > most:
                value = most.quantize(step, ROUND_HALF_UP)
            known = self._cashbacks[key] = (exact, Money(value, currency))
        exact, money = known
        value = money.amount

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
        return self._applied(item, explain, 0, money, None, ())

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
            return self._capped(item, effect.points * completed, explain, change)
        rewards = (
            (RewardGrant(effect.reward_id, completed),) if completed and effect.reward_id else ()
        )
        return self._applied(item, explain, 0, None, change, rewards)

    def _applied(
        self,
        item: Pending,
        explanation: Explanation,
        points: int,
        cashback: Money | None,
        stamps: StampChange | None,
        rewards: tuple[RewardGrant, ...],
    ) -> RuleOutcome:
        terms = item.terms
        per_member = terms.per_member
        if per_member:  # ``Limits.keys``, inline; the tuples built directly (no __new__ frame)
            clock, rule_id = self.clock, terms.head[0]
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
            terms.head  # noqa: RUF005 (one concatenation; unpacking builds a list first)
            + (
                Status.APPLIED,
                explanation,
                points,
                cashback,
                rewards,
                stamps,
                usage,
                points if terms.budgeted else 0,
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
