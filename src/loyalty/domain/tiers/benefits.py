"""What a tier or a paid plan gives the member: benefits as data, and how sources combine.

``merge_benefits`` combines the member's tier with every active paid membership:

- earn multipliers multiply (Gold 1.5 x Plus plan 1.2 = 1.8); the product is the one tier
  multiplier the rules engine applies to the base (read it with ``services.tiers.benefits_for``);
- flags (free shipping, exclusive rewards) are OR-ed: any source that grants one grants it;
- the early-access window is the longest any source offers;
- birthday gifts are all kept: each source gives its own (a plan's gift is part of what the
  member pays for);
- perks are united by name; when two sources name the same perk, the first description wins
  (the tier's, then the plans' in the order given).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loyalty.domain.tiers._fields import Fields, at, check_id, check_range
from loyalty.domain.tiers.errors import InvalidTierSettings

ONE = Decimal(1)
_MAX_MULTIPLIER = Decimal(100)


@dataclass(frozen=True, slots=True)
class BirthdayGift:
    """Either a reward from the catalogue or a number of points; exactly one of them."""

    reward_id: str | None = None
    points: int | None = None

    def __post_init__(self) -> None:
        if (self.reward_id is None) == (self.points is None):
            raise InvalidTierSettings("give either reward_id or points", field="reward_id")
        if self.reward_id is not None:
            check_id(self.reward_id, "reward_id")
        if self.points is not None and self.points < 1:
            raise InvalidTierSettings("must be at least 1", field="points")

    def to_dict(self) -> dict[str, Any]:
        if self.reward_id is not None:
            return {"reward_id": self.reward_id}
        return {"points": self.points}

    @classmethod
    def from_dict(cls, data: object) -> BirthdayGift:
        fields = Fields(data)
        gift = cls(reward_id=fields.opt_text("reward_id"), points=fields.opt_int("points"))
        fields.done()
        return gift


@dataclass(frozen=True, slots=True)
class Perk:
    """A named benefit the engine does not interpret ("priority_support", "free_returns")."""

    name: str
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > 64:
            raise InvalidTierSettings("must be 1-64 characters", field="name")


@dataclass(frozen=True, slots=True)
class Benefits:
    """Benefits of one tier or one paid plan. Perks are kept sorted by name."""

    earn_multiplier: Decimal = ONE
    free_shipping: bool = False
    birthday_gift: BirthdayGift | None = None
    exclusive_rewards: bool = False
    early_access_days: int = 0  # days before a sale opens to everyone; 0: no early access
    perks: tuple[Perk, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.earn_multiplier <= _MAX_MULTIPLIER:
            raise InvalidTierSettings(
                "must be more than 0 and at most 100", field="earn_multiplier"
            )
        check_range(self.early_access_days, 0, 365, "early_access_days")
        names = [perk.name for perk in self.perks]
        if len(set(names)) != len(names):
            raise InvalidTierSettings("perk names must be unique", field="perks")
        object.__setattr__(self, "perks", tuple(sorted(self.perks, key=lambda p: p.name)))

    @property
    def early_access(self) -> bool:
        return self.early_access_days > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "earn_multiplier": str(self.earn_multiplier),
            "free_shipping": self.free_shipping,
            "birthday_gift": None if self.birthday_gift is None else self.birthday_gift.to_dict(),
            "exclusive_rewards": self.exclusive_rewards,
            "early_access_days": self.early_access_days,
            "perks": {perk.name: perk.description for perk in self.perks},
        }

    @classmethod
    def from_dict(cls, data: object) -> Benefits:
        """Read benefits; a missing object means no benefits. Perks: ``{name: description}``."""
        if data is None:
            return cls()
        fields = Fields(data)
        gift = fields.get("birthday_gift")
        with at("birthday_gift"):
            birthday_gift = None if gift is None else BirthdayGift.from_dict(gift)
        with at("perks"):
            perks = _perks(fields.get("perks"))
        benefits = cls(
            earn_multiplier=fields.decimal("earn_multiplier", ONE),
            free_shipping=fields.boolean("free_shipping", False),
            birthday_gift=birthday_gift,
            exclusive_rewards=fields.boolean("exclusive_rewards", False),
            early_access_days=fields.integer("early_access_days", 0),
            perks=perks,
        )
        fields.done()
        return benefits


def _perks(data: object) -> tuple[Perk, ...]:
    if data is None:
        return ()
    if not isinstance(data, Mapping):
        raise InvalidTierSettings("must be an object of perk name to description")
    perks = []
    for name, description in data.items():
        if not isinstance(description, str):
            raise InvalidTierSettings("must be a string", field=str(name))
        with at(str(name)):
            perks.append(Perk(str(name), description))
    return tuple(perks)


@dataclass(frozen=True, slots=True)
class EffectiveBenefits:
    """What the member gets right now, all sources combined (see the module docstring)."""

    earn_multiplier: Decimal = ONE
    free_shipping: bool = False
    exclusive_rewards: bool = False
    early_access_days: int = 0
    birthday_gifts: tuple[BirthdayGift, ...] = ()
    perks: tuple[Perk, ...] = ()

    @property
    def early_access(self) -> bool:
        return self.early_access_days > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "earn_multiplier": str(self.earn_multiplier),
            "free_shipping": self.free_shipping,
            "exclusive_rewards": self.exclusive_rewards,
            "early_access_days": self.early_access_days,
            "birthday_gifts": [gift.to_dict() for gift in self.birthday_gifts],
            "perks": {perk.name: perk.description for perk in self.perks},
        }


def merge_benefits(sources: Iterable[Benefits]) -> EffectiveBenefits:
    """Combine benefits, the tier's first and then each active plan's (order matters only
    for which description a perk named twice keeps). No sources: no benefits."""
    merged = EffectiveBenefits()
    for source in sources:
        merged = _add(merged, source)
    return merged


def _add(merged: EffectiveBenefits, source: Benefits) -> EffectiveBenefits:
    perks = {perk.name: perk for perk in merged.perks}
    for perk in source.perks:
        perks.setdefault(perk.name, perk)
    gift = () if source.birthday_gift is None else (source.birthday_gift,)
    return EffectiveBenefits(
        earn_multiplier=merged.earn_multiplier * source.earn_multiplier,
        free_shipping=merged.free_shipping or source.free_shipping,
        exclusive_rewards=merged.exclusive_rewards or source.exclusive_rewards,
        early_access_days=max(merged.early_access_days, source.early_access_days),
        birthday_gifts=merged.birthday_gifts + gift,
        perks=tuple(sorted(perks.values(), key=lambda p: p.name)),
    )
