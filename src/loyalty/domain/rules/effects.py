"""What a rule gives when it applies.

- ``points_per_currency``: ``rate`` points (default: the programme's) per currency unit of the
  matching lines, times the effect's own ``multiplier``. With no line filter it earns on the
  whole earning base, shipping and tax included when the programme counts them.
- ``multiplier``: a campaign multiplier on the points the ``points_per_currency`` rules earn
  (on matching lines only, when filtered). See ``engine`` for how multipliers combine.
- ``fixed_points``: a flat number of points per event: per order on ``order.paid``, a bonus on
  an action event (``member.signed_up``, ``review.approved``...).
- ``points_per_item``: flat points per matching unit bought.
- ``cashback``: ``percent`` of the matching lines (whole base when unfiltered) as store credit,
  rounded half-up to the currency's minor unit, at most ``max_amount`` per event.
- ``stamp_card``: one stamp per qualifying order (or per matching unit with ``per: item``);
  every ``every`` stamps grant ``reward_id`` or ``points``.

Multipliers (the tier's and campaigns') apply only to ``points_per_currency`` points; flat
points, stamp points and cashback are what they say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import ClassVar

from loyalty.domain.errors import InvalidRule
from loyalty.domain.rules._fields import Fields, at, decimal_text
from loyalty.domain.rules.facts import LineFacts, OrderFacts

_KEYS = ("skus", "product_ids", "categories", "brands")


@dataclass(frozen=True, slots=True)
class LineMatch:
    """A line matches when any listed value is its sku, product id, category or brand."""

    skus: frozenset[str] = frozenset()
    product_ids: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    brands: frozenset[str] = frozenset()
    empty: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        empty = not (self.skus or self.product_ids or self.categories or self.brands)
        object.__setattr__(self, "empty", empty)

    def matches(self, line: LineFacts) -> bool:
        return (
            line.sku in self.skus
            or line.product_id in self.product_ids
            or line.category in self.categories
            or line.brand in self.brands
        )

    def describe(self) -> str:
        parts = []
        for key, label in zip(_KEYS, ("sku", "product", "category", "brand"), strict=True):
            values = sorted(getattr(self, key))
            if values:
                parts.append(f"{label} {', '.join(values)}")
        return " or ".join(parts)

    def to_dict(self) -> dict[str, list[str]]:
        return {key: sorted(getattr(self, key)) for key in _KEYS if getattr(self, key)}

    @classmethod
    def from_fields(cls, fields: Fields) -> LineMatch:
        return cls(*(fields.texts(key) for key in _KEYS))


@dataclass(frozen=True, slots=True)
class LineFilter:
    """Lines that match ``include`` (every line when it is empty) and not ``exclude``."""

    include: LineMatch = field(default_factory=LineMatch)
    exclude: LineMatch = field(default_factory=LineMatch)
    # No filter: the effect also earns on the shipping and tax the base counts.
    whole_order: bool = field(init=False, repr=False, compare=False)
    description: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "whole_order", self.include.empty and self.exclude.empty)
        object.__setattr__(self, "description", self._describe())

    def matches(self, line: LineFacts) -> bool:
        if not self.include.empty and not self.include.matches(line):
            return False
        return self.exclude.empty or not self.exclude.matches(line)

    def amount(self, order: OrderFacts) -> Decimal:
        """The money this filter selects: matching lines (whole base when unfiltered)."""
        if self.whole_order:
            return order.earning_base
        return sum((line.net for line in order.lines if self.matches(line)), Decimal(0))

    def units(self, order: OrderFacts) -> int:
        return sum(line.quantity for line in order.lines if self.matches(line))

    def _describe(self) -> str:
        if self.whole_order:
            return "the order"
        text = "lines with " + self.include.describe() if not self.include.empty else "lines"
        return text + (f" except {self.exclude.describe()}" if not self.exclude.empty else "")

    def to_dict(self) -> dict[str, object] | None:
        if self.whole_order:
            return None
        out: dict[str, object] = dict(self.include.to_dict())
        if not self.exclude.empty:
            out["exclude"] = self.exclude.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: object) -> LineFilter:
        if data is None:
            return ALL_LINES
        fields = Fields(data)
        include = LineMatch.from_fields(fields)
        exclude_data = fields.get("exclude")
        exclude = LineMatch()
        if exclude_data is not None:
            with at("exclude"):
                exclude_fields = Fields(exclude_data)
                exclude = LineMatch.from_fields(exclude_fields)
                exclude_fields.done()
        fields.done()
        return _shared(cls(include, exclude))


ALL_LINES = LineFilter()


@lru_cache(maxsize=4096)
def _shared(lines: LineFilter) -> LineFilter:
    """One instance per distinct filter, so an evaluation selects lines once per filter."""
    return lines


@dataclass(frozen=True, slots=True)
class PointsPerCurrency:
    kind: ClassVar[str] = "points_per_currency"
    rate: Decimal | None = None  # None: the programme's points_per_unit
    multiplier: Decimal = Decimal(1)
    lines: LineFilter = ALL_LINES

    def __post_init__(self) -> None:
        if self.rate is not None and self.rate <= 0:
            raise InvalidRule("must be more than 0", field="rate")
        if self.multiplier <= 0:
            raise InvalidRule("must be more than 0", field="multiplier")

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "rate": decimal_text(self.rate),
            "multiplier": str(self.multiplier),
            "lines": self.lines.to_dict(),
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> PointsPerCurrency:
        multiplier = fields.opt_decimal("multiplier")
        return cls(
            fields.opt_decimal("rate"),
            Decimal(1) if multiplier is None else multiplier,
            _lines(fields),
        )


@dataclass(frozen=True, slots=True)
class Multiplier:
    kind: ClassVar[str] = "multiplier"
    factor: Decimal
    lines: LineFilter = ALL_LINES

    def __post_init__(self) -> None:
        if self.factor < 1:
            raise InvalidRule("must be at least 1 (leave lines out with a filter)", field="factor")

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "factor": str(self.factor), "lines": self.lines.to_dict()}

    @classmethod
    def from_fields(cls, fields: Fields) -> Multiplier:
        factor = fields.opt_decimal("factor")
        if factor is None:
            raise InvalidRule("is required", field="factor")
        return cls(factor, _lines(fields))


@dataclass(frozen=True, slots=True)
class FixedPoints:
    kind: ClassVar[str] = "fixed_points"
    points: int

    def __post_init__(self) -> None:
        _positive(self.points, "points")

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "points": self.points}

    @classmethod
    def from_fields(cls, fields: Fields) -> FixedPoints:
        return cls(_required_int(fields, "points"))


@dataclass(frozen=True, slots=True)
class PointsPerItem:
    kind: ClassVar[str] = "points_per_item"
    points: int
    lines: LineFilter = ALL_LINES

    def __post_init__(self) -> None:
        _positive(self.points, "points")

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "points": self.points, "lines": self.lines.to_dict()}

    @classmethod
    def from_fields(cls, fields: Fields) -> PointsPerItem:
        return cls(_required_int(fields, "points"), _lines(fields))


@dataclass(frozen=True, slots=True)
class Cashback:
    kind: ClassVar[str] = "cashback"
    percent: Decimal
    lines: LineFilter = ALL_LINES
    max_amount: Decimal | None = None

    def __post_init__(self) -> None:
        if not 0 < self.percent <= 100:
            raise InvalidRule("must be more than 0 and at most 100", field="percent")
        if self.max_amount is not None and self.max_amount <= 0:
            raise InvalidRule("must be more than 0", field="max_amount")

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "percent": str(self.percent),
            "lines": self.lines.to_dict(),
            "max_amount": decimal_text(self.max_amount),
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> Cashback:
        percent = fields.opt_decimal("percent")
        if percent is None:
            raise InvalidRule("is required", field="percent")
        return cls(percent, _lines(fields), fields.opt_decimal("max_amount"))


class StampPer(StrEnum):
    ORDER = "order"  # one stamp per qualifying event
    ITEM = "item"  # one stamp per matching unit


@dataclass(frozen=True, slots=True)
class StampCard:
    kind: ClassVar[str] = "stamp_card"
    every: int
    reward_id: str | None = None
    points: int | None = None
    per: StampPer = StampPer.ORDER
    lines: LineFilter = ALL_LINES  # per order: the order must have a matching line

    def __post_init__(self) -> None:
        _positive(self.every, "every")
        if (self.reward_id is None) == (self.points is None):
            raise InvalidRule("give exactly one of reward_id and points", field="reward_id")
        if self.points is not None:
            _positive(self.points, "points")

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "every": self.every,
            "reward_id": self.reward_id,
            "points": self.points,
            "per": self.per.value,
            "lines": self.lines.to_dict(),
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> StampCard:
        per = fields.opt_text("per") or StampPer.ORDER.value
        if per not in {choice.value for choice in StampPer}:
            raise InvalidRule("must be 'order' or 'item'", field="per")
        return cls(
            _required_int(fields, "every"),
            fields.opt_text("reward_id"),
            fields.opt_int("points"),
            StampPer(per),
            _lines(fields),
        )


Effect = PointsPerCurrency | Multiplier | FixedPoints | PointsPerItem | Cashback | StampCard
_KINDS: dict[str, type[Effect]] = {
    kind.kind: kind
    for kind in (PointsPerCurrency, Multiplier, FixedPoints, PointsPerItem, Cashback, StampCard)
}
EFFECT_KINDS = tuple(_KINDS)


def effect_from_dict(data: object) -> Effect:
    fields = Fields(data)
    kind = fields.text("kind")
    cls = _KINDS.get(kind)
    if cls is None:
        raise InvalidRule(
            f"'{kind}' is not an effect; use one of {', '.join(_KINDS)}", field="kind"
        )
    effect = cls.from_fields(fields)
    fields.done()
    return effect


def needs_order(effect: Effect) -> bool:
    """Effects that read order lines, so only ``order.paid`` rules may have them."""
    if isinstance(effect, FixedPoints):
        return False
    if isinstance(effect, StampCard):
        return effect.per is StampPer.ITEM or not effect.lines.whole_order
    return True


def _lines(fields: Fields) -> LineFilter:
    with at("lines"):
        return LineFilter.from_dict(fields.get("lines"))


def _required_int(fields: Fields, key: str) -> int:
    value = fields.opt_int(key)
    if value is None:
        raise InvalidRule("is required", field=key)
    return value


def _positive(value: int, field: str) -> None:
    if value < 1:
        raise InvalidRule("must be at least 1", field=field)
